# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: the inventory JSON, the stable interface between stages and tools.

`dump` writes it deterministically (fixed field order, sorted lists, LF, UTF-8); `load`
reads it back into the model and rejects what it does not understand with the file and
the problem. The schema is documented in docs/inventory-schema.md.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError
from ..model import (
    NOASSERTION,
    NONE,
    SCHEMA_VERSION,
    Declaration,
    Embedding,
    Image,
    Inventory,
    Layer,
    License,
    Location,
    OtherLicense,
    Package,
    Sentinel,
    Warning_,
)


def _loc(l: Location) -> dict[str, Any]:
    return {"path": l.path, "layer": l.layer}


def _sentinel(v: str | Sentinel) -> str:
    return v.value if isinstance(v, Sentinel) else v


def _license(l: License) -> dict[str, Any]:
    return {"value": l.value, "spdx_expression": _sentinel(l.spdx_expression),
            "kind": l.kind, "method": l.method, "evidence": [_loc(e) for e in l.evidence]}


def _package(p: Package) -> dict[str, Any]:
    return {
        "name": p.name, "version": p.version, "type": p.type, "purl": p.purl,
        "architecture": p.architecture, "source_name": p.source_name,
        "source_version": p.source_version, "layer": p.layer, "found_by": p.found_by,
        "cpes": list(p.cpes),
        "declared_license": _sentinel(p.declared_license), "declared_method": p.declared_method,
        "concluded_license": _sentinel(p.concluded_license), "curation": p.curation,
        "license_notes": list(p.license_notes),
        "licenses": [_license(l) for l in p.licenses],
        "other_licenses": [{"files": list(o.files), "expression": _sentinel(o.expression),
                            "raw": o.raw, "evidence": _loc(o.evidence) if o.evidence else None}
                           for o in p.other_licenses],
        "locations": [_loc(l) for l in p.locations],
    }


def image_to_dict(i: Image) -> dict[str, Any]:
    return {
        "name": i.name, "tags": list(i.tags), "config_digest": i.config_digest,
        "manifest_digest": i.manifest_digest, "architecture": i.architecture, "os": i.os,
        "distro": i.distro, "source": i.source, "embedding": i.embedding.value,
        "also_found_at": list(i.also_found_at), "skipped_platforms": list(i.skipped_platforms),
        "skipped_entries": i.skipped_entries, "false_positives": list(i.false_positives),
        "stored_at": i.stored_at,
        "layers": [{"diff_id": l.diff_id, "digest": l.digest, "media_type": l.media_type,
                    "size": l.size} for l in i.layers],
        "packages": [_package(p) for p in i.packages],
    }


def _decl(d: Declaration) -> dict[str, Any]:
    return {"file": d.file, "kind": d.kind, "reference": d.reference, "name": d.name,
            "version": d.version, "tag": d.tag, "service": d.service, "found": d.found,
            "matches": list(d.matches)}


def to_dict(inv: Inventory) -> dict[str, Any]:
    return {
        "schema_version": inv.schema_version,
        "target": inv.target,
        "created": inv.created,
        "architecture": inv.architecture,
        "image_file": inv.image_file,
        "tools": [{"name": n, "version": v} for n, v in inv.tools],
        "images": [image_to_dict(i) for i in sorted(inv.images, key=lambda i: (i.source, i.config_digest))],
        "declared": [_decl(d) for d in sorted(inv.declared, key=lambda d: (d.file, d.reference))],
        "undeclared": sorted(inv.undeclared),
        "warnings": [{"source": w.source, "message": w.message} for w in inv.warnings],
    }


def dumps(inv: Inventory) -> str:
    """Indented down to the images' fields; each package (and deeper) on one line.

    Readable and diffable (one package a line), and written by json's C encoder: a fully
    indented dump goes through the pure-Python encoder, the largest cost of a warm re-audit.
    """
    return _pretty(to_dict(inv), 0, 4) + "\n"


