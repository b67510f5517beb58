# SPDX-License-Identifier: Apache-2.0
"""Parse-only checks under the real BitBake: task signatures ([vardeps], [file-checksums]),
task flags and the [doc] of every variable. No build runs, no image is scanned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bbclass.harness import LAYER, Build

VARIABLES = sorted(set(re.findall(
    r"^(CONTAINER_AUDIT_\w+)\s*\?\?=", "".join(
        p.read_text() for p in sorted((LAYER / "classes").glob("*.bbclass"))), re.MULTILINE)))


@pytest.fixture
def parse_build(tmp_path: Path, bitbake: str):
    def make(*conf: str) -> Build:
        (tmp_path / "rootfs").mkdir(exist_ok=True)
        return Build(tmp_path / "build", conf=[
            f'TEST_ROOTFS_SOURCE = "{tmp_path / "rootfs"}"',
            'CONTAINER_AUDIT_BIN = "/usr/bin/container-audit"',
            'IMAGE_CLASSES += "container-audit create-spdx-image-3.0"',
            'CONTAINER_AUDIT_POLICY = "gplv3-free"',
            *conf,
        ])
    return make


def hashes(build: Build, *dump: str) -> dict:
    r = build.run(hashes_only=True, dump=dump)
    assert r.data["parsed"], str(r)
    return {**r.data["hashes"], **r.data["dump"]}


@pytest.mark.parametrize("assignment", [
    'CONTAINER_AUDIT_POLICY = "permissive-only"',
    'CONTAINER_AUDIT_CURATIONS = "site-curations.yaml"',
    'CONTAINER_AUDIT_FAIL_ON = "warning"',
    'INCOMPATIBLE_LICENSE = "GPL-3.0*"',
    'INCOMPATIBLE_LICENSE_EXCEPTIONS = "sed:GPL-3.0-or-later"',
    'CONTAINER_AUDIT_INCOMPATIBLE_LICENSE = "AGPL-3.0*"',
    'CONTAINER_AUDIT_EXTRA_ARGS = "--arch arm64"',
    'CONTAINER_AUDIT_BIN = "/opt/tools/bin/container-audit"',
    'CONTAINER_AUDIT_SKIP = "1"',
])
def test_variable_change_reruns_audit_only(parse_build, assignment: str) -> None:
    before = hashes(parse_build())
    after = hashes(parse_build(assignment))
    assert after["do_container_audit"] != before["do_container_audit"]
    assert after["do_image"] != before["do_image"]  # depends on the audit
    assert after["do_rootfs"] == before["do_rootfs"]


def test_cache_dir_is_not_in_the_signature(parse_build) -> None:
    before = hashes(parse_build(), "CONTAINER_AUDIT_CACHE_DIR")
    assert before["CONTAINER_AUDIT_CACHE_DIR"].endswith("/build/cache/container-audit")
    after = hashes(parse_build('CONTAINER_AUDIT_CACHE_DIR = "/srv/shared/container-audit"'))
    assert after["do_container_audit"] == before["do_container_audit"]


def test_merge_switch_changes_only_the_sbom_task(parse_build) -> None:
    before = hashes(parse_build())
    after = hashes(parse_build('CONTAINER_AUDIT_MERGE_SBOM = "0"'))
    assert after["do_container_audit"] == before["do_container_audit"]
    assert after["do_create_image_sbom_spdx"] != before["do_create_image_sbom_spdx"]
    assert after["do_image_complete"] != before["do_image_complete"]  # the SPDX 2.2 postfunc


def test_policy_file_content_and_search_order_are_in_the_signature(parse_build,
                                                                   tmp_path: Path) -> None:
    layers = []
    for name in ("meta-first", "meta-second"):
        (tmp_path / name / "conf").mkdir(parents=True)
        (tmp_path / name / "conf" / "layer.conf").write_text('BBPATH .= ":${LAYERDIR}"\n')
        layers.append(tmp_path / name)
    second = layers[1] / "policies" / "site.yaml"
    second.parent.mkdir()
    second.write_text((LAYER / "policies" / "gplv3-free.yaml").read_text())
    build = parse_build('CONTAINER_AUDIT_POLICY = "site"')
    build.layers[:] = layers

    base = hashes(build, "do_container_audit[file-checksums]")
    assert f"{second}:True" in base["do_container_audit[file-checksums]"]
    assert f"{layers[0]}/policies/site.yaml:False" in base["do_container_audit[file-checksums]"]

    second.write_text(second.read_text() + "\n# reviewed\n")
    edited = hashes(build)
    assert edited["do_container_audit"] != base["do_container_audit"]
    assert edited["do_rootfs"] == base["do_rootfs"]

    first = layers[0] / "policies" / "site.yaml"  # now found first in BBPATH
    first.parent.mkdir()
    first.write_text((LAYER / "policies" / "permissive-only.yaml").read_text())
    shadowed = hashes(build, "do_container_audit[file-checksums]")
    assert f"{first}:True" in shadowed["do_container_audit[file-checksums]"]
    assert shadowed["do_container_audit"] != edited["do_container_audit"]


def test_task_flags(parse_build) -> None:
    host = hashes(parse_build('IMAGE_CLASSES += "create-spdx-2.2"'),
                  "do_container_audit[depends]", "do_create_image_sbom_spdx[postfuncs]",
                  "do_image_complete[postfuncs]", "do_container_audit[sstate-outputdirs]",
                  "DEPLOY_DIR_IMAGE", "do_container_audit[vardeps]", "ERROR_QA")
    assert host["do_container_audit[depends]"].strip() == ""
    # ours before sstate's staging, which the stand-in (like OE) puts last
    assert host["do_create_image_sbom_spdx[postfuncs]"].split()[-2:] == [
        "container_audit_merge_spdx3", "harness_sstate_postfunc"]
    assert host["do_image_complete[postfuncs]"].split()[-2:] == [
        "container_audit_merge_spdx22", "harness_sstate_postfunc"]
    assert host["do_container_audit[sstate-outputdirs]"] == host["DEPLOY_DIR_IMAGE"]
    assert "CONTAINER_AUDIT_POLICY" in host["do_container_audit[vardeps]"].split()
    assert "container-license" in host["ERROR_QA"].split()

    native = hashes(parse_build('CONTAINER_AUDIT_BIN = ""'), "do_container_audit[depends]",
                    "do_create_image_sbom_spdx[depends]")
    assert native["do_container_audit[depends]"].split() == [
        "container-audit-native:do_populate_sysroot"]
    assert native["do_create_image_sbom_spdx[depends]"].split() == [
        "container-audit-native:do_populate_sysroot"]


def test_every_variable_is_documented(parse_build) -> None:
    assert len(VARIABLES) >= 12, VARIABLES
    docs = hashes(parse_build(), *(f"{v}[doc]" for v in VARIABLES))
    undocumented = [v for v in VARIABLES if len(docs[f"{v}[doc]"] or "") < 20]
    assert not undocumented


def test_defaults(tmp_path: Path, bitbake: str) -> None:
    """Nothing configured: report-only; INCOMPATIBLE_LICENSE* unset stay empty (never the
    literal ${INCOMPATIBLE_LICENSE}); native-tool mode."""
    (tmp_path / "rootfs").mkdir()
    build = Build(tmp_path / "build", conf=[f'TEST_ROOTFS_SOURCE = "{tmp_path / "rootfs"}"',
                                            'IMAGE_CLASSES += "container-audit"'])
    names = ("CONTAINER_AUDIT_POLICY", "CONTAINER_AUDIT_FAIL_ON",
             "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE",
             "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS", "CONTAINER_AUDIT_SKIP",
             "CONTAINER_AUDIT_MERGE_SBOM", "CONTAINER_AUDIT_BIN", "CONTAINER_AUDIT_DEPENDS")
    assert {k: v for k, v in hashes(build, *names).items() if k in names} == {
        "CONTAINER_AUDIT_POLICY": "report-only", "CONTAINER_AUDIT_FAIL_ON": "error",
        "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE": "",
        "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS": "", "CONTAINER_AUDIT_SKIP": "0",
        "CONTAINER_AUDIT_MERGE_SBOM": "1", "CONTAINER_AUDIT_BIN": "",
        "CONTAINER_AUDIT_DEPENDS": "container-audit-native:do_populate_sysroot"}
