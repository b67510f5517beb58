# SPDX-License-Identifier: Apache-2.0
"""Path resolution with chroot semantics: every path of an image resolves inside its root.

Used by unpack.py while writing layers and by every later stage that reads files of an
unpacked image (copyright files, package databases). A symlink to `/etc/shadow` inside an
image means the image's own `/etc/shadow`, never the host's; `..` stops at the root.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from .errors import UnsafeInputError

MAX_SYMLINKS = 40  # the kernel's own limit for one lookup


def split(path: str) -> list[str]:
    """Components of a POSIX path, without empty and `.` parts (`..` kept)."""
    return [c for c in path.split("/") if c and c != "."]


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
        pending = split(path)
        pending.reverse()  # a stack: pop() yields the next component
        done: list[str] = []
        hops = 0
        while pending:
            comp = pending.pop()
            if comp == "..":
                if done:
                    done.pop()
                continue
            candidate = os.path.join(self.root, *done, comp)
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                done.append(comp)
                continue
            except NotADirectoryError:
                done.append(comp)
                continue
            if stat.S_ISLNK(st.st_mode) and (pending or follow_final):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise UnsafeInputError(f"{path}: too many levels of symbolic links")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    done = []
                parts = split(target)
                pending.extend(reversed(parts))
                continue
            done.append(comp)
        return Path(self.root, *done)

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
