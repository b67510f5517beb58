# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: one syft scan of a base that several images of a run are built on.

Ten images built FROM one base differ from it only in their top layers (their *delta*).
syft cannot catalogue layers separately, and every syft process costs about a second
before it reads a byte, so each image used to pay a full scan of the same base. Here an
image whose delta provably cannot change what syft reports takes the base scan's
document instead of a scan of its own:

1. planning: the base *chain* of an image is the longest prefix of its layers that
   another image being catalogued also starts with; a chain chosen by fewer than two
   images is not worth a scan of its own, and those images are scanned whole;
2. once per run, for every delta together: no symlink, no file that syft reads by its
   content (ELF, PE, Mach-O, Java class, zip/jar, wasm), bounded in size, and syft finds
   nothing when the deltas alone are scanned as one directory (one syft run for all);
3. the chain is scanned once, as an OCI layout of its verified layers;
4. per image: no delta entry writes, deletes, replaces or shadows a path the base scan's
   packages rest on (their locations, license evidence and owned files, the directories
   holding those locations) or a file syft identifies the distro from.

Any doubt sends the image to its own full scan. Layer attribution, our license
declarations and curations still run on each image's own tree. Tests compare every
shared result with a full scan of the same image (`ScanOptions.share_bases=False`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import InputError, ToolError
from .inventory import syft
from .inventory.layout import write_layout
from .layers import DIR, FILE, OPAQUE_ENTRY, SYMLINK, WHITEOUT_ENTRY, LayerStore, ReadLayer
from .model import ImageSource
from .unpack import WHITEOUT
from .vroot import VirtualRoot

log = logging.getLogger(__name__)

# files syft identifies the distro from (and the multi-call binary it may fall back on)
RELEASE_FILES = frozenset({
    "/etc/os-release", "/usr/lib/os-release", "/etc/lsb-release", "/etc/system-release-cpe",
    "/etc/system-release", "/etc/redhat-release", "/etc/centos-release",
    "/etc/alpine-release", "/etc/debian_version", "/bin/busybox", "/usr/bin/busybox",
})
# leading bytes of files that syft catalogers read by content rather than by name
CONTENT_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                 b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe",
                 b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x00asm")
MAX_DELTA_FILES = 10_000  # per image
MAX_DELTA_BYTES = 256 << 20  # per image
MAX_DELTAS_BYTES = 1 << 30  # all images of a run: what the delta scan may write

Scan = Callable[..., dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Footprint:
    """What the packages of a base scan rest on."""

    paths: frozenset[str]  # evidence, license evidence, owned files, release files
    dirs: frozenset[str]  # every directory on the way to one of them
    location_dirs: frozenset[str]  # directories holding evidence: a new file there may count


def _norm(path: object) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    return str(PurePosixPath("/" + path.lstrip("/")))


def _ancestors(path: str) -> Iterable[str]:
    p = PurePosixPath(path).parent
    while str(p) != "/":
        yield str(p)
        p = p.parent


def footprint(doc: dict[str, Any]) -> Footprint:
    """The paths a syft-json document's packages depend on."""
    paths: set[str] = set(RELEASE_FILES)
    loc_dirs: set[str] = set()
    for art in doc.get("artifacts") or ():
        if not isinstance(art, dict):
            continue
        locs = list(art.get("locations") or ())
        for lic in art.get("licenses") or ():
            if isinstance(lic, dict):
                locs.extend(lic.get("locations") or ())
        for loc in locs:
            for key in ("path", "accessPath"):
                p = _norm(loc.get(key)) if isinstance(loc, dict) else None
                if p:
                    paths.add(p)
                    loc_dirs.add(str(PurePosixPath(p).parent))
        meta = art.get("metadata")
        for f in (meta.get("files") if isinstance(meta, dict) else None) or ():
            p = _norm(f.get("path") if isinstance(f, dict) else f)
            if p:
                paths.add(p)
        if art.get("type") == "deb" and isinstance(art.get("name"), str):
            # where syft and we look for a package's files even when it has none yet
            paths.add(str(PurePosixPath("/usr/share/doc", art["name"], "copyright")))
            for loc in art.get("locations") or ():
                p = _norm(loc.get("path")) if isinstance(loc, dict) else None
                if p and PurePosixPath(p).name in ("status", "available"):
                    loc_dirs.add(str(PurePosixPath(p).parent / "info"))
    return Footprint(paths=frozenset(paths),
                     dirs=frozenset(d for p in paths for d in _ancestors(p)),
                     location_dirs=frozenset(loc_dirs))


def touched(fp: Footprint, base: VirtualRoot, upper: Iterable[ReadLayer],
            tree: VirtualRoot) -> str | None:
    """The first path of the delta layers `upper` that may change what the scan of
    `base` reports for the image `tree` built on it, or None. Each entry is checked as
    written and with its parent resolved in the image (a write through a symlink)."""
    for rl in upper:
        for m in rl.members:
            if not m.parts:
                continue
            name = m.parts[-1]
            literal_parent = str(PurePosixPath("/" + "/".join(m.parts[:-1])))
            for parent in dict.fromkeys((literal_parent, tree.real_path(literal_parent))):
                where = str(PurePosixPath(parent) / name)
                if m.kind == OPAQUE_ENTRY:  # everything the base had below `parent` goes
                    where = parent
                    hit = parent in fp.dirs or parent in fp.paths
                elif m.kind == WHITEOUT_ENTRY:
                    where = str(PurePosixPath(parent) / name[len(WHITEOUT):])
                    hit = where in fp.paths or where in fp.dirs
                elif m.kind == DIR:  # only a directory where the base had a file or link
                    hit = base.kind_of(where) not in (None, DIR)
                else:  # file, symlink, hard link
                    hit = (where in fp.paths or where in fp.dirs
                           or parent in fp.location_dirs)
                if hit:
                    return where
    return None


def plan(sources: Iterable[ImageSource]) -> dict[str, tuple[str, ...]]:
    """config digest → the base chain (diff_ids) it shares with at least one other image
    of `sources`; only chains that two or more images choose."""
    srcs = [s for s in sources if s.layers and all(l.diff_id for l in s.layers)]
    counts: Counter[tuple[str, ...]] = Counter()
    for s in srcs:
        ids = tuple(l.diff_id for l in s.layers)
        for j in range(1, len(ids) + 1):
            counts[ids[:j]] += 1
    choice: dict[str, tuple[str, ...]] = {}
    for s in srcs:
        ids = tuple(l.diff_id for l in s.layers)
        shared = [ids[:j] for j in range(1, len(ids) + 1) if counts[ids[:j]] >= 2]
        if shared:
            choice[s.config_digest] = shared[-1]
    chosen = Counter(choice.values())
    return {d: c for d, c in choice.items() if chosen[c] >= 2}


@dataclass(frozen=True, slots=True)
class _Base:
    doc: dict[str, Any]  # syft-json of the chain
    footprint: Footprint
    tree: VirtualRoot  # the chain's files, for what a delta replaces


def _content_read(head: bytes) -> bool:
    return head.startswith(CONTENT_MAGIC)


class SharedBases:
    """The delta checks and base scans of one run: thread-safe, each done once, on first
    need, in a small pool of its own."""

    def __init__(self, sources: list[ImageSource], *, store: LayerStore, work: Path,
                 scan_layout: Scan = syft.scan_layout, scan_dir: Scan = syft.scan_dir,
                 scan_archive: Scan = syft.scan_archive,
                 timeout: int = syft.DEFAULT_TIMEOUT, keep_work: bool = False) -> None:
        self.store = store
        self.work = work / "shared"
        self._scan_layout = scan_layout
        self._scan_dir = scan_dir
        self._scan_archive = scan_archive
        self.timeout = timeout
        self.keep_work = keep_work
        self.sources = {s.config_digest: s for s in sources}
        self.chains = plan(sources)
        self._lock = threading.Lock()
        self._ready: Future[frozenset[str]] | None = None
        self._bases: dict[tuple[str, ...], Future[_Base]] = {}
        # one worker checks the deltas while the other starts the base scans
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="share")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if not self.keep_work:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- per image --------------------------------------------------------------------
    def doc_for(self, src: ImageSource, tree: VirtualRoot, read: list[ReadLayer]
                ) -> dict[str, Any] | None:
        """The base scan's syft document if it is also this image's, else None."""
        chain = self.chains.get(src.config_digest)
        if chain is None or src.config_digest not in self._candidates():
            return None
        base = self._base(chain).result()
        hit = touched(base.footprint, base.tree, read[len(chain):], tree)
        if hit is not None:
            log.debug("%s: own scan, its top layers touch %s", src.name, hit)
            return None
        log.debug("%s: catalogued from the scan of its base (%d of its %d layers)", src.name,
                  len(chain), len(src.layers))
        return base.doc

    # -- once per run -----------------------------------------------------------------
    def _candidates(self) -> frozenset[str]:
        with self._lock:
            if self._ready is None:
                self._ready = self._pool.submit(self._check_deltas)
            ready = self._ready
        return ready.result()

    def _check_deltas(self) -> frozenset[str]:
        """Images whose deltas pass the checks of step 2; starts the base scans."""
        deltas = self.work / "deltas"
        passed: dict[str, tuple[str, ...]] = {}
        written: dict[str, str] = {}  # delta dir name → config digest
        budget = MAX_DELTAS_BYTES
        for digest, chain in sorted(self.chains.items()):
            src = self.sources[digest]
            upper = src.layers[len(chain):]
            if not upper:
                passed[digest] = chain
                continue
            what = f"{src.source}: image {src.name}"
            name = str(len(written))
            try:
                delta = VirtualRoot([self.store.get(l, what) for l in upper], what=what)
                why, size = self._materialise(delta, deltas / name, budget)
            except InputError as exc:  # e.g. a hard link into the base: the full scan says
                why, size = str(exc), 0
            except OSError as exc:
                raise ToolError(f"{deltas}: cannot write the layer deltas ({exc})") from None
            if why:
                shutil.rmtree(deltas / name, ignore_errors=True)  # the next delta's place
                log.debug("%s: own scan, its top layers hold %s", src.name, why)
                continue
            budget -= size
            written[name] = digest
            passed[digest] = chain
        per_chain = Counter(passed.values())  # a base scan for one image is its own scan
        passed = {d: c for d, c in passed.items() if per_chain[c] >= 2}
        for chain in sorted(set(passed.values())):
            self._base(chain)  # start the base scans while the deltas are checked
        if written and any(d in passed for d in written.values()):
            doc = self._scan_dir(deltas, work=self.work / "scan-deltas", name="layer-deltas",
                                 timeout=self.timeout)
            for art in doc.get("artifacts") or ():
                for loc in (art.get("locations") or ()) if isinstance(art, dict) else ():
                    top = str(loc.get("path") or "").lstrip("/").split("/", 1)[0]
                    if top in written and written[top] in passed:
                        log.debug("%s: own scan, syft finds %s in its top layers",
                                  self.sources[written[top]].name, art.get("name"))
                        del passed[written[top]]
        if not self.keep_work:
            shutil.rmtree(deltas, ignore_errors=True)
        return frozenset(passed)

    def _materialise(self, delta: VirtualRoot, dest: Path, budget: int) -> tuple[str, int]:
        """Write the delta's files under `dest` for syft → ("", bytes written), or a
        reason it cannot be shared (and what was written anyway)."""
        files = total = 0
        for path, node in delta.walk():
            target = dest / path.lstrip("/")
            if node.kind == DIR:
                target.mkdir(parents=True, exist_ok=True)
                continue
            if node.kind == SYMLINK:
                return f"a symlink ({path})", total
            assert node.kind == FILE
            files += 1
            if (files > MAX_DELTA_FILES or total + node.size > MAX_DELTA_BYTES
                    or total + node.size > budget):
                return "more than the delta scan reads", total
            if _content_read(delta.read_bytes(path, limit=8) or b""):
                return f"a file syft reads by content ({path})", total
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as fh:
                delta.copy_node(node, path, fh)
            total += node.size
        return "", total

    def _base(self, chain: tuple[str, ...]) -> Future[_Base]:
        with self._lock:
            fut = self._bases.get(chain)
            if fut is None:
                fut = self._pool.submit(self._scan_base, chain)
                self._bases[chain] = fut
        return fut

    def _scan_base(self, chain: tuple[str, ...]) -> _Base:
        users = [s for d, s in sorted(self.sources.items()) if self.chains.get(d) == chain]
        # an image that is the base itself, in an archive syft can read in place, is read there
        whole = [s for s in users if len(s.layers) == len(chain) and s.syft_ref]
        src = (whole or users)[0]
        what = f"{src.source}: image {src.name}"
        read = [self.store.get(l, what) for l in src.layers[:len(chain)]]
        dest = self.work / ("base-" + chain[-1].replace(":", "-"))
        try:
            if whole and all(rl.in_place for rl in read):
                doc = self._scan_archive(src.syft_ref, work=dest, name=src.name,
                                         timeout=self.timeout)
            else:
                config = json.dumps({"architecture": src.platform.architecture or "amd64",
                                     "os": src.platform.os or "linux",
                                     "rootfs": {"type": "layers", "diff_ids": list(chain)}},
                                    sort_keys=True).encode()
                layout = write_layout(dest / "layout", config, read)
                doc = self._scan_layout(layout, work=dest, name=f"base of {src.name}",
                                        timeout=self.timeout)
        finally:
            if not self.keep_work:
                shutil.rmtree(dest, ignore_errors=True)
        return _Base(doc=doc, footprint=footprint(doc), tree=VirtualRoot(read, what=what))
