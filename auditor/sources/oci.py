# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: OCI image layouts, as directories (meta-virtualization bundles,
`skopeo copy oci:`) and as archives (`podman save --format oci-archive`).

index.json may list several images (one per `org.opencontainers.image.ref.name`) and
image indexes with several platforms; the platform matching the rootfs is chosen and the
others are reported. Every manifest, config and blob is verified against its digest.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import Embedding, ImageSource, LayerSource, Platform
from .base import OpenContext, config_diff_ids, config_platform, parse_json, verify_bytes
from .blobs import Blobs, DirIndex, TarIndex, looks_like_tar

log = logging.getLogger(__name__)

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MAX_NESTING = 4


def blob_path(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if not algo or not hexpart or "/" in digest or ".." in digest:
        raise InputError(f"invalid digest {digest!r}")
    return f"blobs/{algo}/{hexpart}"


def detect_dir(path: Path) -> bool:
    return (path / "oci-layout").is_file() and (path / "index.json").is_file()


def detect_archive(path: Path) -> bool:
    if not looks_like_tar(path):
        return False
    names = TarIndex.names_of(path, str(path), stop_at=("oci-layout", "index.json", "manifest.json"))
    # docker>=25 archives are OCI layouts *with* manifest.json: docker_archive reads those
    return "oci-layout" in names and "index.json" in names and "manifest.json" not in names


def open_dir(path: Path, ctx: OpenContext) -> list[ImageSource]:
    label = ctx.display(path)
    return read_layout(DirIndex(path, label), label, path.name, ctx)


def open_archive(path: Path, ctx: OpenContext) -> list[ImageSource]:
    label = ctx.display(path)
    stem = path.name.split(".", 1)[0]
    return [replace(i, origin_file=str(path))
            for i in read_layout(TarIndex(path, label), label, stem, ctx)]


def _platform(desc: dict[str, Any]) -> Platform | None:
    p = desc.get("platform")
    if not isinstance(p, dict):
        return None
    return Platform(os=str(p.get("os") or ""), architecture=str(p.get("architecture") or ""),
                    variant=str(p.get("variant") or ""))


def _is_attestation(desc: dict[str, Any]) -> bool:
    ann = desc.get("annotations") or {}
    p = _platform(desc)
    return ann.get("vnd.docker.reference.type") == "attestation-manifest" or (
        p is not None and p.os == "unknown"
    )


def _tags(desc: dict[str, Any], fallback_name: str) -> tuple[str, ...]:
    ann = desc.get("annotations") or {}
    out: list[str] = []
    full = ann.get(CONTAINERD_NAME)
    if isinstance(full, str) and full:
        out.append(full)
    ref = ann.get(REF_NAME)
    if isinstance(ref, str) and ref:
        # OCI allows a bare tag ("latest") or a full reference (podman writes those)
        out.append(ref if ("/" in ref or ":" in ref) else f"{fallback_name}:{ref}")
    return tuple(dict.fromkeys(out))


def _read_json(blobs: Blobs, desc: dict[str, Any], what: str) -> Any:
    digest = desc.get("digest")
    if not isinstance(digest, str):
        raise InputError(f"{blobs.label}: {what} descriptor has no digest")
    name = blob_path(digest)
    data = blobs.read(name)
    verify_bytes(data, digest, f"{blobs.label}: {name}")
    return parse_json(data, f"{blobs.label}: {name}")


def platform_matches(p: Platform, ctx: OpenContext) -> bool:
    if not ctx.architecture:
        return True
    if p.architecture != ctx.architecture:
        return False
    return not (ctx.variant and p.variant and p.variant != ctx.variant)


def read_layout(blobs: Blobs, label: str, fallback_name: str, ctx: OpenContext,
                embedding: Embedding = Embedding.OCI) -> list[ImageSource]:
    index = parse_json(blobs.read("index.json"), f"{label}: index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise InputError(f"{label}: index.json has no manifests list")
    # group the top-level entries: entries for the same name with different platforms
    # are one multi-platform image, like a nested index
    groups: dict[str, list[dict[str, Any]]] = {}
    for desc in manifests:
        if not isinstance(desc, dict) or _is_attestation(desc):
            continue
        key = "|".join(_tags(desc, fallback_name)) or str(desc.get("digest"))
        if desc.get("mediaType") in INDEX_TYPES or _platform(desc) is None:
            key = f"{key}#{desc.get('digest')}"
        groups.setdefault(key, []).append(desc)
    out: list[ImageSource] = []
    for descs in groups.values():
        tags = _tags(descs[0], fallback_name)
        out.extend(_resolve(blobs, label, descs, tags, ctx, embedding, 0))
    return out


def _resolve(blobs: Blobs, label: str, descs: list[dict[str, Any]], tags: tuple[str, ...],
             ctx: OpenContext, embedding: Embedding, depth: int) -> list[ImageSource]:
    if depth > MAX_NESTING:
        raise InputError(f"{label}: image indexes nested too deeply")
    candidates: list[tuple[dict[str, Any], Platform | None]] = []
    for desc in descs:
        if desc.get("mediaType") in INDEX_TYPES:
            nested = _read_json(blobs, desc, "index")
            inner = [d for d in nested.get("manifests") or [] if isinstance(d, dict)
                     and not _is_attestation(d)]
            return _resolve(blobs, label, inner, tags, ctx, embedding, depth + 1)
        candidates.append((desc, _platform(desc)))
    if len(candidates) == 1:
        desc, _ = candidates[0]
        return [_image(blobs, label, desc, tags, embedding, ())]
    platforms = [p for _, p in candidates if p is not None]
    chosen: list[tuple[dict[str, Any], Platform | None]] = [
        (d, p) for d, p in candidates if p is not None and platform_matches(p, ctx)]
    if not chosen:
        # no platform matches this machine: keep the first so the payload is still audited
        log.warning("%s: no platform matches %s; auditing %s", label, ctx.architecture,
                    platforms[0] if platforms else "the first manifest")
        chosen = [candidates[0]]
    desc, plat = chosen[0]
    skipped = tuple(p for p in platforms if p != plat)
    return [_image(blobs, label, desc, tags, embedding, skipped)]


_LAYER_MARKERS = ("tar", "layer")


def _image(blobs: Blobs, label: str, desc: dict[str, Any], tags: tuple[str, ...],
           embedding: Embedding, skipped: tuple[Platform, ...]) -> ImageSource:
    manifest = _read_json(blobs, desc, "manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise InputError(f"{label}: manifest {desc.get('digest')} has no config")
    cdesc = manifest["config"]
    cdigest = cdesc.get("digest")
    if not isinstance(cdigest, str):
        raise InputError(f"{label}: manifest {desc.get('digest')} config has no digest")
    cname = blob_path(cdigest)
    config_bytes = blobs.read(cname)
    verify_bytes(config_bytes, cdigest, f"{label}: {cname}")
    config = parse_json(config_bytes, f"{label}: {cname}")
    diff_ids = config_diff_ids(config, f"{label}: {cname}")
    ldescs = [d for d in manifest.get("layers") or [] if isinstance(d, dict)]
    if len(ldescs) != len(diff_ids):
        raise InputError(
            f"{label}: manifest {desc.get('digest')} lists {len(ldescs)} layers but its config "
            f"has {len(diff_ids)} diff_ids"
        )
    layers = []
    for ldesc, diff_id in zip(ldescs, diff_ids):
        digest = ldesc.get("digest")
        if not isinstance(digest, str):
            raise InputError(f"{label}: a layer of manifest {desc.get('digest')} has no digest")
        name = blob_path(digest)
        if not blobs.exists(name):
            raise InputError(f"{label}: manifest names missing layer blob {name}")
        layers.append(LayerSource(
            diff_id=diff_id, digest=digest, media_type=str(ldesc.get("mediaType") or ""),
            size=int(ldesc["size"]) if isinstance(ldesc.get("size"), int) else -1,
            open=blobs.opener(name), description=name, region=blobs.region(name),
        ))
    return ImageSource(
        source=label, embedding=embedding, config=config_bytes, config_digest=cdigest,
        manifest_digest=str(desc.get("digest")), tags=tags, layers=tuple(layers),
        platform=config_platform(config), skipped_platforms=skipped,
    )
