# SPDX-License-Identifier: Apache-2.0
"""Report stage: the source-offer list — every shipped package under a copyleft license.

A package is listed when the license it ships under (concluded, else declared) binds the
distributor to offer source: a license of the weak-, strong- or network-copyleft category
(`auditor.policy.categories`), an OR counting only when every alternative is copyleft.
One row per package (purl), with the images that carry it, its source package and, for
Debian, how to fetch exactly that source. CSV or Markdown.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from urllib.parse import quote

from .licenseinfo import copyleft_licenses, expression_category
from .view import Report

COLUMNS = ("name", "version", "type", "license", "copyleft", "category", "source_name",
           "source_version", "images", "obtain", "url")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceOffer:
    name: str
    version: str
    type: str
    purl: str
    license: str
    copyleft: tuple[str, ...]  # the copyleft licenses of `license`
    category: str
    source_name: str
    source_version: str
    images: tuple[str, ...]
    obtain: str  # a command that fetches the source, "" when unknown
    url: str  # where the source is archived, "" when unknown


def _debian(purl: str) -> bool:
    return purl.startswith("pkg:deb/debian/")


def rows(report: Report) -> tuple[SourceOffer, ...]:
    seen: dict[str, SourceOffer] = {}
    images: dict[str, set[str]] = {}
    for p in report.packages:
        binding = copyleft_licenses(p.license)
        if not binding:
            continue
        key = p.purl or f"{p.type}:{p.name}@{p.version}"
        images.setdefault(key, set()).add(p.image)
        if key in seen:
            continue
        obtain = url = ""
        if _debian(p.purl):
            obtain = f"apt-get source {p.source_name}={p.source_version}"
            url = (f"https://snapshot.debian.org/package/{quote(p.source_name, safe='')}/"
                   f"{quote(p.source_version, safe='')}/")
        seen[key] = SourceOffer(
            name=p.name, version=p.version, type=p.type, purl=p.purl, license=p.license,
            copyleft=binding, category=expression_category(p.license),
            source_name=p.source_name, source_version=p.source_version, images=(),
            obtain=obtain, url=url)
    out = [dataclasses.replace(row, images=tuple(sorted(images[key])))
           for key, row in seen.items()]
    return tuple(sorted(out, key=lambda r: (r.source_name, r.source_version, r.name,
                                            r.version, r.type, r.purl)))


def _cells(r: SourceOffer) -> list[str]:
    return [r.name, r.version, r.type, r.license, " AND ".join(r.copyleft), r.category,
            r.source_name, r.source_version, " ".join(r.images), r.obtain, r.url]


def render_csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows(report):
        w.writerow(_cells(r))
    return buf.getvalue()


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_markdown(report: Report) -> str:
    found = rows(report)
    sources = sorted({(r.source_name, r.source_version) for r in found})
    out = [f"# Source offer: {_md(report.target)}", "",
           (f"{len(found)} packages from {len(sources)} source packages are under copyleft "
            "licenses; their complete corresponding source must be offered with the product."),
           ""]
    if found:
        out += [("| package | version | license | source package | source version | images "
                 "| how to obtain |"), "|---|---|---|---|---|---|---|"]
        for r in found:
            how = f"`{r.obtain}`<br>{r.url}" if r.obtain else "—"
            out.append(f"| {_md(r.name)} | {_md(r.version)} | {_md(r.license)} | "
                       f"{_md(r.source_name)} | {_md(r.source_version)} | "
                       f"{_md(', '.join(r.images))} | {how} |")
    return "\n".join(out) + "\n"
