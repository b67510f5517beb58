# SPDX-License-Identifier: Apache-2.0
"""Output files are written whole or not at all: a temp file beside the target, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from .errors import InputError


def atomic_write(path: Path, data: bytes | str) -> None:
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_exactly(src: BinaryIO, dst: BinaryIO, size: int, chunk: int = 1 << 20) -> int:
    """Copy `size` bytes from `src` to `dst`; returns how many there were (fewer: `src`
    ended early, which the caller reports as truncation in its own terms)."""
    done = 0
    while done < size:
        data = src.read(min(chunk, size - done))
        if not data:
            break
        dst.write(data)
        done += len(data)
    return done
