# SPDX-License-Identifier: Apache-2.0
"""Discovery stage helper: read files below a directory without ever leaving it.

Image stores found in a target rootfs are untrusted: any file or directory in them may be
a symlink to the build host (`/etc/passwd`, `/root/.ssh`). `Tree` opens every path one
component at a time relative to a directory descriptor, with `O_NOFOLLOW`, so a symlink
anywhere below the root is an error, never a way out. `..` and absolute paths are refused
before any system call. Only the root directory itself is opened as given.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import final

from ..errors import InputError, UnsafeInputError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a fifo planted where a file should be must not hang us (we check the type
# with fstatat first anyway, this covers the race).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

METADATA_LIMIT = 64 * 1024 * 1024  # no store metadata file (JSON, config) is anywhere near this


def printable(name: str | bytes) -> str:
    """A path as it can appear in a message (undecodable bytes escaped, never dropped)."""
    if isinstance(name, bytes):
        return name.decode("utf-8", "backslashreplace")
    return name


def components(rel: str | bytes, what: str) -> list[bytes]:
    """Split a relative path into its components; `.` and empty ones are dropped.

    Raises UnsafeInputError for absolute paths and `..` anywhere: a store or layer never
    needs them, so they can only be an attempt to get out.
    """
    raw = os.fsencode(rel)
    if raw.startswith(b"/"):
        raise UnsafeInputError(f"{what}: absolute path {printable(raw)!r} is not allowed")
    parts = [p for p in raw.split(b"/") if p not in (b"", b".")]
    if b".." in parts:
        raise UnsafeInputError(f"{what}: path {printable(raw)!r} has a '..' component")
    if not parts:
        raise UnsafeInputError(f"{what}: empty path")
    return parts


def _failure(dir_fd: int, name: bytes, where: str, expected: str) -> InputError:
    """The error for `name` below `dir_fd`, expected to be a 'file' or a 'directory'.

    Looks with lstat (never follows); a symlink is an UnsafeInputError, anything else an
    InputError, so callers can tell an escape attempt from a damaged store.
    """
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return InputError(f"{where}: is missing")
    except OSError as exc:
        return InputError(f"{where}: cannot be examined ({exc.strerror})")
    if stat.S_ISLNK(mode):
        return UnsafeInputError(
            f"{where}: is a symbolic link, where the store must have a real {expected}"
        )
    kind = {stat.S_IFDIR: "directory", stat.S_IFREG: "file"}.get(stat.S_IFMT(mode))
    if kind == expected:  # right kind, yet it would not open: permissions, fd limit, ...
        return InputError(f"{where}: cannot be opened")
    what = kind or f"{stat.filemode(mode)[0]!r} special file"
    return InputError(f"{where}: is a {what}, not a {expected}")


@final
class Tree:
    """A directory held open by descriptor; every path below it resolves beneath it."""

    __slots__ = ("display", "fd")

    def __init__(self, fd: int, display: str) -> None:
        self.fd = fd
        self.display = display  # how messages name this directory

    @classmethod
    def open(cls, path: Path, display: str) -> Tree:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise InputError(f"{display}: cannot open the directory ({exc.strerror})") from None
        return cls(fd, display)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Tree:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def name(self, rel: str | bytes) -> str:
        """`rel` as messages show it: the tree's display path joined with `rel`."""
        return f"{self.display}/{printable(rel)}"

    def walk(self, parts: list[bytes]) -> int:
        """A new descriptor for the directory `parts` (empty: the tree itself), no links followed."""
        fd = os.dup(self.fd)
        try:
            for i, part in enumerate(parts):
                try:
                    nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    where = self.name(b"/".join(parts[: i + 1]))
                    raise _failure(fd, part, where, "directory") from None
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def subtree(self, rel: str | bytes) -> Tree:
        """The directory `rel` below this tree, as a tree of its own."""
        parts = components(rel, self.display)
        return Tree(self.walk(parts), self.name(rel))

    def open_file(self, rel: str | bytes) -> tuple[int, os.stat_result]:
        """Open the regular file `rel` read-only; returns the descriptor and its fstat."""
        parts = components(rel, self.display)
        parent = self.walk(parts[:-1])
        try:
            return open_regular(parent, parts[-1], self.name(rel))
        finally:
            os.close(parent)

    def read_bytes(self, rel: str, limit: int = METADATA_LIMIT) -> bytes:
        fd, st = self.open_file(rel)
        with os.fdopen(fd, "rb") as f:
            if st.st_size > limit:
                raise InputError(f"{self.name(rel)}: {st.st_size} bytes is too large for metadata")
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"{self.name(rel)}: grew past {limit} bytes while being read")
        return data

    def kind(self, rel: str | bytes) -> str:
        """'file', 'dir', 'link', 'other' or 'missing' (also when a parent is not a directory).

        A symlink on the way there is not "missing": it raises UnsafeInputError.
        """
        parts = components(rel, self.display)
        try:
            parent = self.walk(parts[:-1])
        except UnsafeInputError:
            raise
        except InputError:
            return "missing"
        try:
            mode = os.lstat(parts[-1], dir_fd=parent).st_mode
        except OSError:
            return "missing"
        finally:
            os.close(parent)
        if stat.S_ISREG(mode):
            return "file"
        if stat.S_ISDIR(mode):
            return "dir"
        return "link" if stat.S_ISLNK(mode) else "other"

    def require_dir(self, rel: str | bytes) -> None:
        """Raise the precise InputError unless `rel` is a real directory below the tree."""
        os.close(self.walk(components(rel, self.display)))

    def require_file(self, rel: str | bytes) -> None:
        """Raise the precise InputError unless `rel` is a regular file below the tree."""
        os.close(self.open_file(rel)[0])

    def listdir(self, rel: str = "") -> list[str]:
        """Sorted names in the directory `rel` ("" is the tree itself), a real directory."""
        fd = self.walk(components(rel, self.display) if rel else [])
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)


def open_regular(dir_fd: int, name: bytes, display: str) -> tuple[int, os.stat_result]:
    """Open `name` (one component) in `dir_fd`: a regular file, never a link or a device."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise _failure(dir_fd, name, display, "file")
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeInputError(
                f"{display}: became a symbolic link while being opened"
            ) from None
        raise InputError(f"{display}: cannot be opened ({exc.strerror})") from None
    fst = os.fstat(fd)
    if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise UnsafeInputError(f"{display}: was replaced while being opened")
    return fd, fst
