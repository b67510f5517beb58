# SPDX-License-Identifier: Apache-2.0
"""Report stage: HTML and Markdown through Jinja2 templates, and the report JSON.

Templates live in the top-level `reports/` folder (`report.html.j2`, `report.md.j2`,
`diff.html.j2`, `diff.md.j2` and what they include); `--template-dir` puts a folder in
front, so a user overrides one file and keeps the rest. Rendering is deterministic: sorted
values in, no clock, LF line ends. Charts are inline SVG computed here (`chart`), the only
geometry in the stage.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

import auditor

from ..errors import InputError
from .diff import InventoryDiff
from .diff import to_dict as diff_to_dict
from .licenseinfo import CHART_CATEGORIES, expression_category
from .view import Count, FindingRow, PackageRow, Report

REPORT_SCHEMA_VERSION = "1.1"  # 1.1: image_file, images[].stored_at

CATEGORY_LABELS = {
    "public-domain": "public domain", "permissive": "permissive",
    "weak-copyleft": "weak copyleft", "strong-copyleft": "strong copyleft",
    "network-copyleft": "network copyleft", "proprietary": "proprietary",
    "unknown": "unknown", "noassertion": "NOASSERTION",
}
# colour-blind safe (Okabe-Ito), permissive green to unknown grey
CATEGORY_COLOURS = {
    "public-domain": "#009E73", "permissive": "#56B4E9", "weak-copyleft": "#F0E442",
    "strong-copyleft": "#E69F00", "network-copyleft": "#D55E00", "proprietary": "#CC79A7",
    "unknown": "#999999", "noassertion": "#555555",
}
assert set(CATEGORY_LABELS) == set(CHART_CATEGORIES) == set(CATEGORY_COLOURS)


def default_template_dirs() -> tuple[Path, ...]:
    """Where the shipped templates are: the checkout's `reports/`, else the installed copy."""
    return (Path(auditor.__file__).resolve().parents[1] / "reports",
            Path(sys.prefix) / "share" / "container-audit" / "reports")


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    dirs: list[Path] = []
    if template_dir is not None:
        if not template_dir.is_dir():
            raise InputError(f"{template_dir}: --template-dir is not a directory")
        dirs.append(template_dir)
    shipped = [d for d in default_template_dirs() if (d / "report.html.j2").is_file()]
    if not shipped:
        raise InputError("report templates not found (looked in "
                         + ", ".join(str(d) for d in default_template_dirs()) + ")")
    dirs.append(shipped[0])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        autoescape=lambda name: name is not None and name.endswith((".html.j2", ".svg.j2")),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["short"] = short
    env.filters["md"] = md_cell
    env.filters["size"] = human_size
    env.filters["category_label"] = lambda c: CATEGORY_LABELS.get(c, c)
    env.filters["category_colour"] = lambda c: CATEGORY_COLOURS.get(c, "#999999")
    env.filters["license_category"] = expression_category
    env.globals["chart"] = chart
    env.globals["categories"] = CHART_CATEGORIES
    return env


def short(digest: str | None, n: int = 12) -> str:
    return (digest or "").removeprefix("sha256:")[:n]


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ")
            .replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;"))


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    category: str
    label: str
    colour: str
    count: int
    percent: str  # "12.5"
    y: int
    width: int  # px, proportional to count


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    bars: tuple[Bar, ...]
    total: int
    width: int
    height: int
    label_width: int
    bar_max: int
    row: int


def chart(counts: tuple[Count, ...], *, bar_max: int = 260) -> Chart:
    """A horizontal bar chart of packages per category (integer geometry, byte-stable)."""
    total = sum(c.count for c in counts)
    top = max((c.count for c in counts), default=0) or 1
    row, label_width = 22, 130
    bars = tuple(Bar(category=c.key, label=CATEGORY_LABELS.get(c.key, c.key),
                     colour=CATEGORY_COLOURS.get(c.key, "#999999"), count=c.count,
                     percent=f"{100 * c.count / total:.1f}" if total else "0.0",
                     y=n * row, width=round(bar_max * c.count / top))
                 for n, c in enumerate(counts))
    return Chart(bars=bars, total=total, width=label_width + bar_max + 90,
                 height=len(bars) * row, label_width=label_width, bar_max=bar_max, row=row)


