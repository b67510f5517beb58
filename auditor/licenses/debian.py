# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage: Debian `/usr/share/doc/<pkg>/copyright` files → declared and other licenses.

Machine-readable (DEP-5) files are read with python-debian: the `Files: *` paragraph gives the
declared license, every other `Files:` paragraph an entry of `other`; standalone `License:`
paragraphs only hold license texts. Without a `Files: *` paragraph the header's `License:` is
the declared license, failing that the AND of the distinct paragraph licenses.

Free-text files are read only where a statement is reliable: references to
`/usr/share/common-licenses/<NAME>`, with the version and "or later" taken from the sentence
before the reference when the name carries no version, and `License: <name>` lines whose value
maps cleanly. When nothing reliable is found the cataloguer's raw values for the package
(`common_licenses_hint`) are used, else NOASSERTION.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from debian.copyright import Copyright

from auditor.licenses.normalize import Normalized, and_all, normalize
from auditor.model import NOASSERTION, Sentinel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class DebianCopyright:
    """What a Debian copyright file says about the licenses of its package."""

    format: str  # "dep5" | "free-text" | "empty"
    declared: Normalized  # Files: * paragraph's license; else AND of distinct paragraph licenses
    other: tuple[tuple[tuple[str, ...], Normalized], ...]  # (Files: patterns, license) of the rest
    problems: tuple[str, ...] = ()


_EMPTY = Normalized(raw="", expression=NOASSERTION, method="empty")
_FORMAT_RE = re.compile(r"^Format(?:-Specification)?\s*:", re.IGNORECASE | re.MULTILINE)
_FILES_RE = re.compile(r"^Files\s*:", re.IGNORECASE | re.MULTILINE)
_COMMON_RE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9][A-Za-z0-9.+_-]*)")
_LICENSE_LINE_RE = re.compile(r"^License:[ \t]*(\S[^\n]*)$", re.MULTILINE)
_LATER_RE = re.compile(
    r"any later version|or \(at your option\) any later|or (?:any )?later|or above|or newer"
    r"|and later|or higher", re.IGNORECASE)
_VERSION_RE = re.compile(r"\bversion (\d+(?:\.\d+)?)\b", re.IGNORECASE)
_SHORT_VERSION_RE = re.compile(r"\b(LGPL|GPL|GFDL)[- ]?v?(\d+(?:\.\d+)?)(\+?)", re.IGNORECASE)
_CONTEXT = 1500  # characters before a reference that may state its version
_LATER_REACH = 80  # "version 2 of the License, or (at your option) any later version"

# /usr/share/common-licenses on Debian: GNU texts by family and version, the others by id.
# `BSD` there is the University of California's 3-clause text; `Artistic` is Perl's.
_COMMON_GNU = {
    "gpl": ("GPL", None), "gpl-1": ("GPL", "1.0"), "gpl-2": ("GPL", "2.0"),
    "gpl-3": ("GPL", "3.0"), "lgpl": ("LGPL", None), "lgpl-2": ("LGPL", "2.0"),
    "lgpl-2.1": ("LGPL", "2.1"), "lgpl-3": ("LGPL", "3.0"), "gfdl": ("GFDL", None),
    "gfdl-1.2": ("GFDL", "1.2"), "gfdl-1.3": ("GFDL", "1.3"),
}
_COMMON_OTHER = {
    "artistic": "Artistic-1.0-Perl", "bsd": "BSD-3-Clause", "apache-2.0": "Apache-2.0",
    "mpl-1.1": "MPL-1.1", "mpl-2.0": "MPL-2.0", "cc0-1.0": "CC0-1.0",
}
_GNU_VERSION_NAMES = {
    "GPL": {"1": "1.0", "1.0": "1.0", "2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0"},
    "LGPL": {"2": "2.0", "2.0": "2.0", "2.1": "2.1", "3": "3.0", "3.0": "3.0"},
    "GFDL": {"1.1": "1.1", "1.2": "1.2", "1.3": "1.3"},
}


def parse_copyright(data: bytes, *, common_licenses_hint: Iterable[str] = ()) -> DebianCopyright:
    """Read one copyright file; never raises (problems are recorded instead)."""
    try:
        hints = tuple(h for h in common_licenses_hint if isinstance(h, str))
    except Exception:  # noqa: BLE001 - a broken iterable is a caller bug, not a reason to stop
        hints = ()
    try:
        return _parse_memo(data if isinstance(data, (bytes, str)) else bytes(data), hints)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raises"
        log.warning("copyright file could not be read: %s", exc)
        return DebianCopyright(format="free-text", declared=_EMPTY, other=(),
                               problems=(f"internal error: {type(exc).__name__}: {exc}",))


def _decode(data: bytes | str, problems: list[str]) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        problems.append("not UTF-8; read as Latin-1")
        return bytes(data).decode("latin-1")


