# SPDX-License-Identifier: Apache-2.0
"""Report stage: the facts a compliance report shows, joined from inventory and verdicts.

`build(inventory, verdicts)` is pure: the inventory gives images, layers, source packages
and evidence; the verdicts JSON (`check -o json=`) gives findings, concluded licenses, the
policy and the result. Every renderer (HTML, Markdown, JSON) reads the same `Report`, so
the formats cannot disagree. Every tuple is sorted; nothing depends on the clock.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..model import Image, Inventory, Location, Package, Sentinel
from .diff import InventoryDiff
from .licenseinfo import CHART_CATEGORIES, expression_category, license_terms

SEVERITIES = ("error", "warning", "info")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_FINDING_KEYS = ("image", "package", "version", "purl", "license", "rule", "severity",
                 "message", "evidence", "layer", "waived_by")


@dataclass(frozen=True, slots=True, kw_only=True)
class FindingRow:
    image: str
    package: str
    version: str
    purl: str
    license: str
    rule: str
    severity: str
    message: str
    evidence: str
    layer: str | None
    layer_index: int | None  # 1-based position of `layer` in its image, bottom first
    waived_by: str

    @property
    def waived(self) -> bool:
        return bool(self.waived_by)


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRow:
    image: str
    config_digest: str
    name: str
    version: str
    type: str
    purl: str
    architecture: str
    source_name: str  # the source package; the binary's own name when the db has none
    source_version: str
    layer: str | None
    layer_index: int | None
    declared_license: str
    declared_method: str
    concluded_license: str
    curation: str
    license: str  # what the package ships under: concluded, else declared
    category: str
    copyright: tuple[Location, ...]  # files holding its license and copyright statements
    findings: tuple[FindingRow, ...]
    status: str  # error | warning | waived | ok (its worst open finding)

    @property
    def licenses_differ(self) -> bool:
        return self.declared_license != self.concluded_license


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerRow:
    index: int
    diff_id: str
    digest: str
    size: int
    packages: int  # packages this layer brought
    findings: int  # open findings about those packages


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    key: str  # a category or a license id
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageView:
    anchor: str  # stable HTML id
    name: str
    tags: tuple[str, ...]
    config_digest: str
    manifest_digest: str
    architecture: str
    os: str
    distro: str
    source: str
    embedding: str
    also_found_at: tuple[str, ...]
    stored_at: str  # where in the disk image file it is stored ("partition 2: /var/lib/docker")
    layers: tuple[LayerRow, ...]
    packages: tuple[PackageRow, ...]
    findings: tuple[FindingRow, ...]  # open ones first (error, warning), then waived
    categories: tuple[Count, ...]  # every chart category, zeros included
    errors: int
    warnings: int
    waived: int
    result: str  # pass | fail, by the verdicts' fail_on


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    target: str
    image_file: str  # the disk image file TARGET is, and its rootfs partition; else ""
    created: str
    result: str
    fail_on: str
    policy_name: str
    policy_sources: tuple[str, ...]
    policy_digest: str
    tools: tuple[tuple[str, str], ...]
    images: tuple[ImageView, ...]
    packages: tuple[PackageRow, ...]
    violations: tuple[FindingRow, ...]  # open findings, errors first
    waivers: tuple[FindingRow, ...]  # waived findings
    other_findings: tuple[FindingRow, ...]  # image-level findings about no inventoried image
    categories: tuple[Count, ...]  # the product: every chart category
    licenses: tuple[Count, ...]  # licenses shipped (`L` or `L WITH E`), most packages first
    errors: int
    warnings: int
    waived: int
    warnings_inventory: tuple[str, ...]  # the scan's own problem list
    diff: InventoryDiff | None = None


def _s(v: str | Sentinel) -> str:
    return v.value if isinstance(v, Sentinel) else v


def parse_verdicts(text: str, label: str) -> dict[str, Any]:
    """The verdicts JSON `check -o json=` writes, checked for what the reports read."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{label}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or "findings" not in doc or "packages" not in doc:
        raise InputError(f"{label}: not a container-audit verdicts file "
                         "(expected the output of `check -o json=`)")
    if str(doc.get("schema_version", "")).split(".")[0] != "1":
        raise InputError(f"{label}: unsupported verdicts schema_version "
                         f"{doc.get('schema_version')!r} (expected 1.x)")
    try:
        for f in doc["findings"]:
            missing = [k for k in _FINDING_KEYS if k not in f]
            if missing:
                raise InputError(f"{label}: a finding lacks {', '.join(missing)}")
            if f["severity"] not in _SEVERITY_RANK:
                raise InputError(f"{label}: unknown severity {f['severity']!r}")
        for p in doc["packages"]:
            for k in ("image", "config_digest", "name", "version", "purl", "concluded_license"):
                if k not in p:
                    raise InputError(f"{label}: a package lacks {k}")
        for k in ("target", "result", "policy", "fail_on", "created"):
            if k not in doc:
                raise InputError(f"{label}: missing {k}")
    except (TypeError, AttributeError) as exc:
        raise InputError(f"{label}: not a container-audit verdicts file ({exc})") from None
    return doc


