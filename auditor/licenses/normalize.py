# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage: raw license statements → SPDX license expressions.

Pure functions over strings. A value goes through four steps:

1. *lex* per flavor (the surface syntaxes differ): Debian DEP-5 (`or`/`and`, `with X exception`,
   the comma rule `A or B, and C` = `(A or B) and C`, names may contain spaces and
   parentheses), Yocto/OE (`&`, `|`, parentheses; names never contain spaces, adjacent names
   mean `&` as in `oe.license`), rpm/apk/spdx (`AND`/`OR`/`WITH` in any case, parentheses,
   names with spaces such as `ASL 2.0`, old apk space-separated lists meaning AND);
2. *resolve* each name through the SPDX list of license-expression, its deprecated ids, the
   tables in `aliases` and a pattern for the GNU families; what is left becomes
   `LicenseRef-<sanitised name>` and is reported in `unmapped`;
3. *repair* the operator stream (dangling `AND`, empty or unbalanced parentheses, exceptions
   written as `&` operands) and record each repair in `problems`;
4. *parse* the resulting SPDX text with license-expression (AND binds tighter than OR, which is
   also OE's `&`/`|` precedence), drop duplicate operands, render canonically.

Nothing here raises on any input: an internal failure yields a LicenseRef of the whole raw
value with a problem saying so.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

from license_expression import (
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_spdx_licensing,
)

from auditor.licenses import aliases
from auditor.licenses.listversion import LICENSE_LIST_VERSION  # re-exported
from auditor.model import NOASSERTION, NONE, Sentinel

log = logging.getLogger(__name__)

FLAVORS = ("spdx", "debian", "yocto", "rpm", "apk")
METHODS = ("exact", "alias", "parsed", "licenseref", "empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class Normalized:
    """One raw license statement and the SPDX expression it normalises to."""

    raw: str
    expression: str | Sentinel  # a valid SPDX expression (LicenseRef- allowed) or NOASSERTION
    method: str  # "exact" | "alias" | "parsed" | "licenseref" | "empty"
    unmapped: tuple[str, ...] = ()  # raw names that became LicenseRef-… (what we could not map)
    problems: tuple[str, ...] = ()  # e.g. "dangling operator 'AND'", "junk token 'The'"


# --------------------------------------------------------------------------- the SPDX list

_SPDX = get_spdx_licensing()

_DEPRECATED = {k.casefold(): v for k, v in aliases.DEPRECATED.items()}
_DEPRECATED_EXC = {k.casefold(): v for k, v in aliases.DEPRECATED_EXCEPTIONS.items()}

# Current SPDX ids: license-expression's SPDX symbols minus its LicenseRef-scancode-* keys and
# minus ids SPDX deprecated (scancode lists some of those as primary keys, some as exceptions).
_LICENSES: dict[str, str] = {}  # casefold → canonical
_EXCEPTIONS: dict[str, str] = {}
for _sym in {id(s): s for s in _SPDX.known_symbols.values()}.values():
    _key = _sym.key
    if _key.startswith("LicenseRef-") or _key.casefold() in _DEPRECATED:
        continue
    (_EXCEPTIONS if _sym.is_exception else _LICENSES)[_key.casefold()] = _key
    for _alias in _sym.aliases:
        # The non-LicenseRef aliases are SPDX's deprecated spellings (GPL-2.0, GPL-2.0+,
        # LGPL-2.1+, AGPL-3.0, …) plus a few scancode-isms with spaces we do not want.
        if not _alias.startswith("LicenseRef-") and " " not in _alias and _alias != "GPL":
            (_DEPRECATED_EXC if _sym.is_exception else _DEPRECATED).setdefault(
                _alias.casefold(), _key)
_LICENSE_IDS = frozenset(_LICENSES.values())
_EXCEPTION_IDS = frozenset(_EXCEPTIONS.values())

# Parses our own canonical text: only current ids are known, so a LicenseRef is never
# rewritten into an id through a scancode alias (`LicenseRef-GPL` stays what it says).
_STRUCT = Licensing([LicenseSymbol(k, is_exception=False) for k in sorted(_LICENSE_IDS)]
                    + [LicenseSymbol(k, is_exception=True) for k in sorted(_EXCEPTION_IDS)])

_ALIASES = {k.casefold(): v for k, v in aliases.ALIASES.items()}
_NOTES = {k.casefold(): v for k, v in aliases.NOTES.items()}

_REF_RE = re.compile(r"(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+")
_IDLIKE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_:/-]*")
_PUNCT_RE = re.compile(r"[^A-Za-z0-9]+")
_OPERATOR_WORDS = {"and": "AND", "or": "OR", "&&": "AND", "||": "OR"}
_GNU_RE = re.compile(
    r"(?P<fam>AGPL|LGPL|GPL|GFDL)"
    r"(?:[-_ ]?(?P<niv>NIV))?"
    r"(?:[-_ ]?v(?:ersion)?)?"
    r"(?:[-_ ]?(?P<ver>\d+(?:\.\d+)?))?"
    r"(?P<plus>\+|[-_ ]?or[-_ ]?later|[-_ ]?only)?"
    r"(?:[-_ ]?(?P<niv2>no[-_ ]?invariants?|NIV))?"
    r"(?P<plus2>\+|[-_ ]?or[-_ ]?later|[-_ ]?only)?",
    re.IGNORECASE)
_GNU_VERSIONS = {
    "GPL": {"1": "1.0", "1.0": "1.0", "2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0"},
    "LGPL": {"2": "2.0", "2.0": "2.0", "2.1": "2.1", "3": "3.0", "3.0": "3.0"},
    "AGPL": {"1": "1.0", "1.0": "1.0", "3": "3.0", "3.0": "3.0"},
    "GFDL": {"1.1": "1.1", "1.2": "1.2", "1.3": "1.3"},
}
# An unversioned GNU license lets the recipient pick any version ever published, so the
# first version "or later" is the faithful reading; AGPL has no such history (AGPL-1.0 is
# Affero's, not the FSF's), so a bare AGPL stays unmapped.
_GNU_ANY_VERSION = {"GPL": "1.0", "LGPL": "2.0", "GFDL": "1.1"}
_WITH_SUFFIX_RE = re.compile(
    r"(?P<lic>.+?)[-_ ](?:with[-_ ])?(?P<exc>[A-Za-z][A-Za-z0-9.]*)[-_ ]exception", re.IGNORECASE)
_MAX_REF = 64
_MAX_WORDS_PER_NAME = 5


# --------------------------------------------------------------------------- names

@dataclass(frozen=True, slots=True)
class _Atom:
    """One resolved name: an SPDX fragment plus what it came from."""

    text: str  # an id, `id WITH exception`, a LicenseRef, or (compound) an expression
    raw: str
    kind: str  # exact | alias | unmapped
    exception: bool = False  # an exception standing where a license should be
    simple: bool = True  # a single license id that may still take a WITH
    compound: bool = False  # contains AND/OR: parenthesise when inserted
    note: str = ""


def _sanitise(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9.-]+", "-", name.replace("+", "-plus"))
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    if len(text) > _MAX_REF:
        digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:8]
        text = f"{text[:_MAX_REF - 9].rstrip('-.')}-{digest}"
    return text or "unknown"


