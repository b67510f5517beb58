# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: a Docker data-root (`/var/lib/docker`) read offline, drivers vfs and overlay2.

Layout (classic image store, the only one Docker < 29 writes by default):

    image/<driver>/repositories.json                 {"Repositories": {repo: {"repo:tag": id}}}
    image/<driver>/imagedb/content/sha256/<id>       image config; sha256(config) == id
    image/<driver>/imagedb/metadata/sha256/<id>/parent   parent image id (local builds)
    image/<driver>/layerdb/sha256/<chain-id>/{diff,cache-id,tar-split.json.gz}
    vfs/dir/<cache-id>/                              vfs: full snapshot up to that layer
    overlay2/<cache-id>/diff/                        overlay2: that layer's own files

A layer is found by its chain ID (chain(L0) = diff(L0), chain(Ln) = sha256 of
"chain(Ln-1) diff(Ln)"), and its tar is rebuilt byte for byte by `tarsplit` from the
record and the directory. Both directories hold every file of that layer at its tar path
(vfs has the lower layers too, which the record never asks for), so one reader serves both.
Everything is read through `safefs`: no path below the data-root may be a symlink.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import Embedding, ImageSource, LayerSource
from .base import (
    OpenContext,
    config_diff_ids,
    config_platform,
    parse_json,
    verify_bytes,
)
from .safefs import Tree
from .tarsplit import layer_opener

log = logging.getLogger(__name__)

# driver -> layer directory below the data-root, from the layer's cache-id
CONTENT_DIRS = {"vfs": "vfs/dir/{}", "overlay2": "overlay2/{}/diff"}
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"  # what the stream is: a plain tar

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CACHE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def _has_images(tree: Tree, driver: str) -> bool:
    # "not missing" rather than "is a file/dir": a symlink there must fail loudly when it
    # is read, not make the store look empty
    base = f"image/{driver}"
    return (
        tree.kind(f"{base}/repositories.json") != "missing"
        or tree.kind(f"{base}/imagedb/content/sha256") != "missing"
    )


def detect(path: Path) -> bool:
    """A data-root has image/<driver>/repositories.json or image/<driver>/imagedb/."""
    try:
        with Tree.open(path, str(path)) as tree:
            if tree.kind("image") != "dir":
                return False
            return any(_has_images(tree, d) for d in tree.listdir("image"))
    except InputError:
        return False


def open(path: Path, ctx: OpenContext) -> list[ImageSource]:
    display = ctx.display(path)
    found: list[ImageSource] = []
    with Tree.open(path, display) as tree:
        for driver in tree.listdir("image"):
            if not _has_images(tree, driver):
                continue
            store = _DriverStore(tree, path, driver)
            wanted = store.wanted()
            if wanted and driver not in CONTENT_DIRS:
                raise InputError(
                    f"{tree.name('image/' + driver)}: holds images of the {driver!r} storage "
                    f"driver, which is not supported (only {', '.join(sorted(CONTENT_DIRS))})"
                )
            found.extend(store.image(image_id, tags) for image_id, tags in wanted)
    return sorted(found, key=lambda s: (s.config_digest, s.tags))


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Docker's layer chain IDs for a list of diff IDs ("sha256:<hex>" each)."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            text = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(text).hexdigest())
    return chains


