# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: image archives that were compressed whole (`docker save | gzip`).

`app.tar.gz`, `.tar.zst`, `.tar.xz`, `.tar.bz2` (and any compressed file in the
container directories) is decompressed once into the work dir, under the same ratio and
size limits as layers, and offered to the archive source kinds. Images found in it name
the compressed file as their source and origin (so the inventory cache can trust an
unchanged file), while their layers are read from the decompressed copy.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import tarfile
import zlib
from dataclasses import replace
from pathlib import Path

import zstandard

from ..errors import InputError, LimitExceededError
from ..model import ImageSource
from ..unpack import _CHUNK, Limits, _decompressor, _HashingReader, _Peek, _RatioGuard
from .base import OpenContext, SourceKind
from .blobs import compression_of, looks_like_tar

# top-level directories of a root filesystem; an image archive has none of them
ROOTFS_DIRS = frozenset({"bin", "boot", "dev", "etc", "home", "lib", "lib64", "media", "mnt",
                         "opt", "proc", "root", "run", "sbin", "srv", "sys", "tmp", "usr", "var"})
COMPRESSED_SUFFIXES = (".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tar.xz", ".txz",
                       ".tar.bz2", ".tbz2", ".docker.gz", ".oci.gz")


def decompress(path: Path, dest_dir: Path, what: str, limits: Limits = Limits()) -> Path | None:
    """The decompressed copy of `path` in `dest_dir`; None when `path` is not compressed."""
    if not compression_of(path):
        return None
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / (hashlib.sha256(str(path).encode()).hexdigest()[:24] + ".tar")
    tmp = dest.with_suffix(".part")
    try:
        with open(path, "rb") as raw, open(tmp, "wb") as out:
            blob = _HashingReader(raw)  # type: ignore[arg-type]
            peek = _Peek(blob)  # type: ignore[arg-type]
            decomp = _decompressor(peek, peek.head)  # type: ignore[arg-type]
            assert decomp is not None
            stream = io.BufferedReader(_RatioGuard(decomp, blob, limits, what), _CHUNK)
            total = 0
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > limits.max_total_bytes:
                    raise LimitExceededError(
                        f"{what}: decompresses to more than {limits.max_total_bytes} bytes")
                out.write(chunk)
        os.replace(tmp, dest)
    except (EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError) as exc:
        raise InputError(f"{what}: truncated or corrupt compressed file ({exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


class _Cap(io.RawIOBase):
    """Ends the stream after `limit` bytes (a look at the start of a file, not a read)."""

    def __init__(self, raw: io.RawIOBase, limit: int) -> None:
        self._raw, self._left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        data = self._raw.read(min(len(buf), self._left))
        buf[: len(data)] = data
        self._left -= len(data)
        return len(data)


def is_compressed_rootfs(path: Path, *, members: int = 64, max_bytes: int = 4 << 20) -> bool:
    """Whether a compressed tarball is a root filesystem, from its first members only: a
    rootfs shows `etc/`, `usr/`… at once (`./` first, as Yocto packs it), an image archive
    never. Lets a `rootfs.tar.zst` target be extracted straight from the compressed file
    instead of being decompressed to a copy first."""
    try:
        with open(path, "rb") as raw:
            peek = _Peek(raw)  # type: ignore[arg-type]
            decomp = _decompressor(peek, peek.head)  # type: ignore[arg-type]
            if decomp is None:
                return False
            stream = io.BufferedReader(_Cap(decomp, max_bytes), _CHUNK)  # type: ignore[arg-type]
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for n, m in enumerate(tf):
                    parts = [c for c in m.name.split("/") if c and c != "."]
                    if parts and parts[0] in ROOTFS_DIRS:
                        return True
                    if n >= members:
                        break
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError):
        pass  # cut short by the cap, or not a tar: not recognisably a rootfs
    return False


def open_compressed(path: Path, ctx: OpenContext, kinds: list[SourceKind]
                    ) -> list[ImageSource] | None:
    """Images of a compressed archive, or None when it holds no image archive."""
    if ctx.scratch is None:
        return None
    shown = ctx.display(path)
    copy = decompress(path, ctx.scratch, shown)
    if copy is None:
        return None
    if looks_like_tar(copy):
        sub = replace(ctx, alias=(str(copy), shown))
        for kind in kinds:
            if kind.detect(copy):
                return [replace(i, origin_file=str(path)) for i in kind.open(copy, sub)]
    copy.unlink(missing_ok=True)
    return None
