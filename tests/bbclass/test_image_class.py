# SPDX-License-Identifier: Apache-2.0
"""container-audit.bbclass under the real BitBake: an image whose rootfs embeds real
container images (the session fixtures) is audited between do_rootfs and do_image."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import zstandard

from tests.bbclass.harness import AUDIT_FILES, MACHINE, Build, Result, assert_audited, make_rootfs
from tests.conftest import SHARED, need_path

pytestmark = pytest.mark.fixtures

LINK = f"test-image-{MACHINE}.rootfs"
QA = " [container-license]"


def verdicts(result: Result) -> dict:
    path = result.build.workdir("test-image") / "container-audit" / "container-audit.verdicts.json"
    return json.loads(path.read_text())


def violation_lines(result: Result, severity: str = "error") -> list[str]:
    """The lines the class must print, built from the verdicts the tool wrote."""
    return [f"test-image: {f['image']}: {f['package']} {f['version']}: {f['license']} "
            f"[{f['rule']}]" for f in verdicts(result)["findings"] if f["severity"] == severity]


def tar_zst_names(path: Path) -> list[str]:
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as z, \
            tarfile.open(fileobj=io.BytesIO(z.read())) as tar:
        return tar.getnames()


def sbom_graph(path: Path) -> list[dict]:
    return json.loads(path.read_text())["@graph"]


def test_clean_image_is_audited_deployed_and_merged_into_spdx3(image_build) -> None:
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_POLICY = "gplv3-free"',
        'IMAGE_CLASSES += "create-spdx-image-3.0"',
        'TEST_OE_QA = "1"',
    ))
    r = build.run()
    assert_audited(r)
    order = r.data["order"]
    assert (order.index("do_rootfs") < order.index("do_container_audit")
            < order.index("do_image") < order.index("do_create_image_sbom_spdx"))
    assert "policies/gplv3-free.yaml" in r.log("do_container_audit")  # found through BBPATH

    deployed = json.loads((build.deploy / f"{LINK}.container-audit.verdicts.json").read_text())
    assert deployed["result"] == "pass" and deployed["policy"]["name"] == "gplv3-free"
    assert [p["image"] for p in deployed["packages"]] == ["localhost/busybox:1.35"]
    for f in AUDIT_FILES:  # named from IMAGE_NAME, linked from IMAGE_LINK_NAME
        assert (build.deploy / f"{LINK}.{f}").resolve().name == f"{LINK}-20250101000000.{f}"

    # the postfunc edited the SBOM before the stand-in sstate staged it
    staged = build.deploy / f"{LINK}.spdx.json"
    graph = sbom_graph(staged)
    containers = [o for o in graph if o.get("software_primaryPurpose") == "container"]
    assert [c["name"] for c in containers] == ["localhost/busybox"], containers
    rootfs = next(o["spdxId"] for o in graph if o.get("software_primaryPurpose") == "archive")
    assert any(o.get("type") == "Relationship" and o.get("relationshipType") == "contains"
               and o.get("from") == rootfs and containers[0]["spdxId"] in o.get("to", [])
               for o in graph)
    assert any(o.get("name") == "busybox" and o.get("type") == "software_Package"
               for o in graph)
    log = r.log("do_create_image_sbom_spdx")
    assert log.index("merged 1 containers") < log.index("sstate: staged")


def test_stamps_policy_edit_and_sstate(image_build, tmp_path: Path) -> None:
    """Unchanged inputs: nothing re-runs. An edited policy file ([file-checksums]): the audit
    and what follows re-run, do_rootfs does not. Wiped TMPDIR: the audit comes back from
    sstate without a scan, and the SPDX 3 merge reads the deployed inventory."""
    layer = tmp_path / "meta-site"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf" / "layer.conf").write_text('BBPATH .= ":${LAYERDIR}"\n')
    policy = layer / "policies" / "site.yaml"
    policy.parent.mkdir()
    shutil.copyfile(need_path(Path(__file__).parents[2] / "policies" / "gplv3-free.yaml"),
                    policy)
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_POLICY = "site"',
        'IMAGE_CLASSES += "create-spdx-image-3.0"',
    ))
    build.layers.append(layer)

    first = build.run()
    assert_audited(first)
    assert f"--policy {policy}" in first.log("do_container_audit")
    assert any((build.topdir / "cache" / "container-audit").iterdir())  # PERSISTENT_DIR

    again = build.run()
    assert again.ok, str(again)
    assert {t: s for t, s in again.tasks.items() if s == "ran"} == {}, str(again)

    policy.write_text(policy.read_text().replace("noassertion: warning", "noassertion: error"))
    edited = build.run()
    assert_audited(edited)
    assert edited.tasks["do_rootfs"] == "stamped", str(edited)
    assert edited.ran("do_image") and edited.ran("do_create_image_sbom_spdx"), str(edited)
    assert edited.data["hashes"]["do_rootfs"] == first.data["hashes"]["do_rootfs"]
    assert edited.data["hashes"]["do_container_audit"] != first.data["hashes"]["do_container_audit"]

    shutil.rmtree(build.topdir / "tmp")
    cached = build.run()
    assert cached.ok, str(cached)
    assert cached.ran("do_rootfs") and cached.tasks["do_container_audit"] == "setscene"
    assert not cached.log("do_container_audit")  # no scan
    for f in AUDIT_FILES:
        assert (build.deploy / f"{LINK}.{f}").resolve().is_file()
    assert cached.ran("do_create_image_sbom_spdx")  # SSTATE_SKIP_CREATION, as in OE
    assert f"--inventory {build.deploy}/{LINK}.container-audit.inventory.json" in \
        cached.log("do_create_image_sbom_spdx")
    assert any(o.get("software_primaryPurpose") == "container"
               for o in sbom_graph(build.deploy / f"{LINK}.spdx.json"))


def test_violation_fails_through_error_qa(image_build) -> None:
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_POLICY = "permissive-only"', 'TEST_OE_QA = "1"'))
    r = build.run()
    assert not r.ok and r.failed == "do_container_audit", str(r)
    assert "do_image" not in r.tasks
    lines = violation_lines(r)
    assert lines and "test-image: localhost/busybox:1.35: busybox " in lines[0]
    for line in lines:
        assert f"ERROR: QA Issue: {line}{QA}" in r.output, str(r)
    report = build.workdir("test-image") / "container-audit" / "container-audit.txt"
    assert f"1 container license violation(s); report: {report}{QA}" in r.output
    assert report.is_file()
    assert "Fatal QA errors were found" in r.output
    assert not list(build.deploy.glob("*container-audit*"))


def test_violation_under_warn_qa_passes_with_warnings(image_build) -> None:
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_POLICY = "permissive-only"', 'TEST_OE_QA = "1"',
        'ERROR_QA:remove = "container-license"', 'WARN_QA:append = " container-license"'))
    r = build.run()
    assert_audited(r)
    for line in violation_lines(r):
        assert f"WARNING: QA Issue: {line}{QA}" in r.output, str(r)


def test_fail_on_never_warns_and_merges_spdx22(image_build) -> None:
    archive = need_path(SHARED / "fixtures" / "yocto-spdx" / "vulnscout" / "example" / "spdx2"
                        / "example.rootfs.spdx.tar.zst")
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_POLICY = "permissive-only"', 'CONTAINER_AUDIT_FAIL_ON = "never"',
        'IMAGE_CLASSES += "create-spdx-2.2"', f'TEST_SPDX22_ARCHIVE = "{archive}"'))
    r = build.run()
    assert_audited(r)
    lines = violation_lines(r)
    assert lines
    for line in lines:
        assert f"WARNING: {line}" in r.output, str(r)
    assert 'ignored (CONTAINER_AUDIT_FAIL_ON = "never")' in r.output
    assert verdicts(r)["result"] == "pass"

    # SPDX 2.2: do_image_complete's postfunc merged into the archive before staging
    members = tar_zst_names(build.deploy / f"{LINK}.spdx.tar.zst")
    added = sorted(set(members) - set(tar_zst_names(archive)))
    assert added == ["container-localhost-busybox-1.35.spdx.json"]


def test_incompatible_license_default_fails_without_oe_qa(image_build) -> None:
    """No CONTAINER_AUDIT_* set: the distro's INCOMPATIBLE_LICENSE decides; without oe.qa
    (absent in this harness unless TEST_OE_QA) the class falls back to bb.fatal."""
    build = image_build("debian-jq.podman", conf=('INCOMPATIBLE_LICENSE = "GPL-3.0*"',))
    r = build.run(dump=("CONTAINER_AUDIT_POLICY", "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE"))
    assert r.data["dump"] == {"CONTAINER_AUDIT_POLICY": "",
                              "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE": "GPL-3.0*"}
    assert not r.ok and r.failed == "do_container_audit", str(r)
    lines = violation_lines(r)
    assert any(": sed " in line and line.endswith("[incompatible_licenses]") for line in lines)
    for line in lines:
        assert f"{line}{QA}" in r.output, str(r)
    assert "QA Issue" not in r.output


@pytest.mark.parametrize(("conf", "message"), [
    ('CONTAINER_AUDIT_INCOMPATIBLE_LICENSE = "GPL-2.0*"',
     "container-audit exited with 2: container-audit: error: INCOMPATIBLE_LICENSE"),
    ('CONTAINER_AUDIT_POLICY = "no-such-policy"',
     'CONTAINER_AUDIT_POLICY = "no-such-policy": no such file (looked in '),
    ('CONTAINER_AUDIT_FAIL_ON = "sometimes"', 'CONTAINER_AUDIT_FAIL_ON = "sometimes"'),
    ('CONTAINER_AUDIT_BIN = ""\nPATH = "/usr/bin:/bin"',
     "container-audit is not an executable"),
], ids=["cli-exit-2", "policy-not-found", "bad-fail-on", "native-tool-missing"])
def test_cannot_audit_is_fatal(image_build, conf: str, message: str) -> None:
    build = image_build("busybox.podman", conf=(conf, 'TEST_OE_QA = "1"'))
    r = build.run()
    assert not r.ok and r.failed == "do_container_audit", str(r)
    assert f"ERROR: test-image: cannot audit: {message}" in r.output, str(r)
    assert "QA Issue" not in r.output and "do_image" not in r.tasks


def test_skip_leaves_image_and_sbom_alone(image_build) -> None:
    build = image_build("busybox.podman", conf=(
        'CONTAINER_AUDIT_SKIP = "1"', 'IMAGE_CLASSES += "create-spdx-image-3.0"'))
    r = build.run()
    assert r.ok and r.ran("do_image"), str(r)
    assert "container-audit skipped (CONTAINER_AUDIT_SKIP)" in r.log("do_container_audit")
    assert not list(build.deploy.glob("*container-audit*"))
    assert not any(o.get("software_primaryPurpose") == "container"
                   for o in sbom_graph(build.deploy / f"{LINK}.spdx.json"))


def test_inherit_everywhere_audits_images_only(tmp_path: Path, bitbake: str, audit_bin: Path,
                                               archives: dict[str, str]) -> None:
    """`INHERIT += "container-audit"` (the issue's one line) reaches every recipe: images
    are audited, other recipes parse and build without the task."""
    rootfs = make_rootfs(tmp_path / "rootfs", {"busybox.tar": archives["busybox.podman"]})
    build = Build(tmp_path / "build", conf=[
        f'TEST_ROOTFS_SOURCE = "{rootfs}"', f'CONTAINER_AUDIT_BIN = "{audit_bin}"',
        'INHERIT += "container-audit"', f'TEST_EMBED_ARCHIVE = "{archives["busybox.podman"]}"'])
    assert_audited(build.run())
    other = build.run("embedder", hashes_only=True, dump=("__BBTASKS", "SSTATETASKS"))
    assert other.ok, str(other)
    tasks = str(other.data["dump"]["__BBTASKS"])
    assert "do_install" in tasks and "do_container_image_audit" in tasks, tasks
    assert "do_container_audit" not in tasks.replace("do_container_audit_", ""), tasks
    assert "do_container_audit" not in str(other.data["dump"]["SSTATETASKS"])
    built = build.run("embedder")
    assert built.ok and built.ran("do_container_image_audit") and \
        not built.ran("do_container_audit"), str(built)
