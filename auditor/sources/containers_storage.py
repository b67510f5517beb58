# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: a containers-storage graph root (podman, buildah, CRI-O), drivers vfs and overlay.

Layout below the graph root (`/var/lib/containers/storage`):

    <driver>-images/images.json        [{id, names, layer (top layer id), digest,
                                          big-data-names, big-data-digests, ...}]
    <driver>-images/<id>/<big data>    one file per big-data key, e.g. the image config under
                                       key "sha256:<id>", the manifest under "manifest"
    <driver>-layers/layers.json        [{id, parent, diff-digest, diff-size, ...}]
    <driver>-layers/<id>.tar-split.gz  the layer's tar-split record
    vfs/dir/<id>/                      vfs: full snapshot up to that layer
    overlay/<id>/diff/                 overlay: that layer's own files

A big-data file is named by its key when the key is only `[.0-9a-z]`, else by "=" and the
standard base64 of the key (so "manifest" stays "manifest" and "sha256:ab…" becomes
"=c2hhMjU2OmFi…"). The image's layers are the chain from its top layer down through
`parent`; their diff digests must be the config's diff_ids, in order. Layer tars are
rebuilt byte for byte by `tarsplit`; every path is read through `safefs`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from ..errors import DigestMismatchError, InputError
from ..model import Embedding, ImageSource, LayerSource
from .base import OpenContext, config_diff_ids, config_platform, parse_json, verify_bytes
from .safefs import Tree
from .tarsplit import layer_opener

log = logging.getLogger(__name__)

CONTENT_DIRS = {"vfs": "vfs/dir/{}", "overlay": "overlay/{}/diff"}
KNOWN_DRIVERS = ("overlay", "vfs", "btrfs", "zfs", "aufs", "devicemapper")  # for detect()
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"  # what the stream is: a plain tar

_ID = re.compile(r"[0-9a-f]{64}")
_PLAIN_KEY = re.compile(r"[.0-9a-z]+")


def big_data_name(key: str) -> str:
    """File name containers-storage gives the big-data item `key`."""
    if _PLAIN_KEY.fullmatch(key):
        return key
    return "=" + base64.b64encode(key.encode()).decode("ascii")


def _drivers(tree: Tree) -> list[str]:
    # "not missing" rather than "is a file": a symlinked images.json must fail loudly when
    # it is read, not make the store look empty
    return [
        name.removesuffix("-images")
        for name in tree.listdir()
        if name.endswith("-images") and tree.kind(f"{name}/images.json") != "missing"
    ]


def detect(path: Path) -> bool:
    """A graph root has <driver>-images/images.json (podman/CRI-O write it on first use).

    Discovery asks this of every directory in a rootfs, so it probes the drivers
    containers-storage knows by name instead of listing the directory.
    """
    try:
        with Tree.open(path, str(path)) as tree:
            return any(tree.kind(f"{d}-images/images.json") != "missing" for d in KNOWN_DRIVERS)
    except InputError:
        return False


def open(path: Path, ctx: OpenContext) -> list[ImageSource]:
    display = ctx.display(path)
    found: list[ImageSource] = []
    with Tree.open(path, display) as tree:
        for driver in _drivers(tree):
            store = _DriverStore(tree, path, driver)
            records = store.image_records()
            if records and driver not in CONTENT_DIRS:
                raise InputError(
                    f"{tree.name(driver + '-images')}: holds images of the {driver!r} storage "
                    f"driver, which is not supported (only {', '.join(sorted(CONTENT_DIRS))})"
                )
            if records:
                layers = store.layer_records()
                found.extend(store.image(record, layers) for record in records)
    return sorted(found, key=lambda s: (s.config_digest, s.tags))