def _unmapped(raw: str) -> _Atom:
    return _Atom(f"LicenseRef-{_sanitise(raw)}", raw, "unmapped")


def _atom_for(text: str, raw: str, kind: str, note: str = "") -> _Atom:
    """An atom for a table value, which may be an id, an exception, `X WITH Y` or a compound."""
    compound = " AND " in text or " OR " in text
    return _Atom(text, raw, kind, exception=text in _EXCEPTION_IDS,
                 simple=not compound and " WITH " not in text, compound=compound, note=note)


def _gnu(name: str) -> _Atom | None:
    match = _GNU_RE.fullmatch(name)
    if not match:
        return None
    fam = match["fam"].upper()
    niv = bool(match["niv"] or match["niv2"])
    if niv and fam != "GFDL":
        return None
    plus = ((match["plus"] or "") + (match["plus2"] or "")).casefold()
    later = "+" in plus or "later" in plus
    only = "only" in plus
    if later and only:
        return None
    note = ""
    if match["ver"] is None:
        first = _GNU_ANY_VERSION.get(fam)
        if first is None or only:
            return None
        version, later = first, True
        if not plus:
            note = _NOTES.get(fam.casefold(), "")
    else:
        mapped = _GNU_VERSIONS[fam].get(match["ver"])
        if mapped is None:
            return None
        version = mapped
    ident = f"{fam}-{version}{'-no-invariants' if niv else ''}-{'or-later' if later else 'only'}"
    if ident not in _LICENSE_IDS:
        return None
    return _Atom(ident, name, "alias", note=note)


