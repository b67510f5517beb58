# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: a content-addressed cache of per-image inventories.

Key: the image config digest (which fixes every layer's diff_id) + the syft binary and
version + container-audit's version + the SPDX license list version: what makes an
inventory. Curations, policy, merge and reports always run fresh on top of it.

Entries are JSON files written atomically (temp + rename), so concurrent builds can share a
directory with no locks; readers verify an entry's own sha256 and discard (and rebuild) a
corrupt one. A hit skips unpacking and syft, but the layers are still verified against
their digests unless the source file is unchanged since the entry was written (same
inode, size and mtime): a tampered layer behind an unchanged config is never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..model import SCHEMA_VERSION, Image

log = logging.getLogger(__name__)

ENTRY_VERSION = "1"


def default_dir() -> Path:
    env = os.environ.get("CONTAINER_AUDIT_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "container-audit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    image: Image
    fingerprint: str  # of the source file when the entry was written


class InventoryCache:
    def __init__(self, root: Path, *, salt: tuple[str, ...]) -> None:
        self.root = Path(root)
        self._salt = json.dumps([ENTRY_VERSION, SCHEMA_VERSION, __version__, *salt])

    def key(self, config_digest: str) -> str:
        return hashlib.sha256(f"{self._salt}\0{config_digest}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, config_digest: str) -> Hit | None:
        from .schema import image_from_dict

        path = self._path(self.key(config_digest))
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            doc = json.loads(raw)
            body = json.dumps(doc["image"], sort_keys=True, ensure_ascii=False).encode()
            if hashlib.sha256(body).hexdigest() != doc["sha256"]:
                raise ValueError("checksum mismatch")
            image = image_from_dict(doc["image"], str(path))
            if image.config_digest != config_digest:
                raise ValueError("entry is for another image")
            return Hit(image=image, fingerprint=str(doc.get("fingerprint", "")))
        except Exception as exc:  # any damage: discard, the caller rebuilds it
            log.warning("cache entry %s is corrupt (%s); discarding it", path, exc)
            path.unlink(missing_ok=True)
            return None

    def put(self, image: Image, fingerprint: str) -> None:
        from .schema import image_to_dict

        body = image_to_dict(image)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
        doc = {"sha256": digest.hexdigest(), "fingerprint": fingerprint, "image": body}
        path = self._path(self.key(image.config_digest))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only or full cache never fails an audit
            log.warning("cannot write cache entry %s (%s)", path, exc)

    def prune(self, max_bytes: int) -> tuple[int, int]:
        """Evict least recently used entries until the cache fits; (removed, kept bytes)."""
        entries = []
        for p in self.root.glob("??/*.json"):
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_atime, st.st_size, p))
        entries.sort(reverse=True)
        total, removed = 0, 0
        for _, size, p in entries:
            if total + size <= max_bytes:
                total += size
            else:
                p.unlink(missing_ok=True)
                removed += 1
        return removed, total


def fingerprint(path: Path | None) -> str:
    """Identity of a source file as it is now; "" for directories (always re-verified)."""
    if path is None:
        return ""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    if not os.path.isfile(path):
        return ""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
