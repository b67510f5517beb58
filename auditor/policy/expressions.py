# SPDX-License-Identifier: Apache-2.0
"""Policy stage: SPDX expressions as small frozen trees, and the id checks the loader uses.

license-expression does the parsing (with the SPDX license list it ships); the evaluator
works on `Leaf` / `All` (AND) / `Any` (OR) values, which are hashable so parses can be
cached. A leaf is a license id or `LicenseRef-…`, optionally `WITH` an exception: the
evaluator judges `GPL-2.0-only WITH GCC-exception-2.0` as that pair, never as two licenses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import license_expression as le  # type: ignore[import-untyped]

# license-expression flags this license as an exception because of its name
_LICENSES_NAMED_LIKE_EXCEPTIONS = frozenset({"mpl-2.0-no-copyleft-exception"})
SENTINELS = ("NOASSERTION", "NONE")


@lru_cache(maxsize=1)
def licensing() -> le.Licensing:
    return le.get_spdx_licensing()


@dataclass(frozen=True, slots=True)
class Leaf:
    license: str
    exception: str | None = None

    @property
    def text(self) -> str:
        return f"{self.license} WITH {self.exception}" if self.exception else self.license


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple[Expr, ...]


Expr = Leaf | All | Any_


def _convert(node: object) -> Expr:
    if isinstance(node, le.LicenseWithExceptionSymbol):
        return Leaf(node.license_symbol.key, node.exception_symbol.key)
    if isinstance(node, le.LicenseSymbol):
        return Leaf(node.key)
    args = tuple(_convert(a) for a in getattr(node, "args", ()))
    if isinstance(node, le.AND):
        return All(args)
    if isinstance(node, le.OR):
        return Any_(args)
    raise ValueError(f"unexpected node {node!r}")


@lru_cache(maxsize=8192)
def parse(text: str) -> Expr | None:
    """The tree of an SPDX expression, or None when it does not parse."""
    try:
        node = licensing().parse(text, validate=False)
        if node is None:
            return None
        return _convert(node)
    except Exception:  # noqa: BLE001 - license-expression raises several types (even AttributeError)
        return None


def render(expr: Expr) -> str:
    if isinstance(expr, Leaf):
        return expr.text
    op = " AND " if isinstance(expr, All) else " OR "
    return op.join(f"({render(p)})" if not isinstance(p, Leaf) else render(p)
                   for p in expr.parts)


def leaves(expr: Expr) -> tuple[Leaf, ...]:
    if isinstance(expr, Leaf):
        return (expr,)
    return tuple(l for p in expr.parts for l in leaves(p))


def is_license_ref(key: str) -> bool:
    return key.startswith("LicenseRef-")


@lru_cache(maxsize=4096)
def known(key: str) -> str | None:
    """'license' or 'exception' for an id on the SPDX lists, else None."""
    sym = licensing().known_symbols.get(key)
    if sym is None:
        return None
    if sym.is_exception and key.lower() not in _LICENSES_NAMED_LIKE_EXCEPTIONS:
        return "exception"
    return "license"


def canonical_id(text: str) -> str | None:
    """The canonical spelling of one license or exception id (`mit` -> `MIT`), else None."""
    if is_license_ref(text):
        return text
    expr = parse(text)
    if isinstance(expr, Leaf) and expr.exception is None and known(expr.license):
        return expr.license
    return None


def check(text: str, *, single: bool) -> tuple[str | None, str | None]:
    """(canonical expression, None) when `text` is valid, else (None, problem).

    Every id must be on the SPDX list or a `LicenseRef-`; `single` only accepts one license
    or one `L WITH E` (what an allow-list entry is).
    """
    text = text.strip()
    if not text:
        return None, "empty license expression"
    expr = parse(text)
    if expr is None:
        return None, f"'{text}' is not a valid SPDX license expression"
    if single and not isinstance(expr, Leaf):
        return None, f"'{text}' must be one license (or 'LICENSE WITH EXCEPTION'), not an expression"
    for leaf in leaves(expr):
        if not is_license_ref(leaf.license):
            kind = known(leaf.license)
            if kind is None:
                return None, (f"'{leaf.license}' is not an SPDX license id "
                              f"(write LicenseRef-{leaf.license} for a license of your own)")
            if kind == "exception":
                return None, (f"'{leaf.license}' is an SPDX exception, not a license "
                              f"(write 'LICENSE WITH {leaf.license}')")
        if (leaf.exception is not None and not is_license_ref(leaf.exception)
                and known(leaf.exception) != "exception"):
            return None, f"'{leaf.exception}' is not an SPDX license exception id"
    return render(expr), None