def _major(license_text: str) -> int | None:
    match = re.search(r"-(\d+)(?:\.\d+)?(?:-|$)", license_text)
    return int(match.group(1)) if match else None


def _exception_id(name: str, license_text: str) -> str | None:
    """The SPDX exception id for an exception named after `with`, or None if unknown."""
    full = name.strip().casefold()
    if full in _EXCEPTIONS:
        return _EXCEPTIONS[full]
    if full in _DEPRECATED_EXC:
        return _DEPRECATED_EXC[full]
    short = re.sub(r"[-_ ]*exceptions?$", "", full).strip(" -_")
    if not short:
        return None
    for key in (short, short.replace(" ", "-"), short.replace("_", "-")):
        if f"{key}-exception" in _EXCEPTIONS:
            return _EXCEPTIONS[f"{key}-exception"]
        value = aliases.EXCEPTIONS.get(key)
        if isinstance(value, dict):
            major = _major(license_text)
            return value.get(major) if major is not None else None
        if value is not None:
            return value
    return None


def _with_suffix(name: str) -> _Atom | None:
    """`GPL-3+-WITH-BISON-EXCEPTION`, `GPL-2+-libtool-exception`, … as one token."""
    match = _WITH_SUFFIX_RE.fullmatch(name)
    if not match:
        return None
    lic = _lookup(match["lic"])
    if lic is None or not lic.simple or lic.exception or lic.kind == "unmapped":
        return None
    if lic.text.startswith("LicenseRef-"):
        return None
    exc = _exception_id(match["exc"], lic.text)
    if exc is None:
        return None
    return _Atom(f"{lic.text} WITH {exc}", name, "alias", simple=False)


@lru_cache(maxsize=16384)
def _lookup(name: str) -> _Atom | None:
    """Resolve one license name, or None when nothing but a LicenseRef would do."""
    n = name.strip()
    if not n:
        return None
    low = n.casefold()
    if _REF_RE.fullmatch(n):
        return _Atom(n, n, "exact")
    if low.startswith("licenseref-") and len(n) > len("LicenseRef-"):
        return _Atom(f"LicenseRef-{_sanitise(n[len('LicenseRef-'):])}", n, "alias")
    if n in _LICENSE_IDS:
        return _Atom(n, n, "exact")
    if n in _EXCEPTION_IDS:
        return _Atom(n, n, "exact", exception=True)
    if low in _DEPRECATED:
        return _atom_for(_DEPRECATED[low], n, "alias")
    if low in _DEPRECATED_EXC:
        return _Atom(_DEPRECATED_EXC[low], n, "alias", exception=True)
    for key in (low, low.replace(" ", "-"), low.replace("_", "-")):
        if key in _ALIASES:
            return _atom_for(_ALIASES[key], n, "alias", _NOTES.get(key, ""))
    gnu = _gnu(n)
    if gnu is not None:
        return gnu
    suffixed = _with_suffix(n)
    if suffixed is not None:
        return suffixed
    for key in (low, low.replace(" ", "-")):
        if key in _LICENSES:
            return _Atom(_LICENSES[key], n, "alias")
        if key in _EXCEPTIONS:
            return _Atom(_EXCEPTIONS[key], n, "alias", exception=True)
        if key in _DEPRECATED:
            return _atom_for(_DEPRECATED[key], n, "alias")
    for prefix in aliases.VENDOR_PREFIXES:
        if n.casefold().startswith(prefix.casefold()) and len(n) > len(prefix):
            return _Atom(f"LicenseRef-{_sanitise(n)}", n, "alias")
    if low in aliases.NON_SPDX_EXCEPTIONS:
        return _Atom(f"LicenseRef-{_sanitise(n)}", n, "unmapped", exception=True)
    return None


def _lookup_phrase(words: list[str]) -> _Atom | None:
    phrase = " ".join(words)
    found = _lookup(phrase)
    if found is None and len(words) > 1 and words[-1].casefold() in ("license", "licence"):
        found = _lookup(" ".join(words[:-1]))
        if found is not None:
            found = _Atom(found.text, phrase, found.kind, found.exception, found.simple,
                          found.compound, found.note)
    return found


# --------------------------------------------------------------------------- lexing

