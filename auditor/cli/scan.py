# SPDX-License-Identifier: Apache-2.0
"""`container-audit scan TARGET`: find the embedded images and inventory their packages."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..fileio import atomic_write
from ..inventory import schema
from ..report import table
from ..scan import ScanOptions, scan as run_scan
from .outputs import parse_outputs

FORMATS = ("table", "json")


def cache_options(f):  # type: ignore[no-untyped-def]
    """--cache-dir / --cache-mirror / --no-cache / --no-shared-base, shared by every
    command that scans."""
    f = click.option("--no-shared-base", is_flag=True,
                     help="Scan every image whole, even where its top layers cannot change "
                          "what a scan of the base it shares with other images finds.")(f)
    f = click.option("--cache-mirror", "cache_mirrors", multiple=True, metavar="DIR|URL",
                     envvar="CONTAINER_AUDIT_CACHE_MIRRORS",
                     help="Read-only cache of another machine (a directory or an http(s):// "
                          "or file:// prefix with the cache's layout), asked on a local "
                          "miss. Repeatable; default: $CONTAINER_AUDIT_CACHE_MIRRORS "
                          "(space-separated).")(f)
    f = click.option("--no-cache", is_flag=True,
                     help="Neither read nor write the inventory cache.")(f)
    f = click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Inventory cache (default: $CONTAINER_AUDIT_CACHE_DIR or "
                          "~/.cache/container-audit).")(f)
    return f


def progress():  # type: ignore[no-untyped-def]
    """Per-image progress lines on a terminal; nothing in CI logs or pipes."""
    if not sys.stderr.isatty():
        return None
    done = [0]

    def report(event: str, name: str) -> None:
        if event == "start":
            click.echo(f"  scanning {name} …", err=True)
        else:
            done[0] += 1
            click.echo(f"  [{done[0]}] {name} done", err=True)

    return report


@click.command()
@click.argument("target")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help="table (default, stdout) or json; e.g. -o json=inventory.json. Repeatable.")
@click.option("--arch", default="", help="Platform to audit from multi-platform images "
              "(OCI name: amd64, arm64, ...). Default: the rootfs architecture.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Private work dir for unpacked images (default: a temp dir, removed).")
@click.option("--keep-work", is_flag=True, help="Keep the unpacked images in the work dir.")
@click.option("-j", "--jobs", type=click.IntRange(0, 64), default=0,
              help="Images scanned in parallel (0 = by core count).")
@click.option("--curations", "curation_files", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Curation file (YAML), consulted before the built-in curations. Repeatable.")
@cache_options
def scan(target: str, outputs: tuple[str, ...], arch: str, work_dir: Path | None,
         keep_work: bool, jobs: int, curation_files: tuple[Path, ...], cache_dir: Path | None,
         cache_mirrors: tuple[str, ...], no_cache: bool, no_shared_base: bool) -> int:
    """Find every container image embedded in TARGET and list its packages.

    TARGET is a root filesystem (directory or .tar[.gz|.bz2|.xz|.zst]), an image archive
    (docker-archive, OCI archive), an OCI layout or image store directory, or
    docker:NAME:TAG for an image in a running Docker engine.
    """
    plan = parse_outputs(outputs, FORMATS, "table")
    inv = run_scan(target, ScanOptions(work_dir=work_dir, keep_work=keep_work,
                                       architecture=arch, jobs=jobs, curations=curation_files,
                                       cache_dir=cache_dir, use_cache=not no_cache,
                                       cache_mirrors=cache_mirrors,
                                       share_bases=not no_shared_base),
                   progress())
    for fmt, path in plan:
        text = schema.dumps(inv) if fmt == "json" else table.render(inv)
        if path == "-":
            click.echo(text, nl=False)
        else:
            atomic_write(Path(path), text)
    return 0
