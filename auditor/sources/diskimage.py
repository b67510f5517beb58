# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: a built OS image file (Yocto IMAGE_FSTYPES) read without mounting it.

Recognised by content, never by name: ext2/3/4, squashfs, newc cpio, and GPT or MBR disk
images (wic, hddimg-style) whose partitions are probed one by one; each may also be gzip,
bzip2, xz or zstd compressed. No root, no loop device, no FUSE: ext* is read with debugfs
(e2fsprogs), squashfs with unsquashfs (squashfs-tools); cpio and the partition tables
(GPT with its checksums and backup header, MBR with logical partitions) are read here,
which is what lets a truncated table or a partition past the end of the file be named.

Only what discovery needs is copied into the work dir: the container areas
(`CONTAINER_AREAS`), `etc/os-release`, `etc/fstab`, the ELF probes of architecture
detection (symlinks followed inside the image), files discovery recognises by name
(`*.tar`, `images.manifest`, compose files) and image stores found by their marker files
anywhere. A 2 GB rootfs with small containers costs the containers, not 2 GB.

/etc/fstab is read to follow what the running system would see at a container area:
overlay lower/upper dirs, bind sources and, in a disk image, other partitions mounted
there (matched by PARTUUID, PARTLABEL, LABEL, UUID or partition number); each is
reported as a `Mount`, and `ImageFileInfo.where()` says where an image path really lives.

Safety is that of layers (unpack.py): the listing is checked before anything is written
(no `..`, no `/` in names, sizes and counts capped), every path is created below the
destination by us or by a tool from our own list, and the result is walked again
afterwards: device nodes, FIFOs and sockets are removed, setuid/setgid bits dropped,
sizes re-checked. Symlinks are kept as they are: later stages resolve them inside the
root (rootpath.ImageRoot).
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import logging
import lzma
import os
import re
import shutil
import stat
import subprocess
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from ..errors import InputError, LimitExceededError, ToolError, UnsafeInputError
from ..fileio import copy_exactly
from ..rootpath import resolve_parts, split
from ..unpack import Limits
from .discover import ARCHIVE_SUFFIXES, CONTAINER_DIRS, MIN_ARCHIVE_BYTES, SKIP_DIRS
from .rootfs import _PROBES as ARCH_PROBES
from .rootfs import COMPOSE_NAMES, MANIFEST_NAMES

log = logging.getLogger(__name__)

# Where images live in a target rootfs: discovery's directories plus the engines' stores.
CONTAINER_AREAS = (*CONTAINER_DIRS, "var/lib/docker", "var/lib/containers/storage")
META_FILES = ("etc/os-release", "usr/lib/os-release", "etc/fstab")
ARCH_DIRS = ("bin", "usr/bin", "sbin")  # detect_architecture's fallback, 50 names each
ARCH_FALLBACK = 50
TOOL_TIMEOUT = 3600
MAX_IMAGE_BYTES = 1 << 40  # logical size of a decompressed image (sparse: zeros cost nothing)
MAX_SMALL_FILE = 1 << 20  # fstab and friends
_CHUNK = 1 << 20
_HEAD = 128 << 10  # enough for every magic we look at (swap: 4086, ext4: 1080, GPT: 512)
_TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C",
             "DEBUGFS_PAGER": "__none__", "PAGER": "cat"}
_TOOLS = {"debugfs": "e2fsprogs", "unsquashfs": "squashfs-tools"}

_COMPRESSIONS = (  # magic, kind suffix, module opener
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
)
_SQUASHFS_COMP = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_CPIO_NEWC = (b"070701", b"070702")
_CPIO_OTHER = (b"070707", b"\xc7\x71", b"\x71\xc7")  # odc, old binary (either byte order)
_GPT_TYPES = {
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
    "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
    "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
    "B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "Linux root (ARM-64)",
    "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3": "Linux root (ARM-32)",
    "44479540-F297-41B2-9AF7-D131D5F0458A": "Linux root (x86)",
    "933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "Linux home",
    "BC13C2FF-59E6-4262-A352-B275FD6F7172": "Linux extended boot",
    "21686148-6449-6E6F-744E-656564454649": "BIOS boot",
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
}
_MBR_TYPES = {"83": "Linux", "82": "Linux swap", "c": "W95 FAT32 (LBA)", "b": "W95 FAT32",
              "e": "W95 FAT16 (LBA)", "6": "FAT16", "ef": "EFI (FAT-12/16/32)",
              "5": "Extended", "f": "W95 Extended (LBA)", "85": "Linux extended"}
_MBR_EXTENDED = frozenset({"5", "f", "85"})


# -- values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """One entry of a disk image's partition table, and what it holds."""

    index: int  # the partition number (sda<N>), as the table numbers it
    type: str  # GPT type GUID (upper case) or MBR type byte in hex ("83")
    start: int  # bytes from the start of the image file
    size: int  # bytes
    description: str = ""  # the well-known name of `type`: "EFI System", "Linux swap", ...
    name: str = ""  # GPT partition name (PARTLABEL)
    uuid: str = ""  # GPT partition UUID (PARTUUID); "<disk id>-<NN>" for MBR
    filesystem: str = ""  # ext4, squashfs, vfat, swap, ... by content; "" unknown or empty
    label: str = ""  # the file system's own label (LABEL=)
    fs_uuid: str = ""  # the file system's own UUID (UUID=)

    def __str__(self) -> str:
        what = ", ".join(x for x in (
            self.description or f"type {self.type}", self.filesystem,
            f"label {self.label!r}" if self.label else "",
            f"name {self.name!r}" if self.name else "",
        ) if x)
        return f"partition {self.index} ({what}; {_mib(self.size)} at {_mib(self.start)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount:
    """An /etc/fstab entry that decides what the running system sees at a container area."""

    line: int  # line number in /etc/fstab
    source: str  # fs_spec as written
    mountpoint: str  # absolute
    fstype: str
    options: tuple[str, ...]
    lower: tuple[str, ...] = ()  # overlay lowerdir=, top first (as written)
    upper: str = ""  # overlay upperdir=
    bind: str = ""  # source directory of a bind mount
    partition: int = 0  # the partition of this disk image mounted there (0: none / not here)
    volatile: bool = False  # upper/bind source is on a tmpfs in the same fstab: starts empty

    def __str__(self) -> str:
        if self.fstype == "overlay":
            text = (f"overlay at {self.mountpoint} (lower {':'.join(self.lower) or '-'}, "
                    f"upper {self.upper or '-'}{' on tmpfs' if self.volatile else ''})")
        elif self.bind:
            text = f"bind mount of {self.bind} at {self.mountpoint}"
        else:
            where = f"partition {self.partition}" if self.partition else self.source
            text = f"{where} ({self.fstype}) mounted at {self.mountpoint}"
        return f"{text}, /etc/fstab line {self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageFileInfo:
    """What `extract` read from an image file, for reports and for `where()`."""

    kind: str  # detect()'s answer: ext4, squashfs, cpio, gpt, mbr, + .gz/.bz2/.xz/.zst
    filesystem: str  # what the root file system is: "ext4", "squashfs (xz)", "cpio (newc)"
    partition: Partition | None  # the partition holding the rootfs (disk images only)
    other_partitions: tuple[Partition, ...] = ()  # the rest of the table, reported only
    mounts: tuple[Mount, ...] = ()  # fstab entries that touch a container area
    root: Path  # the extracted root (= dest)
    files: int = 0  # regular files written
    bytes: int = 0  # their total size
    skipped: tuple[str, ...] = ()  # image paths not materialised: device nodes, FIFOs, bad names

    def where(self, image_path: str) -> str:
        """Where an image path as discovery reports it (`/var/lib/docker`) is stored:
        `partition 2: /var/lib/docker (read-only lower dir of the overlay at ...)`."""
        path = "/" + "/".join(split(image_path))
        for m in self.mounts:
            if m.partition and _under(path, m.mountpoint):
                inner = path[len(m.mountpoint.rstrip("/")):] or "/"
                return (f"partition {m.partition}: {inner} (mounted at {m.mountpoint}, "
                        f"/etc/fstab line {m.line})")
        for m in self.mounts:
            if m.fstype == "overlay" and any(_under(path, d) for d in m.lower):
                return f"{self._in()}{path} (read-only lower dir of the {m})"
            if m.bind and _under(path, m.bind):
                return f"{self._in()}{path} (seen at {m.mountpoint} through the {m})"
        return f"{self._in()}{path}"

    def _in(self) -> str:
        return f"partition {self.partition.index}: " if self.partition else ""