# ("word", text) ("op", "AND"|"OR") ("with", as written) ("(", "") (")", "") (",", "")
_Tok = tuple[str, str]
_SPLIT_GROUPING = re.compile(r"([()&|,])")


def _split_debian(text: str) -> list[str]:
    """Split at `&`, `|` and commas, except commas inside a name's parentheses
    (`Binary redistribution (Intel, narrower patent license)`)."""
    chunks: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char in "&|" or (char == "," and depth == 0):
            chunks.extend(["".join(current), char])
            current = []
        else:
            current.append(char)
    chunks.append("".join(current))
    return chunks


def _lex(text: str, flavor: str) -> list[_Tok]:
    if flavor == "debian":
        # `LGPLv3+_or_GPLv2+` (nettle) spells the operator inside the name.
        text = re.sub(r"_(or|and)_", r" \1 ", text, flags=re.IGNORECASE)
        chunks = _split_debian(text)  # DEP-5 has no grouping; `BSD (Intel)` is a name
    else:
        chunks = _SPLIT_GROUPING.split(text)
    toks: list[_Tok] = []
    for chunk in chunks:
        if chunk in ("(", ")", ","):
            toks.append((chunk, ""))
        elif chunk == "&":
            toks.append(("op", "AND"))
        elif chunk == "|":
            toks.append(("op", "OR"))
        else:
            for word in chunk.split():
                low = word.casefold()
                if low in _OPERATOR_WORDS:
                    toks.append(("op", _OPERATOR_WORDS[low]))
                elif low == "with":
                    toks.append(("with", word))
                else:
                    toks.append(("word", word))
    return toks


def _apply_commas(toks: list[_Tok], problems: list[str]) -> list[_Tok]:
    """DEP-5's rule, used everywhere: `A or B, and C` means `(A or B) and C`."""
    if not any(t[0] == "," for t in toks):
        return toks
    segments: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks:
        if tok[0] == "(":
            depth += 1
        elif tok[0] == ")":
            depth -= 1
        if tok[0] == ",":
            if depth > 0:
                problems.append("',' inside parentheses read as AND")
                segments[-1].append(("op", "AND"))
            else:
                segments.append([])
            continue
        segments[-1].append(tok)
    out: list[_Tok] = []
    for index, seg in enumerate(segments):
        joiner: _Tok = ("op", "AND")
        if index > 0 and seg and seg[0][0] == "op":
            joiner, seg = seg[0], seg[1:]
        elif index > 0 and seg:
            problems.append("',' without 'and'/'or' read as AND")
        if not seg:
            problems.append("stray ','")
            continue
        if out:
            out.append(joiner)
        out.extend([("(", ""), *seg, (")", "")])
    return out


# --------------------------------------------------------------------------- resolving runs

def _clean_word(word: str, problems: list[str]) -> str | None:
    if _PUNCT_RE.fullmatch(word):
        problems.append(f"junk token {word!r}")
        return None
    if _REF_RE.fullmatch(word):
        return word
    stripped = word.strip("'\"`;:").rstrip(".")
    if not stripped or stripped.casefold() in aliases.JUNK_WORDS:
        problems.append(f"junk token {word!r}")
        return None
    return stripped


def _segment(words: list[str]) -> list[_Atom] | None:
    """Split `MIT BSD GPL2+` / `MPL 2.0 GPL2+` into names, if it reads as a list of names."""
    out: list[_Atom] = []
    known = 0
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + _MAX_WORDS_PER_NAME), i, -1):
            found = _lookup(" ".join(words[i:j]))
            if found is not None:
                out.append(found)
                known += 1
                i = j
                break
        else:
            word = words[i]
            if word.casefold() in aliases.JUNK_WORDS or not _IDLIKE_RE.fullmatch(word):
                return None
            out.append(_unmapped(word))
            i += 1
    return out if known else None