def _anchor(image: Image) -> str:
    return "img-" + image.config_digest.removeprefix("sha256:")[:16]


def _finding_sort(f: FindingRow) -> tuple[Any, ...]:
    return (f.waived, _SEVERITY_RANK[f.severity], f.image, f.package, f.version, f.rule,
            f.license, f.evidence, f.message)


def _copyright(p: Package) -> tuple[Location, ...]:
    locs = {e for lic in p.licenses for e in lic.evidence}
    locs |= {o.evidence for o in p.other_licenses if o.evidence is not None}
    if not locs:  # no statement read: point at files that usually carry one
        locs = {l for l in p.locations
                if any(w in l.path.lower() for w in ("copyright", "license", "copying"))}
    return tuple(sorted(locs, key=lambda l: (l.path, l.layer or "")))


def _status(findings: tuple[FindingRow, ...]) -> str:
    open_ = [f.severity for f in findings if not f.waived and f.severity != "info"]
    if "error" in open_:
        return "error"
    if open_:
        return "warning"
    return "waived" if any(f.waived for f in findings) else "ok"


def _fails(f: FindingRow, fail_on: str) -> bool:
    if f.waived or fail_on == "never":
        return False
    return f.severity == "error" or (fail_on == "warning" and f.severity == "warning")


def _counts(cats: Counter[str]) -> tuple[Count, ...]:
    return tuple(Count(key=c, count=cats.get(c, 0)) for c in CHART_CATEGORIES)


