# SPDX-License-Identifier: Apache-2.0
"""`auditor.report.diff` and `container-audit diff`: two real scans of images one package
layer apart, and the pure rules (pairing, versions, licenses) on edited inventories."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.inventory import schema
from auditor.report.diff import diff, to_dict
from tests.report.conftest import Judged, run

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="module")
def base_and_tools(fixtures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("diff")
    paths = []
    for name in ("debian-base", "debian-tools"):
        inv = out / f"{name}.json"
        r = run("scan", fixtures["archives"][f"{name}.podman"], "-o", f"json={inv}")
        assert r.rc == 0, r.err
        paths.append(inv)
    return paths[0], paths[1]


def test_diff_of_two_real_images(base_and_tools: tuple[Path, Path], fixtures: dict[str, Any],
                                 tmp_path: Path) -> None:
    old, new = base_and_tools
    r = run("diff", str(old), str(new), "-o", f"json={tmp_path / 'd.json'}",
            "-o", f"md={tmp_path / 'd.md'},html={tmp_path / 'd.html'}")
    assert r.rc == 0, r.err
    d = json.loads((tmp_path / "d.json").read_text())
    # ground truth: dpkg-query on the two images at fixture build time
    base = {(p["name"], p["version"]) for p in fixtures["images"]["debian-base"]["packages"]}
    tools = {(p["name"], p["version"]) for p in fixtures["images"]["debian-tools"]["packages"]}
    assert len(tools - base) == 2 and not base - tools
    assert d["summary"] == {
        "images_added": 0, "images_removed": 0, "images_changed": 1, "images_same": 0,
        "packages_added": 2, "packages_removed": 0, "packages_upgraded": 0,
        "packages_downgraded": 0, "packages_version_changed": 0, "license_changes": 0}
    [img] = d["images"]
    assert img["status"] == "changed" and img["matched_by"] == "target"
    assert img["old"]["config_digest"] == fixtures["images"]["debian-base"]["config_digest"]
    assert img["new"]["config_digest"] == fixtures["images"]["debian-tools"]["config_digest"]
    assert {(p["name"], p["version"]) for p in img["packages_added"]} == tools - base
    md = (tmp_path / "d.md").read_text()
    assert md.startswith("# Inventory changes\n")
    assert "## Changed: localhost/debian-tools:bookworm" in md
    for name, version in sorted(tools - base):
        assert f"| added | {name} | deb | — | {version} |" in md
    html = (tmp_path / "d.html").read_text()
    assert html.count('class="pkg-added"') == 2 and html.startswith("<!DOCTYPE html>")
    # the other way round is the mirror image
    back = to_dict(diff(schema.loads(new.read_text(), "new"), schema.loads(old.read_text(), "old")))
    assert [(p["name"], p["version"]) for p in back["images"][0]["packages_removed"]] == [
        (p["name"], p["version"]) for p in img["packages_added"]]


def _load(doc: dict[str, Any]) -> Any:
    return schema.from_dict(doc, "test")


def test_pairing_versions_and_licenses(judged: Judged) -> None:
    new = judged.load("inventory")
    old = copy.deepcopy(new)
    imgs = {i["name"]: i for i in old["images"]}
    # debian-jq: an older build (other digest, older jq, libonig5 under another license)
    jq = imgs["localhost/debian-jq:1.6"]
    jq["config_digest"] = "sha256:" + "1" * 64
    for p in jq["packages"]:
        if p["name"] == "jq":
            p["version"] = "1.5+dfsg-2"
        if p["name"] == "libonig5":
            p["concluded_license"] = "BSD-2-Clause"
        if p["name"] == "tar":
            p["version"] = "1:9.9-1"  # epoch: dpkg says the new 1.34 is older
    # busybox: retagged and moved, so only its repository pairs it
    bb = imgs["localhost/busybox:1.35"]
    bb.update(name="localhost/busybox:1.34", tags=["localhost/busybox:1.34"],
              source="/usr/share/container-images/busybox-1.34.tar",
              config_digest="sha256:" + "2" * 64)
    # debian-tools did not exist; an image since dropped did
    gone = copy.deepcopy(imgs["localhost/debian-base:bookworm"])
    gone.update(name="localhost/legacy:1", tags=["localhost/legacy:1"],
                source="/usr/share/container-images/legacy.tar",
                config_digest="sha256:" + "3" * 64)
    old["images"] = [i for i in old["images"] if i["name"] != "localhost/debian-tools:bookworm"]
    old["images"].append(gone)

    d = diff(_load(old), _load(new))
    by = {(i.status, i.name): i for i in d.images}
    assert sorted(by) == [
        ("added", "localhost/debian-tools:bookworm"),
        ("changed", "localhost/busybox:1.35"), ("changed", "localhost/debian-jq:1.6"),
        ("removed", "localhost/legacy:1"), ("same", "localhost/debian-base:bookworm")]
    assert by[("changed", "localhost/busybox:1.35")].matched_by == "repository"
    assert by[("same", "localhost/debian-base:bookworm")].empty
    j = by[("changed", "localhost/debian-jq:1.6")]
    assert j.matched_by == "source" and not j.added and not j.removed
    assert [(v.name, v.direction) for v in j.versions] == [("jq", "upgraded"),
                                                           ("tar", "downgraded")]
    [lic] = j.licenses
    assert (lic.name, lic.old_concluded, lic.new_declared == lic.old_declared) == (
        "libonig5", "BSD-2-Clause", True)
    t = d.totals()
    assert (t["images_added"], t["images_removed"], t["images_changed"], t["images_same"]) == (
        1, 1, 2, 1)
    assert diff(_load(new), _load(new)).empty
    # deterministic and JSON-able
    assert json.dumps(to_dict(d)) == json.dumps(to_dict(diff(_load(old), _load(new))))


def test_diff_cli_exit_codes(judged: Judged, tmp_path: Path) -> None:
    r = run("diff", str(judged.inventory), str(judged.inventory))
    assert r.rc == 0 and "No differences." in r.out
    r = run("diff", str(judged.inventory), str(tmp_path / "missing.json"))
    assert r.rc == 2 and "cannot read the inventory" in r.err
    (tmp_path / "bad.json").write_text('{"schema_version": "9.0"}')
    r = run("diff", str(judged.inventory), str(tmp_path / "bad.json"))
    assert r.rc == 2 and "unsupported inventory schema_version" in r.err
    r = run("diff", str(judged.inventory), str(judged.inventory), "-o", "csv")
    assert r.rc == 2 and "unknown format" in r.err
