# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: uniform, safe access to the files of an image archive or layout dir.

Docker archives, OCI archives and OCI layout directories are all "a set of named files";
`TarIndex` and `DirIndex` give the readers one interface to them. Member names never
leave the container: `..` and absolute names are refused, links are resolved inside the
archive (podman's `<id>/layer.tar` symlinks) and only regular files are opened.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from ..errors import InputError, UnsafeInputError
from ..model import LayerOpener
from ..rootpath import ImageRoot, split

MAX_METADATA = 64 << 20  # manifests, configs and indexes are small; refuse anything huge
TAR_MAGIC_OFFSET = 257


class Blobs(Protocol):
    label: str

    def exists(self, name: str) -> bool: ...
    def read(self, name: str) -> bytes: ...
    def opener(self, name: str) -> LayerOpener: ...
    def region(self, name: str) -> tuple[str, int, int] | None: ...
    def size(self, name: str) -> int: ...


class _Window(io.RawIOBase):
    """A read-only view of `size` bytes at `offset` of a file."""

    def __init__(self, fh: BinaryIO, offset: int, size: int) -> None:
        self._fh = fh
        self._left = size
        fh.seek(offset)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        data = self._fh.read(min(len(buf), self._left))
        n = len(data)
        buf[:n] = data
        self._left -= n
        return n


def looks_like_tar(path: Path) -> bool:
    """An uncompressed tar by its first header (ustar magic or a valid v7 checksum)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if len(head) < 512:
        return False
    if head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar":
        return True
    try:
        stored = int(head[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 8 * 32 + sum(head[156:])


def compression_of(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError:
        return ""
    if magic.startswith(b"\x1f\x8b"):
        return "gz"
    if magic.startswith(b"\x28\xb5\x2f\xfd"):
        return "zst"
    if magic.startswith(b"BZh"):
        return "bz2"
    if magic.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return ""


class TarIndex:
    """Random access to the regular files of an uncompressed tar archive."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self._members: dict[str, tarfile.TarInfo] = {}
        self._file_size = os.path.getsize(path)
        try:
            with tarfile.open(path, mode="r:") as tf:
                for m in tf:
                    name = _clean(m.name, label)
                    if name:
                        self._members[name] = m
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"{label}: truncated or corrupt archive ({exc})") from None

    @staticmethod
    def names_of(path: Path, label: str, *, stop_at: tuple[str, ...] = ()) -> set[str]:
        """Member names, reading headers only; stops early once every `stop_at` is seen."""
        names: set[str] = set()
        try:
            with tarfile.open(path, mode="r:") as tf:
                for m in tf:
                    names.add(m.name.removeprefix("./"))
                    if stop_at and all(s in names for s in stop_at):
                        break
        except (tarfile.TarError, EOFError, OSError):
            pass  # detection only: the reader reports corruption properly
        return names

    def _lookup(self, name: str, hops: int = 0) -> tarfile.TarInfo:
        key = "/".join(split(name))
        m = self._members.get(key)
        if m is None:
            raise InputError(f"{self.label}: the archive has no member {name!r}")
        if m.issym() or m.islnk():
            if hops > 16:
                raise UnsafeInputError(f"{self.label}: member {name!r}: too many links")
            target = m.linkname
            if m.issym() and not target.startswith("/"):
                target = "/".join(split(key)[:-1] + [target])
            parts: list[str] = []
            for comp in split(target):
                if comp == "..":
                    if not parts:
                        raise UnsafeInputError(
                            f"{self.label}: member {name!r} links outside the archive"
                        )
                    parts.pop()
                else:
                    parts.append(comp)
            return self._lookup("/".join(parts), hops + 1)
        if not m.isfile():
            raise InputError(f"{self.label}: member {name!r} is not a regular file")
        if m.offset_data + m.size > self._file_size:
            raise InputError(f"{self.label}: member {name!r} is truncated")
        return m

    def exists(self, name: str) -> bool:
        try:
            self._lookup(name)
            return True
        except InputError:
            return False

    def size(self, name: str) -> int:
        return self._lookup(name).size

    def read(self, name: str) -> bytes:
        m = self._lookup(name)
        if m.size > MAX_METADATA:
            raise InputError(f"{self.label}: {name} is {m.size} bytes, too large for metadata")
        with open(self.path, "rb") as fh:
            return _Window(fh, m.offset_data, m.size).read()  # type: ignore[return-value]

    def opener(self, name: str) -> LayerOpener:
        m = self._lookup(name)
        path = self.path

        @contextmanager
        def _open() -> Iterator[BinaryIO]:
            with open(path, "rb") as fh:
                yield _Window(fh, m.offset_data, m.size)  # type: ignore[misc]

        return _open

    def region(self, name: str) -> tuple[str, int, int] | None:
        """(archive, offset, size) of member `name`'s bytes: they are one run of the file."""
        m = self._lookup(name)
        return (str(self.path), m.offset_data, m.size)


class DirIndex:
    """The same interface over a directory (OCI layout); links resolved inside it."""

    def __init__(self, path: Path, label: str) -> None:
        self.root = ImageRoot(path)
        self.label = label

    def _host(self, name: str) -> Path:
        host = self.root.resolve(name)
        try:
            st = os.stat(host, follow_symlinks=False)
        except OSError:
            raise InputError(f"{self.label}: missing {name}") from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{self.label}: {name} is not a regular file")
        return host

    def exists(self, name: str) -> bool:
        try:
            self._host(name)
            return True
        except InputError:
            return False

    def size(self, name: str) -> int:
        return os.stat(self._host(name)).st_size

    def read(self, name: str) -> bytes:
        host = self._host(name)
        if os.stat(host).st_size > MAX_METADATA:
            raise InputError(f"{self.label}: {name} is too large for metadata")
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            return fh.read()

    def opener(self, name: str) -> LayerOpener:
        host = self._host(name)

        @contextmanager
        def _open() -> Iterator[BinaryIO]:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                yield fh

        return _open

    def region(self, name: str) -> tuple[str, int, int] | None:
        host = self._host(name)
        return (str(host), 0, os.stat(host).st_size)


def _clean(name: str, label: str) -> str:
    if name.startswith("/"):
        raise UnsafeInputError(f"{label}: member {name!r} has an absolute path")
    parts = split(name)
    if ".." in parts:
        raise UnsafeInputError(f"{label}: member {name!r} points outside the archive (`..`)")
    return "/".join(parts)