# -- detection ----------------------------------------------------------------------


def detect(path: Path) -> str:
    """The kind of image file `path` is ("" if none of ours), by content only.

    ext4 stands for ext2/3/4 alike; compressed images are "ext4.xz", "gpt.zst", ...
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError:
        return ""
    suffix = ""
    for magic, name in _COMPRESSIONS:
        if head.startswith(magic):
            suffix = "." + name
            head = _decompressed_head(path, name)
            break
    kind = _kind_of(head)
    return kind + suffix if kind else ""


def _kind_of(head: bytes) -> str:
    if head[:4] == b"hsqs":
        return "squashfs"
    if head[:6] in _CPIO_NEWC or head[:6] == b"070707":
        return "cpio"
    if "ee" in _mbr_types(head):  # the protective MBR; the GPT headers are checked later
        return "gpt"
    if _ext_magic(head, 0):
        return "ext4"
    if len(head) >= 512 and head[510:512] == b"\x55\xaa" and not _fat_like(head, 0) \
            and _mbr_types(head):
        return "mbr"
    return ""


def _mbr_types(head: bytes) -> list[str]:
    """Type bytes of the valid-looking primary entries of an MBR, [] if it is not one."""
    if len(head) < 512 or head[510:512] != b"\x55\xaa":
        return []
    types = []
    for i in range(4):
        e = head[446 + 16 * i: 462 + 16 * i]
        if e[0] not in (0, 0x80):
            return []
        if e[4]:
            if int.from_bytes(e[12:16], "little") == 0:
                return []
            types.append(f"{e[4]:x}")
    return types


def _ext_magic(buf: bytes, at: int) -> bool:
    sb = at + 1024
    return len(buf) >= sb + 58 and buf[sb + 56: sb + 58] == b"\x53\xef" and \
        int.from_bytes(buf[sb + 24: sb + 28], "little") <= 6  # log block size: 1K..64K


def _fat_like(buf: bytes, at: int) -> bool:
    b = buf[at: at + 512]
    return len(b) == 512 and (b[54:59] == b"FAT12" or b[54:59] == b"FAT16" or
                              b[82:87] == b"FAT32" or b[3:11] in (b"EXFAT   ", b"NTFS    "))


def _decompressed_head(path: Path, comp: str) -> bytes:
    """The first bytes of a compressed file; a truncated or damaged stream gives what came
    before the damage (extract() then names the problem)."""
    out = b""
    try:
        with _open_decompressed(path, comp) as stream:
            while len(out) < _HEAD:
                chunk = stream.read(4096)
                if not chunk:
                    break
                out += chunk
    except (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError):
        pass
    return out


@contextmanager
def _open_decompressed(path: Path, comp: str) -> Iterator[BinaryIO]:
    with open(path, "rb") as raw:
        if comp == "gz":
            stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        elif comp == "bz2":
            stream = bz2.BZ2File(raw)  # type: ignore[assignment]
        elif comp == "xz":
            stream = lzma.LZMAFile(raw)  # type: ignore[assignment]
        elif comp == "zst":
            stream = io.BufferedReader(_ZstdReader(raw), _CHUNK)
        else:
            yield raw
            return
        with stream:
            yield stream


class _ZstdReader(io.RawIOBase):
    """zstd frames one after another; unlike stream_reader, a stream that stops inside a
    frame is an error (EOFError), as it is for gzip, bzip2 and xz.

    Input goes in by the kilobyte: a run of zeros compresses about 32000:1, so this
    bounds what one call can put in memory (~32 MiB)."""

    _FEED = 1024

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""  # compressed input not fed yet
        self._out = b""
        self._pos = 0
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._out):
            if not self._pending:
                self._pending = self._raw.read(64 << 10)
                if not self._pending:
                    if self._started and not self._d.eof:
                        raise EOFError("the zstd stream ends inside a frame")
                    return 0
            if self._d.eof:  # the next frame
                self._d = zstandard.ZstdDecompressor().decompressobj()
            feed, self._pending = self._pending[: self._FEED], self._pending[self._FEED:]
            self._started = True
            self._out, self._pos = self._d.decompress(feed), 0
            if self._d.eof:
                self._pending = self._d.unused_data + self._pending
        n = min(len(buf), len(self._out) - self._pos)
        buf[:n] = self._out[self._pos: self._pos + n]
        self._pos += n
        return n


# -- extraction: the entry point ------------------------------------------------------


def extract(path: Path, dest: Path, *, what: str, limits: Limits = Limits()) -> ImageFileInfo:
    """Copy what discovery needs from image file `path` into the empty directory `dest`.

    Raises InputError for an unknown or corrupt image, a truncated partition table or
    file system, a partition past the end of the file; UnsafeInputError (an InputError)
    for names that try to leave the root; LimitExceededError when the selection is
    over `limits`; ToolError when debugfs or unsquashfs is missing.
    """
    kind = detect(path)
    if not kind:
        raise InputError(f"{what}: not an ext2/3/4, squashfs, cpio or partitioned disk image")
    base, _, comp = kind.partition(".")
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise InputError(f"{dest}: the extraction directory is not empty")
    scratch = dest.parent / f".{dest.name}.diskimage"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700, parents=True)
    try:
        return _extract(path, dest, scratch, what=what, kind=kind, base=base, comp=comp,
                        limits=limits)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(path: Path, dest: Path, scratch: Path, *, what: str, kind: str, base: str,
             comp: str, limits: Limits) -> ImageFileInfo:
    table: list[Partition] | None = None
    partition: Partition | None = None
    others: tuple[Partition, ...] = ()
    if base == "cpio":
        fs: _FileSystem = _Cpio(path, comp, what)
        image = path
    else:
        image = path
        if comp:
            image = scratch / "image"
            _decompress(path, image, comp, what)
        size = image.stat().st_size
        if base in ("gpt", "mbr"):
            table = _partition_table(image, base, what)
            parts = [_probe(image, p, size, what) for p in table]
            fs, partition = _choose_root(image, parts, what, scratch)
            others = tuple(p for p in parts if p.index != partition.index)
        else:
            fs = _open_fs(image, base, 0, size, what, scratch)
    out = _Output(dest, limits, what)
    fs_tree = fs.listing()
    fstab = _read_fstab(fs, fs_tree)
    mounts = _relevant_mounts(fstab, table)
    fs.extract(fs_tree, _select(fs_tree, mounts=mounts, mounted=()), out, "", scratch / "x0")
    skipped = list(fs_tree.skipped)
    # what the running system mounts at a container area from another partition of the disk
    for m in mounts:
        part: Partition | None = next((p for p in others if p.index == m.partition), None)
        if part is None:
            continue
        if part.filesystem not in ("ext4", "squashfs"):
            log.warning("%s: %s holds %s, which is not read", what, m,
                        part.filesystem or "no known file system")
            continue
        sub = _open_fs(image, part.filesystem, part.start, part.size, f"{what}: {part}",
                       scratch)
        sub_tree = sub.listing()
        sel = _select(sub_tree, mounts=(), mounted=(m.mountpoint,))
        sub.extract(sub_tree, sel, out, m.mountpoint.strip("/"), scratch / f"x{m.partition}")
        skipped.extend(sub_tree.skipped)
    files, total, written_special = out.finish()
    skipped = sorted({*skipped, *written_special})
    if skipped:
        log.info("%s: %d entries not copied (device nodes, FIFOs, sockets or unusable "
                 "names), e.g. %s", what, len(skipped), skipped[0])
    return ImageFileInfo(kind=kind, filesystem=fs.describe(), partition=partition,
                         other_partitions=tuple(others), mounts=tuple(mounts), root=dest,
                         files=files, bytes=total, skipped=tuple(skipped))


def _decompress(src: Path, out: Path, comp: str, what: str) -> None:
    """Stream a compressed image into `out`; runs of zeros become holes (sparse file)."""
    total = 0
    try:
        with _open_decompressed(src, comp) as stream, open(out, "wb") as fh:
            zero = bytes(_CHUNK)
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_IMAGE_BYTES:
                    raise LimitExceededError(
                        f"{what}: decompresses to more than {MAX_IMAGE_BYTES} bytes "
                        "(decompression bomb?)")
                if chunk == zero[: len(chunk)]:
                    fh.seek(len(chunk), os.SEEK_CUR)
                else:
                    fh.write(chunk)
            fh.truncate(total)
    except (EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
        raise InputError(f"{what}: truncated or corrupt {comp} stream "
                         f"({exc or type(exc).__name__})") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ToolError(f"{what}: the work dir is full ({exc.strerror})") from None
        raise InputError(f"{what}: truncated or corrupt {comp} stream ({exc})") from None


# -- the listing and what to take from it ------------------------------------------------


@dataclass(slots=True)
class _Entry:
    kind: str  # "file", "dir", "link", "other" (device, FIFO, socket)
    size: int = 0
    target: str = ""  # symlink target
    ref: int = 0  # reader's handle: ext inode number, cpio member ordinal
    mode: int = 0o644  # permission bits as the image has them


class _NotADirectory(Exception):
    """A lookup crossed a file where a directory was needed (stops resolve())."""


@dataclass(slots=True)
class _Tree:
    """A file system's listing: image path ("" = root, "usr/bin") -> entry."""

    entries: dict[str, _Entry] = field(default_factory=lambda: {"": _Entry("dir")})
    children: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def add(self, path: str, entry: _Entry) -> None:
        if path not in self.entries:
            parent = path.rpartition("/")[0]
            self.children.setdefault(parent, []).append(path)
        self.entries[path] = entry

    def resolve(self, path: str, *, follow_final: bool = True) -> tuple[str | None, list[str]]:
        """The real path `path` names (chroot semantics) and the symlinks crossed on the way.

        None when a symlink loop or a non-directory in the middle stops the lookup.
        """
        links: list[str] = []

        def link_of(parts: list[str], last: bool) -> str | None:
            e = self.entries.get("/".join(parts))
            if e is None:
                return None
            if e.kind == "link":
                return e.target
            if e.kind != "dir" and not last:
                raise _NotADirectory
            return None

        try:
            done = resolve_parts(path, link_of, follow_final=follow_final, crossed=links)
        except (_NotADirectory, UnsafeInputError):
            return None, links
        return "/".join(done), links

    def walk(self, top: str) -> Iterator[str]:
        """`top` and every path below it."""
        stack = [top]
        while stack:
            p = stack.pop()
            yield p
            stack.extend(self.children.get(p, ()))

    def kind(self, path: str | None) -> str:
        e = self.entries.get(path) if path is not None else None
        return e.kind if e is not None else "missing"


