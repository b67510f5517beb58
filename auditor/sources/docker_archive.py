# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: docker-archive tarballs (`docker save`, `podman save`).

Three real layouts, all driven by `manifest.json`:
- classic `docker save`: `<v1id>/layer.tar` regular files;
- `podman save`: top-level `<diffid>.tar`, `<v1id>/layer.tar` symlinks to them;
- Docker >= 25: an OCI layout (`blobs/sha256/…`) plus `manifest.json`.
An archive may hold several images (one manifest entry each).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import Embedding, ImageSource, LayerSource
from .base import (OpenContext, config_diff_ids, config_platform, parse_json, sha256_digest,
                   verify_bytes)
from .blobs import Blobs, TarIndex, looks_like_tar


def detect(path: Path) -> bool:
    if not looks_like_tar(path):
        return False
    return "manifest.json" in TarIndex.names_of(path, str(path), stop_at=("manifest.json",))


def open_archive(path: Path, ctx: OpenContext) -> list[ImageSource]:
    label = ctx.display(path)
    images = read_archive(TarIndex(path, label), label, Embedding.ARCHIVE)
    # syft reads a docker-archive by itself only when it holds one image
    ref = f"docker-archive:{path}" if len(images) == 1 else ""
    return [replace(i, origin_file=str(path), syft_ref=ref) for i in images]


def _digest_from_name(name: str) -> str:
    """`blobs/sha256/<hex>` or `<hex>.json` / `<hex>.tar` → `sha256:<hex>`, else ""."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    stem = parts[-1].split(".", 1)[0]
    if len(parts) == 1 and len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
        return "sha256:" + stem
    return ""


def read_archive(blobs: Blobs, label: str, embedding: Embedding) -> list[ImageSource]:
    entries = parse_json(blobs.read("manifest.json"), f"{label}: manifest.json")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{label}: manifest.json is not a non-empty list of images")
    out: list[ImageSource] = []
    for entry in entries:
        out.append(_image(blobs, label, entry, embedding))
    return out


def _image(blobs: Blobs, label: str, entry: Any, embedding: Embedding) -> ImageSource:
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise InputError(f"{label}: manifest.json entry has no Config")
    cname = entry["Config"]
    config_bytes = blobs.read(cname)
    named = _digest_from_name(cname)
    if named:
        verify_bytes(config_bytes, named, f"{label}: {cname}")
    config = parse_json(config_bytes, f"{label}: {cname}")
    diff_ids = config_diff_ids(config, f"{label}: {cname}")
    lnames = entry.get("Layers")
    if not isinstance(lnames, list) or not all(isinstance(n, str) for n in lnames):
        raise InputError(f"{label}: manifest.json entry for {cname} has no Layers list")
    if len(lnames) != len(diff_ids):
        raise InputError(
            f"{label}: manifest.json lists {len(lnames)} layers for {cname} but its config has "
            f"{len(diff_ids)} diff_ids"
        )
    layers = []
    for lname, diff_id in zip(lnames, diff_ids):
        if not blobs.exists(lname):
            raise InputError(f"{label}: manifest.json names missing layer {lname}")
        digest = _digest_from_name(lname) if lname.startswith("blobs/") else ""
        layers.append(LayerSource(diff_id=diff_id, digest=digest if digest != diff_id else "",
                                  open=blobs.opener(lname), description=lname,
                                  region=blobs.region(lname)))
    tags = tuple(t for t in entry.get("RepoTags") or () if isinstance(t, str))
    return ImageSource(
        source=label, embedding=embedding, config=config_bytes,
        config_digest=sha256_digest(config_bytes), tags=tags, layers=tuple(layers),
        platform=config_platform(config),
    )