# images built on one base share its copyright files: a parse is remembered by the
# sha256 of the text (the result is a pure function of it, and frozen), never the text
_MEMO: OrderedDict[tuple[bytes, tuple[str, ...]], DebianCopyright] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 4096


def _parse_memo(data: bytes | str, hints: tuple[str, ...]) -> DebianCopyright:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    key = (hashlib.sha256(raw).digest() + (b"s" if isinstance(data, str) else b"b"), hints)
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
            return hit
    result = _parse(data, hints)
    with _MEMO_LOCK:
        _MEMO[key] = result
        if len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return result


def _parse(data: bytes | str, hints: tuple[str, ...]) -> DebianCopyright:
    problems: list[str] = []
    text = _decode(data, problems).replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        return DebianCopyright(format="empty", declared=_EMPTY, other=(), problems=tuple(problems))
    first_paragraph = re.split(r"\n[ \t]*\n", text.strip(), maxsplit=1)[0]
    if _FORMAT_RE.search(first_paragraph):
        return _dep5(text, problems)
    if _FILES_RE.search(first_paragraph):
        problems.append("DEP-5 layout without a Format: header; read as DEP-5")
        return _dep5(text, problems, lenient=True)
    declared, found = _free_text(text, hints)
    return DebianCopyright(format="free-text", declared=declared, other=(),
                           problems=tuple(dict.fromkeys(problems + found)))


# --------------------------------------------------------------------------- DEP-5

