# SPDX-License-Identifier: Apache-2.0
"""`container-audit check`: inventory (or read one), judge it against a policy, exit 0/1/2."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, PolicyError
from ..fileio import atomic_write
from ..inventory import schema
from ..model import Inventory
from ..policy import (Policy, apply_concluded, evaluate, load_policy, merge_yocto,
                      policy_from_yocto)
from ..report import verdicts as verdicts_out
from ..scan import ScanOptions, created_timestamp, scan as run_scan
from .main import EXIT_OK, EXIT_VIOLATIONS
from .outputs import parse_outputs
from .scan import cache_options, progress

FORMATS = ("table", "json", "inventory")
# the shipped presets: the checkout's policies/, else the installed copy (data files)
PRESET_DIRS = (Path(__file__).resolve().parents[2] / "policies",
               Path(sys.prefix) / "share" / "container-audit" / "policies")


def resolve_policy(value: str) -> Path:
    """A policy file path, or the name of a shipped preset (e.g. `gplv3-free`)."""
    p = Path(value)
    if p.exists() or "/" in value or value.endswith((".yaml", ".yml")):
        return p
    for presets in PRESET_DIRS:
        preset = presets / f"{value}.yaml"
        if preset.is_file():
            return preset
    known = ", ".join(sorted({x.stem for d in PRESET_DIRS for x in d.glob("*.yaml")})) or "none"
    raise PolicyError(f"{value}: no such policy file or preset (presets: {known})")


def build_policy(policy_name: str | None, incompatible: str, exceptions: str,
                 exception_severity: str) -> tuple[Policy, list[str]]:
    """The policy a command judges with, plus where it came from (for the verdicts)."""
    if not policy_name and not incompatible.strip():
        raise click.UsageError("give --policy and/or --incompatible-license")
    sources: list[str] = []
    if policy_name:
        path = resolve_policy(policy_name)
        policy = load_policy(path)
        sources.append(str(path))
        if incompatible.strip() or exceptions.strip():
            policy = merge_yocto(policy, incompatible, exceptions,
                                 exception_severity=exception_severity)
    else:
        policy = policy_from_yocto(incompatible, exceptions,
                                   exception_severity=exception_severity)
    if incompatible.strip():
        sources.append(f"INCOMPATIBLE_LICENSE={incompatible.strip()}")
    if exceptions.strip():
        sources.append(f"INCOMPATIBLE_LICENSE_EXCEPTIONS={exceptions.strip()}")
    return policy, sources


def judge(inv: Inventory, policy: Policy, sources: list[str], *, fail_on: str,
          day: datetime.date) -> tuple[Inventory, dict[str, Any], bool]:
    """Evaluate: (inventory with concluded licenses, verdicts document, failed?)."""
    result = evaluate(inv, policy, today=day)
    judged = apply_concluded(inv, result)
    failed = fail_on != "never" and result.fails(fail_on)
    doc = verdicts_out.to_dict(judged, result.findings, policy_name=policy.name,
                               policy_sources=sources, policy_digest=result.policy_digest,
                               fail_on=fail_on, failed=failed, created=created_timestamp())
    return judged, doc, failed


def today(value: str) -> datetime.date:
    """The day waivers expire against: --today, else the calendar (not SOURCE_DATE_EPOCH,
    which Yocto pins to the metadata's commit date: waivers would never expire)."""
    if not value:
        return datetime.datetime.now(datetime.timezone.utc).date()
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param_hint="--today")


@click.command()
@click.argument("target", required=False)
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Judge this inventory JSON instead of scanning TARGET.")
@click.option("--policy", "policy_name", help="Policy file or preset name "
              "(gplv3-free, permissive-only, report-only).")
@click.option("--incompatible-license", default="", metavar="VALUE",
              help="BitBake INCOMPATIBLE_LICENSE value, verbatim (e.g. 'GPL-3.0* LGPL-3.0*').")
@click.option("--license-exception", default="", metavar="VALUE",
              help="BitBake INCOMPATIBLE_LICENSE_EXCEPTIONS value, verbatim ('pkg:lic ...').")
@click.option("--license-exception-severity", type=click.Choice(["error", "warning", "ignore"]),
              default="warning", show_default=True,
              help="Severity of a package let in by --license-exception (OE's license-exception "
                   "QA key; OE-core master lists it in ERROR_QA).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "never"]), default="error",
              show_default=True, help="Lowest severity that makes the exit code 1.")
@click.option("--curations", "curation_files", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Curation file (YAML), before the built-in ones. Repeatable.")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help="table (default, stdout), json (verdicts), inventory (with concluded "
                   "licenses). Repeatable.")
@click.option("--arch", default="", help="Platform to audit from multi-platform images.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--today", "today_value", default="", metavar="YYYY-MM-DD",
              help="Judge waiver expiry as of this day (default: today).")
@cache_options
def check(target: str | None, inventory_file: Path | None, policy_name: str | None,
          incompatible_license: str, license_exception: str, license_exception_severity: str,
          fail_on: str,
          curation_files: tuple[Path, ...], outputs: tuple[str, ...], arch: str,
          work_dir: Path | None, today_value: str, cache_dir: Path | None,
          cache_mirrors: tuple[str, ...], no_cache: bool, no_shared_base: bool) -> int:
    """Judge the licenses of every embedded image against a policy.

    Exit 0: nothing at or above --fail-on; 1: violations; 2: could not audit.
    """
    plan = parse_outputs(outputs, FORMATS, "table")
    if (target is None) == (inventory_file is None):
        raise click.UsageError("give either TARGET or --inventory")
    policy, sources = build_policy(policy_name, incompatible_license, license_exception,
                                   license_exception_severity)

    if inventory_file is not None:
        try:
            text = inventory_file.read_text("utf-8")
        except OSError as exc:
            raise InputError(f"{inventory_file}: cannot read ({exc.strerror})") from None
        inv = schema.loads(text, str(inventory_file))
    else:
        assert target is not None
        inv = run_scan(target, ScanOptions(work_dir=work_dir, architecture=arch,
                                           curations=curation_files, cache_dir=cache_dir,
                                           cache_mirrors=cache_mirrors,
                                           use_cache=not no_cache,
                                           share_bases=not no_shared_base), progress())
    judged, doc, failed = judge(inv, policy, sources, fail_on=fail_on, day=today(today_value))
    for fmt, path in plan:
        if fmt == "json":
            text = verdicts_out.dumps(doc)
        elif fmt == "inventory":
            text = schema.dumps(judged)
        else:
            text = verdicts_out.render_table(doc)
        if path == "-":
            click.echo(text, nl=False)
        else:
            atomic_write(Path(path), text)
    return EXIT_VIOLATIONS if failed else EXIT_OK