def _resolve_run(words: list[str], flavor: str, problems: list[str]) -> list[_Atom]:
    """Names for a run of words between operators; more than one name means AND."""
    if flavor == "yocto":
        # OE names never contain spaces: every word is a name, adjacent names mean `&`.
        cleaned = [c for c in (_clean_word(w, problems) for w in words) if c]
        return [_lookup(w) or _unmapped(w) for w in cleaned]
    if len(words) == 1:
        cleaned1 = _clean_word(words[0], problems)
        return [_lookup(cleaned1) or _unmapped(cleaned1)] if cleaned1 else []
    kept = [w for w in words if not _PUNCT_RE.fullmatch(w)]
    for word in words:
        if _PUNCT_RE.fullmatch(word):
            problems.append(f"junk token {word!r}")
    if len(kept) <= 1:
        return _resolve_run(kept, flavor, problems) if kept else []
    whole = _lookup_phrase(kept)
    if whole is not None:
        return [whole]
    if len(kept) <= 12:
        parts = _segment(kept)
        if parts is not None:
            return parts
    phrase = " ".join(kept)
    if kept[0].casefold() in aliases.PROSE_START or len(kept) > 8:
        problems.append(f"prose instead of a license name: {phrase[:60]!r}")
    return [_unmapped(phrase)]


# --------------------------------------------------------------------------- assembling

_Item: TypeAlias = "_Atom | str"  # str: "AND", "OR", "(", ")"


def _assemble(toks: list[_Tok], flavor: str, problems: list[str]) -> list[_Item]:
    items: list[_Item] = []
    i = 0
    while i < len(toks):
        kind, value = toks[i]
        if kind in ("word", "with"):
            j = i + 1 if kind == "with" else i
            words: list[str] = []
            while j < len(toks) and toks[j][0] == "word":
                words.append(toks[j][1])
                j += 1
            if kind == "with":
                _attach_with(items, value, words, problems)
            else:
                for index, atom in enumerate(_resolve_run(words, flavor, problems)):
                    if index:
                        items.append("AND")
                        problems.append(
                            f"no operator between names in {' '.join(words)[:60]!r}; read as AND")
                    items.append(atom)
            i = j
            continue
        items.append(value if kind == "op" else kind)
        i += 1
    return items


def _attach_with(items: list[_Item], keyword: str, words: list[str],
                 problems: list[str]) -> None:
    raw_exc = " ".join(words)
    if not words:
        problems.append("'with' without an exception")
        return
    prev = items[-1] if items and isinstance(items[-1], _Atom) else None
    if prev is None:
        problems.append(f"exception {raw_exc!r} without a license")
        if items and items[-1] == ")":
            items.append("AND")
        items.append(_unmapped(raw_exc))
        return
    exc = None
    if prev.simple and not prev.exception and prev.kind != "unmapped" \
            and not prev.text.startswith("LicenseRef-"):
        exc = _exception_id(raw_exc, prev.text)
    raw = f"{prev.raw} {keyword} {raw_exc}"
    items[-1] = (_Atom(f"{prev.text} WITH {exc}", raw, "alias", simple=False) if exc
                 else _unmapped(raw))


def _fix_exception_operands(items: list[_Item], problems: list[str]) -> list[_Item]:
    """OE writes exceptions as `&` operands (`GPL-3.0 & The-Qt-Company-GPL-Exception-1.0`)."""
    def licence_at(k: int) -> _Atom | None:
        if 0 <= k < len(items):
            it = items[k]
            if isinstance(it, _Atom) and it.simple and not it.exception \
                    and it.kind != "unmapped" and not it.text.startswith("LicenseRef-"):
                return it
        return None

    index = 0
    while index < len(items):
        item = items[index]
        if not isinstance(item, _Atom) or not item.exception:
            index += 1
            continue
        if item.text in _EXCEPTION_IDS:
            before = licence_at(index - 2) if index >= 2 and items[index - 1] == "AND" else None
            after = licence_at(index + 2) if index + 2 < len(items) \
                and items[index + 1] == "AND" else None
            target = before or after
            if target is not None:
                merged = _Atom(f"{target.text} WITH {item.text}", f"{target.raw} & {item.raw}",
                               "alias", simple=False)
                if before is not None:
                    items[index - 2:index + 1] = [merged]
                    index -= 1
                else:
                    items[index:index + 3] = [merged]
                continue
            problems.append(f"exception {item.raw!r} without a license it could modify")
            items[index] = _unmapped(item.raw)
        else:
            problems.append(f"exception {item.raw!r} (not on the SPDX list) given as a license")
            items[index] = _Atom(item.text, item.raw, item.kind)
        index += 1
    return items


