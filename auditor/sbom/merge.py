# SPDX-License-Identifier: Apache-2.0
"""SBOM stage: merge an inventory into the SBOM files Yocto wrote, by format.

Detects the format from content (SPDX 3.0.x JSON-LD, SPDX 2.2 `.spdx.tar.zst`, or the
kirkstone-style loose SPDX 2.2 image document with its `.spdx.index.json`), computes every
new file in memory, and only then replaces the files (temp file + rename each): on any
error nothing on disk has changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SbomError
from ..fileio import atomic_write
from ..model import Inventory

MAX_SBOM_BYTES = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeResult:
    format: str  # spdx3 | spdx2-archive | spdx2-loose
    written: tuple[Path, ...]
    removed: tuple[Path, ...] = ()  # loose container documents of an earlier merge


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise SbomError(f"{path}: {size} bytes, too large for an SBOM")
        return path.read_bytes()
    except OSError as exc:
        raise SbomError(f"{path}: cannot read ({exc.strerror})") from None


def _loose_index(image_doc: Path) -> Path:
    name = image_doc.name
    stem = name[: -len(".spdx.json")] if name.endswith(".spdx.json") else image_doc.stem
    return image_doc.with_name(stem + ".spdx.index.json")


def plan_merge(sbom: Path, inv: Inventory, *, created: str, epoch: int | None
               ) -> tuple[str, dict[Path, bytes]]:
    """(format, {path: new bytes}) without touching the disk."""
    fmt, files, _ = _plan(sbom, inv, created=created, epoch=epoch)
    return fmt, files


def _plan(sbom: Path, inv: Inventory, *, created: str, epoch: int | None
          ) -> tuple[str, dict[Path, bytes], list[Path]]:
    from .yocto_spdx2 import (is_spdx2_archive, is_spdx2_json, merge_spdx2_archive,
                              merge_spdx2_loose, stale_loose_documents)
    from .yocto_spdx3 import is_spdx3, merge_spdx3

    data = _read(sbom)
    label = str(sbom)
    if is_spdx2_archive(data):
        return "spdx2-archive", {sbom: merge_spdx2_archive(data, inv, label=label,
                                                          created=created, epoch=epoch)}, []
    if is_spdx3(data):
        return "spdx3", {sbom: merge_spdx3(data, inv, label=label, created=created)}, []
    if is_spdx2_json(data):
        index_path = _loose_index(sbom)
        index = _read(index_path) if index_path.exists() else None
        files = merge_spdx2_loose(data, index, inv, label=label, created=created)
        out: dict[Path, bytes] = {}
        for name, content in files.items():
            target = sbom if name == sbom.name else sbom.with_name(name)
            out[target] = content
        archive = sbom.with_name(sbom.name[: -len(".json")] + ".tar.zst") if sbom.name.endswith(
            ".json") else None
        if archive is not None and archive.exists():
            adata = _read(archive)
            out[archive] = merge_spdx2_archive(adata, inv, label=str(archive), created=created,
                                               epoch=epoch)
        # container documents of an earlier merge that this one no longer references
        candidates = {p.name: _read(p) for p in sorted(sbom.parent.glob("container-*.spdx.json"))
                      if p.is_file() and not p.is_symlink()}
        stale = stale_loose_documents(data, candidates, set(files), label=label)
        return "spdx2-loose", out, [sbom.with_name(n) for n in stale]
    raise SbomError(f"{sbom}: not an SPDX 3.0 JSON-LD document, an SPDX 2.2 JSON document "
                    "or an SPDX 2.2 .spdx.tar.zst archive")


def merge_files(sbom: Path, inv: Inventory, *, created: str, epoch: int | None) -> MergeResult:
    fmt, files, stale = _plan(sbom, inv, created=created, epoch=epoch)
    for path in sorted(files):
        atomic_write(path, files[path])
    for path in stale:  # only after the new documents and index are in place
        path.unlink(missing_ok=True)
    return MergeResult(format=fmt, written=tuple(sorted(files)), removed=tuple(stale))