def _pretty(value: Any, depth: int, flat_at: int) -> str:
    if depth >= flat_at or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False)
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, depth + 1, flat_at)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + _pretty(v, depth + 1, flat_at) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def _expr(v: str) -> str | Sentinel:
    if v == NOASSERTION.value:
        return NOASSERTION
    if v == NONE.value:
        return NONE
    return v


def _loc_from(d: dict[str, Any]) -> Location:
    return Location(path=d["path"], layer=d.get("layer"))


def _image_from(i: dict[str, Any]) -> Image:
    loc = _loc_from
    return Image(
            name=i["name"], tags=tuple(i["tags"]), config_digest=i["config_digest"],
            manifest_digest=i.get("manifest_digest", ""), architecture=i.get("architecture", ""),
            os=i.get("os", "linux"), distro=i.get("distro", ""), source=i["source"],
            embedding=Embedding(i["embedding"]), also_found_at=tuple(i.get("also_found_at", ())),
            skipped_platforms=tuple(i.get("skipped_platforms", ())),
            skipped_entries=int(i.get("skipped_entries", 0)),
            false_positives=tuple(i.get("false_positives", ())),
            stored_at=i.get("stored_at", ""),
            layers=tuple(Layer(diff_id=l["diff_id"], digest=l.get("digest", ""),
                               media_type=l.get("media_type", ""), size=int(l.get("size", 0)))
                         for l in i["layers"]),
            packages=tuple(Package(
                name=p["name"], version=p["version"], type=p["type"], purl=p["purl"],
                layer=p.get("layer"), architecture=p.get("architecture", ""),
                source_name=p.get("source_name", ""), source_version=p.get("source_version", ""),
                found_by=p.get("found_by", ""), cpes=tuple(p.get("cpes", ())),
                licenses=tuple(License(value=l["value"], spdx_expression=_expr(l["spdx_expression"]),
                                       kind=l.get("kind", "declared"), method=l.get("method", ""),
                                       evidence=tuple(loc(e) for e in l.get("evidence", ())))
                               for l in p.get("licenses", ())),
                locations=tuple(loc(l) for l in p.get("locations", ())),
                declared_license=_expr(p.get("declared_license", "NOASSERTION")),
                declared_method=p.get("declared_method", ""),
                concluded_license=_expr(p.get("concluded_license", "NOASSERTION")),
                curation=p.get("curation", ""),
                license_notes=tuple(p.get("license_notes", ())),
                other_licenses=tuple(OtherLicense(
                    files=tuple(o["files"]), expression=_expr(o["expression"]), raw=o["raw"],
                    evidence=loc(o["evidence"]) if o.get("evidence") else None)
                    for o in p.get("other_licenses", ())),
            ) for p in i["packages"]),
    )


def image_from_dict(i: Any, label: str) -> Image:
    try:
        return _image_from(i)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{label}: not a container-audit image entry ({exc})") from None


def from_dict(doc: Any, label: str) -> Inventory:
    try:
        if doc.get("schema_version", "").split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise InputError(f"{label}: unsupported inventory schema_version "
                             f"{doc.get('schema_version')!r} (expected {SCHEMA_VERSION})")
        images = tuple(_image_from(i) for i in doc["images"])
        declared = tuple(Declaration(
            file=d["file"], kind=d["kind"], reference=d["reference"], name=d.get("name", ""),
            version=d.get("version", ""), tag=d.get("tag", ""), service=d.get("service", ""),
            found=bool(d["found"]), matches=tuple(d.get("matches", ()))) for d in doc.get("declared", ()))
        return Inventory(
            target=doc["target"], images=images, declared=declared,
            undeclared=tuple(doc.get("undeclared", ())), architecture=doc.get("architecture", ""),
            warnings=tuple(Warning_(source=w["source"], message=w["message"])
                           for w in doc.get("warnings", ())),
            tools=tuple((t["name"], t["version"]) for t in doc.get("tools", ())),
            created=doc.get("created", ""), schema_version=doc["schema_version"],
            image_file=doc.get("image_file", ""),
        )
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{label}: not a container-audit inventory ({type(exc).__name__}: {exc})") from None


def loads(text: str, label: str) -> Inventory:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{label}: not valid JSON ({exc})") from None
    return from_dict(doc, label)
