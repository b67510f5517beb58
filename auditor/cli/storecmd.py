# SPDX-License-Identifier: Apache-2.0
"""`container-audit store build`: a prebuilt Docker image store (vfs) for a rootfs."""

from __future__ import annotations

from pathlib import Path

import click

from ..store.build import (
    DEFAULT_TIMEOUT,
    BuildOptions,
    build_store,
    parse_epoch,
    parse_tag,
    render_json,
    render_lines,
)


@click.group()
def store() -> None:
    """Make image stores to embed in root filesystems."""


@store.command("build")
@click.argument("archives", nargs=-1, required=True, metavar="ARCHIVE...",
                type=click.Path(path_type=Path))
@click.option("--data-root", required=True, type=click.Path(path_type=Path),
              help="The store to make (copied to /var/lib/docker of the rootfs); must be "
                   "missing or empty unless --force.")
@click.option("--tag", "tags", multiple=True, metavar="SRC=DEST",
              help="Also name the loaded image SRC (reference or image id) DEST, as "
                   "`docker tag` does. Repeatable.")
@click.option("--platform", default="", metavar="OS/ARCH[/VARIANT]",
              help="The platform to load from multi-platform OCI archives.")
@click.option("--dockerd", "dockerd", metavar="PATH",
              help="The dockerd to run (default: dockerd in PATH).")
@click.option("--force", is_flag=True, help="Replace a non-empty data root.")
@click.option("--source-date-epoch", "epoch", envvar="SOURCE_DATE_EPOCH", metavar="SECONDS",
              help="Clamp times in the store to this (default: $SOURCE_DATE_EPOCH).")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=DEFAULT_TIMEOUT,
              show_default=True, help="Seconds to wait for dockerd to answer, and to stop.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON summary instead of one line per image.")
def build(archives: tuple[Path, ...], data_root: Path, tags: tuple[str, ...], platform: str,
          dockerd: str | None, force: bool, epoch: str | None, timeout: float,
          as_json: bool) -> int:
    """Load image ARCHIVEs (docker save / podman save, docker or OCI format) into a new
    Docker data root with the vfs driver, using a private dockerd (needs root).

    Only the image store is kept (image/, vfs/); the target's dockerd must use the vfs
    storage driver. Prints one line per image: its references and its id.
    """
    options = BuildOptions(dockerd=dockerd, tags=tuple(parse_tag(t) for t in tags),
                           force=force, platform=platform,
                           source_date_epoch=parse_epoch(epoch), timeout=timeout)
    result = build_store(data_root, archives, options)
    if as_json:
        click.echo(render_json(result), nl=False)
    else:
        for line in render_lines(result):
            click.echo(line)
    return 0