def _select(tree: _Tree, *, mounts: Iterable[Mount], mounted: tuple[str, ...]) -> set[str]:
    """The paths of `tree` to copy: the container areas, the files discovery and
    architecture detection read, archives and stores anywhere.

    `mounted`: this tree is a file system mounted at these mount points of the rootfs;
    areas are translated below them (and the whole tree is an area if it is mounted at
    or inside one).
    """
    out: set[str] = set()

    def take(path: str, *, tree_too: bool) -> str | None:
        real, links = tree.resolve(path)
        out.update(links)
        if real is None or real not in tree.entries:
            return None
        if tree_too and tree.kind(real) == "dir":
            out.update(tree.walk(real))
        elif tree.kind(real) in ("file", "dir"):
            out.add(real)
        return real

    areas: list[str] = []
    if mounted:
        for mp in mounted:
            mp = mp.strip("/")
            for area in CONTAINER_AREAS:
                if _under("/" + mp, "/" + area):
                    areas.append("")
                elif _under("/" + area, "/" + mp):
                    areas.append(area[len(mp) + 1:])
    else:
        areas.extend(CONTAINER_AREAS)
        for m in mounts:
            if m.partition:
                continue
            areas.extend(d.strip("/") for d in (*m.lower, m.upper, m.bind) if d)
        for f in META_FILES:
            take(f, tree_too=False)
        probes = [take(p, tree_too=False) for p in ARCH_PROBES]
        if not any(tree.kind(p) == "file" for p in probes):
            for d in ARCH_DIRS:
                real, links = tree.resolve(d)
                out.update(links)
                names = sorted(c.rpartition("/")[2] for c in tree.children.get(real or "", ()))
                for name in names[:ARCH_FALLBACK]:
                    take(f"{d}/{name}", tree_too=False)
    for area in areas:
        take(area, tree_too=True)
    # what discovery recognises wherever it is (its walk skips the same top dirs)
    for path, e in tree.entries.items():
        if path.split("/", 1)[0] in SKIP_DIRS and not mounted:
            continue
        name = path.rpartition("/")[2]
        if e.kind == "file":
            if name in MANIFEST_NAMES or name in COMPOSE_NAMES or (
                    name.endswith(ARCHIVE_SUFFIXES) and e.size >= MIN_ARCHIVE_BYTES):
                out.add(path)
            store = _store_root(tree, path, name)
            if store is not None:
                out.update(tree.walk(store))
    out.discard("")
    return out


def _store_root(tree: _Tree, path: str, name: str) -> str | None:
    """The image store / OCI layout directory that marker file `path` shows, if any."""
    parts = path.split("/")
    if name == "oci-layout" and tree.kind("/".join([*parts[:-1], "index.json"])) == "file":
        return "/".join(parts[:-1])
    if name == "repositories.json" and len(parts) >= 3 and parts[-3] == "image":
        return "/".join(parts[:-3])
    if len(parts) >= 6 and parts[-6] == "image" and parts[-4:-1] == ["imagedb", "content",
                                                                      "sha256"]:
        return "/".join(parts[:-6])  # a data-root with images but no repositories.json
    if name == "images.json" and len(parts) >= 2 and parts[-2].endswith("-images"):
        return "/".join(parts[:-2])
    return None


