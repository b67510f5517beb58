# SPDX-License-Identifier: Apache-2.0
"""`merge`, `sbom` and `audit` end to end: real fixture images into the real Yocto SBOMs in
../shared (read there, never copied), atomicity on failure, exit codes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import SHARED, need_path, run_cli

pytestmark = pytest.mark.fixtures

YOCTO = SHARED / "fixtures" / "yocto-spdx" / "vulnscout" / "example"
SPDX3 = YOCTO / "spdx3" / "core-image-minimal-qemux86-64.rootfs.spdx.json"
SPDX2 = YOCTO / "spdx2" / "example.rootfs.spdx.tar.zst"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def podman_outputs(fixtures, tmp_path_factory) -> Path:
    """One `audit` of the podman rootfs: inventory, verdicts and SBOMs in a dir."""
    out = tmp_path_factory.mktemp("audit")
    r = run_cli("audit", fixtures["rootfs"]["podman"]["path"], "--policy", "gplv3-free",
                "--output-dir", str(out), env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert r.rc == 1, r.err  # the Debian images carry GPL-3.0 packages
    return out


def test_audit_writes_everything(podman_outputs: Path) -> None:
    names = sorted(p.name for p in podman_outputs.iterdir())
    assert names == sorted(["container-audit.cdx.json", "container-audit.inventory.json",
                            "container-audit.html", "container-audit.md",
                            "container-audit.spdx.json", "container-audit.spdx3.json",
                            "container-audit.txt", "container-audit.verdicts.json"])
    inv = json.loads((podman_outputs / "container-audit.inventory.json").read_text())
    v = json.loads((podman_outputs / "container-audit.verdicts.json").read_text())
    assert v["result"] == "fail" and len(inv["images"]) == 4
    cdx = json.loads((podman_outputs / "container-audit.cdx.json").read_text())
    containers = [c for c in cdx["components"] if c["type"] == "container"]
    assert len(containers) == 4
    assert sum(len(c.get("components", [])) for c in containers) == sum(
        len(i["packages"]) for i in inv["images"])


@pytest.mark.parametrize("sbom", [SPDX3, SPDX2], ids=["spdx3", "spdx2"])
def test_merge_into_real_yocto_sbom(podman_outputs: Path, tmp_path: Path, sbom: Path) -> None:
    need_path(sbom)
    target = tmp_path / sbom.name
    shutil.copyfile(sbom, target)
    inv = podman_outputs / "container-audit.inventory.json"
    verdicts = podman_outputs / "container-audit.verdicts.json"
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    r = run_cli("merge", "--sbom", str(target), "--inventory", str(inv), "--verdicts",
                str(verdicts), env=env)
    assert r.rc == 0, r.err
    once = target.read_bytes()
    assert once != sbom.read_bytes()
    r = run_cli("merge", "--sbom", str(target), "--inventory", str(inv), env=env)
    r = run_cli("merge", "--sbom", str(target), "--inventory", str(inv), "--verdicts",
                str(verdicts), env=env)
    assert r.rc == 0 and target.read_bytes() == once  # idempotent
    if sbom is SPDX3:
        graph = json.loads(once)["@graph"]
        purposes = [e for e in graph if e.get("software_primaryPurpose") == "container"]
        assert len(purposes) == 4
        names = {e.get("name") for e in graph}
        assert {"perl-base", "busybox", "jq"} <= names


@pytest.mark.parametrize("content,what", [
    (b"{not json", "not an SPDX"),
    (b'{"spdxVersion": "SPDX-9.9", "SPDXID": "SPDXRef-DOCUMENT"}', "SPDX-9.9"),
    (b"\x28\xb5\x2f\xfd garbage", "spdx"),
])
def test_merge_bad_sbom_is_exit_2_and_untouched(podman_outputs: Path, tmp_path: Path,
                                                content: bytes, what: str) -> None:
    target = tmp_path / "image.spdx.json"
    target.write_bytes(content)
    r = run_cli("merge", "--sbom", str(target), "--inventory",
                str(podman_outputs / "container-audit.inventory.json"))
    assert r.rc == 2 and str(target) in r.err, r.err
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.spdx.json"]


def test_merge_write_failure_leaves_input(podman_outputs: Path, tmp_path: Path) -> None:
    """A write that fails midway (file size limit: EFBIG, as on a full disk) → exit 2,
    the SBOM byte-identical and no temp file left behind."""
    import resource
    import subprocess
    import sys

    need_path(SPDX3)
    target = tmp_path / SPDX3.name
    shutil.copyfile(SPDX3, target)
    before = _sha(target)
    limit = target.stat().st_size  # the merged document is larger: its write fails midway

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "auditor", "merge", "--sbom", str(target),
                           "--inventory", str(podman_outputs / "container-audit.inventory.json")],
                          capture_output=True, text=True, preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert "cannot write" in proc.stderr and str(target) in proc.stderr
    assert _sha(target) == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_sbom_command(podman_outputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.cdx.json"
    r = run_cli("sbom", "--inventory", str(podman_outputs / "container-audit.inventory.json"),
                "-o", f"cyclonedx-json={out}", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert r.rc == 0, r.err
    assert out.read_bytes() == (podman_outputs / "container-audit.cdx.json").read_bytes()
