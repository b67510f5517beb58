# SPDX-License-Identifier: Apache-2.0
"""Shared test plumbing: the real fixtures (built once per session), CLI runs, tool checks.

In CI (CI=true) a missing tool fails the test; elsewhere it skips with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("CONTAINER_AUDIT_FIXTURES", REPO / ".cache" / "fixtures"))
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"
FIXTURE_TOOLS = ("podman", "skopeo", "buildah", "debootstrap", "dockerd", "dpkg-deb", "rpm")
# one inventory cache per test session: tests share it, sessions never do; removed at
# the end of the session that made it
_OWN_CACHE = ""
if "CONTAINER_AUDIT_CACHE_DIR" not in os.environ:
    _OWN_CACHE = os.environ["CONTAINER_AUDIT_CACHE_DIR"] = tempfile.mkdtemp(
        prefix="container-audit-test-cache-")
DOCKER_SOCK = os.environ.get("CONTAINER_AUDIT_TEST_DOCKER_SOCK",
                             "/run/container-audit-test/docker.sock")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"missing tools: {', '.join(missing)} (run scripts/host-deps.sh as root)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def need_path(path: Path) -> Path:
    if not path.exists():
        msg = f"missing {path}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@dataclass
class Run:
    rc: int
    out: str
    err: str


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: int = 900) -> Run:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def fixtures() -> dict[str, Any]:
    need(*FIXTURE_TOOLS)
    from tests.fixtures.build import build_all

    return build_all(CACHE)


_SCANS: dict[tuple[str, ...], dict[str, Any]] = {}


@pytest.fixture(scope="session")
def scan_json(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """scan_json(target, *extra_args) -> inventory dict; each distinct call runs once."""
    out_dir = tmp_path_factory.mktemp("scans")

    def scan(target: str | Path, *extra: str) -> dict[str, Any]:
        key = (str(target), *extra)
        if key not in _SCANS:
            out = out_dir / f"inv-{len(_SCANS)}.json"
            r = run_cli("scan", str(target), "-o", f"json={out}", *extra)
            assert r.rc == 0, f"scan {target} failed ({r.rc}): {r.err}"
            _SCANS[key] = json.loads(out.read_text())
        return _SCANS[key]

    return scan