def _repair(items: list[_Item], problems: list[str]) -> list[_Item]:
    """A well-formed operand/operator stream: no dangling operators, balanced parentheses."""
    out: list[_Item] = []
    depth = 0

    def expecting_operand() -> bool:
        return not out or out[-1] in ("AND", "OR", "(")

    def trim() -> None:
        nonlocal depth
        while out and (out[-1] in ("AND", "OR") or out[-1] == "("):
            last = out.pop()
            if last == "(":
                depth -= 1
            else:
                problems.append(f"dangling operator {last!r}")

    for item in items:
        if isinstance(item, _Atom) or item == "(":
            if not expecting_operand():
                out.append("AND")
                problems.append("missing operator before '('; read as AND" if item == "("
                                else "missing operator; read as AND")
            out.append(item)
            if item == "(":
                depth += 1
        elif item == ")":
            if depth == 0:
                problems.append("unbalanced ')'")
                continue
            if out and out[-1] in ("AND", "OR"):
                problems.append(f"dangling operator {out.pop()!r}")
            if out and out[-1] == "(":
                out.pop()
                depth -= 1
                problems.append("empty parentheses")
                continue
            out.append(")")
            depth -= 1
        elif item in ("AND", "OR"):
            if expecting_operand():
                problems.append(f"dangling operator {item!r}")
                continue
            out.append(item)
    trim()
    if depth > 0:
        problems.append("unbalanced '('")
        out.extend([")"] * depth)
    return out


# --------------------------------------------------------------------------- tree

_Node: TypeAlias = "str | tuple[str, tuple[_Node, ...]]"


def _to_node(expr: object) -> _Node:
    if isinstance(expr, LicenseWithExceptionSymbol):
        return f"{expr.license_symbol.key} WITH {expr.exception_symbol.key}"
    if isinstance(expr, LicenseSymbol):
        return str(expr.key)
    if isinstance(expr, _STRUCT.AND):
        return ("AND", tuple(_to_node(a) for a in expr.args))
    if isinstance(expr, _STRUCT.OR):
        return ("OR", tuple(_to_node(a) for a in expr.args))
    raise TypeError(f"unexpected node {type(expr).__name__}")


def _simplify(node: _Node) -> _Node:
    """Flatten nested same operators and drop duplicate operands, keeping first occurrence."""
    if isinstance(node, str):
        return node
    op, kids = node
    flat: list[_Node] = []
    for kid in kids:
        kid = _simplify(kid)
        if isinstance(kid, tuple) and kid[0] == op:
            flat.extend(kid[1])
        else:
            flat.append(kid)
    seen: set[str] = set()
    unique: list[_Node] = []
    for kid in flat:
        text = _render(kid)
        if text not in seen:
            seen.add(text)
            unique.append(kid)
    return unique[0] if len(unique) == 1 else (op, tuple(unique))


def _render(node: _Node) -> str:
    if isinstance(node, str):
        return node
    op, kids = node
    return f" {op} ".join(k if isinstance(k, str) else f"({_render(k)})" for k in kids)


def _parse_own(text: str) -> _Node:
    parsed = _STRUCT.parse(text)
    if parsed is None:
        raise ValueError("empty expression")
    return _simplify(_to_node(parsed))


# --------------------------------------------------------------------------- public API

