# SPDX-License-Identifier: Apache-2.0
"""Frozen value types shared by every pipeline stage (no I/O here).

sources/ produce `ImageSource`s, unpack.py turns their layers into a filesystem,
inventory/ produces `Image`s with `Package`s, later stages (licenses, policy, sbom,
report) only ever read these values and derive new ones with `dataclasses.replace`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, ContextManager, BinaryIO

SCHEMA_VERSION = "1.2"


class Sentinel(str, enum.Enum):
    """SPDX's two special license values: not the same as "unknown" or `None`."""

    NOASSERTION = "NOASSERTION"
    NONE = "NONE"


NOASSERTION = Sentinel.NOASSERTION
NONE = Sentinel.NONE


class Embedding(str, enum.Enum):
    """How an image is carried inside the root filesystem."""

    ARCHIVE = "archive"  # docker-archive tarball (docker save / podman save / docker>=25)
    OCI = "oci"  # OCI image layout directory or OCI archive
    DOCKER_STORE = "docker-store"  # /var/lib/docker
    CONTAINERS_STORAGE = "containers-storage"  # /var/lib/containers/storage
    DAEMON = "daemon"  # a running Docker engine


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """Where a piece of evidence sits: a path inside the image and the layer that wrote it."""

    path: str
    layer: str | None = None  # diff_id of the layer that last wrote `path`


@dataclass(frozen=True, slots=True, kw_only=True)
class License:
    """One license statement about a package, with its evidence, exactly as found."""

    value: str  # raw text as found (never rewritten)
    spdx_expression: str | Sentinel  # normalised SPDX expression, or NOASSERTION
    kind: str = "declared"  # declared | concluded
    method: str = "syft"  # how spdx_expression was obtained (syft, parsed, alias, curation, ...)
    evidence: tuple[Location, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherLicense:
    """A license of part of a package (a DEP-5 paragraph other than `Files: *`)."""

    files: tuple[str, ...]  # the paragraph's Files: patterns
    expression: str | Sentinel  # normalised SPDX expression
    raw: str  # the License: line as written
    evidence: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    name: str
    version: str
    type: str  # deb, rpm, apk, opkg, binary, python, go-module, ...
    purl: str
    layer: str | None  # diff_id of the layer that brought the package
    architecture: str = ""
    source_name: str = ""
    source_version: str = ""
    found_by: str = ""
    cpes: tuple[str, ...] = ()
    licenses: tuple[License, ...] = ()
    locations: tuple[Location, ...] = ()
    # what the package itself says, normalised (licenses/ stage) ...
    declared_license: str | Sentinel = NOASSERTION
    declared_method: str = ""  # dep5, common-licenses, syft, opkg-control, curation, ...
    other_licenses: tuple[OtherLicense, ...] = ()
    # ... and what we conclude after curations and the policy's OR choice
    concluded_license: str | Sentinel = NOASSERTION
    curation: str = ""  # reason of the curation that set the concluded license, if any
    license_notes: tuple[str, ...] = ()  # what normalisation could not map or had to repair


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    diff_id: str  # sha256 of the uncompressed layer tar
    digest: str = ""  # blob digest where the source has one (OCI), else == diff_id
    media_type: str = ""
    size: int = 0  # uncompressed size in bytes, once read


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    os: str = "linux"
    architecture: str = ""
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


# Opens a layer blob as a binary stream (possibly compressed); the caller closes it.
LayerOpener = Callable[[], ContextManager[BinaryIO]]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSource:
    """A layer as a source can deliver it, before it has been read and verified."""

    diff_id: str
    digest: str = ""  # blob digest to verify (OCI); "" where only the diff_id is known
    media_type: str = ""
    size: int = -1  # blob size promised by the manifest, -1 when unknown
    open: LayerOpener = field(compare=False, repr=False)  # yields `size` bytes when size >= 0
    description: str = ""  # human name for error messages, e.g. "blobs/sha256/ab12…"
    # where `open` reads from when that is one run of bytes of a host file: (file, offset,
    # size); lets an uncompressed layer be read in place instead of copied
    region: tuple[str, int, int] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSource:
    """An image found by discovery: everything needed to unpack and scan it."""

    source: str  # path inside the rootfs (or the archive path / daemon reference)
    embedding: Embedding
    config: bytes = field(repr=False)
    config_digest: str
    manifest_digest: str = ""
    tags: tuple[str, ...] = ()
    layers: tuple[LayerSource, ...] = ()
    platform: Platform = Platform()
    skipped_platforms: tuple[Platform, ...] = ()
    origin_file: str = field(default="", compare=False)  # host file holding the layers, if one
    # a syft source reference reading this very image from origin_file (a single-image
    # docker-archive), used when every layer is stored uncompressed in place; "" otherwise
    syft_ref: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        if self.tags:
            return self.tags[0]
        return self.config_digest.removeprefix("sha256:")[:12]


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """An inventoried image: what sources found plus what the catalogers saw inside."""

    name: str
    tags: tuple[str, ...]
    config_digest: str
    manifest_digest: str
    architecture: str
    os: str
    source: str
    embedding: Embedding
    layers: tuple[Layer, ...]
    packages: tuple[Package, ...]
    distro: str = ""  # e.g. "debian 12"
    also_found_at: tuple[str, ...] = ()  # the same image embedded elsewhere in the rootfs
    skipped_platforms: tuple[str, ...] = ()
    skipped_entries: int = 0  # device nodes, fifos, ... not materialised
    false_positives: tuple[str, ...] = ()  # "name@version: reason" of packages a curation dropped
    stored_at: str = ""  # where in a disk image file it lives ("partition 2: /var/lib/docker")


@dataclass(frozen=True, slots=True, kw_only=True)
class Declaration:
    """An image the integrator declared (images.manifest line, compose service)."""

    file: str  # path of the declaring file inside the rootfs
    kind: str  # images.manifest | docker-compose
    reference: str  # what was declared, e.g. "localhost/redis:latest" or "redis 7.0 redis"
    name: str = ""
    version: str = ""
    tag: str = ""
    service: str = ""  # compose service name
    found: bool = False
    matches: tuple[str, ...] = ()  # config digests of the images that satisfy it


@dataclass(frozen=True, slots=True, kw_only=True)
class Warning_:
    """A non-fatal problem confined to one item, kept for reports and policy."""

    source: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One policy verdict about one package (or image, for consistency rules)."""

    image: str  # image name
    package: str  # "" for image-level findings
    version: str
    purl: str
    license: str  # the expression judged
    rule: str  # e.g. incompatible_licenses, review, unknown, waiver-expired, undeclared-image
    severity: str  # error | warning | info
    message: str
    evidence: str = ""  # path of the evidence file inside the image
    layer: str | None = None
    waived_by: str = ""  # reason of the waiver that covers it ("" when not waived)


@dataclass(frozen=True, slots=True, kw_only=True)
class Inventory:
    target: str
    images: tuple[Image, ...]
    declared: tuple[Declaration, ...] = ()
    undeclared: tuple[str, ...] = ()  # sources of images no declaration asked for
    architecture: str = ""  # of the rootfs, used to pick platforms
    warnings: tuple[Warning_, ...] = ()
    tools: tuple[tuple[str, str], ...] = ()  # (name, version)
    created: str = ""  # ISO 8601, from SOURCE_DATE_EPOCH when set
    image_file: str = ""  # the disk image file scanned and its partition, when TARGET is one
    schema_version: str = SCHEMA_VERSION