def _under(path: str, top: str) -> bool:
    top = "/" + "/".join(split(top))
    path = "/" + "/".join(split(path))
    return top == "/" or path == top or path.startswith(top + "/")


# -- /etc/fstab ---------------------------------------------------------------------------


def _read_fstab(fs: _FileSystem, tree: _Tree) -> list[Mount]:
    real, _ = tree.resolve("etc/fstab")
    e = tree.entries.get(real) if real is not None else None
    if e is None or e.kind != "file" or e.size > MAX_SMALL_FILE:
        return []
    return parse_fstab(fs.read_small(real, e))  # type: ignore[arg-type]


def parse_fstab(data: bytes) -> list[Mount]:
    """Every mount of an fstab (fields unescaped: `\\040` is a space)."""
    out = []
    for lineno, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [_unoctal(f) for f in line.split()]
        if len(fields) < 3:
            continue
        spec, mountpoint, fstype = fields[:3]
        opts = tuple(o for o in (fields[3] if len(fields) > 3 else "").split(",") if o)
        kv = dict(o.split("=", 1) for o in opts if "=" in o)
        lower = tuple(d for d in re.split(r"(?<!\\):", kv.get("lowerdir", "")) if d)
        bind = spec if ("bind" in opts or "rbind" in opts) else ""
        out.append(Mount(line=lineno, source=spec, mountpoint="/" + "/".join(split(mountpoint)),
                         fstype=fstype, options=opts, lower=lower,
                         upper=kv.get("upperdir", ""), bind=bind))
    return out


