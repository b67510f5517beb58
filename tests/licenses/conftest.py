# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the licenses/ stage tests: the real package databases kept beside the checkout.

The databases are read where they are (never copied into the repository). Missing: skipped
locally, a failure in CI (CI=true). The mapped ratios the corpus tests measure are printed in
pytest's terminal summary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PACKAGE_DBS = Path(__file__).resolve().parents[2].parent / "shared/fixtures/package-dbs"
IN_CI = os.environ.get("CI", "").lower() == "true"

# ecosystem → (values fully mapped, values, values with a LicenseRef we made, distinct unmapped)
MAPPED: dict[str, tuple[int, int, int, int]] = {}


def require(path: Path) -> Path:
    if not path.exists():
        msg = f"missing {path} (the shared package-database fixtures)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def package_dbs() -> Path:
    return require(PACKAGE_DBS)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MAPPED:
        return
    terminalreporter.section("license normalisation on the real corpus")
    for ecosystem, (mapped, total, with_ref, distinct) in sorted(MAPPED.items()):
        if ecosystem == "debian-free-text":
            terminalreporter.write_line(
                f"{ecosystem:16} {mapped / total:6.1%} of free-text copyright files give a "
                f"declared license ({mapped}/{total})")
            continue
        terminalreporter.write_line(
            f"{ecosystem:16} {mapped / total:6.1%} mapped ({mapped}/{total} values; "
            f"{with_ref} with an unmapped LicenseRef, {distinct} distinct unmapped names)")
