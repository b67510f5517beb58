# SPDX-License-Identifier: Apache-2.0
"""CLI helper: parse `-o FORMAT[=PATH]` options (PATH omitted or `-` means stdout)."""

from __future__ import annotations

import click


def parse_outputs(values: tuple[str, ...], known: tuple[str, ...],
                  default: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for value in values or (default,):
        for item in value.split(","):
            fmt, _, path = item.partition("=")
            fmt = fmt.strip()
            if fmt not in known:
                raise click.BadParameter(f"unknown format {fmt!r} (known: {', '.join(known)})",
                                         param_hint="-o")
            out.append((fmt, path.strip() or "-"))
    if sum(1 for _, p in out if p == "-") > 1:
        raise click.BadParameter("only one output can go to stdout", param_hint="-o")
    return out
