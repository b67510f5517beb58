# SPDX-License-Identifier: Apache-2.0
"""Licenses stage: curations — human knowledge applied to packages by rule.

A curation matches packages (purl or name/version/type globs, optionally an image glob) and
either sets the concluded license (with a required reason) or drops a false positive.
User curations (`--curations FILE`) come first, then the built-in ones shipped in
`auditor/data/curations.yaml`; the first match wins. Errors name file and line.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import PolicyError
from ..model import Image, Package

_MATCH_KEYS = frozenset({"purl", "name", "version", "type", "found_by", "image"})
_KEYS = frozenset({"match", "concluded", "drop", "reason"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Curation:
    match: tuple[tuple[str, str], ...]  # (field, glob)
    concluded: str = ""
    drop: bool = False
    reason: str
    origin: str  # "file:line"

    def matches(self, image: Image, pkg: Package) -> bool:
        for key, glob in self.match:
            if key == "image":
                values = (image.name, *image.tags)
            else:
                values = (str(getattr(pkg, key)),)
            if not any(fnmatch.fnmatchcase(v, glob) for v in values):
                return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Curations:
    items: tuple[Curation, ...]
    digest: str  # sha256 over the source texts, recorded in results

    def apply(self, image: Image) -> tuple[Image, tuple[Package, ...]]:
        """The image with curations applied, plus the packages dropped as false positives."""
        kept, dropped = [], []
        for pkg in image.packages:
            cur = next((c for c in self.items if c.matches(image, pkg)), None)
            if cur is None:
                kept.append(pkg)
            elif cur.drop:
                dropped.append(replace(pkg, curation=cur.reason))
            else:
                kept.append(replace(pkg, concluded_license=cur.concluded, curation=cur.reason))
        return replace(image, packages=tuple(kept)), tuple(dropped)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass  # libyaml's loader where PyYAML has it: same results, several times faster


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse(text: str, label: str, *, validate: bool = True) -> list[Curation]:
    """Curations of one file. `validate=False` skips checking `concluded` expressions against
    the SPDX list: only for the built-in file, which the tests check."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{label}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("curations"), list):
        raise PolicyError(f"{label}:1: expected a mapping with a 'curations' list")
    out = []
    for item in doc["curations"]:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        where = f"{label}:{line}"
        if not isinstance(item, dict):
            raise PolicyError(f"{where}: a curation must be a mapping")
        unknown = set(item) - _KEYS - {"__line__"}
        if unknown:
            raise PolicyError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        match = item.get("match")
        if not isinstance(match, dict) or not (set(match) - {"__line__"}):
            raise PolicyError(f"{where}: 'match' must be a non-empty mapping")
        bad = set(match) - _MATCH_KEYS - {"__line__"}
        if bad:
            raise PolicyError(f"{where}: unknown match key {sorted(bad)[0]!r}")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{where}: a curation needs a 'reason'")
        drop = bool(item.get("drop", False))
        concluded = item.get("concluded", "")
        if drop == bool(concluded):
            raise PolicyError(f"{where}: a curation sets either 'concluded' or 'drop: true'")
        if concluded and not isinstance(concluded, str):
            raise PolicyError(f"{where}: 'concluded' must be a string: {concluded!r}")
        if concluded and validate and not _is_valid(concluded):
            raise PolicyError(f"{where}: 'concluded' is not a valid SPDX expression: {concluded!r}")
        out.append(Curation(
            match=tuple(sorted((k, str(v)) for k, v in match.items() if k != "__line__")),
            concluded=concluded or "", drop=drop, reason=reason.strip(), origin=where))
    return out


def _is_valid(expression: str) -> bool:
    from .normalize import is_valid  # builds the SPDX licensing index: only when needed

    return is_valid(expression)


BUILTIN_LABEL = "builtin:curations.yaml"


def builtin_text() -> str:
    return (resources.files("auditor") / "data" / "curations.yaml").read_text("utf-8")


def load(paths: tuple[Path, ...] = (), *, builtin: bool = True) -> Curations:
    texts: list[tuple[str, str]] = []
    for p in paths:
        try:
            texts.append((p.read_text("utf-8"), str(p)))
        except OSError as exc:
            raise PolicyError(f"{p}: cannot read ({exc.strerror})") from None
    if builtin:
        texts.append((builtin_text(), BUILTIN_LABEL))
    items: list[Curation] = []
    h = hashlib.sha256()
    for text, label in texts:
        items.extend(parse(text, label, validate=label != BUILTIN_LABEL))
        h.update(text.encode())
    return Curations(items=tuple(items), digest="sha256:" + h.hexdigest())
