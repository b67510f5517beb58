# SPDX-License-Identifier: Apache-2.0
"""Unpack stage: the one safe way to turn layer tars into a squashed filesystem.

Each layer is streamed once: the blob bytes are hashed (blob digest), decompressed under
a ratio limit, hashed again (diff_id) and applied member by member to the work dir,
with whiteouts (`.wh.name`) and opaque directories (`.wh..wh..opq`) honoured. Paths are
checked and resolved with chroot semantics (rootpath.ImageRoot): absolute and `..`
member names are refused, hard links must point inside the image, device nodes and
FIFOs are skipped, file/total sizes and the member count are capped. A digest mismatch
or a truncated stream is an error naming the image and the layer.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import io
import logging
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import zstandard

from .errors import DigestMismatchError, InputError, LimitExceededError, ToolError, UnsafeInputError
from .fileio import copy_exactly
from .model import Layer, LayerSource
from .rootpath import ImageRoot, split

log = logging.getLogger(__name__)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that stop hostile or broken input from filling the disk."""

    max_total_bytes: int = 16 << 30  # all layers of one image, uncompressed
    max_file_bytes: int = 4 << 30
    max_members: int = 2_000_000
    max_ratio: int = 200  # uncompressed / compressed bytes of one blob ...
    ratio_floor: int = 64 << 20  # ... checked once this much has been decompressed


@dataclass(slots=True)
class SquashResult:
    """What unpacking produced: the tree plus which layer last wrote each path."""

    root: Path
    layers: tuple[Layer, ...]
    path_layer: dict[str, int] = field(default_factory=dict)  # "/usr/bin/x" -> layer index
    skipped: int = 0  # device nodes, FIFOs and other entries not materialised

    def layer_of(self, path: str) -> str | None:
        idx = self.path_layer.get("/" + "/".join(split(path)))
        return self.layers[idx].diff_id if idx is not None else None


class _HashingReader(io.RawIOBase):
    """Pass-through reader that hashes and counts what flows through it."""

    def __init__(self, raw: BinaryIO, algo: str = "sha256") -> None:
        self._raw = raw
        self.hash = hashlib.new(algo)
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.hash.update(data)
        self.count += n
        return n

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


class _RatioGuard(io.RawIOBase):
    """Fails when decompressed output outgrows the compressed input by `max_ratio`."""

    def __init__(self, inner: BinaryIO, compressed: _HashingReader, limits: Limits, what: str):
        self._inner = inner
        self._compressed = compressed
        self._limits = limits
        self._what = what
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.count += n
        if self.count > self._limits.ratio_floor and self.count > self._limits.max_ratio * max(
            self._compressed.count, 1
        ):
            raise LimitExceededError(
                f"{self._what}: decompresses more than {self._limits.max_ratio}:1 "
                f"({self._compressed.count} bytes became over {self.count}; decompression bomb?)"
            )
        return n


_MAGICS = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ\x00")


def is_compressed(head: bytes) -> bool:
    """Whether a blob starting with `head` (its first 6 bytes or more) is gzip, zstd, bzip2
    or xz, the compressions _decompressor() reads."""
    return head.startswith(_MAGICS)


def verify_region(layer: LayerSource, what: str) -> tuple[int, str]:
    """Check an uncompressed layer stored as one run of a host file (`layer.region`)
    against its digests, hashing the bytes where they lie: one read, no copies through
    Python stream layers. Returns (size, diff_id as computed)."""
    assert layer.region is not None
    path, offset, size = layer.region
    expected = [d for d in dict.fromkeys((layer.digest, layer.diff_id)) if d]
    algos = {d.partition(":")[0] for d in expected} | {"sha256"}
    for algo in algos:
        if algo not in ("sha256", "sha512"):
            raise InputError(f"{what}: unsupported digest algorithm {algo!r}")
    hashes = {a: hashlib.new(a) for a in algos}
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    count = 0
    try:
        with open(path, "rb", buffering=0) as fh:
            fh.seek(offset)
            while count < size:
                n = fh.readinto(view[: min(_CHUNK, size - count)])  # type: ignore[attr-defined]
                if not n:
                    break
                for h in hashes.values():
                    h.update(view[:n])
                count += n
    except OSError as exc:
        raise InputError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if count != size or (layer.size >= 0 and count != layer.size):
        raise DigestMismatchError(f"{what}: blob is {count} bytes but the manifest says "
                                  f"{layer.size if layer.size >= 0 else size} (truncated?)")
    for digest in expected:
        kind = "content" if digest == layer.diff_id else "blob"
        _check(what, kind, hashes[digest.partition(":")[0]], digest)
    return count, "sha256:" + hashes["sha256"].hexdigest()