def _unoctal(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _relevant_mounts(fstab: list[Mount], table: list[Partition] | None) -> list[Mount]:
    """The mounts at, above or below a container area; device mounts matched to a
    partition of this disk image where they name one."""
    tmpfs = [m.mountpoint for m in fstab if m.fstype == "tmpfs"]
    out = []
    for m in fstab:
        if not any(_under(m.mountpoint, "/" + a) or _under("/" + a, m.mountpoint)
                   for a in CONTAINER_AREAS) or m.mountpoint == "/":
            continue
        volatile = any(_under(d, t) for d in (m.upper, m.bind) if d for t in tmpfs)
        index = 0
        if table is not None and m.fstype not in ("overlay", "tmpfs") and not m.bind:
            index = _partition_for(m.source, table)
        out.append(Mount(line=m.line, source=m.source, mountpoint=m.mountpoint,
                         fstype=m.fstype, options=m.options, lower=m.lower, upper=m.upper,
                         bind=m.bind, partition=index, volatile=volatile))
    return out


def _partition_for(spec: str, table: list[Partition]) -> int:
    key, _, value = spec.partition("=")
    by = {"PARTUUID": lambda p: p.uuid.lower() == value.lower(),
          "PARTLABEL": lambda p: p.name == value,
          "LABEL": lambda p: p.label == value,
          "UUID": lambda p: p.fs_uuid.lower() == value.lower()}
    test: Callable[[Partition], bool] | None = by.get(key) if value else None
    if test is None:
        m = re.fullmatch(r"/dev/disk/by-(partuuid|partlabel|label|uuid)/(.+)", spec)
        if m:
            key, value = m.group(1).upper(), m.group(2)
            return _partition_for(f"{key}={value}", table)
        m = re.fullmatch(r"/dev/(?:[a-z]+\d+(?:n\d+)?p|[sv]d[a-z]|hd[a-z]|xvd[a-z])(\d+)", spec)
        if not m:
            return 0
        number = int(m.group(1))
        test = lambda p: p.index == number
    hits = [p.index for p in table if test(p)]
    return hits[0] if len(hits) == 1 else 0


# -- writing the selection ------------------------------------------------------------------


class _Output:
    """The destination tree: every path below it is created from checked components."""

    def __init__(self, dest: Path, limits: Limits, what: str) -> None:
        self.dest = dest
        self.limits = limits
        self.what = what

    def host(self, image_path: str) -> Path:
        parts = split(image_path)
        if ".." in parts:
            raise UnsafeInputError(f"{self.what}: path {image_path!r} has a '..' component")
        return self.dest.joinpath(*parts)

    def check_selection(self, tree: _Tree, selection: Iterable[str]) -> None:
        """Refuse a selection over the limits before a byte is written."""
        count = total = 0
        for p in selection:
            e = tree.entries[p]
            count += 1
            if e.kind == "file":
                if e.size > self.limits.max_file_bytes:
                    raise LimitExceededError(
                        f"{self.what}: /{p} is {e.size} bytes, over the "
                        f"{self.limits.max_file_bytes} limit")
                total += e.size
        if count > self.limits.max_members:
            raise LimitExceededError(f"{self.what}: more than {self.limits.max_members} entries "
                                     "to extract")
        if total > self.limits.max_total_bytes:
            raise LimitExceededError(f"{self.what}: the container areas hold {total} bytes, "
                                     f"over the {self.limits.max_total_bytes} limit")

    def place(self, staged: Path, at: str) -> None:
        """Move a staged tree into the destination at image path `at` ("" = the root).

        A partition mounted at `at` is merged over what the rootfs has there: at run time
        the mount hides the rootfs's files, but they ship in the image all the same."""
        target = self.host(at)
        if at:
            # the mount point: created where the rootfs has it, never through a link of ours
            cur = self.dest
            for comp in split(at):
                cur = cur / comp
                if cur.is_symlink() or (cur.exists() and not cur.is_dir()):
                    raise UnsafeInputError(f"{self.what}: mount point /{at} is not a directory "
                                           "in the root file system")
                cur.mkdir(exist_ok=True)
        for child in sorted(os.listdir(staged)):
            src, dst = staged / child, target / child
            if dst.is_dir() and not dst.is_symlink() and src.is_dir() and not src.is_symlink():
                self.place(src, f"{at}/{child}" if at else child)
                continue
            if os.path.lexists(dst):
                if dst.is_dir() and not dst.is_symlink():
                    shutil.rmtree(dst)
                else:
                    dst.unlink()
            os.rename(src, dst)

    def finish(self) -> tuple[int, int, list[str]]:
        """Walk the result: drop special files and setuid bits, re-check the limits."""
        files = total = 0
        skipped: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.dest):
            os.chmod(dirpath, (os.lstat(dirpath).st_mode & 0o777) | 0o700)
            for name in [*dirnames, *filenames]:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    files += 1
                    total += st.st_size
                    if st.st_size > self.limits.max_file_bytes or \
                            total > self.limits.max_total_bytes:
                        raise LimitExceededError(
                            f"{self.what}: extracted content exceeds the size limits")
                    if st.st_mode & 0o7000 or not st.st_mode & 0o400:
                        os.chmod(p, (st.st_mode & 0o777) | 0o400)
                elif not (stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    os.unlink(p)
                    skipped.append("/" + os.path.relpath(p, self.dest))
        if files > self.limits.max_members:
            raise LimitExceededError(f"{self.what}: more than {self.limits.max_members} entries")
        return files, total, skipped


# -- readers ----------------------------------------------------------------------------------


class _FileSystem:
    """One file system inside the image file: list it, read a small file, copy a selection."""

    what: str

    def listing(self, max_depth: int = 0) -> _Tree:
        raise NotImplementedError

    def read_small(self, path: str, entry: _Entry) -> bytes:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def extract(self, tree: _Tree, selection: set[str], out: _Output, at: str,
                staging: Path) -> None:
        """Write `selection` of `tree` below `out` at image path `at`.

        Device nodes, FIFOs and sockets are never written (recorded in `tree.skipped`).
        """
        special = {p for p in selection if tree.kind(p) == "other"}
        tree.skipped.extend(sorted(f"/{at}/{p}" if at else f"/{p}" for p in special))
        selection = selection - special
        out.check_selection(tree, selection)
        staging.mkdir(mode=0o700)
        self._materialise(tree, selection, staging)
        out.place(staging, at)

    def _materialise(self, tree: _Tree, selection: set[str], staging: Path) -> None:
        raise NotImplementedError


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def _run(argv: list[str], what: str, *, cwd: Path | None = None, pass_fds: tuple[int, ...] = (),
         stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run one of the tools: argv as a list, a clean environment, a timeout."""
    tool = argv[0]
    if shutil.which(tool, path=_TOOL_ENV["PATH"]) is None:
        raise ToolError(f"{what}: {tool} is not installed (Debian package {_TOOLS[tool]})")
    try:
        return subprocess.run(argv, env=_TOOL_ENV, capture_output=True, timeout=TOOL_TIMEOUT,
                              input=stdin if stdin is not None else b"", check=False, cwd=cwd,
                              pass_fds=pass_fds)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{what}: {tool} timed out after {TOOL_TIMEOUT}s") from None
    except OSError as exc:
        raise ToolError(f"{what}: cannot run {tool} ({exc.strerror})") from None


def _tail(stderr: bytes) -> str:
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines()
             if ln.strip() and not ln.startswith(("debugfs 1.", "catastrophic mode"))]
    return " | ".join(lines[-2:]) or "no error output"


def _open_fs(image: Path, kind: str, offset: int, size: int, what: str,
             scratch: Path) -> _FileSystem:
    if kind == "ext4":
        return _Ext(image, offset, size, what, scratch)
    if kind == "squashfs":
        return _Squashfs(image, offset, size, what)
    raise InputError(f"{what}: holds a {kind or 'unknown'} file system, not ext2/3/4 or squashfs")


class _Ext(_FileSystem):
    """ext2/3/4 through debugfs: `ls -p` per directory, `dump`/`rdump` per inode."""

    _LS = re.compile(rb"^/(\d+)/(\d+)/\d+/\d+/(.*)/(\d*)/$", re.DOTALL)

    def __init__(self, image: Path, offset: int, size: int, what: str, scratch: Path) -> None:
        self.image, self.offset, self.what, self.scratch = image, offset, what, scratch
        with open(image, "rb") as fh:
            fh.seek(offset + 1024)
            sb = fh.read(1024)
        if len(sb) < 1024 or sb[56:58] != b"\x53\xef":
            raise InputError(f"{what}: no ext2/3/4 superblock")
        block = 1024 << int.from_bytes(sb[24:28], "little")
        blocks = int.from_bytes(sb[4:8], "little")
        incompat = int.from_bytes(sb[96:100], "little")
        if incompat & 0x80:  # 64bit
            blocks |= int.from_bytes(sb[336:340], "little") << 32
        if block * blocks > size:
            raise InputError(f"{what}: the ext file system is {block * blocks} bytes but only "
                             f"{size} are there (truncated?)")
        compat = int.from_bytes(sb[92:96], "little")
        self.flavour = "ext4" if incompat & 0x2C0 else "ext3" if compat & 0x4 else "ext2"

    def describe(self) -> str:
        return self.flavour

    def _debugfs(self, commands: list[str], cwd: Path | None = None) -> bytes:
        """Run debugfs commands (read from stdin) in one process. The image goes in as a
        descriptor: a '?' in its name would be taken for an option by the ext2 library."""
        fd = os.open(self.image, os.O_RDONLY)
        try:
            device = f"/dev/fd/{fd}" + (f"?offset={self.offset}" if self.offset else "")
            script = ("\n".join(commands) + "\n").encode("utf-8", "surrogateescape")
            proc = _run(["debugfs", "-c", "-f", "-", device], self.what, cwd=cwd,
                        pass_fds=(fd,), stdin=script)
        finally:
            os.close(fd)
        if proc.returncode != 0:
            raise InputError(f"{self.what}: not a readable ext2/3/4 file system "
                             f"(debugfs: {_tail(proc.stderr)})")
        # debugfs reports a failed command on stderr and still exits 0
        failed = re.search(rb"^(?:ls|dump|rdump|cat): .*$", proc.stderr, re.MULTILINE)
        if failed:
            raise InputError(f"{self.what}: corrupt ext2/3/4 file system (debugfs: "
                             f"{failed.group(0).decode('utf-8', 'replace')})")
        return proc.stdout

    def listing(self, max_depth: int = 0) -> _Tree:
        tree = _Tree()
        tree.entries[""] = _Entry("dir", ref=2)
        level = [""]
        seen = {2}
        depth = 0
        while level:
            depth += 1
            if max_depth and depth > max_depth:
                break
            inodes = [tree.entries[d].ref for d in level]
            out = self._debugfs([f"ls -p <{i}>" for i in inodes])
            sections = self._sections(out, inodes)
            nxt = []
            for d, lines in zip(level, sections):
                for line in lines:
                    m = self._LS.match(line)
                    if m is None:
                        tree.skipped.append(f"/{d}/" if d else "/")
                        continue
                    ino, mode = int(m.group(1)), int(m.group(2), 8)
                    name = os.fsdecode(m.group(3))
                    if ino == 0 or name in (".", ".."):
                        continue  # unused slots (lost+found is full of them)
                    path = f"{d}/{name}" if d else name
                    if not _safe_name(name):
                        tree.skipped.append("/" + path)
                        continue
                    fmt = stat.S_IFMT(mode)
                    if fmt == stat.S_IFDIR:
                        if ino in seen:  # a directory reached twice: corrupt, never loop
                            tree.skipped.append("/" + path)
                            continue
                        seen.add(ino)
                        tree.add(path, _Entry("dir", ref=ino))
                        nxt.append(path)
                    elif fmt == stat.S_IFREG:
                        tree.add(path, _Entry("file", size=int(m.group(4) or 0), ref=ino,
                                              mode=stat.S_IMODE(mode)))
                    elif fmt == stat.S_IFLNK:
                        tree.add(path, _Entry("link", size=int(m.group(4) or 0), ref=ino))
                    else:
                        tree.add(path, _Entry("other", ref=ino))
            level = nxt
        self._link_targets(tree)
        return tree

    def _sections(self, out: bytes, inodes: list[int]) -> list[list[bytes]]:
        sections: list[list[bytes]] = []
        for line in out.split(b"\n"):
            if line.startswith(b"debugfs: "):
                want = f"debugfs: ls -p <{inodes[len(sections)]}>".encode() \
                    if len(sections) < len(inodes) else b""
                if line != want:
                    raise InputError(f"{self.what}: debugfs output out of step at {line[:60]!r}")
                sections.append([])
            elif line and sections:
                sections[-1].append(line)
        if len(sections) != len(inodes):
            raise InputError(f"{self.what}: debugfs listed {len(sections)} of {len(inodes)} "
                             "directories (corrupt file system?)")
        return sections

    def _link_targets(self, tree: _Tree) -> None:
        """Symlink targets, read by letting debugfs recreate the links in a scratch dir
        (`stat` shows only short ones, `dump` none)."""
        links = {p: e for p, e in tree.entries.items() if e.kind == "link"}
        if not links:
            return
        tmp = Path(tempfile.mkdtemp(prefix="links-", dir=self.scratch))
        try:
            inodes = sorted({e.ref for e in links.values()})
            self._debugfs([f"rdump <{i}> ." for i in inodes], cwd=tmp)
            for path, e in links.items():
                try:
                    e.target = os.readlink(tmp / f"<{e.ref}>")
                except OSError:
                    tree.skipped.append("/" + path)
                    e.kind = "other"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def read_small(self, path: str, entry: _Entry) -> bytes:
        return self._debugfs([f"cat <{entry.ref}>"])[len(f"debugfs: cat <{entry.ref}>\n"):]

    def _materialise(self, tree: _Tree, selection: set[str], staging: Path) -> None:
        files = sorted(p for p in selection if tree.kind(p) == "file")
        inodes = sorted({tree.entries[p].ref for p in files})
        # each inode is dumped once, under a name of ours, beside the tree it goes into
        dumped = staging.with_name(staging.name + ".inodes")
        dumped.mkdir(mode=0o700)
        if inodes:
            self._debugfs([f"dump <{i}> {i}" for i in inodes], cwd=dumped)
        placed: dict[int, Path] = {}
        for p in sorted(selection):
            e = tree.entries[p]
            host = staging.joinpath(*p.split("/"))
            host.parent.mkdir(parents=True, exist_ok=True)
            if e.kind == "dir":
                host.mkdir(exist_ok=True)
            elif e.kind == "link":
                os.symlink(e.target, host)
            elif e.kind == "file":
                first = placed.get(e.ref)
                if first is not None:
                    os.link(first, host)
                    continue
                src = dumped / str(e.ref)
                try:
                    got = os.lstat(src).st_size
                except FileNotFoundError:
                    raise InputError(f"{self.what}: /{p} cannot be read (corrupt or truncated "
                                     "file system?)") from None
                if got != e.size:
                    raise InputError(f"{self.what}: /{p} reads as {got} bytes but its inode "
                                     f"says {e.size} (corrupt or truncated file system?)")
                os.rename(src, host)
                os.chmod(host, (e.mode & 0o777) | 0o600)
                placed[e.ref] = host
            else:
                tree.skipped.append("/" + p)
        shutil.rmtree(dumped)


class _Squashfs(_FileSystem):
    """squashfs through unsquashfs: `-lln` to list, `-ef` with our own list to extract."""

    _LS = re.compile(rb"^([-dlcbps])[rwxsStT-]{9} \d+/\d+ +(\d+|\d+, *\d+) "
                     rb"\d{4}-\d\d-\d\d \d\d:\d\d (.*)$", re.DOTALL)

    def __init__(self, image: Path, offset: int, size: int, what: str) -> None:
        self.image, self.offset, self.what = image, offset, what
        with open(image, "rb") as fh:
            fh.seek(offset)
            sb = fh.read(96)
        if len(sb) < 96 or sb[:4] != b"hsqs":
            raise InputError(f"{what}: no squashfs superblock")
        self.compression = _SQUASHFS_COMP.get(int.from_bytes(sb[20:22], "little"), "unknown")
        used = int.from_bytes(sb[40:48], "little")
        if used > size:
            raise InputError(f"{what}: the squashfs is {used} bytes but only {size} are there "
                             "(truncated?)")

    def describe(self) -> str:
        return f"squashfs ({self.compression})"

    def _argv(self, *args: str) -> list[str]:
        off = ["-o", str(self.offset)] if self.offset else []
        return ["unsquashfs", "-n", *off, *args, str(self.image)]

    def _fail(self, proc: subprocess.CompletedProcess[bytes], doing: str) -> InputError:
        return InputError(f"{self.what}: not a readable squashfs ({doing}: unsquashfs: "
                          f"{_tail(proc.stderr)})")

    def listing(self, max_depth: int = 0) -> _Tree:
        depth = ["-max-depth", str(max_depth)] if max_depth else []
        proc = _run(self._argv("-lln", "-UTC", "-d", "", *depth), self.what)
        if proc.returncode != 0:
            raise self._fail(proc, "listing")
        tree = _Tree()
        for raw in proc.stdout.split(b"\n"):
            m = self._LS.match(raw)
            if m is None:
                if raw.strip():  # the rest of a name with a newline: cannot be extracted
                    tree.skipped.append(os.fsdecode(raw[-80:]))
                continue
            t, size, name = m.group(1), m.group(2), m.group(3)
            target = b""
            if t == b"l":
                # "<name> -> <target>": the target is the last <size> bytes, whatever it holds
                n = int(size)
                if not n or name[-n - 4: -n] != b" -> ":
                    tree.skipped.append(os.fsdecode(name))
                    continue
                name, target = name[: -n - 4], name[-n:]
            if not name:
                continue  # the root
            comps = [os.fsdecode(c) for c in name.split(b"/")]
            if comps[0] != "" or not all(_safe_name(c) for c in comps[1:]):
                raise UnsafeInputError(f"{self.what}: entry {os.fsdecode(name)!r} has an "
                                       "unsafe name")
            path = "/".join(comps[1:])
            if t == b"l":
                tree.add(path, _Entry("link", size=len(target), target=os.fsdecode(target)))
            elif t == b"d":
                tree.add(path, _Entry("dir"))
            elif t == b"-":
                tree.add(path, _Entry("file", size=int(size)))
            else:
                tree.add(path, _Entry("other"))
        return tree

    def read_small(self, path: str, entry: _Entry) -> bytes:
        off = ["-o", str(self.offset)] if self.offset else []
        proc = _run(["unsquashfs", "-n", *off, "-cat", str(self.image), path], self.what)
        if proc.returncode != 0:
            raise self._fail(proc, f"reading /{path}")
        return proc.stdout

    def _materialise(self, tree: _Tree, selection: set[str], staging: Path) -> None:
        # files, links and empty directories by exact name: a directory on the list would
        # bring its device nodes along (unsquashfs run as root creates them)
        has_child = {p.rpartition("/")[0] for p in selection}
        names = []
        for p in sorted(selection):
            k = tree.kind(p)
            if k in ("file", "link") or (k == "dir" and p not in has_child):
                if "\n" in p:
                    tree.skipped.append("/" + p)
                    continue
                names.append(p)
            elif k == "other":
                tree.skipped.append("/" + p)
        if not names:
            return
        listfile = staging.parent / f"{staging.name}.list"
        listfile.write_bytes(("\n".join(names) + "\n").encode("utf-8", "surrogateescape"))
        try:
            proc = _run(self._argv("-no-xattrs", "-no-wildcards", "-ef", str(listfile),
                                   "-d", str(staging)), self.what)
        finally:
            listfile.unlink()
        if proc.returncode != 0:
            raise self._fail(proc, "extracting")
        for p in names:
            host = staging.joinpath(*p.split("/"))
            if tree.kind(p) == "file":
                try:
                    st = os.lstat(host)
                except FileNotFoundError:
                    raise InputError(f"{self.what}: /{p} was not extracted (corrupt squashfs? "
                                     f"unsquashfs: {_tail(proc.stderr)})") from None
                if not stat.S_ISREG(st.st_mode) or st.st_size != tree.entries[p].size:
                    raise InputError(f"{self.what}: /{p} extracted as {st.st_size} bytes, the "
                                     f"listing says {tree.entries[p].size} (corrupt squashfs?)")


class _Cpio(_FileSystem):
    """newc/crc cpio, optionally compressed, read here: one pass to list, one to copy."""

    def __init__(self, path: Path, comp: str, what: str) -> None:
        self.path, self.comp, self.what = path, comp, what
        self.small: dict[str, bytes] = {}  # META_FILES, kept while listing

    def describe(self) -> str:
        return "cpio (newc" + (f", {self.comp})" if self.comp else ")")

    def _members(self) -> Iterator[tuple[int, str, int, int, int, BinaryIO]]:
        """(ordinal, name, mode, size, ino key, stream positioned at the data)."""
        try:
            with _open_decompressed(self.path, self.comp) as stream:
                reader = _Reader(stream, self.what)
                ordinal = 0
                while True:
                    hdr = reader.exact(110, "header")
                    magic = hdr[:6]
                    if magic not in _CPIO_NEWC:
                        if magic in _CPIO_OTHER or magic[:2] in _CPIO_OTHER:
                            raise InputError(f"{self.what}: only newc cpio archives are "
                                             "supported (this is the odc or binary format)")
                        raise InputError(f"{self.what}: corrupt cpio header at byte "
                                         f"{reader.pos - 110}")
                    try:
                        f = [int(hdr[6 + 8 * i: 14 + 8 * i], 16) for i in range(13)]
                    except ValueError:
                        raise InputError(f"{self.what}: corrupt cpio header at byte "
                                         f"{reader.pos - 110}") from None
                    ino, mode, nlink, size, dev_major, dev_minor, namesize = (
                        f[0], f[1], f[4], f[6], f[7], f[8], f[11])
                    raw_name = reader.exact(namesize, "name")
                    reader.skip((-(110 + namesize)) % 4)
                    name = os.fsdecode(raw_name.rstrip(b"\0"))
                    if name == "TRAILER!!!":
                        return
                    key = (dev_major << 40) ^ (dev_minor << 32) ^ ino if nlink > 1 else 0
                    start = reader.pos
                    yield ordinal, name, mode, size, key, reader.limited(size)
                    reader.skip(size - (reader.pos - start))
                    reader.skip((-size) % 4)
                    ordinal += 1
        except (EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
            raise InputError(f"{self.what}: truncated or corrupt compressed cpio "
                             f"({exc or type(exc).__name__})") from None

    def _path(self, name: str) -> str | None:
        parts = split(name)
        if ".." in parts:
            raise UnsafeInputError(f"{self.what}: member {name!r} points outside the image (`..`)")
        return "/".join(parts)

    def listing(self, max_depth: int = 0) -> _Tree:
        tree = _Tree()
        for ordinal, name, mode, size, key, data in self._members():
            path = self._path(name)
            if not path:
                continue
            fmt = stat.S_IFMT(mode)
            # parents the archive does not list are directories
            parts = path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if tree.kind(parent) != "dir":
                    tree.add(parent, _Entry("dir"))
            if fmt == stat.S_IFDIR:
                tree.add(path, _Entry("dir", ref=ordinal))
            elif fmt == stat.S_IFREG:
                tree.add(path, _Entry("file", size=size, ref=ordinal, mode=stat.S_IMODE(mode)))
                if path in META_FILES and size <= MAX_SMALL_FILE:
                    self.small[path] = data.read(size)
            elif fmt == stat.S_IFLNK:
                if size > 4096:
                    raise InputError(f"{self.what}: symlink {name!r} has a {size}-byte target")
                target = os.fsdecode(data.read(size))
                tree.add(path, _Entry("link", size=size, target=target, ref=ordinal))
            else:
                tree.add(path, _Entry("other", ref=ordinal))
            tree.entries[path].size = size if fmt in (stat.S_IFREG, stat.S_IFLNK) else 0
        return tree

    def read_small(self, path: str, entry: _Entry) -> bytes:
        return self.small.get(path, b"")

    def _materialise(self, tree: _Tree, selection: set[str], staging: Path) -> None:
        wanted = {tree.entries[p].ref: p for p in selection}
        for d in sorted(selection):  # directories first, whatever the archive order
            if tree.kind(d) == "dir":
                staging.joinpath(*d.split("/")).mkdir(parents=True, exist_ok=True)
        # newc stores a hard-linked file's data once, with the last of its names
        pending: dict[int, list[Path]] = {}
        for ordinal, name, mode, size, key, data in self._members():
            p = wanted.get(ordinal)
            if p is None and not (key and key in pending and size):
                continue
            host = staging.joinpath(*p.split("/")) if p is not None else None
            e = tree.entries[p] if p is not None else None
            if host is not None:
                host.parent.mkdir(parents=True, exist_ok=True)
            if e is not None and host is not None and e.kind == "link":
                os.symlink(e.target, host)
                continue
            if e is not None and e.kind != "file":
                continue
            if key and size == 0 and host is not None:
                pending.setdefault(key, []).append(host)
                continue
            names = [*pending.pop(key, []), *([host] if host is not None else [])]
            first = names[0]
            with open(first, "xb") as fh:
                if copy_exactly(data, fh, size, _CHUNK) != size:
                    raise InputError(f"{self.what}: member {name!r} is truncated")
            os.chmod(first, (stat.S_IMODE(mode) & 0o777) | 0o600)
            for other in names[1:]:
                os.link(first, other)
        for names in pending.values():  # hard links whose data never came: empty files
            first = names[0]
            first.touch()
            for other in names[1:]:
                os.link(first, other)


class _Reader:
    """Counts and bounds reads from a (decompressed) stream."""

    def __init__(self, stream: BinaryIO, what: str) -> None:
        self.stream, self.what, self.pos = stream, what, 0

    def exact(self, n: int, doing: str) -> bytes:
        data = self.stream.read(n)
        while len(data) < n:
            more = self.stream.read(n - len(data))
            if not more:
                raise InputError(f"{self.what}: truncated cpio archive (ends in a {doing} at "
                                 f"byte {self.pos + len(data)}, no TRAILER!!!)")
            data += more
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        while n > 0:
            k = min(n, _CHUNK)
            self.exact(k, "member")
            n -= k

    def limited(self, n: int) -> BinaryIO:
        reader = self

        class _Limited:
            left = n

            def read(self, k: int = -1) -> bytes:
                k = self.left if k < 0 else min(k, self.left)
                if k <= 0:
                    return b""
                data = reader.exact(k, "member")
                self.left -= len(data)
                return data

        return _Limited()  # type: ignore[return-value]


# -- partitioned disks --------------------------------------------------------------------------


def _partition_table(image: Path, label: str, what: str) -> list[Partition]:
    """The partitions of a GPT or MBR disk image, each checked to lie inside the file."""
    size = image.stat().st_size
    with open(image, "rb") as fh:
        parts = _gpt(fh, size, what) if label == "gpt" else _mbr(fh, size, what)
    parts = [p for p in parts if p.size]
    if not parts:
        raise InputError(f"{what}: the {label.upper()} partition table has no partitions")
    for p in parts:
        if p.start + p.size > size:
            raise InputError(f"{what}: partition {p.index} ends at byte {p.start + p.size} but "
                             f"the file is {size} bytes (truncated?)")
    return parts


def _read_at(fh: BinaryIO, at: int, n: int) -> bytes:
    fh.seek(at)
    return fh.read(n)


def _gpt(fh: BinaryIO, size: int, what: str) -> list[Partition]:
    """GPT (UEFI spec 5.3): the primary header at LBA 1, else the backup in the last LBA."""
    problems = []
    for sector in (512, 4096):
        for at in (sector, size - sector):
            hdr = _read_at(fh, at, sector) if at > 0 else b""
            if hdr[:8] != b"EFI PART":
                continue
            hsize = int.from_bytes(hdr[12:16], "little")
            if not 92 <= hsize <= sector or \
                    zlib.crc32(hdr[:16] + b"\0\0\0\0" + hdr[20:hsize]) != \
                    int.from_bytes(hdr[16:20], "little"):
                problems.append(f"the {'primary' if at == sector else 'backup'} GPT header "
                                "fails its checksum")
                continue
            entries_at = int.from_bytes(hdr[72:80], "little") * sector
            count = int.from_bytes(hdr[80:84], "little")
            esize = int.from_bytes(hdr[84:88], "little")
            if esize < 128 or esize > 4096 or count > 65536:
                problems.append(f"the GPT header has impossible entry counts ({count} x {esize})")
                continue
            table = _read_at(fh, entries_at, count * esize)
            if len(table) < count * esize:
                raise InputError(f"{what}: the GPT partition entries end at byte "
                                 f"{entries_at + count * esize} but the file is {size} bytes "
                                 "(partition table truncated)")
            if zlib.crc32(table) != int.from_bytes(hdr[88:92], "little"):
                problems.append("the GPT partition entries fail their checksum")
                continue
            if at != sector:
                log.warning("%s: the primary GPT header is damaged, using the backup", what)
            out = []
            for i in range(count):
                e = table[i * esize: i * esize + 128]
                if not any(e[:16]):
                    continue
                ptype = str(uuid.UUID(bytes_le=e[:16])).upper()
                first, last = (int.from_bytes(e[32:40], "little"),
                               int.from_bytes(e[40:48], "little"))
                if last < first:
                    raise InputError(f"{what}: GPT partition {i + 1} ends before it starts")
                out.append(Partition(
                    index=i + 1, type=ptype, start=first * sector,
                    size=(last - first + 1) * sector, description=_GPT_TYPES.get(ptype, ""),
                    name=e[56:128].decode("utf-16-le", "replace").split("\0", 1)[0],
                    uuid=str(uuid.UUID(bytes_le=e[16:32]))))
            return out
    detail = "; ".join(dict.fromkeys(problems)) or "no GPT header at LBA 1 or at the end"
    raise InputError(f"{what}: corrupt GPT ({detail})")


def _mbr(fh: BinaryIO, size: int, what: str) -> list[Partition]:
    """MBR: four primary entries, logical partitions (5, 6, ...) along the EBR chain."""
    mbr = _read_at(fh, 0, 512)
    disk_id = mbr[440:444][::-1].hex()

    def entry(sector: bytes, i: int) -> tuple[str, int, int]:
        e = sector[446 + 16 * i: 462 + 16 * i]
        return (f"{e[4]:x}", int.from_bytes(e[8:12], "little") * 512,
                int.from_bytes(e[12:16], "little") * 512)

    def part(index: int, ptype: str, start: int, length: int) -> Partition:
        return Partition(index=index, type=ptype, start=start, size=length,
                         description=_MBR_TYPES.get(ptype, ""), uuid=f"{disk_id}-{index:02x}")

    out = []
    extended = 0
    for i in range(4):
        ptype, start, length = entry(mbr, i)
        if ptype == "0":
            continue
        if ptype == "ee":
            raise InputError(f"{what}: corrupt GPT (only the protective MBR is left: no valid "
                             "GPT header at LBA 1 or at the end)")
        out.append(part(i + 1, ptype, start, length))
        if ptype in _MBR_EXTENDED and not extended:
            extended = start
    ebr_at, index, seen = extended, 5, set()
    while ebr_at and ebr_at not in seen and index < 5 + 128:
        seen.add(ebr_at)
        ebr = _read_at(fh, ebr_at, 512)
        if len(ebr) < 512 or ebr[510:512] != b"\x55\xaa":
            raise InputError(f"{what}: the extended partition's table at byte {ebr_at} is "
                             "missing or damaged (truncated?)")
        ptype, rel, length = entry(ebr, 0)
        if ptype != "0":
            out.append(part(index, ptype, ebr_at + rel, length))
            index += 1
        ntype, nrel, _ = entry(ebr, 1)
        ebr_at = extended + nrel if ntype in _MBR_EXTENDED and nrel else 0
    return out


def _probe(image: Path, p: Partition, size: int, what: str) -> Partition:
    """`p` with what its content is (by magic) and the file system's own label/UUID."""
    from dataclasses import replace

    if p.type in _MBR_EXTENDED:
        return replace(p, filesystem="extended")
    with open(image, "rb") as fh:
        fh.seek(p.start)
        head = fh.read(min(_HEAD, p.size))
    fs, label, fs_uuid = "", "", ""
    if head[:4] == b"hsqs":
        fs = "squashfs"
    elif _ext_magic(head, 0):
        fs = "ext4"
        sb = head[1024:2048]
        u = sb[104:120].hex()
        fs_uuid = f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
        label = sb[120:136].split(b"\0", 1)[0].decode("utf-8", "replace")
    elif _fat_like(head, 0) and head[510:512] == b"\x55\xaa":
        fs = "vfat"
        at = 71 if head[82:87] == b"FAT32" else 43
        label = head[at: at + 11].decode("ascii", "replace").strip()
        if label == "NO NAME":
            label = ""
        serial = head[at - 4: at][::-1].hex().upper()
        fs_uuid = f"{serial[:4]}-{serial[4:]}"
    elif head[4086:4096] in (b"SWAPSPACE2", b"SWAP-SPACE") or \
            head[65526:65536] in (b"SWAPSPACE2", b"SWAP-SPACE"):
        fs = "swap"
    elif head[:6] in _CPIO_NEWC:
        fs = "cpio"
    return replace(p, filesystem=fs, label=label, fs_uuid=fs_uuid)


def _choose_root(image: Path, parts: list[Partition], what: str, scratch: Path
                 ) -> tuple[_FileSystem, Partition]:
    """The partition that holds the root file system, by content: /etc/os-release first,
    then /usr; the first such in table order."""
    best: tuple[int, int, Partition, _FileSystem] | None = None
    for order, p in enumerate(parts):
        if p.filesystem not in ("ext4", "squashfs"):
            continue
        fs = _open_fs(image, p.filesystem, p.start, p.size, f"{what}: {p}", scratch)
        tree = fs.listing(max_depth=3)
        score = 0
        if any(tree.kind(tree.resolve(f)[0]) == "file"
               for f in ("etc/os-release", "usr/lib/os-release")):
            score = 2
        elif tree.kind(tree.resolve("usr")[0]) == "dir":
            score = 1
        if score and (best is None or score > best[0]):
            best = (score, order, p, fs)
    if best is None:
        seen = "; ".join(str(p) for p in parts)
        raise InputError(f"{what}: no partition holds a root file system (etc/os-release or "
                         f"usr/): {seen}")
    return best[3], best[2]


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