def _render(env: jinja2.Environment, name: str, **context: Any) -> str:
    try:
        text = env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        where, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
        if where is None:  # a runtime error: Jinja maps its frames to the template lines
            tb = exc.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename.endswith(".j2"):
                    where, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
                tb = tb.tb_next
        raise InputError(f"{where or name}{f':{line}' if line else ''}: template error: "
                         f"{exc.message or type(exc).__name__}") from None
    return text if text.endswith("\n") else text + "\n"


def render_html(report: Report, env: jinja2.Environment) -> str:
    return _render(env, "report.html.j2", r=report, d=report.diff)


def render_markdown(report: Report, env: jinja2.Environment) -> str:
    return _render(env, "report.md.j2", r=report, d=report.diff)


def render_diff_html(d: InventoryDiff, env: jinja2.Environment) -> str:
    return _render(env, "diff.html.j2", d=d)


def render_diff_markdown(d: InventoryDiff, env: jinja2.Environment) -> str:
    return _render(env, "diff.md.j2", d=d)


def _finding(f: FindingRow) -> dict[str, Any]:
    return {"image": f.image, "package": f.package, "version": f.version, "purl": f.purl,
            "license": f.license, "rule": f.rule, "severity": f.severity,
            "message": f.message, "evidence": f.evidence, "layer": f.layer,
            "layer_index": f.layer_index, "waived_by": f.waived_by}


def _package(p: PackageRow) -> dict[str, Any]:
    return {"name": p.name, "version": p.version, "type": p.type, "purl": p.purl,
            "architecture": p.architecture, "source_name": p.source_name,
            "source_version": p.source_version, "layer": p.layer, "layer_index": p.layer_index,
            "declared_license": p.declared_license, "declared_method": p.declared_method,
            "concluded_license": p.concluded_license, "curation": p.curation,
            "license": p.license, "category": p.category, "status": p.status,
            "copyright": [{"path": c.path, "layer": c.layer} for c in p.copyright]}


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON data: versioned, every list sorted (`report -o json=`)."""
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "target": report.target, "image_file": report.image_file,
        "created": report.created, "result": report.result,
        "fail_on": report.fail_on,
        "policy": {"name": report.policy_name, "sources": list(report.policy_sources),
                   "digest": report.policy_digest},
        "tools": [{"name": n, "version": v} for n, v in report.tools],
        "summary": {"images": len(report.images), "packages": len(report.packages),
                    "errors": report.errors, "warnings": report.warnings,
                    "waived": report.waived},
        "categories": {c.key: c.count for c in report.categories},
        "licenses": [{"id": c.key, "packages": c.count} for c in report.licenses],
        "images": [{
            "name": i.name, "tags": list(i.tags), "config_digest": i.config_digest,
            "manifest_digest": i.manifest_digest, "architecture": i.architecture,
            "os": i.os, "distro": i.distro, "source": i.source, "embedding": i.embedding,
            "also_found_at": list(i.also_found_at), "stored_at": i.stored_at,
            "result": i.result,
            "summary": {"packages": len(i.packages), "errors": i.errors,
                        "warnings": i.warnings, "waived": i.waived},
            "categories": {c.key: c.count for c in i.categories},
            "layers": [{"index": l.index, "diff_id": l.diff_id, "digest": l.digest,
                        "size": l.size, "packages": l.packages, "findings": l.findings}
                       for l in i.layers],
            "packages": [_package(p) for p in i.packages],
        } for i in report.images],
        "violations": [_finding(f) for f in report.violations],
        "waivers": [_finding(f) for f in report.waivers],
        "inventory_warnings": list(report.warnings_inventory),
        "diff": diff_to_dict(report.diff) if report.diff is not None else None,
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
