# SPDX-License-Identifier: Apache-2.0
"""Unpack stage, layer by layer: each distinct layer of a run is read once.

Reading a layer streams its blob a single time: the blob bytes are hashed (blob digest),
decompressed under a ratio limit and hashed again (diff_id), the member headers are
checked with the same rules as unpack.Squasher (no absolute or `..` names, hard links
inside the image, size and count limits) and recorded, and the uncompressed tar is kept
in the work dir as a blob named by its diff_id. Nothing of the image is written as a
file tree: the blob feeds syft (an OCI layout, inventory/layout.py) and the recorded
members feed vroot.VirtualRoot, which reads file contents back from the blob at their
recorded offsets.

Images sharing layers (a common base) share the ReadLayer: it is read and verified
once per run, whichever thread gets there first; the others wait for it.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import LimitExceededError, UnsafeInputError
from .model import Layer, LayerSource
from .rootpath import split
from .unpack import (
    _CHUNK,
    OPAQUE,
    WHITEOUT,
    LayerStream,
    Limits,
    _head,
    is_compressed,
    layer_errors,
    verify,
    verify_region,
)

# member kinds
FILE, DIR, SYMLINK, HARDLINK, WHITEOUT_ENTRY, OPAQUE_ENTRY = "f", "d", "l", "h", "w", "o"
SPARSE_CAPTURE_LIMIT = 16 << 20


@dataclass(frozen=True, slots=True)
class Member:
    """One entry of a layer tar, checked, with where its data sits in the blob."""

    kind: str
    parts: tuple[str, ...]  # path components, no `..`, no empty parts
    link: str = ""  # symlink target, or hard link target (relative to the layer root)
    size: int = 0
    offset: int = -1  # of the file data in the uncompressed blob; -1 with `data` instead
    data: bytes | None = None  # sparse members only: their data, as tar would expand it


@dataclass(frozen=True, slots=True)
class ReadLayer:
    layer: Layer
    blob: Path  # the verified uncompressed tar: our copy, or the source file holding it
    members: tuple[Member, ...]
    skipped: int  # device nodes, FIFOs, other entries no scanner needs
    file_bytes: int  # sum of regular file sizes
    offset: int = 0  # where the tar starts in `blob`
    in_place: bool = False  # `blob` is the source's own file (never deleted), not our copy


class _Tee(io.RawIOBase):
    """Pass-through reader that also writes everything it passes to `out`."""

    def __init__(self, raw: io.RawIOBase, out: BinaryIO) -> None:
        self._raw = raw
        self._out = out

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buf)
        if n:
            self._out.write(buf[:n])
        return n or 0


class _Region(io.RawIOBase):
    """A seekable read-only view of `size` bytes at `offset` of a file: a tar reader on it
    can never read past the layer into whatever follows in the archive."""

    def __init__(self, fh: BinaryIO, offset: int, size: int) -> None:
        self._fh, self._offset, self._size, self._pos = fh, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(base + pos, self._size))
        return self._pos

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._offset + self._pos)
        data = self._fh.read(n)
        buf[: len(data)] = data
        self._pos += len(data)
        return len(data)


class LayerStore:
    """The layers read in one run, keyed by (diff_id, blob digest); thread-safe."""

    def __init__(self, blob_dir: Path, *, limits: Limits = Limits()) -> None:
        self.blob_dir = blob_dir
        self.limits = limits
        self._lock = threading.Lock()
        self._layers: dict[tuple[str, str], Future[ReadLayer]] = {}
        self.reads = 0  # layers actually streamed (for tests and the benchmark)
        self._verified: set[tuple[str, str]] = set()
        self._users: dict[tuple[str, str], int] = {}

    def expect(self, layers: list[LayerSource]) -> None:
        """One more image of this run will use `layers`: their blobs stay until it is done."""
        with self._lock:
            for layer in layers:
                key = (layer.diff_id, layer.digest)
                self._users[key] = self._users.get(key, 0) + 1

    def release(self, layers: list[LayerSource]) -> None:
        """An image is done with `layers`: a blob no other image of the run needs is
        deleted, so the work dir holds the layers of the images in flight, not of all."""
        drop = []
        with self._lock:
            for layer in layers:
                key = (layer.diff_id, layer.digest)
                left = self._users.get(key, 0) - 1
                if left > 0:
                    self._users[key] = left
                    continue
                self._users.pop(key, None)
                fut = self._layers.pop(key, None)
                if fut is not None and fut.done() and fut.exception() is None:
                    self._verified.add(key)
                    if not fut.result().in_place:  # never the source's own file
                        drop.append(fut.result().blob)
        for blob in drop:
            blob.unlink(missing_ok=True)

    def verify(self, layers: list[LayerSource], what: str) -> None:
        """Check layers against their digests, writing nothing; each (diff_id, digest)
        once per run, and not at all when this run has already read it."""
        for layer in layers:
            key = (layer.diff_id, layer.digest)
            with self._lock:
                fut = self._layers.get(key)
                done = key in self._verified or (fut is not None and fut.done()
                                                 and fut.exception() is None)
            if done and layer.diff_id:
                continue
            verify([layer], what=what, limits=self.limits)
            with self._lock:
                self._verified.add(key)

    def get(self, layer: LayerSource, what: str) -> ReadLayer:
        key = (layer.diff_id, layer.digest)
        with self._lock:
            fut = self._layers.get(key) if layer.diff_id else None
            mine = fut is None
            if mine:
                fut = Future()
                if layer.diff_id:
                    self._layers[key] = fut
        assert fut is not None
        if not mine:
            return fut.result()
        try:
            result = self._read(layer, what)
        except BaseException as exc:
            fut.set_exception(exc)
            with self._lock:  # a failed read is not remembered: the error names its image
                if self._layers.get(key) is fut:
                    del self._layers[key]
            raise
        fut.set_result(result)
        return result

    # -- reading ----------------------------------------------------------------------
    def _read(self, layer: LayerSource, what: str) -> ReadLayer:
        what = f"{what}: layer {layer.diff_id[:19]}…" if layer.diff_id else what
        if layer.description:
            what += f" ({layer.description})"
        with layer_errors(what, self.blob_dir):
            if layer.region is not None and not is_compressed(_head(layer.region)):
                members, skipped, file_bytes, diff_id, size = self._in_place(layer.region,
                                                                             layer, what)
                blob, offset, in_place = Path(layer.region[0]), layer.region[1], True
            else:
                members, skipped, file_bytes, diff_id, size, blob = self._copied(layer, what)
                offset, in_place = 0, False
        with self._lock:
            self.reads += 1
        out_layer = Layer(diff_id=layer.diff_id or diff_id, digest=layer.digest or diff_id,
                          media_type=layer.media_type, size=size)
        return ReadLayer(layer=out_layer, blob=blob, members=tuple(members), skipped=skipped,
                         file_bytes=file_bytes, offset=offset, in_place=in_place)

    def _in_place(self, region: tuple[str, int, int], layer: LayerSource, what: str
                  ) -> tuple[list[Member], int, int, str, int]:
        """Stored uncompressed in one run of a host file: verify it there (one hashing
        pass), list its members by seeking over their data, copy nothing."""
        size, diff_id = verify_region(layer, what)
        path, offset, length = region
        with open(path, "rb") as fh, tarfile.open(
                fileobj=_Region(fh, offset, length), mode="r:", errorlevel=2) as tf:
            members, skipped, file_bytes = self._members(tf, what)
        return members, skipped, file_bytes, diff_id, size

    def _copied(self, layer: LayerSource, what: str
                ) -> tuple[list[Member], int, int, str, int, Path]:
        """Stream the layer once: verify it, list its members and keep its uncompressed tar
        as a blob of the run (named by its diff_id)."""
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.blob_dir / f".reading-{threading.get_ident()}-{os.getpid()}"
        try:
            with layer.open() as raw, open(tmp, "wb") as out:
                ls = LayerStream.open(raw, layer, self.limits, what)
                buffered = io.BufferedReader(_Tee(ls.stream, out), _CHUNK)
                with tarfile.open(fileobj=buffered, mode="r|", errorlevel=2) as tf:
                    members, skipped, file_bytes = self._members(tf, what)
                while buffered.read(_CHUNK):  # the end-of-archive padding still counts
                    pass
                ls.finish(layer, what)
            diff_id = f"{ls.content.hash.name}:{ls.content.hash.hexdigest()}"
            blob = self.blob_dir / diff_id.replace(":", "-")
            os.replace(tmp, blob)
        finally:
            tmp.unlink(missing_ok=True)
        return members, skipped, file_bytes, diff_id, ls.content.count, blob

    def _members(self, tf: tarfile.TarFile, what: str) -> tuple[list[Member], int, int]:
        members: list[Member] = []
        skipped = 0
        file_bytes = 0
        for m in tf:
            if len(members) + skipped >= self.limits.max_members:
                raise LimitExceededError(f"{what}: more than {self.limits.max_members} entries")
            entry = self._member(tf, m, what)
            if entry is None:
                skipped += 1
                continue
            if entry.kind == FILE:
                file_bytes += entry.size
                if file_bytes > self.limits.max_total_bytes:
                    raise LimitExceededError(
                        f"{what}: image content exceeds {self.limits.max_total_bytes} bytes")
            members.append(entry)
        return members, skipped, file_bytes

    def _member(self, tf: tarfile.TarFile, m: tarfile.TarInfo, what: str) -> Member | None:
        name = m.name
        if name.startswith("/"):
            raise UnsafeInputError(f"{what}: member {name!r} has an absolute path")
        parts = tuple(split(name))
        if ".." in parts:
            raise UnsafeInputError(f"{what}: member {name!r} points outside the image (`..`)")
        if not parts:
            return Member(kind=DIR, parts=())  # the root directory itself
        base = parts[-1]
        if base.startswith(WHITEOUT):
            return Member(kind=OPAQUE_ENTRY if base == OPAQUE else WHITEOUT_ENTRY, parts=parts)
        if m.isfile() and m.size > self.limits.max_file_bytes:
            raise LimitExceededError(
                f"{what}: member {name!r} is {m.size} bytes, over the "
                f"{self.limits.max_file_bytes} limit")
        if m.isdir():
            return Member(kind=DIR, parts=parts)
        if m.issym():
            return Member(kind=SYMLINK, parts=parts, link=m.linkname)
        if m.islnk():
            lparts = split(m.linkname)
            if m.linkname.startswith("/") or ".." in lparts or not lparts:
                raise UnsafeInputError(
                    f"{what}: hard link {name!r} -> {m.linkname!r} points outside the image")
            return Member(kind=HARDLINK, parts=parts, link="/".join(lparts))
        if m.isfile():
            if m.issparse():  # its bytes are not one run of the blob: keep them (bounded)
                src = tf.extractfile(m)
                assert src is not None
                data = src.read(min(m.size, SPARSE_CAPTURE_LIMIT))
                return Member(kind=FILE, parts=parts, size=m.size, data=data)
            return Member(kind=FILE, parts=parts, size=m.size, offset=m.offset_data)
        return None  # device nodes, FIFOs, unknown types
