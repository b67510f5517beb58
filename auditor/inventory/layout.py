# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: the OCI image layout syft reads for one image.

Written in the work dir from what layers.LayerStore verified: the image's own config
bytes, a manifest listing the uncompressed layer blobs (hard links to the run's shared
blobs, so a base layer shared by ten images is on disk once; a layer verified in place
inside an archive is copied out with copy_file_range) and an index.json with that one
manifest. syft never sees the original archive or store, only verified bytes, and
decompresses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import InputError
from ..fileio import copy_exactly
from ..layers import ReadLayer

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def _put(blobs: Path, data: bytes) -> tuple[str, int]:
    hexd = hashlib.sha256(data).hexdigest()
    (blobs / hexd).write_bytes(data)
    return "sha256:" + hexd, len(data)


def _copy_region(src: Path, offset: int, size: int, dest: Path) -> None:
    """`size` bytes of `src` from `offset` into a new file (in the kernel where it can)."""
    with open(src, "rb") as fi, open(dest, "wb") as fo:
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(fi.fileno(), fo.fileno(), size - done, offset + done)
                if n <= 0:
                    break
                done += n
        except OSError:  # not supported here: copy through user space
            pass
        fi.seek(offset + done)
        fo.seek(done)
        if done + copy_exactly(fi, fo, size - done) != size:
            raise InputError(f"{src}: shorter than the layer verified in it (changed meanwhile?)")


def write_layout(dest: Path, config: bytes, layers: list[ReadLayer]) -> Path:
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    cfg_digest, cfg_size = _put(blobs, config)
    entries = []
    for rl in layers:
        hexd = rl.layer.diff_id.partition(":")[2]
        target = blobs / hexd
        if not target.exists():
            if rl.in_place and (rl.offset or os.path.getsize(rl.blob) != rl.layer.size):
                _copy_region(rl.blob, rl.offset, rl.layer.size, target)
            else:
                try:
                    os.link(rl.blob, target)
                except OSError:  # another file system: a link will do, syft follows it
                    os.symlink(rl.blob, target)
        entries.append({"mediaType": LAYER_TAR, "digest": rl.layer.diff_id,
                        "size": rl.layer.size})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": {"mediaType": CONFIG, "digest": cfg_digest,
                                      "size": cfg_size},
                           "layers": entries}, sort_keys=True).encode()
    man_digest, man_size = _put(blobs, manifest)
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (dest / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX,
         "manifests": [{"mediaType": MANIFEST, "digest": man_digest, "size": man_size}]},
        sort_keys=True))
    return dest
