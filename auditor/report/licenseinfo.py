# SPDX-License-Identifier: Apache-2.0
"""Report stage: what the reports need to know about one license expression.

Categories come from `auditor.policy.categories`; `NOASSERTION`/`NONE` and expressions
that do not parse get the pseudo-category `noassertion` / `unknown` so every package lands
in exactly one bar of a chart. An OR lets the licensee choose, so an `OR` is as restrictive
as its most permissive alternative; an `AND` as its most restrictive part.
"""

from __future__ import annotations

from ..policy import categories
from ..policy.expressions import All, Any_, Expr, Leaf, leaves, parse

NOASSERTION_CATEGORY = "noassertion"
# chart and table order: most permissive first, "we don't know" last
CHART_CATEGORIES: tuple[str, ...] = (*categories.CATEGORIES, NOASSERTION_CATEGORY)
COPYLEFT: frozenset[str] = frozenset({"weak-copyleft", "strong-copyleft", "network-copyleft"})
_SENTINELS = frozenset({"NOASSERTION", "NONE"})


def _leaf_category(leaf: Leaf) -> str:
    if leaf.license in _SENTINELS:
        return NOASSERTION_CATEGORY
    return categories.category(leaf.license, leaf.exception)


def _rank(cat: str) -> int:
    # noassertion ranks after unknown: it may be anything
    return len(categories.CATEGORIES) if cat == NOASSERTION_CATEGORY else categories.rank(cat)


def _category(expr: Expr) -> str:
    if isinstance(expr, Leaf):
        return _leaf_category(expr)
    cats = [_category(p) for p in expr.parts]
    pick = min if isinstance(expr, Any_) else max
    return pick(cats, key=_rank)


def expression_category(expression: str) -> str:
    """The category a package under `expression` falls in (see module docstring)."""
    text = expression.strip()
    if not text or text in _SENTINELS:
        return NOASSERTION_CATEGORY
    tree = parse(text)
    return categories.UNKNOWN if tree is None else _category(tree)


def license_ids(expression: str) -> tuple[str, ...]:
    """Every license and exception id in `expression`, sorted, sentinels left out."""
    tree = parse(expression) if expression.strip() not in _SENTINELS else None
    if tree is None:
        return ()
    ids: set[str] = set()
    for leaf in leaves(tree):
        if leaf.license not in _SENTINELS:
            ids.add(leaf.license)
        if leaf.exception:
            ids.add(leaf.exception)
    return tuple(sorted(ids, key=lambda i: (i.casefold(), i)))


def license_terms(expression: str) -> tuple[str, ...]:
    """Each license of `expression` as shipped (`L` or `L WITH E`), sorted, no sentinels."""
    tree = parse(expression) if expression.strip() not in _SENTINELS else None
    if tree is None:
        return ()
    terms = {leaf.text for leaf in leaves(tree) if leaf.license not in _SENTINELS}
    return tuple(sorted(terms, key=lambda t: (t.casefold(), t)))


def _copyleft(expr: Expr) -> tuple[str, ...] | None:
    """Copyleft leaves the licensee is bound by (None: none); an OR takes the lightest way."""
    if isinstance(expr, Leaf):
        return (expr.text,) if _leaf_category(expr) in COPYLEFT else None
    results = [_copyleft(p) for p in expr.parts]
    if isinstance(expr, All):
        found = sorted({t for r in results if r for t in r})
        return tuple(found) or None
    if any(r is None for r in results):
        return None
    # every alternative is copyleft: the one of the most permissive category binds
    best = min(expr.parts, key=lambda p: (_rank(_category(p)), str(p)))
    return _copyleft(best)


def copyleft_licenses(expression: str) -> tuple[str, ...]:
    """The copyleft licenses (`L` or `L WITH E`) of `expression`; () when there are none."""
    text = expression.strip()
    if not text or text in _SENTINELS:
        return ()
    tree = parse(text)
    return (_copyleft(tree) or ()) if tree is not None else ()
