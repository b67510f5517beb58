# SPDX-License-Identifier: Apache-2.0
"""`merge`, `sbom` and `audit`: the SBOM commands (thin wiring over auditor.sbom)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from ..fileio import atomic_write
from ..inventory import schema
from ..model import NOASSERTION, Inventory
from ..policy import package_key
from ..report import diff as diff_mod
from ..report import render, table, view
from ..report import verdicts as verdicts_out
from ..scan import ScanOptions, created_timestamp, scan as run_scan
from ..sbom.merge import merge_files
from .check import build_policy, judge, today
from .main import EXIT_OK, EXIT_VIOLATIONS
from .outputs import parse_outputs
from .scan import cache_options, progress

SBOM_FORMATS = ("spdx-json", "spdx3-json", "cyclonedx-json")


def _epoch() -> int | None:
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    return int(sde) if sde and sde.isdigit() else None


def _load_inventory(path: Path) -> Inventory:
    try:
        return schema.loads(path.read_text("utf-8"), str(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _apply_verdicts(inv: Inventory, path: Path) -> Inventory:
    """Concluded licenses from a verdicts JSON written by `check`."""
    from dataclasses import replace

    try:
        doc: Any = json.loads(path.read_text("utf-8"))
        table_ = {(p["config_digest"], p["purl"] or f"{p['name']}@{p['version']}"):
                  p["concluded_license"] for p in doc["packages"]}  # = policy.package_key
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a container-audit verdicts file ({exc})") from None
    images = []
    for img in inv.images:
        pkgs = []
        for p in img.packages:
            c = table_.get((img.config_digest, package_key(p)))
            pkgs.append(replace(p, concluded_license=NOASSERTION if c in (None, "NOASSERTION")
                                else c) if c is not None else p)
        images.append(replace(img, packages=tuple(pkgs)))
    return replace(inv, images=tuple(images))


def _sbom_bytes(fmt: str, inv: Inventory, created: str) -> bytes:
    from ..sbom.writers import write_cyclonedx, write_spdx3, write_spdx23

    writer = {"spdx-json": write_spdx23, "spdx3-json": write_spdx3,
              "cyclonedx-json": write_cyclonedx}[fmt]
    return writer(inv, created=created)


@click.command()
@click.option("--sbom", "sbom_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Yocto image SBOM: SPDX 3 .spdx.json, SPDX 2.2 .spdx.tar.zst or .spdx.json.")
@click.option("--inventory", "inventory_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verdicts", "verdicts_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Verdicts JSON from `check`: adds the concluded licenses.")
def merge(sbom_path: Path, inventory_file: Path, verdicts_file: Path | None) -> int:
    """Merge the inventoried containers into Yocto's image SBOM, in place (atomically)."""
    inv = _load_inventory(inventory_file)
    if verdicts_file is not None:
        inv = _apply_verdicts(inv, verdicts_file)
    result = merge_files(sbom_path, inv, created=created_timestamp(), epoch=_epoch())
    click.echo(f"merged {len(inv.images)} containers into {sbom_path} ({result.format}): "
               + ", ".join(str(p) for p in result.written)
               + ("; removed the earlier merge's " + ", ".join(str(p) for p in result.removed)
                  if result.removed else ""), err=True)
    return EXIT_OK


@click.command()
@click.argument("target", required=False)
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "outputs", multiple=True, required=True,
              metavar="FORMAT=PATH", help="spdx-json, spdx3-json or cyclonedx-json. Repeatable.")
@click.option("--arch", default="")
def sbom(target: str | None, inventory_file: Path | None, outputs: tuple[str, ...],
         arch: str) -> int:
    """Write standalone SBOMs of the product: rootfs → containers → packages."""
    plan = parse_outputs(outputs, SBOM_FORMATS, "spdx-json")
    if (target is None) == (inventory_file is None):
        raise click.UsageError("give either TARGET or --inventory")
    inv = (_load_inventory(inventory_file) if inventory_file is not None
           else run_scan(str(target), ScanOptions(architecture=arch), progress()))
    created = created_timestamp()
    for fmt, path in plan:
        data = _sbom_bytes(fmt, inv, created)
        if path == "-":
            click.echo(data.decode("utf-8"), nl=False)
        else:
            atomic_write(Path(path), data)
    return EXIT_OK


