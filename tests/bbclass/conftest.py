# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the bbclass tests: real BitBake (bitbake-setup wheel), the container-audit
executable, and tiny rootfs trees holding the real fixture images.

In CI (CI=true) anything missing fails; elsewhere it skips with the reason.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bbclass.harness import Build, make_rootfs
from tests.conftest import IN_CI, need_path

BITBAKE_SETUP = "2.19.0"  # runner.py relies on this bb version's internals (see README)


def _missing(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def bitbake() -> str:
    try:
        version = importlib.metadata.version("bitbake-setup")
    except importlib.metadata.PackageNotFoundError:
        _missing("bitbake-setup is not installed (pip install -e '.[test]')")
    if version != BITBAKE_SETUP:
        _missing(f"bitbake-setup {version} installed, the harness is written for "
                 f"{BITBAKE_SETUP}")
    return version


@pytest.fixture(scope="session")
def audit_bin() -> Path:
    """The container-audit console script of this environment (host-tool mode)."""
    return need_path(Path(sys.executable).parent / "container-audit")


@pytest.fixture(scope="session")
def archives(fixtures: dict[str, Any]) -> dict[str, str]:
    return dict(fixtures["archives"])


@pytest.fixture
def image_build(tmp_path: Path, bitbake: str, audit_bin: Path,
                archives: dict[str, str]) -> Callable[..., Build]:
    """image_build(*archive keys, conf lines...) -> Build of test-image in host-tool mode."""

    def make(*keys: str, conf: tuple[str, ...] = ()) -> Build:
        rootfs = make_rootfs(tmp_path / "rootfs",
                             {f"{k.split('.')[0]}.tar": archives[k] for k in keys})
        return Build(tmp_path / "build", conf=[
            f'TEST_ROOTFS_SOURCE = "{rootfs}"',
            f'CONTAINER_AUDIT_BIN = "{audit_bin}"',
            'IMAGE_CLASSES += "container-audit"',
            *conf,
        ])

    return make


@pytest.fixture
def oelint() -> str:
    exe = Path(sys.executable).parent / "oelint-adv"
    if not exe.exists():
        found = shutil.which("oelint-adv")
        if not found:
            _missing("oelint-adv is not installed (pip install -e '.[test]')")
        return str(found)
    return str(exe)