def _decompressor(stream: _HashingReader, magic: bytes) -> BinaryIO | None:
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)  # type: ignore[arg-type,return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(stream)  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(stream)  # type: ignore[arg-type,return-value]
    return None


class _Peek(io.RawIOBase):
    """Lets us look at the first bytes of a non-seekable stream and still read them."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.head = raw.read(8)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._pos < len(self.head):
            n = min(len(buf), len(self.head) - self._pos)
            buf[:n] = self.head[self._pos : self._pos + n]
            self._pos += n
            return n
        data = self._raw.read(len(buf))
        buf[: len(data)] = data
        return len(data)


@dataclass(slots=True)
class LayerStream:
    """One layer blob being read: `stream` yields its uncompressed tar while both digests
    are computed; `finish()` checks them once the tar has been read to its end."""

    blob: _HashingReader  # the bytes as stored
    content: _HashingReader  # the uncompressed tar (the same reader when stored uncompressed)
    stream: io.RawIOBase
    compressed: bool

    @classmethod
    def open(cls, raw: BinaryIO, layer: LayerSource, limits: Limits, what: str) -> LayerStream:
        algo = (layer.digest or layer.diff_id).partition(":")[0] or "sha256"
        blob = _HashingReader(raw, algo if algo in ("sha256", "sha512") else "sha256")
        peek = _Peek(blob)  # type: ignore[arg-type]
        decomp = _decompressor(peek, peek.head)  # type: ignore[arg-type]
        if decomp is None:
            return cls(blob=blob, content=blob, stream=peek, compressed=False)
        guard = _RatioGuard(decomp, blob, limits, what)
        content = _HashingReader(io.BufferedReader(guard, _CHUNK))  # type: ignore[arg-type]
        return cls(blob=blob, content=content, stream=content, compressed=True)

    def finish(self, layer: LayerSource, what: str) -> None:
        """Read what is left (tar padding, the compressed stream's end), then check sizes
        and digests against what the manifest and config promise."""
        while self.stream.read(_CHUNK):
            pass
        if self.compressed:
            self.blob.drain()
        if layer.size >= 0 and self.blob.count != layer.size:
            raise DigestMismatchError(f"{what}: blob is {self.blob.count} bytes but the manifest "
                                      f"says {layer.size} (truncated?)")
        if layer.digest and layer.digest != layer.diff_id:
            _check(what, "blob", self.blob.hash, layer.digest)
        if layer.diff_id:
            _check(what, "content", self.content.hash, layer.diff_id)


@contextmanager
def layer_errors(what: str, work: Path) -> Iterator[None]:
    """What reading a layer can raise, as the one-line error naming the layer: corrupt or
    truncated input (InputError), a full work dir (ToolError)."""
    try:
        yield
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
        raise InputError(f"{what}: truncated or corrupt layer ({exc or type(exc).__name__})"
                         ) from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ToolError(f"{what}: the work dir {work} is full ({exc.strerror})") from None
        if isinstance(exc, (FileNotFoundError, PermissionError)) and exc.filename:
            raise InputError(f"{what}: cannot read {exc.filename}: {exc.strerror}") from None
        raise InputError(f"{what}: truncated or corrupt layer ({exc})") from None


class Squasher:
    """Applies layer tars in order to one directory; one instance per image."""

    def __init__(self, dest: Path, *, what: str, limits: Limits = Limits()) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.root = ImageRoot(dest)
        self.what = what
        self.limits = limits
        self.path_layer: dict[str, int] = {}
        self.total = 0
        self.members = 0
        self.skipped = 0
        self.layers: list[Layer] = []
        self._dirs: dict[str, tuple[str, str]] = {}

    # -- public -----------------------------------------------------------------
    def apply(self, layer: LayerSource) -> Layer:
        """Stream one layer: verify its digests and apply it on top of what is there."""
        index = len(self.layers)
        what = f"{self.what}: layer {layer.diff_id[:19]}…" if layer.diff_id else self.what
        if layer.description:
            what += f" ({layer.description})"
        with layer_errors(what, self.root.root), layer.open() as raw:
            size = self._apply_stream(raw, layer, index, what)
        out = Layer(diff_id=layer.diff_id, digest=layer.digest or layer.diff_id,
                    media_type=layer.media_type, size=size)
        self.layers.append(out)
        return out

    def result(self) -> SquashResult:
        return SquashResult(root=self.root.root, layers=tuple(self.layers),
                            path_layer=self.path_layer, skipped=self.skipped)

    # -- streaming ----------------------------------------------------------------
    def _apply_stream(self, raw: BinaryIO, layer: LayerSource, index: int, what: str) -> int:
        ls = LayerStream.open(raw, layer, self.limits, what)
        buffered = io.BufferedReader(ls.stream, _CHUNK)  # type: ignore[arg-type]
        with tarfile.open(fileobj=buffered, mode="r|", errorlevel=2) as tf:
            for member in tf:
                self._apply_member(tf, member, index, what)
        # tarfile stops at the end-of-archive marker; the padding still counts for the hash
        while buffered.read(_CHUNK):
            pass
        ls.finish(layer, what)
        return ls.content.count

    def _apply_member(self, tf: tarfile.TarFile, m: tarfile.TarInfo, index: int, what: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise LimitExceededError(f"{what}: more than {self.limits.max_members} entries")
        name = m.name
        if name.startswith("/"):
            raise UnsafeInputError(f"{what}: member {name!r} has an absolute path")
        parts = split(name)
        if ".." in parts:
            raise UnsafeInputError(f"{what}: member {name!r} points outside the image (`..`)")
        if not parts:
            return  # the root directory itself
        base = parts[-1]
        if base.startswith(WHITEOUT):
            self._whiteout(parts, index)
            return
        if m.isfile() and m.size > self.limits.max_file_bytes:
            raise LimitExceededError(
                f"{what}: member {name!r} is {m.size} bytes, over the {self.limits.max_file_bytes} limit"
            )
        if m.ischr() or m.isblk() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            self.skipped += 1
            return
        parent_host, parent_image = self._ensure_dir(parts[:-1])
        target = parent_host + "/" + base
        image_path = parent_image.rstrip("/") + "/" + base
        if m.isdir():
            self._clear(target, image_path, keep_dir=True)
            if not os.path.isdir(target) or os.path.islink(target):
                os.mkdir(target, 0o755)
            os.chmod(target, (m.mode & 0o777) | 0o700)
        elif m.isfile():
            self._clear(target, image_path)
            self.total += m.size
            if self.total > self.limits.max_total_bytes:
                raise LimitExceededError(
                    f"{what}: image content exceeds {self.limits.max_total_bytes} bytes"
                )
            src = tf.extractfile(m)
            assert src is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         (m.mode & 0o777) | 0o600)
            with os.fdopen(fd, "wb") as out:
                if copy_exactly(src, out, m.size, _CHUNK) != m.size:
                    raise InputError(f"{what}: member {name!r} is truncated")
        elif m.issym():
            self._clear(target, image_path)
            os.symlink(m.linkname, target)
            self._dirs.clear()  # a new link can redirect cached parents
        elif m.islnk():
            lparts = split(m.linkname)
            if m.linkname.startswith("/") or ".." in lparts or not lparts:
                raise UnsafeInputError(
                    f"{what}: hard link {name!r} -> {m.linkname!r} points outside the image"
                )
            source = str(self.root.resolve("/".join(lparts), follow_final=False))
            try:
                st = os.lstat(source)
            except OSError:
                raise InputError(
                    f"{what}: hard link {name!r} -> {m.linkname!r}: target does not exist"
                ) from None
            if stat.S_ISDIR(st.st_mode):
                raise UnsafeInputError(f"{what}: hard link {name!r} -> {m.linkname!r} is a directory")
            if source == target:
                return
            self._clear(target, image_path)
            os.link(source, target, follow_symlinks=False)
        self.path_layer[image_path] = index

    # -- helpers --------------------------------------------------------------------
    def _ensure_dir(self, parts: list[str]) -> tuple[str, str]:
        """(host dir, image dir) for image dir `parts`, created like tar does, links
        resolved inside the root. Cached until something that could redirect it changes."""
        key = "/".join(parts)
        hit = self._dirs.get(key)
        if hit is not None:
            return hit
        resolved = self.root.resolve(key)
        rel = resolved.relative_to(self.root.root).parts
        cur = str(self.root.root)
        image = ""
        for comp in rel:
            cur += "/" + comp
            image += "/" + comp
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                os.mkdir(cur, 0o755)
                self.path_layer.setdefault(image, len(self.layers))
                continue
            if not stat.S_ISDIR(st.st_mode):
                # a file (or dangling link) where the layer needs a directory: the layer wins
                os.unlink(cur)
                os.mkdir(cur, 0o755)
                self._dirs.clear()
        out = (cur, image or "/")
        self._dirs[key] = out
        return out

    def _clear(self, target: str, image_path: str, *, keep_dir: bool = False) -> None:
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            self._forget(image_path)
            shutil.rmtree(target)
        else:
            os.unlink(target)
            self.path_layer.pop(image_path, None)
        self._dirs.clear()

    def _forget(self, image_path: str) -> None:
        prefix = image_path + "/"
        self.path_layer.pop(image_path, None)
        for key in [k for k in self.path_layer if k.startswith(prefix)]:
            del self.path_layer[key]

    def _whiteout(self, parts: list[str], index: int) -> None:
        parent_parts, base = parts[:-1], parts[-1]
        parent = self.root.resolve("/".join(parent_parts))
        if not parent.is_dir() or parent.is_symlink():
            if base == OPAQUE:
                self._ensure_dir(parent_parts)
            return
        parent_image = self.root.relative(parent).rstrip("/")
        if base == OPAQUE:
            # hide everything lower layers put there; entries of this layer stay
            for entry in list(os.scandir(parent)):
                key = parent_image + "/" + entry.name
                if self.path_layer.get(key, -1) < index:
                    self._clear(entry.path, key)
            return
        victim_image = parent_image + "/" + base[len(WHITEOUT):]
        if self.path_layer.get(victim_image, -1) >= index:
            return  # whiteouts hide lower layers only, never this layer's own entries
        self._clear(str(parent) + "/" + base[len(WHITEOUT):], victim_image)


def _check(what: str, kind: str, h: hashlib._Hash, expected: str) -> None:
    algo, _, hexpart = expected.partition(":")
    if h.name != algo or not hexpart:
        raise InputError(f"{what}: unsupported digest {expected!r}")
    actual = h.hexdigest()
    if actual != hexpart:
        raise DigestMismatchError(
            f"{what}: {kind} hashes to {algo}:{actual[:12]}… but the manifest says "
            f"{algo}:{hexpart[:12]}…"
        )


def verify(layers: Iterable[LayerSource], *, what: str, limits: Limits = Limits()) -> None:
    """Check every layer against its digests by streaming it, writing nothing."""
    for layer in layers:
        lwhat = f"{what}: layer {layer.diff_id[:19]}…"
        if layer.region is not None and not is_compressed(_head(layer.region)):
            verify_region(layer, lwhat)
            continue
        try:
            with layer.open() as raw:
                LayerStream.open(raw, layer, limits, lwhat).finish(layer, lwhat)
        except (EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, OSError) as exc:
            raise InputError(f"{lwhat}: truncated or corrupt layer ({exc})") from None


def _head(region: tuple[str, int, int]) -> bytes:
    path, offset, size = region
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(min(8, size))
    except OSError:
        return b""


def squash(layers: Iterable[LayerSource], dest: Path, *, what: str,
           limits: Limits = Limits()) -> SquashResult:
    """Unpack `layers` (bottom first) into `dest` and return the tree with its provenance."""
    sq = Squasher(dest, what=what, limits=limits)
    for layer in layers:
        sq.apply(layer)
    return sq.result()


def extract_tarball(path: Path, dest: Path, *, what: str, limits: Limits = Limits()) -> SquashResult:
    """Safely unpack a (possibly compressed) rootfs tarball: the same rules as a layer."""

    @contextmanager
    def opener() -> Iterator[BinaryIO]:
        with open(path, "rb") as fh:
            yield fh

    sq = Squasher(dest, what=what, limits=limits)
    sq.apply(LayerSource(diff_id="", open=opener))  # a rootfs tarball promises no digest
    return sq.result()
