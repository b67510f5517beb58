# SPDX-License-Identifier: Apache-2.0
"""`container-audit cache prune`: keep the inventory cache within a size."""

from __future__ import annotations

from pathlib import Path

import click

from ..inventory.cache import InventoryCache, default_dir

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _size(value: str) -> int:
    v = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = v[-1] if v and v[-1] in "KMG" else ""
    try:
        return int(float(v[: len(v) - len(unit)]) * _UNITS[unit])
    except ValueError:
        raise click.BadParameter(f"not a size: {value!r} (e.g. 500M, 2G)") from None


@click.group()
def cache() -> None:
    """Manage the inventory cache."""


@cache.command()
@click.option("--max-size", required=True, help="Keep at most this much (e.g. 2G), "
              "evicting the least recently used entries.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
def prune(max_size: str, cache_dir: Path | None) -> int:
    removed, kept = InventoryCache(cache_dir or default_dir(), salt=()).prune(_size(max_size))
    click.echo(f"removed {removed} entries, {kept} bytes kept in {cache_dir or default_dir()}")
    return 0