def _paragraphs(text: str, problems: list[str]) -> tuple[list[tuple[tuple[str, ...], str]], str]:
    """(Files patterns, License synopsis) of each Files paragraph, and the header's License."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = Copyright(text.splitlines(keepends=True), strict=False)
        # python-debian types these fields as RestrictedField; at runtime they are
        # `License` values (or None when the field is absent)
        files = [(tuple(para.files), _synopsis(para.license))
                 for para in parsed.all_files_paragraphs()]
        return files, _synopsis(parsed.header.license)
    except Exception as exc:  # noqa: BLE001 - fall back to plain deb822 paragraphs
        problems.append(f"DEP-5 parser refused the file ({type(exc).__name__}); read leniently")
    return _paragraphs_lenient(text)


def _synopsis(lic: object) -> str:
    synopsis = getattr(lic, "synopsis", "")
    return synopsis if isinstance(synopsis, str) else ""


def _paragraphs_lenient(text: str) -> tuple[list[tuple[tuple[str, ...], str]], str]:
    """The same as `_paragraphs` for files python-debian refuses (duplicate fields, stray
    continuation lines, no header): paragraphs split at blank lines, first field wins."""
    files: list[tuple[tuple[str, ...], str]] = []
    header = ""
    for index, block in enumerate(re.split(r"\n[ \t]*\n", text.strip())):
        fields: dict[str, list[str]] = {}
        current: str | None = None
        for line in block.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line[0] in " \t":
                if current is not None:
                    fields[current].append(line.strip())
                continue
            name, sep, value = line.partition(":")
            current = name.strip().casefold() if sep else None
            if current is not None:
                if current in fields:
                    current = None  # a duplicated field: keep the first
                else:
                    fields[current] = [value.strip()]
        synopsis = fields.get("license", [""])[0]
        if index == 0 and ("format" in fields or "format-specification" in fields):
            header = synopsis
        elif "files" in fields:
            files.append((tuple(" ".join(fields["files"]).split()), synopsis))
    return files, header


def _dep5(text: str, problems: list[str], *, lenient: bool = False) -> DebianCopyright:
    files, header = _paragraphs_lenient(text) if lenient else _paragraphs(text, problems)
    star = [i for i, (patterns, _) in enumerate(files) if "*" in patterns]
    chosen = star[-1] if star else None  # DEP-5: the last matching paragraph wins
    if len(star) > 1:
        problems.append("more than one 'Files: *' paragraph; the last one is used")
    other = tuple((patterns, _license(raw, patterns, problems))
                  for i, (patterns, raw) in enumerate(files) if i != chosen)
    if chosen is not None:
        declared = _license(files[chosen][1], files[chosen][0], problems)
    elif header.strip():
        problems.append("no 'Files: *' paragraph; the header's License is the declared license")
        declared = normalize(header, flavor="debian")
    elif other:
        problems.append("no 'Files: *' paragraph; declared license is the AND of all paragraphs")
        declared = _combine([n for _, n in other])
    else:
        problems.append("DEP-5 file without Files paragraphs")
        declared = _EMPTY
    return DebianCopyright(format="dep5", declared=declared, other=other,
                           problems=tuple(dict.fromkeys(problems)))


def _license(raw: str, patterns: tuple[str, ...], problems: list[str]) -> Normalized:
    if not raw.strip():
        problems.append(f"empty License: synopsis for Files: {' '.join(patterns)[:80]}")
    return normalize(raw, flavor="debian")


def _combine(parts: list[Normalized]) -> Normalized:
    """One Normalized standing for the AND of several."""
    real = [p for p in parts if not isinstance(p.expression, Sentinel)]
    if not real:
        return _EMPTY
    if len({p.expression for p in real}) == 1 and len({p.raw for p in real}) == 1:
        return real[0]
    expression = and_all(str(p.expression) for p in real)
    unmapped = tuple(dict.fromkeys(u for p in real for u in p.unmapped))
    problems = tuple(dict.fromkeys(x for p in real for x in p.problems))
    raw = "\n".join(dict.fromkeys(p.raw.strip() for p in real))
    return Normalized(raw=raw, expression=expression,
                      method="licenseref" if unmapped else "parsed",
                      unmapped=unmapped, problems=problems)


# --------------------------------------------------------------------------- free text

def _free_text(text: str, hints: tuple[str, ...]) -> tuple[Normalized, list[str]]:
    problems: list[str] = []
    flat = re.sub(r"\s+", " ", text)
    found: list[tuple[str, str]] = []  # (evidence, expression)
    previous_end = 0
    for match in _COMMON_RE.finditer(flat):
        name = match.group(1).rstrip(".,;:'\"`)")
        context = flat[max(previous_end, match.start() - _CONTEXT):match.start()]
        previous_end = match.end()
        expression = _common_license(name, context, problems)
        if expression:
            found.append((f"/usr/share/common-licenses/{name}", expression))
    for match in _LICENSE_LINE_RE.finditer(text):
        value = match.group(1).strip()
        result = normalize(value, flavor="debian")
        if result.method != "licenseref" and not result.problems \
                and not isinstance(result.expression, Sentinel):
            found.append((f"License: {value}", result.expression))
    if found:
        problems.append("free-text copyright: license read from common-licenses references "
                        "and License: lines only")
        expression = and_all(e for _, e in found)
        raw = "\n".join(dict.fromkeys(evidence for evidence, _ in found))
        return Normalized(raw=raw, expression=expression, method="parsed"), problems
    normalized = [normalize(h, flavor="debian") for h in hints]
    usable = [n for n in normalized if not isinstance(n.expression, Sentinel)]
    if usable:
        problems.append("free-text copyright without a reliable license statement; "
                        "used the cataloguer's license values")
        return _combine(usable), problems
    problems.append("free-text copyright without a reliable license statement")
    return _EMPTY, problems


def _common_license(name: str, context: str, problems: list[str]) -> str | None:
    low = name.casefold()
    if low in _COMMON_OTHER:
        return _COMMON_OTHER[low]
    if low not in _COMMON_GNU:
        problems.append(f"unknown common license '{name}'")
        return None
    family, version = _COMMON_GNU[low]
    statements = _stated(context, family)
    if version is None:
        if not statements:
            problems.append(f"'/usr/share/common-licenses/{name}' referenced without a version")
            return None
        version, later = statements[-1]  # the statement closest to the reference
    else:
        matching = [lt for v, lt in statements if v == version]
        if statements and not matching:
            problems.append(f"'/usr/share/common-licenses/{name}' referenced after a {family} "
                            f"version {statements[-1][0]} statement; not used")
            return None
        # no statement at all: the reference alone names one version
        later = any(matching)
    return f"{family}-{version}-{'or-later' if later else 'only'}"


_FAMILY_PATTERNS = (
    ("LGPL", r"(?:Lesser|Library) General Public License|\bLGPL"),
    ("GFDL", r"Free Documentation License|\bGFDL"),
    ("GPL", r"(?<!Lesser )(?<!Library )General Public License|(?<!L)\bGPL"),
)


def _family_of(text: str) -> str | None:
    """The GNU family a piece of prose is about (the last one mentioned)."""
    best: tuple[int, str] | None = None
    for family, pattern in _FAMILY_PATTERNS:
        for match in re.finditer(pattern, text, re.IGNORECASE):
            if best is None or match.start() > best[0]:
                best = (match.start(), family)
    return best[1] if best else None


def _stated(context: str, family: str) -> list[tuple[str, bool]]:
    """(version, "or later") of each statement about `family` in the prose before a reference,
    in text order: `either version 2 of the License, or (at your option) any later version`,
    `GPL v2 or later`, `GPL-3+`."""
    stated: list[tuple[int, str, bool]] = []
    for match in _VERSION_RE.finditer(context):
        if _family_of(context[max(0, match.start() - 200):match.start()]) == family:
            after = context[match.end():match.end() + _LATER_REACH]
            stated.append((match.start(), match.group(1), bool(_LATER_RE.search(after))))
    for match in _SHORT_VERSION_RE.finditer(context):
        if match.group(1).upper() == family:
            after = context[match.end():match.end() + _LATER_REACH]
            later = match.group(3) == "+" or bool(_LATER_RE.match(after.lstrip(" ,")))
            stated.append((match.start(), match.group(2), later))
    names = _GNU_VERSION_NAMES[family]
    return [(names[number], later) for _, number, later in sorted(stated) if number in names]


__all__ = ["DebianCopyright", "parse_copyright"]
