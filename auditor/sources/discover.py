# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: walk a root filesystem and find every embedded container image.

Nothing is located by convention alone: every directory is offered to the directory
source kinds (OCI layout, Docker store, containers-storage) and every candidate file to
the file kinds (docker-archive, OCI archive), each deciding by content. Found stores and
layouts are not descended into (a vfs store holds full rootfs snapshots). The same image
found in several places is kept once, with every place it was found.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from ..model import Declaration, ImageSource, Warning_
from . import REGISTRY
from .base import OpenContext, SourceKind
from .blobs import compression_of
from .compressed import COMPRESSED_SUFFIXES, open_compressed
from .rootfs import (COMPOSE_NAMES, MANIFEST_NAMES, match_declarations, parse_compose,
                     parse_images_manifest)

log = logging.getLogger(__name__)

# Where integrators put images; any file there is checked, elsewhere only tar-like names.
CONTAINER_DIRS = ("usr/share/container-images", "usr/share/container-bundles")
ARCHIVE_SUFFIXES = (".tar", ".oci", ".ociarchive", ".docker", *COMPRESSED_SUFFIXES)
SKIP_DIRS = frozenset({"proc", "sys", "dev", "run"})
MIN_ARCHIVE_BYTES = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Found:
    image: ImageSource
    also_found_at: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    images: tuple[Found, ...]
    declared: tuple[Declaration, ...]
    undeclared: tuple[str, ...]
    warnings: tuple[Warning_, ...] = ()


def _dir_kinds() -> list[SourceKind]:
    return [k for k in REGISTRY if k.is_directory]


def _file_kinds() -> list[SourceKind]:
    return [k for k in REGISTRY if not k.is_directory]


def open_path(path: Path, ctx: OpenContext) -> list[ImageSource] | None:
    """Open `path` with the first source kind that recognises it, or None."""
    is_dir = path.is_dir()
    for kind in (_dir_kinds() if is_dir else _file_kinds()):
        if kind.detect(path):
            log.debug("%s: %s", ctx.display(path), kind.name)
            return kind.open(path, ctx)
    return None


def _candidate(rel_dir: str, name: str, st: os.stat_result) -> bool:
    if not stat.S_ISREG(st.st_mode) or st.st_size < MIN_ARCHIVE_BYTES:
        return False
    if any(rel_dir == d or rel_dir.startswith(d + "/") for d in CONTAINER_DIRS):
        return True
    return name.endswith(ARCHIVE_SUFFIXES)


def walk(root: Path, ctx: OpenContext) -> tuple[list[ImageSource], list[Path], list[Path]]:
    """Every image under `root`, plus the images.manifest and compose files seen."""
    images: list[ImageSource] = []
    manifests: list[Path] = []
    composes: list[Path] = []
    dir_kinds, file_kinds = _dir_kinds(), _file_kinds()
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        rel_dir = "" if d == root else d.relative_to(root).as_posix()
        kind = next((k for k in dir_kinds if k.detect(d)), None)
        if kind is not None:
            images.extend(kind.open(d, ctx))
            dirnames[:] = []
            continue
        if d == root:
            dirnames[:] = [n for n in dirnames if n not in SKIP_DIRS]
        dirnames.sort()
        for name in sorted(filenames):
            p = d / name
            if name in MANIFEST_NAMES:
                manifests.append(p)
            elif name in COMPOSE_NAMES:
                composes.append(p)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not _candidate(rel_dir, name, st):
                continue
            for fk in file_kinds:
                if fk.detect(p):
                    images.extend(fk.open(p, ctx))
                    break
            else:
                if compression_of(p):
                    images.extend(open_compressed(p, ctx, file_kinds) or ())
    return images, manifests, composes


def dedupe(images: list[ImageSource]) -> list[Found]:
    """One entry per config digest; the first place (in path order) is scanned."""
    by_digest: dict[str, list[ImageSource]] = {}
    for img in sorted(images, key=lambda i: (i.source, i.tags)):
        by_digest.setdefault(img.config_digest, []).append(img)
    out = []
    for group in by_digest.values():
        first = group[0]
        tags = tuple(dict.fromkeys(t for g in group for t in g.tags))
        others = tuple(sorted({g.source for g in group[1:]} - {first.source}))
        skipped = tuple(dict.fromkeys(p for g in group for p in g.skipped_platforms))
        out.append(Found(image=replace(first, tags=tags, skipped_platforms=skipped),
                         also_found_at=others))
    return sorted(out, key=lambda f: f.image.source + "\0" + f.image.config_digest)


def discover(root: Path, ctx: OpenContext) -> Discovery:
    raw, manifest_files, compose_files = walk(root, ctx)
    found = dedupe(raw)
    decls: list[Declaration] = []
    for p in manifest_files:
        decls.extend(parse_images_manifest(p.read_bytes(), ctx.display(p)))
    for p in compose_files:
        decls.extend(parse_compose(p.read_bytes(), ctx.display(p)))
    declared, undeclared = match_declarations(decls, found)
    return Discovery(images=tuple(found), declared=tuple(declared),
                     undeclared=tuple(undeclared))