def _squash(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def normalize(raw: str, *, flavor: str) -> Normalized:
    """Normalise one raw license value of the given flavor (spdx|debian|yocto|rpm|apk)."""
    try:
        text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        return _normalize(text, flavor if isinstance(flavor, str) else "")
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        log.warning("license normalisation failed on %r: %s", raw, exc)
        text = str(raw)
        return Normalized(raw=text, expression=f"LicenseRef-{_sanitise(text)}",
                          method="licenseref", unmapped=(text.strip(),),
                          problems=(f"internal error: {type(exc).__name__}",))


@lru_cache(maxsize=8192)
def _normalize(raw: str, flavor: str) -> Normalized:
    problems: list[str] = []
    if flavor not in FLAVORS:
        problems.append(f"unknown flavor {flavor!r}; read as spdx")
        flavor = "spdx"
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", raw).strip()
    if not text:
        return Normalized(raw=raw, expression=NOASSERTION, method="empty",
                          problems=tuple(problems))
    if text in ("NOASSERTION", "NONE"):
        return Normalized(raw=raw, expression=NOASSERTION if text == "NOASSERTION" else NONE,
                          method="exact", problems=tuple(problems))
    if flavor == "apk" and text.casefold() == "none":
        # Alpine meta packages (build-base) declare that they contain nothing to license.
        return Normalized(raw=raw, expression=NONE, method="alias", problems=tuple(problems))

    toks = _apply_commas(_lex(text, flavor), problems)
    items = _assemble(toks, flavor, problems)
    items = _fix_exception_operands(items, problems)
    items = _repair(items, problems)
    atoms = [it for it in items if isinstance(it, _Atom)]
    problems.extend(a.note for a in atoms if a.note)
    if not atoms:
        return Normalized(raw=raw, expression=NOASSERTION, method="empty",
                          problems=_dedupe(problems))
    spdx_text = " ".join(it if isinstance(it, str) else
                         (f"({it.text})" if it.compound else it.text) for it in items)
    unmapped = _dedupe(a.raw.strip() for a in atoms if a.kind == "unmapped")
    try:
        node = _parse_own(spdx_text)
        expression = _render(node)
        if not is_valid(expression):
            raise ValueError(f"built an invalid expression {expression!r}")
    except Exception as exc:  # noqa: BLE001 - keep the evidence, say what happened
        log.warning("license value %r could not be parsed: %s", raw, exc)
        problems.append(f"could not parse: {exc}")
        return Normalized(raw=raw, expression=f"LicenseRef-{_sanitise(text)}",
                          method="licenseref", unmapped=(text,), problems=_dedupe(problems))
    if unmapped:
        method = "licenseref"
    elif _squash(text) == expression:
        method = "exact"
    elif isinstance(node, str):
        method = "alias"
    else:
        method = "parsed"
    return Normalized(raw=raw, expression=expression, method=method, unmapped=unmapped,
                      problems=_dedupe(problems))


_TOKEN_RE = re.compile(r"\(|\)|[^\s()]+")
_VALID_CHARS_RE = re.compile(r"[A-Za-z0-9.+:()\s-]+")


def is_valid(expr: str) -> bool:
    """True if `expr` is a valid SPDX expression: ids from the list (deprecated ones included),
    `LicenseRef-`s, upper-case AND/OR/WITH and balanced parentheses."""
    try:
        if not isinstance(expr, str) or isinstance(expr, Sentinel) or not expr.strip():
            return False
        if not _VALID_CHARS_RE.fullmatch(expr):
            return False
        # license-expression merges adjacent unknown words into one name and accepts
        # lower-case operators; SPDX allows neither.
        previous_is_name = False
        for tok in _TOKEN_RE.findall(expr):
            is_operator = tok.upper() in ("AND", "OR", "WITH")
            if is_operator and tok != tok.upper():
                return False
            is_name = tok not in ("(", ")") and not is_operator
            if is_name and previous_is_name:
                return False
            previous_is_name = is_name
        parsed = _SPDX.parse(expr, strict=True)
        if parsed is None:
            return False
        return all(_REF_RE.fullmatch(key) for key in _SPDX.unknown_license_keys(parsed))
    except Exception:  # noqa: BLE001 - license-expression raises many types, even from validate
        return False


def and_all(exprs: Iterable[str]) -> str | Sentinel:
    """AND of the distinct expressions: each normalised (spdx flavor), top-level AND operands
    flattened, deduplicated and sorted, so the result does not depend on the order of `exprs`.
    NOASSERTION/NONE and empties are skipped; NOASSERTION when nothing is left."""
    operands: dict[str, _Node] = {}
    for expr in exprs:
        try:
            if not isinstance(expr, str) or isinstance(expr, Sentinel) or not expr.strip():
                continue
            # canonical input comes back unchanged; deprecated ids and case get fixed
            fixed = normalize(expr, flavor="spdx").expression
            if isinstance(fixed, Sentinel):
                continue
            node = _parse_own(fixed)
            kids = node[1] if isinstance(node, tuple) and node[0] == "AND" else (node,)
            for kid in kids:
                operands.setdefault(_render(kid), kid)
        except Exception as exc:  # noqa: BLE001
            log.warning("and_all skipped %r: %s", expr, exc)
    if not operands:
        return NOASSERTION
    ordered = [operands[k] for k in sorted(operands, key=lambda k: (k.casefold(), k))]
    return _render(ordered[0] if len(ordered) == 1 else ("AND", tuple(ordered)))


__all__ = ["FLAVORS", "LICENSE_LIST_VERSION", "Normalized", "and_all", "is_valid", "normalize"]
