# SPDX-License-Identifier: Apache-2.0
"""Unpack stage: an image's squashed filesystem, in memory, built from its read layers.

The same rules as unpack.Squasher, applied to a tree of nodes instead of a directory:
layers in order, whiteouts (`.wh.name`) and opaque directories (`.wh..wh..opq`) hide
what lower layers put there, parents are created like tar creates them, symlinks are
resolved with chroot semantics (never above the root), a hard link shares its target's
node. File contents stay in the layer blobs and are read at their recorded offsets, so
building the tree of a 5,000-file image writes nothing and costs a few milliseconds.

VirtualRoot offers what the later stages read of an image (the same methods as
rootpath.ImageRoot): `read_bytes`, `real_path`, `identity`, `is_symlink`, `layer_of`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .errors import InputError, UnsafeInputError
from .fileio import copy_exactly
from .layers import DIR, FILE, HARDLINK, OPAQUE_ENTRY, SYMLINK, WHITEOUT_ENTRY, Member, ReadLayer
from .model import Layer
from .rootpath import resolve_parts, split
from .unpack import WHITEOUT


@dataclass(slots=True, eq=False)
class Node:
    kind: str  # DIR, FILE or SYMLINK
    target: str = ""  # symlink target
    size: int = 0
    offset: int = -1
    data: bytes | None = None
    layer: int = -1  # the layer whose blob holds a file's data
    entries: dict[str, list] = field(default_factory=dict)  # DIR: name -> [Node, layer index]


class VirtualRoot:
    def __init__(self, layers: Iterable[ReadLayer], *, what: str) -> None:
        self.what = what
        self.root = Node(DIR)
        self.read_layers: list[ReadLayer] = []
        self.skipped = 0
        for index, rl in enumerate(layers):
            self.read_layers.append(rl)
            self.skipped += rl.skipped
            lwhat = f"{what}: layer {rl.layer.diff_id[:19]}…"
            for m in rl.members:
                self._apply(m, index, lwhat)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return tuple(rl.layer for rl in self.read_layers)

    # -- lookup -------------------------------------------------------------------------
    def _get(self, parts: Iterable[str]) -> list | None:
        """[node, layer] at literal path `parts` (no link followed); None if absent."""
        entry: list = [self.root, -1]
        for comp in parts:
            node = entry[0]
            if node.kind != DIR:
                return None
            nxt = node.entries.get(comp)
            if nxt is None:
                return None
            entry = nxt
        return entry

    def _resolve(self, path: str | Iterable[str], *, follow_final: bool = True) -> list[str]:
        """Canonical components of `path`, links followed inside the root; components
        that do not exist are kept. UnsafeInputError on a symlink loop."""
        def link_of(parts: list[str], last: bool) -> str | None:
            entry = self._get(parts)
            return entry[0].target if entry is not None and entry[0].kind == SYMLINK else None

        return resolve_parts(path if isinstance(path, str) else list(path), link_of,
                             follow_final=follow_final)

    # -- building -------------------------------------------------------------------------
    def _ensure_dir(self, parts: Iterable[str], index: int) -> Node:
        node = self.root
        for comp in self._resolve(parts):
            entry = node.entries.get(comp)
            if entry is None:
                entry = [Node(DIR), index]
                node.entries[comp] = entry
            elif entry[0].kind != DIR:
                # a file (or dangling link) where the layer needs a directory: the layer wins
                entry[0] = Node(DIR)
            node = entry[0]
        return node

    def _apply(self, m: Member, index: int, what: str) -> None:
        if not m.parts:
            return
        base = m.parts[-1]
        if m.kind in (WHITEOUT_ENTRY, OPAQUE_ENTRY):
            self._whiteout(m, index)
            return
        parent = self._ensure_dir(m.parts[:-1], index)
        old = parent.entries.get(base)
        if m.kind == DIR:
            if old is not None and old[0].kind == DIR:
                old[1] = index
            else:
                parent.entries[base] = [Node(DIR), index]
        elif m.kind == FILE:
            parent.entries[base] = [Node(FILE, size=m.size, offset=m.offset, data=m.data,
                                         layer=index), index]
        elif m.kind == SYMLINK:
            parent.entries[base] = [Node(SYMLINK, target=m.link), index]
        elif m.kind == HARDLINK:
            source_parts = self._resolve(m.link, follow_final=False)
            source = self._get(source_parts)
            link = f"hard link {'/'.join(m.parts)!r} -> {m.link!r}"
            if source is None:
                raise InputError(f"{what}: {link}: target does not exist")
            if source[0].kind == DIR:
                raise UnsafeInputError(f"{what}: {link} is a directory")
            if old is not None and old[0] is source[0]:
                return
            here = [*self._resolve(list(m.parts[:-1])), base]
            if old is not None and old[0].kind == DIR and source_parts[:len(here)] == here:
                # inside the directory this entry replaces: gone with it, as on disk
                raise InputError(f"{what}: {link}: target does not exist")
            parent.entries[base] = [source[0], index]

    def _whiteout(self, m: Member, index: int) -> None:
        parent_parts, base = m.parts[:-1], m.parts[-1]
        entry = self._get(self._resolve(parent_parts))
        if entry is None or entry[0].kind != DIR:
            if m.kind == OPAQUE_ENTRY:
                self._ensure_dir(parent_parts, index)
            return
        entries = entry[0].entries
        if m.kind == OPAQUE_ENTRY:
            for name in [n for n, e in entries.items() if e[1] < index]:
                del entries[name]
            return
        victim = entries.get(base[len(WHITEOUT):])
        if victim is not None and victim[1] < index:
            del entries[base[len(WHITEOUT):]]

    # -- what later stages read -----------------------------------------------------------
    def real_path(self, path: str) -> str:
        """The image path `path` leads to, links followed inside the image."""
        return "/" + "/".join(self._resolve(path))

    def layer_of(self, path: str) -> str | None:
        """diff_id of the layer that last wrote `path` (taken literally, no link followed)."""
        entry = self._get(split(path))
        if entry is None or entry[1] < 0:
            return None
        return self.read_layers[entry[1]].layer.diff_id

    def kind_of(self, path: str) -> str | None:
        """DIR, FILE or SYMLINK at `path` taken literally (no link followed); None if absent."""
        entry = self._get(split(path))
        return entry[0].kind if entry is not None else None

    def identity(self, path: str) -> object | None:
        """What the file behind `path` is, like (st_dev, st_ino): hard links share it."""
        entry = self._get(self._resolve(path))
        return entry[0] if entry is not None else None

    def is_symlink(self, path: str) -> bool:
        entry = self._get(self._resolve(path, follow_final=False))
        return entry is not None and entry[0].kind == SYMLINK

    def read_bytes(self, path: str, *, limit: int = 16 << 20) -> bytes | None:
        """Contents of a regular file of the image, or None if it is absent or not a file."""
        entry = self._get(self._resolve(path))
        if entry is None or entry[0].kind != FILE:
            return None
        out = io.BytesIO()
        self.copy_node(entry[0], path, out, limit=limit)
        return out.getvalue()

    def copy_node(self, node: Node, path: str, out: BinaryIO, *, limit: int | None = None
                  ) -> None:
        """Write the regular file `node` (found at `path`) to `out`, streamed: all of it,
        or its first `limit` bytes."""
        size = node.size if limit is None else min(node.size, limit)
        if node.data is not None:
            out.write(node.data[:size])
            return
        rl = self.read_layers[node.layer]
        with open(rl.blob, "rb") as fh:
            fh.seek(rl.offset + node.offset)
            if copy_exactly(fh, out, size) != size:
                raise InputError(f"{self.what}: {path}: layer blob is shorter than its tar "
                                 "header says")

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every entry below the root as (path, node), each directory before what it holds."""
        stack: list[tuple[str, Node]] = [("", self.root)]
        while stack:
            prefix, node = stack.pop()
            for name in sorted(node.entries, reverse=True):
                child = node.entries[name][0]
                path = f"{prefix}/{name}"
                yield path, child
                if child.kind == DIR:
                    stack.append((path, child))

    def files(self) -> dict[str, str]:
        """Every path → "dir", "file" or "-> TARGET" (symlinks); for tests."""
        return {path: "dir" if node.kind == DIR else
                "-> " + node.target if node.kind == SYMLINK else "file"
                for path, node in self.walk()}
