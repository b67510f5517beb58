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

from .errors import UnsafeInputError

MAX_SYMLINKS = 40  # the kernel's own limit for one lookup


def split(path: str) -> list[str]:
    """Components of a POSIX path, without empty and `.` parts (`..` kept)."""
    return [c for c in path.split("/") if c and c != "."]


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
