# SPDX-License-Identifier: Apache-2.0
"""Report stage: the plain-text inventory table printed by `container-audit scan`."""

from __future__ import annotations

from ..model import Inventory, Package


def _short(digest: str | None) -> str:
    return (digest or "-").removeprefix("sha256:")[:12]


def _grid(rows: list[list[str]], indent: str = "") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _licenses(p: Package) -> str:
    vals = sorted({l.value for l in p.licenses})
    text = ", ".join(vals) if vals else "-"
    return text if len(text) <= 60 else text[:57] + "..."


def render(inv: Inventory, *, packages: bool = True) -> str:
    out: list[str] = [f"target: {inv.target}  (architecture {inv.architecture or 'unknown'})"]
    if inv.image_file:
        out.append(f"image file: {inv.image_file}")
    out.append("")
    if not inv.images:
        out.append("no container images found")
    else:
        rows = [["IMAGE", "EMBEDDING", "ARCH", "LAYERS", "PACKAGES", "SOURCE"]]
        for i in inv.images:
            rows.append([i.name, i.embedding.value, i.architecture, str(len(i.layers)),
                         str(len(i.packages)), i.source])
        out += _grid(rows)
    if inv.declared:
        out += ["", "declared images:"]
        for d in inv.declared:
            mark = "found  " if d.found else "MISSING"
            what = d.reference if d.kind == "docker-compose" else f"{d.name} {d.version} ({d.tag})"
            out.append(f"  {mark} {what}  [{d.file}{' service ' + d.service if d.service else ''}]")
    if inv.undeclared:
        out += ["", "embedded but not declared:"] + [f"  {s}" for s in inv.undeclared]
    stored = [[i.name, i.stored_at] for i in inv.images if i.stored_at]
    if stored and not packages:  # with packages, each image's block says it
        out += ["", "stored in the image file at:"] + _grid(stored, "  ")
    if packages:
        for i in inv.images:
            out += ["", f"{i.name} ({i.config_digest[:19]}…) — {len(i.packages)} packages"]
            if i.stored_at:
                out.append(f"  stored at: {i.stored_at}")
            if i.also_found_at:
                out.append("  also embedded at: " + ", ".join(i.also_found_at))
            if i.skipped_platforms:
                out.append("  other platforms not audited: " + ", ".join(i.skipped_platforms))
            if not i.packages:
                continue
            rows = [["NAME", "VERSION", "TYPE", "LAYER", "LICENSES (raw)"]]
            rows += [[p.name, p.version, p.type, _short(p.layer), _licenses(p)] for p in i.packages]
            out += _grid(rows, "  ")
    return "\n".join(out) + "\n"
