# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: the registry of image source kinds.

A new input format is one module here plus one row below; nothing else changes.
Order matters only where two kinds could claim the same input (docker>=25 archives are
OCI layouts with a manifest.json: the docker-archive reader takes them).
"""

from __future__ import annotations

from . import containers_storage, docker_archive, docker_store, oci
from .base import OpenContext, SourceKind

REGISTRY: tuple[SourceKind, ...] = (
    SourceKind(name="docker-store", detect=docker_store.detect, open=docker_store.open,
               is_directory=True),
    SourceKind(name="containers-storage", detect=containers_storage.detect,
               open=containers_storage.open, is_directory=True),
    SourceKind(name="oci-layout", detect=oci.detect_dir, open=oci.open_dir, is_directory=True),
    SourceKind(name="docker-archive", detect=docker_archive.detect,
               open=docker_archive.open_archive, is_directory=False),
    SourceKind(name="oci-archive", detect=oci.detect_archive, open=oci.open_archive,
               is_directory=False),
)

__all__ = ["REGISTRY", "OpenContext", "SourceKind"]
