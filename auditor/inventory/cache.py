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

Mirrors are read-only caches of other machines, like an sstate mirror: a directory or a
URL prefix (http, https, file) with the same layout (`ab/abcd….json`), e.g. a CI cache
dir published by any static web server. On a local miss each mirror is asked in turn;
an entry found there is checked like a local one, copied into the local cache and, as
its fingerprint is another machine's, its image's layers are verified before it is
used. An unreachable mirror or a missing entry only means a cold scan.
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

ENTRY_VERSION = "2"  # 2: the checksum covers the image body as written
_BODY = b', "image": '
MAX_ENTRY_BYTES = 256 << 20
MIRROR_TIMEOUT = 10  # seconds per request
ENV_MIRRORS = "CONTAINER_AUDIT_CACHE_MIRRORS"


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
    def __init__(self, root: Path, *, salt: tuple[str, ...], mirrors: tuple[str, ...] = ()
                 ) -> None:
        self.root = Path(root)
        self.mirrors = tuple(m for m in mirrors if m)
        self._salt = json.dumps([ENTRY_VERSION, SCHEMA_VERSION, __version__, *salt])

    def key(self, config_digest: str) -> str:
        return hashlib.sha256(f"{self._salt}\0{config_digest}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, config_digest: str) -> Hit | None:
        from .schema import image_from_dict

        key = self.key(config_digest)
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except OSError:
            return self._from_mirrors(key, config_digest)
        try:
            image, fp = _check_entry(raw, config_digest, image_from_dict, str(path))
            return Hit(image=image, fingerprint=fp)
        except Exception as exc:  # any damage: discard, the caller rebuilds it
            log.warning("cache entry %s is corrupt (%s); discarding it", path, exc)
            path.unlink(missing_ok=True)
            return None

    def _from_mirrors(self, key: str, config_digest: str) -> Hit | None:
        from .schema import image_from_dict

        for mirror in self.mirrors:
            where = f"{mirror.rstrip('/')}/{key[:2]}/{key}.json"
            raw = _read_mirror(where)
            if raw is None:
                continue
            try:
                image, _ = _check_entry(raw, config_digest, image_from_dict, where)
            except Exception as exc:  # a bad mirror entry is skipped, never trusted
                log.warning("cache mirror entry %s is corrupt (%s); ignoring it", where, exc)
                continue
            log.info("inventory of %s from cache mirror %s", config_digest, mirror)
            self.put(image, "")  # local copy; "" = layers not yet verified on this machine
            return Hit(image=image, fingerprint="")
        return None

    def put(self, image: Image, fingerprint: str) -> None:
        from .schema import image_to_dict

        body = json.dumps(image_to_dict(image), sort_keys=True, ensure_ascii=False).encode()
        head = json.dumps({"sha256": hashlib.sha256(body).hexdigest(),
                           "fingerprint": fingerprint}).encode()
        data = head[:-1] + _BODY + body + b"}"  # one JSON document; the body kept verbatim
        path = self._path(self.key(image.config_digest))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".entry-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
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


def _check_entry(raw: bytes, config_digest: str, from_dict, where: str  # type: ignore[no-untyped-def]
                 ) -> tuple[Image, str]:
    """The entry's image, once its body hashes to the recorded sha256 (checked on the bytes
    as stored: no re-serialisation)."""
    cut = raw.find(_BODY)
    if cut < 0 or not raw.endswith(b"}"):
        raise ValueError("not an entry of this format")
    head = json.loads(raw[:cut] + b"}")
    body = raw[cut + len(_BODY):-1]
    if hashlib.sha256(body).hexdigest() != head.get("sha256"):
        raise ValueError("checksum mismatch")
    image = from_dict(json.loads(body), where)
    if image.config_digest != config_digest:
        raise ValueError("entry is for another image")
    return image, str(head.get("fingerprint", ""))


def _read_mirror(where: str) -> bytes | None:
    """An entry from a mirror directory or URL; None when absent or unreachable."""
    import urllib.error
    import urllib.request

    if "://" not in where:
        try:
            with open(where, "rb") as fh:
                return fh.read(MAX_ENTRY_BYTES)
        except OSError:
            return None
    try:
        with urllib.request.urlopen(where, timeout=MIRROR_TIMEOUT) as resp:
            return resp.read(MAX_ENTRY_BYTES)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            log.warning("cache mirror %s: HTTP %s", where, exc.code)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("cache mirror %s unreachable (%s)", where, getattr(exc, "reason", exc))
    return None


def mirrors_from_env() -> tuple[str, ...]:
    return tuple(os.environ.get(ENV_MIRRORS, "").split())


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