class _DriverStore:
    """The images of one `image/<driver>` directory."""

    def __init__(self, tree: Tree, root: Path, driver: str) -> None:
        self.tree = tree
        self.root = root
        self.driver = driver
        self.base = f"image/{driver}"

    def _text(self, rel: str) -> str:
        data = self.tree.read_bytes(rel)
        try:
            return data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InputError(f"{self.tree.name(rel)}: is not ASCII text") from None

    def wanted(self) -> list[tuple[str, tuple[str, ...]]]:
        """(image id, tags) of the images to list: tagged ones, and untagged ones that are
        not the parent of another image (those are intermediate build steps)."""
        tags = self._tags()
        content = f"{self.base}/imagedb/content/sha256"
        stored = set()
        if self.tree.kind(content) != "missing":
            # imagedb writes atomically through temporary names; only ids are images
            stored = {n for n in self.tree.listdir(content) if _HEX64.fullmatch(n)}
        for image_id, names in sorted(tags.items()):
            if image_id not in stored:
                raise InputError(
                    f"{self.tree.name(content + '/' + image_id)}: is missing, but "
                    f"{self.base}/repositories.json tags it as {names[0]}"
                )
        parents = self._parents(stored)
        return [
            (i, tuple(sorted(tags.get(i, ()))))
            for i in sorted(stored)
            if i in tags or i not in parents
        ]

    def _tags(self) -> dict[str, list[str]]:
        """Image id (hex) -> its `name:tag` references. Digest references are not tags."""
        rel = f"{self.base}/repositories.json"
        if self.tree.kind(rel) == "missing":
            return {}
        doc = parse_json(self.tree.read_bytes(rel), self.tree.name(rel))
        repos = doc.get("Repositories") if isinstance(doc, dict) else None
        if not isinstance(repos, dict):
            raise InputError(f"{self.tree.name(rel)}: has no 'Repositories' object")
        out: dict[str, list[str]] = {}
        for refs in repos.values():
            if not isinstance(refs, dict):
                raise InputError(f"{self.tree.name(rel)}: a repository entry is not an object")
            for ref, image_id in refs.items():
                if not isinstance(image_id, str) or not _DIGEST.fullmatch(image_id):
                    raise InputError(
                        f"{self.tree.name(rel)}: {ref} points to {image_id!r}, not a sha256 id"
                    )
                if "@" in ref:
                    log.debug("%s: %s is a digest reference, not a tag", self.tree.display, ref)
                    continue
                out.setdefault(image_id.removeprefix("sha256:"), []).append(ref)
        return out

    def _parents(self, stored: set[str]) -> set[str]:
        """Ids that are the parent of another image (intermediate build steps)."""
        parents: set[str] = set()
        for image_id in sorted(stored):
            rel = f"{self.base}/imagedb/metadata/sha256/{image_id}/parent"
            if self.tree.kind(rel) == "missing":
                continue
            parent = self._text(rel)
            if not _DIGEST.fullmatch(parent):
                raise InputError(f"{self.tree.name(rel)}: {parent!r} is not a sha256 image id")
            parents.add(parent.removeprefix("sha256:"))
        return parents

    def image(self, image_id: str, tags: tuple[str, ...]) -> ImageSource:
        rel = f"{self.base}/imagedb/content/sha256/{image_id}"
        what = self.tree.name(rel)
        config = self.tree.read_bytes(rel)
        verify_bytes(config, "sha256:" + image_id, what)
        doc: Any = parse_json(config, what)
        if not isinstance(doc, dict):
            raise InputError(f"{what}: the image config is not a JSON object")
        diff_ids = config_diff_ids(doc, what)
        for diff_id in diff_ids:
            if not _DIGEST.fullmatch(diff_id):
                raise InputError(f"{what}: diff_id {diff_id!r} is not a sha256 digest")
        layers = tuple(
            self._layer(n, chain, diff_id, image_id)
            for n, (chain, diff_id) in enumerate(zip(chain_ids(diff_ids), diff_ids))
        )
        return ImageSource(
            source=self.tree.display,
            embedding=Embedding.DOCKER_STORE,
            config=config,
            config_digest="sha256:" + image_id,
            tags=tags,
            layers=layers,
            platform=config_platform(doc),
        )

    def _layer(self, n: int, chain: str, diff_id: str, image_id: str) -> LayerSource:
        layer_dir = f"{self.base}/layerdb/sha256/{chain.removeprefix('sha256:')}"
        if self.tree.kind(layer_dir) == "missing":
            raise InputError(
                f"{self.tree.name(layer_dir)}: is missing, but image {image_id[:12]} needs it "
                f"for layer {n} ({diff_id[:19]}…)"
            )
        self.tree.require_dir(layer_dir)  # a symlink or a file instead: the precise error
        recorded = self._text(f"{layer_dir}/diff")
        if recorded != diff_id:
            raise InputError(
                f"{self.tree.name(layer_dir + '/diff')}: says {recorded[:19]}… but image "
                f"{image_id[:12]} expects {diff_id[:19]}… for this chain"
            )
        cache_id = self._text(f"{layer_dir}/cache-id")
        if not _CACHE_ID.fullmatch(cache_id):
            raise InputError(
                f"{self.tree.name(layer_dir + '/cache-id')}: {cache_id[:80]!r} is not a "
                "directory name"
            )
        record = f"{layer_dir}/tar-split.json.gz"
        self.tree.require_file(record)
        content = CONTENT_DIRS[self.driver].format(cache_id)
        self.tree.require_dir(content)
        return LayerSource(
            diff_id=diff_id,
            digest=diff_id,
            media_type=LAYER_MEDIA_TYPE,
            open=functools.partial(layer_opener, self.root, self.tree.display, record, content),
            description=self.tree.name(layer_dir),
        )
