# SPDX-License-Identifier: Apache-2.0
"""Report stage: the NOTICE / attribution bundle (`report -o notice=DIR`).

Layout of the bundle (every file non-empty, every list sorted, no clock):

    NOTICE.txt            per package: images, license, license text files, copyright files
    index.json            the same as data: package -> licenses -> text file, and per
                          license its text source (which installed data or directory)
    licenses/<ID>.txt     the full text of each license and exception that occurs

The licenses that occur are those a package ships under (concluded, else declared) plus
those of its DEP-5 paragraphs for other files (their files ship too). A full text comes
from `LicenseTexts`; a license none of its sources has (every `LicenseRef-`, which is our
name for text that is not on the SPDX list) gets a file quoting the statements as found and
the files inside the images that hold the full text, marked `"full_text": false` in the
index.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import Location
from .licenseinfo import license_ids
from .licensetexts import LicenseText
from .view import Report

NOTICE_SCHEMA_VERSION = "1.0"
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    files: tuple[tuple[str, str], ...]  # (path relative to the bundle, text), sorted

    def get(self, path: str) -> str:
        return dict(self.files)[path]


def _file(license_id: str) -> str:
    return f"licenses/{_UNSAFE.sub('_', license_id)}.txt"


def _short(layer: str | None) -> str:
    return (layer or "").removeprefix("sha256:")[:12] or "?"


def _where(loc: Location) -> str:
    return f"{loc.path} (layer {_short(loc.layer)})"


@dataclass
class _Pkg:
    name: str
    version: str
    type: str
    purl: str
    license: str
    images: set[str]
    ids: set[str]
    copyright: set[Location]
    other: set[tuple[str, str]]  # (files, expression)


def build(report: Report, inventory_packages: dict[tuple[str, str], Any],
          lookup: Callable[[str], LicenseText | None], sources: tuple[str, ...]) -> Bundle:
    """The bundle for `report`; `inventory_packages` maps (config digest, purl) to the
    inventory `Package` (for DEP-5 paragraphs and raw statements)."""
    pkgs: dict[str, _Pkg] = {}
    # license id -> statements as found: (package, image, raw value, where)
    raw: dict[str, set[tuple[str, str, str, str]]] = defaultdict(set)
    for row in report.packages:
        key = row.purl or f"{row.type}:{row.name}@{row.version}"
        inv = inventory_packages.get((row.config_digest, row.purl))
        entry = pkgs.setdefault(key, _Pkg(row.name, row.version, row.type, row.purl,
                                          row.license, set(), set(), set(), set()))
        entry.images.add(row.image)
        entry.copyright.update(row.copyright)
        label = f"{row.name} {row.version}"
        for lid in license_ids(row.license):
            entry.ids.add(lid)
            stated = [l for l in (inv.licenses if inv else ()) if lid in license_ids(
                l.spdx_expression if isinstance(l.spdx_expression, str) else "")]
            for l in stated:
                for e in l.evidence or (Location(path="?"),):
                    raw[lid].add((label, row.image, l.value, _where(e)))
            if not stated:
                for loc in row.copyright:
                    raw[lid].add((label, row.image, row.license, _where(loc)))
        for o in (inv.other_licenses if inv else ()):
            expr = o.expression if isinstance(o.expression, str) else o.expression.value
            ids = license_ids(expr)
            if not ids:
                continue
            entry.other.add((" ".join(o.files), expr))
            entry.ids.update(ids)
            where = _where(o.evidence) if o.evidence else "?"
            for lid in ids:
                raw[lid].add((f"{label} (files {' '.join(o.files)})", row.image, o.raw, where))

    all_ids = sorted({i for p in pkgs.values() for i in p.ids}, key=lambda i: (i.casefold(), i))
    texts: dict[str, LicenseText | None] = {i: lookup(i) for i in all_ids}
    files: dict[str, str] = {}
    licenses_index = []
    for lid in all_ids:
        t = texts[lid]
        path = _file(lid)
        if t is not None:
            files[path] = t.text
        else:
            lines = [lid, "",
                     ("This license is not on the SPDX License List: it is the name container-audit "
                      "gave to a license text found in the images."
                      if lid.startswith("LicenseRef-") else
                      "No offline source had the text of this SPDX license "
                      f"(see https://spdx.org/licenses/{lid}.html)."),
                     ("The packages state it as quoted below; the full text is in the files "
                      "named, inside the images."), ""]
            for label, image, value, where in sorted(raw[lid]):
                lines.append(f"- {label} in {image}: \"{value}\" in {where}")
            files[path] = "\n".join(lines) + "\n"
        licenses_index.append({
            "id": lid, "file": path, "full_text": t is not None,
            "source": t.source if t is not None else "statements found in the images",
            "packages": sorted(k for k, p in pkgs.items() if lid in p.ids),
        })

    ordered = sorted(pkgs.items(), key=lambda kv: (kv[1].name, kv[1].version, kv[1].type, kv[0]))
    packages_index = [{
        "name": p.name, "version": p.version, "type": p.type, "purl": p.purl,
        "license": p.license, "images": sorted(p.images),
        "licenses": [{"id": i, "file": _file(i)} for i in sorted(p.ids, key=str.casefold)],
        "other_licenses": [{"files": f, "expression": e} for f, e in sorted(p.other)],
        "copyright": [{"path": c.path, "layer": c.layer}
                      for c in sorted(p.copyright, key=lambda c: (c.path, c.layer or ""))],
    } for _, p in ordered]
    index = {
        "schema_version": NOTICE_SCHEMA_VERSION, "target": report.target,
        "created": report.created, "text_sources": list(sources),
        "licenses": licenses_index, "packages": packages_index,
    }
    files["index.json"] = json.dumps(index, indent=2, ensure_ascii=False) + "\n"

    out = [f"Third-party software notices: {report.target}", "",
           (f"{len(ordered)} packages in {len(report.images)} container images, under "
            f"{len(all_ids)} licenses. The text of each license is in the file named after it;"),
           ("the copyright notices are in the files listed under \"Copyright\", inside the "
            "image (layer given by its diff_id)."), ""]
    if report.created:
        out += [f"Inventory judged on {report.created}.", ""]
    for _, p in ordered:
        out.append("=" * 78)
        out.append(f"{p.name} {p.version} ({p.type})")
        if p.purl:
            out.append(f"Package URL: {p.purl}")
        out.append(f"Images: {', '.join(sorted(p.images))}")
        out.append(f"License: {p.license}")
        grouped: dict[str, list[str]] = defaultdict(list)
        for files_, expr in sorted(p.other):
            if expr != p.license:
                grouped[expr].append(files_)
        for expr, patterns in sorted(grouped.items()):
            out.append(f"  some files under {expr}: {' '.join(patterns)}")
        for lid in sorted(p.ids, key=str.casefold):
            out.append(f"  text: {_file(lid)}")
        for c in sorted(p.copyright, key=lambda c: (c.path, c.layer or "")):
            out.append(f"Copyright: {_where(c)}")
        out.append("")
    files["NOTICE.txt"] = "\n".join(out)
    return Bundle(files=tuple(sorted(files.items())))