OUTPUT_NAMES = {
    "inventory": "container-audit.inventory.json",
    "verdicts": "container-audit.verdicts.json",
    "table": "container-audit.txt",
    "spdx-json": "container-audit.spdx.json",
    "spdx3-json": "container-audit.spdx3.json",
    "cyclonedx-json": "container-audit.cdx.json",
    "html": "container-audit.html",
    "md": "container-audit.md",
}


@click.command()
@click.argument("target")
@click.option("--policy", "policy_name", help="Policy file or preset name.")
@click.option("--incompatible-license", default="", metavar="VALUE")
@click.option("--license-exception", default="", metavar="VALUE")
@click.option("--license-exception-severity", type=click.Choice(["error", "warning", "ignore"]),
              default="warning", show_default=True)
@click.option("--fail-on", type=click.Choice(["error", "warning", "never"]), default="error",
              show_default=True)
@click.option("--curations", "curation_files", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sbom", "sbom_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Yocto image SBOM to merge the containers into (in place).")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--arch", default="")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--today", "today_value", default="", metavar="YYYY-MM-DD")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory of an earlier audit: the reports show what changed since.")
@cache_options
def audit(target: str, policy_name: str | None, incompatible_license: str,
          license_exception: str, license_exception_severity: str, fail_on: str,
          curation_files: tuple[Path, ...], sbom_path: Path | None, output_dir: Path,
          arch: str, work_dir: Path | None, today_value: str, baseline_file: Path | None,
          cache_dir: Path | None,
          cache_mirrors: tuple[str, ...], no_cache: bool, no_shared_base: bool) -> int:
    """All in one: scan → check → merge → inventory, verdicts and SBOMs in --output-dir.

    The exit code is the check's: 0 pass, 1 violations, 2 could not audit.
    """
    policy, sources = build_policy(policy_name, incompatible_license, license_exception,
                                   license_exception_severity)
    if sbom_path is not None and not sbom_path.is_file():
        raise InputError(f"{sbom_path}: no such SBOM file")
    output_dir.mkdir(parents=True, exist_ok=True)

    inv = run_scan(target, ScanOptions(work_dir=work_dir, architecture=arch,
                                       curations=curation_files, cache_dir=cache_dir,
                                       cache_mirrors=cache_mirrors,
                                       use_cache=not no_cache,
                                       share_bases=not no_shared_base), progress())
    judged, doc, failed = judge(inv, policy, sources, fail_on=fail_on, day=today(today_value))
    created = doc["created"]
    files: dict[str, bytes] = {
        "inventory": schema.dumps(judged).encode(),
        "verdicts": verdicts_out.dumps(doc).encode(),
        "table": (table.render(judged, packages=False) + "\n"
                  + verdicts_out.render_table(doc)).encode(),
    }
    for fmt in SBOM_FORMATS:
        files[fmt] = _sbom_bytes(fmt, judged, created)
    changes = diff_mod.diff(_load_inventory(baseline_file), judged) if baseline_file else None
    rep = view.build(judged, view.parse_verdicts(files["verdicts"].decode(), "verdicts"),
                     diff=changes)
    env = render.environment(None)
    files["html"] = render.render_html(rep, env).encode()
    files["md"] = render.render_markdown(rep, env).encode()
    for key in sorted(files):
        atomic_write(output_dir / OUTPUT_NAMES[key], files[key])
    if sbom_path is not None:
        merge_files(sbom_path, judged, created=created, epoch=_epoch())
    click.echo(verdicts_out.render_table(doc), nl=False)
    return EXIT_VIOLATIONS if failed else EXIT_OK