def build(inv: Inventory, verdicts: dict[str, Any], *, diff: InventoryDiff | None = None,
          label: str = "verdicts") -> Report:
    """Join `inv` and `verdicts` (which must judge that inventory) into a `Report`."""
    images = sorted(inv.images, key=lambda i: (i.source, i.config_digest))
    by_digest = {i.config_digest: i for i in images}
    judged = {(p["config_digest"], p["purl"] or f"{p['name']}@{p['version']}"): p
              for p in verdicts["packages"]}
    for digest, _ in judged:
        if digest not in by_digest:
            raise InputError(f"{label}: judges image {digest} which is not in the inventory "
                             f"{inv.target} (verdicts and inventory of different scans?)")
    if verdicts.get("target") != inv.target:
        raise InputError(f"{label}: judges target {verdicts.get('target')!r} but the inventory "
                         f"is of {inv.target!r}")

    names = {i.name for i in images}
    layer_pos = {i.config_digest: {l.diff_id: n for n, l in enumerate(i.layers, 1)}
                 for i in images}
    name_to_digest = {i.name: i.config_digest for i in images}
    rows: list[FindingRow] = []
    for f in verdicts["findings"]:
        digest = name_to_digest.get(f["image"])
        pos = layer_pos.get(digest or "", {}).get(f["layer"]) if f["layer"] else None
        rows.append(FindingRow(**{k: f[k] for k in _FINDING_KEYS}, layer_index=pos))
    rows.sort(key=_finding_sort)
    fail_on = str(verdicts["fail_on"])

    by_package: dict[tuple[str, str], list[FindingRow]] = {}
    for r in rows:
        if r.package:
            by_package.setdefault((r.image, r.purl or f"{r.package}@{r.version}"), []).append(r)

    image_views: list[ImageView] = []
    all_packages: list[PackageRow] = []
    product_cats: Counter[str] = Counter()
    product_ids: Counter[str] = Counter()
    for img in images:
        pkgs: list[PackageRow] = []
        for p in img.packages:
            key = p.purl or f"{p.name}@{p.version}"
            v = judged.get((img.config_digest, key), {})
            concluded = v.get("concluded_license") or _s(p.concluded_license)
            declared = v.get("declared_license") or _s(p.declared_license)
            shipped = concluded if concluded not in ("NOASSERTION", "") else declared
            found = tuple(by_package.get((img.name, key), ()))
            pkgs.append(PackageRow(
                image=img.name, config_digest=img.config_digest, name=p.name,
                version=p.version, type=p.type, purl=p.purl, architecture=p.architecture,
                source_name=p.source_name or p.name,
                source_version=p.source_version or p.version,
                layer=p.layer, layer_index=layer_pos[img.config_digest].get(p.layer or ""),
                declared_license=declared, declared_method=p.declared_method,
                concluded_license=concluded, curation=v.get("curation", p.curation),
                license=shipped, category=expression_category(shipped),
                copyright=_copyright(p), findings=found, status=_status(found)))
        pkgs.sort(key=lambda r: (r.name, r.version, r.type, r.purl))
        img_findings = tuple(f for f in rows if f.image == img.name)
        cats = Counter(p.category for p in pkgs)
        product_cats += cats
        for row in pkgs:
            product_ids.update(license_terms(row.license))
        layer_rows = []
        for n, layer in enumerate(img.layers, 1):
            brought = [row for row in pkgs if row.layer == layer.diff_id]
            layer_rows.append(LayerRow(
                index=n, diff_id=layer.diff_id, digest=layer.digest, size=layer.size,
                packages=len(brought),
                findings=sum(1 for r in img_findings
                             if r.layer == layer.diff_id and not r.waived and r.severity != "info")))
        image_views.append(ImageView(
            anchor=_anchor(img), name=img.name, tags=img.tags, config_digest=img.config_digest,
            manifest_digest=img.manifest_digest, architecture=img.architecture, os=img.os,
            distro=img.distro, source=img.source, embedding=img.embedding.value,
            also_found_at=img.also_found_at, stored_at=img.stored_at,
            layers=tuple(layer_rows), packages=tuple(pkgs),
            findings=img_findings, categories=_counts(cats),
            errors=sum(1 for r in img_findings if not r.waived and r.severity == "error"),
            warnings=sum(1 for r in img_findings if not r.waived and r.severity == "warning"),
            waived=sum(1 for r in img_findings if r.waived),
            result="fail" if any(_fails(r, fail_on) for r in img_findings) else "pass"))
        all_packages += pkgs

    violations = tuple(r for r in rows if not r.waived)
    policy = verdicts.get("policy") or {}
    return Report(
        target=inv.target, image_file=inv.image_file, created=str(verdicts["created"]),
        result=str(verdicts["result"]),
        fail_on=fail_on, policy_name=str(policy.get("name", "")),
        policy_sources=tuple(policy.get("sources", ())),
        policy_digest=str(policy.get("digest", "")), tools=tuple(sorted(inv.tools)),
        images=tuple(image_views), packages=tuple(all_packages), violations=violations,
        waivers=tuple(r for r in rows if r.waived),
        other_findings=tuple(r for r in rows if r.image not in names),
        categories=_counts(product_cats),
        licenses=tuple(Count(key=k, count=c) for k, c in
                       sorted(product_ids.items(), key=lambda kv: (-kv[1], kv[0].casefold()))),
        errors=sum(1 for r in violations if r.severity == "error"),
        warnings=sum(1 for r in violations if r.severity == "warning"),
        waived=len([r for r in rows if r.waived]),
        warnings_inventory=tuple(sorted(f"{w.source}: {w.message}" for w in inv.warnings)),
        diff=diff)