class _DriverStore:
    """The images and layers of one storage driver below the graph root."""

    def __init__(self, tree: Tree, root: Path, driver: str) -> None:
        self.tree = tree
        self.root = root
        self.driver = driver
        self.images_json = f"{driver}-images/images.json"
        self.layers_json = f"{driver}-layers/layers.json"

    def _json_list(self, rel: str) -> list[dict[str, Any]]:
        doc = parse_json(self.tree.read_bytes(rel), self.tree.name(rel))
        if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
            raise InputError(f"{self.tree.name(rel)}: is not a JSON list of objects")
        return doc

    def image_records(self) -> list[dict[str, Any]]:
        records = self._json_list(self.images_json)
        for record in records:
            image_id = record.get("id")
            if not isinstance(image_id, str) or not _ID.fullmatch(image_id):
                raise InputError(
                    f"{self.tree.name(self.images_json)}: image id {image_id!r} is not 64 hex "
                    "digits"
                )
        return records

    def layer_records(self) -> dict[str, dict[str, Any]]:
        """Layer id -> its layers.json record (an image without layers needs no file)."""
        if self.tree.kind(self.layers_json) == "missing":
            return {}
        out: dict[str, dict[str, Any]] = {}
        for record in self._json_list(self.layers_json):
            layer_id = record.get("id")
            if not isinstance(layer_id, str) or not _ID.fullmatch(layer_id):
                raise InputError(
                    f"{self.tree.name(self.layers_json)}: layer id {layer_id!r} is not 64 hex "
                    "digits"
                )
            out[layer_id] = record
        return out

    def _big_data(self, image_id: str, key: str) -> tuple[str, bytes]:
        rel = f"{self.driver}-images/{image_id}/{big_data_name(key)}"
        return rel, self.tree.read_bytes(rel)

    def image(self, record: dict[str, Any], layers: dict[str, dict[str, Any]]) -> ImageSource:
        image_id: str = record["id"]
        keys = record.get("big-data-names") or []
        config_key = "sha256:" + image_id
        if not isinstance(keys, list) or config_key not in keys:
            raise InputError(
                f"{self.tree.name(self.images_json)}: image {image_id[:12]} has no config "
                f"(no big-data item {config_key[:19]}…)"
            )
        rel, config = self._big_data(image_id, config_key)
        what = self.tree.name(rel)
        verify_bytes(config, config_key, what)
        doc: Any = parse_json(config, what)
        if not isinstance(doc, dict):
            raise InputError(f"{what}: the image config is not a JSON object")
        diff_ids = config_diff_ids(doc, what)
        chain = self._chain(image_id, record.get("layer"), layers)
        if len(chain) != len(diff_ids):
            raise InputError(
                f"{self.tree.name(self.layers_json)}: image {image_id[:12]} has "
                f"{len(chain)} layers but its config lists {len(diff_ids)} diff_ids"
            )
        sources = []
        for n, (layer, diff_id) in enumerate(zip(chain, diff_ids)):
            recorded = layer.get("diff-digest")
            if not isinstance(recorded, str) or not recorded:
                raise InputError(
                    f"{self.tree.name(self.layers_json)}: layer {layer['id'][:12]} of image "
                    f"{image_id[:12]} has no diff-digest"
                )
            if recorded != diff_id:
                raise DigestMismatchError(
                    f"{self.tree.name(self.layers_json)}: layer {layer['id'][:12]} has diff "
                    f"digest {recorded[:19]}… but image {image_id[:12]} expects "
                    f"{diff_id[:19]}… for layer {n}"
                )
            sources.append(self._layer(layer, diff_id))
        names = record.get("names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InputError(
                f"{self.tree.name(self.images_json)}: image {image_id[:12]} has invalid names"
            )
        return ImageSource(
            source=self.tree.display,
            embedding=Embedding.CONTAINERS_STORAGE,
            config=config,
            config_digest=config_key,
            manifest_digest=self._manifest_digest(image_id, keys),
            tags=tuple(sorted(n for n in names if "@" not in n)),
            layers=tuple(sources),
            platform=config_platform(doc),
        )

    def _manifest_digest(self, image_id: str, keys: list[Any]) -> str:
        """Digest of the stored image manifest (what `podman images --digests` shows)."""
        if "manifest" not in keys:
            return ""
        _, manifest = self._big_data(image_id, "manifest")
        return "sha256:" + hashlib.sha256(manifest).hexdigest()

    def _chain(
        self, image_id: str, top: Any, layers: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The image's layer records, bottom first, from its top layer down via `parent`."""
        chain: list[dict[str, Any]] = []
        current = top
        while current:
            if not isinstance(current, str) or current not in layers:
                below = f"below {chain[-1]['id'][:12]}" if chain else "as its top layer"
                raise InputError(
                    f"{self.tree.name(self.layers_json)}: layer {str(current)[:12]}, which image "
                    f"{image_id[:12]} has {below}, is missing"
                )
            if len(chain) > len(layers):
                raise InputError(
                    f"{self.tree.name(self.layers_json)}: the parents of layer {top[:12]} "
                    "form a loop"
                )
            chain.append(layers[current])
            current = layers[current].get("parent")
        chain.reverse()
        return chain

    def _layer(self, layer: dict[str, Any], diff_id: str) -> LayerSource:
        layer_id: str = layer["id"]
        record = f"{self.driver}-layers/{layer_id}.tar-split.gz"
        self.tree.require_file(record)
        content = CONTENT_DIRS[self.driver].format(layer_id)
        self.tree.require_dir(content)
        size = layer.get("diff-size")
        return LayerSource(
            diff_id=diff_id,
            digest=diff_id,
            media_type=LAYER_MEDIA_TYPE,
            size=size if isinstance(size, int) and not isinstance(size, bool) else -1,
            open=functools.partial(layer_opener, self.root, self.tree.display, record, content),
            description=self.tree.name(content),
        )
