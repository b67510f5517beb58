# SPDX-License-Identifier: Apache-2.0
"""Path resolution with chroot semantics: every path of an image resolves inside its root.

Used by unpack.py while writing layers and by every later stage that reads files of an
unpacked image (copyright files, package databases). A symlink to `/etc/shadow` inside an
image means the image's own `/etc/shadow`, never the host's; `..` stops at the root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .errors import UnsafeInputError

MAX_SYMLINKS = 40  # the kernel's own limit for one lookup


def split(path: str) -> list[str]:
    """Components of a POSIX path, without empty and `.` parts (`..` kept)."""
    return [c for c in path.split("/") if c and c != "."]


def resolve_parts(path: str | list[str], link_of: Callable[[list[str], bool], str | None], *,
                  follow_final: bool = True, crossed: list[str] | None = None) -> list[str]:
    """The components `path` leads to with chroot semantics: `..` stops at the root, an
    absolute symlink restarts from the root, components that do not exist are kept.

    `link_of(parts, last)` tells whether the entry at the literal, already resolved `parts`
    is a symlink (its target) or not (None); `last` is True for the final component. It may
    raise to stop the lookup. `crossed` collects the symlinks followed. The one algorithm
    for every tree we resolve in: a host directory (ImageRoot), an image's layers in
    memory (vroot.VirtualRoot), a filesystem image's listing (sources.diskimage).
    Raises UnsafeInputError on a symlink loop.
    """
    pending = split(path) if isinstance(path, str) else list(path)
    pending.reverse()  # a stack: pop() yields the next component
    done: list[str] = []
    hops = 0
    while pending:
        comp = pending.pop()
        if comp == "..":
            if done:
                done.pop()
            continue
        target = link_of([*done, comp], not pending) if (pending or follow_final) else None
        if target is None:
            done.append(comp)
            continue
        hops += 1
        if hops > MAX_SYMLINKS:
            raise UnsafeInputError(f"{path}: too many levels of symbolic links")
        if crossed is not None:
            crossed.append("/".join([*done, comp]))
        if target.startswith("/"):
            done = []
        pending.extend(reversed(split(target)))
    return done


class ImageFiles(Protocol):
    """What later stages read of an image: an unpacked tree (ImageRoot) or the in-memory
    squashed layers (vroot.VirtualRoot)."""

    def read_bytes(self, path: str, *, limit: int = ...) -> bytes | None: ...

    def real_path(self, path: str) -> str: ...

    def identity(self, path: str) -> object | None: ...

    def is_symlink(self, path: str) -> bool: ...


class ImageRoot:
    """An image's root directory on the host, resolved like a chroot."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    def resolve(self, path: str, *, follow_final: bool = True) -> Path:
        """Host path for image path `path`; symlinks followed inside the root only.

        Components that do not exist are kept as they are, so the result may not exist.
        Raises UnsafeInputError on a symlink loop.
        """
        def link_of(parts: list[str], last: bool) -> str | None:
            try:
                st = os.lstat(os.path.join(self.root, *parts))
            except (FileNotFoundError, NotADirectoryError):
                return None
            return os.readlink(os.path.join(self.root, *parts)) if stat.S_ISLNK(st.st_mode) \
                else None

        return Path(self.root, *resolve_parts(path, link_of, follow_final=follow_final))

    def relative(self, host_path: Path) -> str:
        """Image path (`/usr/...`) of a host path under the root."""
        rel = Path(host_path).relative_to(self.root).as_posix()
        return "/" if rel == "." else "/" + rel

    def read_bytes(self, path: str, *, limit: int = 16 << 20) -> bytes | None:
        """Contents of a regular file of the image, or None if it is absent or not a file.

        Reads at most `limit` bytes; the final open refuses symlinks, so nothing outside
        the root can be reached even if the tree changed after resolution.
        """
        host = self.resolve(path)
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return fh.read(limit)

    def real_path(self, path: str) -> str:
        """The image path `path` leads to, links followed inside the root."""
        return self.relative(self.resolve(path))

    def identity(self, path: str) -> object | None:
        """(st_dev, st_ino) of the file behind `path`; None if absent."""
        try:
            st = os.stat(self.resolve(path))
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def is_symlink(self, path: str) -> bool:
        return os.path.islink(self.resolve(path, follow_final=False))
