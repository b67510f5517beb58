# SPDX-License-Identifier: Apache-2.0
"""Writers for hostile or exact inputs that no real tool produces on demand.

Real images come from tests/fixtures/build.py; these only make the broken ones: escaping
members, wrong digests, bombs, missing layers."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def layer_tar(entries: list[tuple]) -> bytes:
    """entries: (name, kind, payload) with kind file|dir|sym|hard|chr|fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = 0o755 if kind == "dir" else 0o644
            if kind == "file":
                data = payload if isinstance(payload, bytes) else payload.encode()
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                       "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("sym", "hard"):
                ti.linkname = payload
            tf.addfile(ti)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def docker_archive(path: Path, layers: list[bytes], *, tag: str = "localhost/hostile:1",
                   diff_ids: list[str] | None = None, manifest_layers: list[str] | None = None,
                   skip_layers: set[int] = frozenset()) -> Path:  # type: ignore[assignment]
    """A podman-style docker-archive (`<diffid>.tar` at top level)."""
    ids = diff_ids or [sha(l) for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ids}}).encode()
    cfg_name = sha(config).split(":")[1] + ".json"
    names = manifest_layers or [i.split(":")[1] + ".tar" for i in ids]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as tf:
        for i, (name, data) in enumerate(zip(names, layers)):
            if i not in skip_layers:
                _add(tf, name, data)
        _add(tf, cfg_name, config)
        _add(tf, "manifest.json", manifest)
    return path


def oci_archive(path: Path, blobs: list[tuple[bytes, bytes, str]], *,
                tag: str = "localhost/hostile:1") -> Path:
    """An OCI archive; blobs: (stored blob, uncompressed tar, media type)."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers",
                                    "diff_ids": [sha(u) for _, u, _ in blobs]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": mt, "digest": sha(b), "size": len(b)} for b, _, mt in blobs],
    }).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}).encode()
    with tarfile.open(path, "w") as tf:
        _add(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tf, "index.json", index)
        for data in [config, manifest] + [b for b, _, _ in blobs]:
            _add(tf, "blobs/sha256/" + sha(data).split(":")[1], data)
    return path
