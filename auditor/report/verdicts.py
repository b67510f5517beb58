# SPDX-License-Identifier: Apache-2.0
"""Report stage: the verdicts JSON (`check -o json=…`) and the findings table.

The verdicts JSON is the stable input of the SBOM and report stages: fixed field names,
sorted lists, deterministic under SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import json
from typing import Any

from ..model import Finding, Inventory, Sentinel

VERDICTS_SCHEMA_VERSION = "1.0"


def _s(v: str | Sentinel) -> str:
    return v.value if isinstance(v, Sentinel) else v


def _finding(f: Finding) -> dict[str, Any]:
    return {"image": f.image, "package": f.package, "version": f.version, "purl": f.purl,
            "license": f.license, "rule": f.rule, "severity": f.severity, "message": f.message,
            "evidence": f.evidence, "layer": f.layer, "waived_by": f.waived_by}


def to_dict(inv: Inventory, findings: tuple[Finding, ...], *, policy_name: str,
            policy_sources: list[str], policy_digest: str, fail_on: str, failed: bool,
            created: str) -> dict[str, Any]:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    packages = []
    for img in sorted(inv.images, key=lambda i: (i.source, i.config_digest)):
        for p in img.packages:
            packages.append({
                "image": img.name, "config_digest": img.config_digest, "name": p.name,
                "version": p.version, "purl": p.purl, "type": p.type,
                "declared_license": _s(p.declared_license),
                "concluded_license": _s(p.concluded_license), "curation": p.curation,
                "layer": p.layer,
            })
    return {
        "schema_version": VERDICTS_SCHEMA_VERSION,
        "target": inv.target,
        "created": created,
        "policy": {"name": policy_name, "sources": policy_sources, "digest": policy_digest},
        "fail_on": fail_on,
        "result": "fail" if failed else "pass",
        "summary": {**counts, "images": len(inv.images), "packages": len(packages)},
        "findings": [_finding(f) for f in findings],
        "packages": packages,
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_table(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    out = [f"target: {doc['target']}",
           f"policy: {doc['policy']['name'] or '-'} ({', '.join(doc['policy']['sources'])})",
           f"{s['images']} images, {s['packages']} packages: {s['error']} errors, "
           f"{s['warning']} warnings, {s['info']} waived/info — {doc['result'].upper()} "
           f"(fail on {doc['fail_on']})", ""]
    for f in doc["findings"]:
        what = f"{f['image']}: {f['package']} {f['version']}".rstrip() if f["package"] else f["image"]
        line = f"{f['severity'].upper():7} {what}: {f['license'] or '-'} [{f['rule']}] {f['message']}"
        if f["evidence"]:
            line += f" ({f['evidence']}"
            line += f" @ {f['layer'].removeprefix('sha256:')[:12]})" if f["layer"] else ")"
        if f["waived_by"]:
            line += f" — waived: {f['waived_by']}"
        out.append(line)
    return "\n".join(out) + "\n"
