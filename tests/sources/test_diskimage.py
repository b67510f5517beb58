# SPDX-License-Identifier: Apache-2.0
"""Built OS images (Yocto IMAGE_FSTYPES) as scan targets: ext4, squashfs, cpio, GPT/MBR disks.

Every image is made here from one small rootfs cut from the podman fixture (busybox and
debian-base archives, os-release, busybox), with the real tools and without root or
mounts: `mkfs.ext4 -d`, `mksquashfs`, `cpio -o -H newc`, `sfdisk` on a plain file plus
`mkfs.vfat`/`mkswap` on separate files copied into place with `dd`. `scan` on each must
find the same images (config digests), declarations and packages as `scan` on the
directory; damaged variants must stop with exit 2 and one line naming the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from markupsafe import escape

from auditor.errors import InputError
from auditor.sources import diskimage
from tests.conftest import SHARED, need, need_path, run_cli

KEEP = ("busybox-1.35.tar", "debian-base-bookworm.tar")
MANIFEST = "debian-base bookworm debian-base\nbusybox 1.35 busybox\n"
EFI = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SWAP = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
MIB = 1 << 20
TOOLS = ("mkfs.ext4", "debugfs", "mksquashfs", "unsquashfs", "cpio", "sfdisk", "mkfs.vfat",
         "mkswap", "zstd", "xz", "dd")


def _sh(*argv: object, cwd: Path | None = None) -> str:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd,
                          check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    return proc.stdout


def _pipe(script: str) -> None:
    proc = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{script}: {proc.stderr}"


def _du(path: Path) -> int:
    """Bytes actually allocated below `path` (sparse files count what they use)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for n in [*dirnames, *filenames]:
            total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
    return total


def _mkext4(src: Path, out: Path, mib: int, label: str = "") -> Path:
    _sh("mkfs.ext4", "-q", "-F", "-d", src, *(("-L", label) if label else ()), out, f"{mib}M")
    return out


def _size_mib(src: Path) -> int:
    """Room for `src` in a fresh ext4: its data plus inode tables and the journal."""
    return _du(src) * 115 // 100 // MIB + 32


def _disk(out: Path, label: str, parts: list[tuple[Path | None, int, str, str]]) -> Path:
    """A partitioned disk image: (content file or None, size in MiB, type, name) each."""
    total = 2 + sum(p[1] for p in parts)
    with open(out, "wb") as fh:
        fh.truncate(total * MIB)
    lines = [f"label: {label}"]
    start = 1
    for _content, mib, ptype, name in parts:
        extra = f', name="{name}"' if label == "gpt" and name else ""
        lines.append(f"start={start * 2048}, size={mib * 2048}, type={ptype}{extra}")
        start += mib
    proc = subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(out)],
                          input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    start = 1
    for content, mib, _ptype, _name in parts:
        if content is not None:
            _sh("dd", f"if={content}", f"of={out}", "bs=1M", f"seek={start}", "conv=notrunc,sparse",
                "status=none")
        start += mib
    return out


def _vfat(out: Path, mib: int) -> Path:
    _sh("mkfs.vfat", "-C", "-n", "EFI", out, str(mib * 1024))
    return out


def _swap(out: Path, mib: int) -> Path:
    with open(out, "wb") as fh:
        fh.truncate(mib * MIB)
    _sh("mkswap", "-q", out)
    return out


@pytest.fixture(scope="session")
def small_root(fixtures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The podman rootfs with only the busybox and debian-base archives."""
    need(*TOOLS)
    src = Path(fixtures["rootfs"]["podman"]["path"])
    root = tmp_path_factory.mktemp("diskimage") / "rootfs"
    (root / "usr/share/container-images").mkdir(parents=True)
    shutil.copytree(src / "etc", root / "etc", symlinks=True)
    shutil.copytree(src / "bin", root / "bin", symlinks=True)
    for name in KEEP:
        shutil.copy2(src / "usr/share/container-images" / name,
                     root / "usr/share/container-images" / name)
    (root / "usr/share/container-images/images.manifest").write_text(MANIFEST)
    return root


class Images:
    """Image files built on first use, once per session."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.work = work
        self.built: dict[str, Path] = {}
        self.makers: dict[str, Callable[[Path], None]] = {
            "rootfs.ext4": lambda p: _mkext4(root, p, _size_mib(root)),
            "rootfs-big.ext4": self._big_ext4,
            "rootfs-xz.squashfs": lambda p: self._squashfs(p, "xz"),
            "rootfs-zstd.squashfs": lambda p: self._squashfs(p, "zstd"),
            "rootfs.cpio.gz": self._cpio_gz,
            "disk.wic": lambda p: self._disk(p, "gpt"),
            "disk-mbr.wic": lambda p: self._disk(p, "dos"),
            "disk.wic.zst": lambda p: _sh("zstd", "-q", "-T0", "-o", p, self.get("disk.wic")),
            "rootfs.ext4.xz": lambda p: _sh("sh", "-c",
                                            f"xz -T0 -0 -c {self.get('rootfs.ext4')} > {p}"),
        }

    def get(self, name: str) -> Path:
        if name not in self.built:
            path = self.work / name
            self.makers[name](path)
            self.built[name] = path
        return self.built[name]

    def _big_ext4(self, out: Path) -> None:
        src = self.work / "big-src"
        shutil.copytree(self.root, src, symlinks=True)
        (src / "opt").mkdir()
        block = os.urandom(MIB)
        with open(src / "opt/big.bin", "wb") as fh:  # 200 MB that must not be copied
            fh.writelines(block[i:] + block[:i] for i in range(200))
        _mkext4(src, out, _size_mib(src))
        shutil.rmtree(src)

    def _squashfs(self, out: Path, comp: str) -> None:
        _sh("mksquashfs", self.root, out, "-comp", comp, "-noappend", "-quiet", "-no-progress")

    def _cpio_gz(self, out: Path) -> None:
        _pipe(f"cd '{self.root}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet "
              f"| gzip -1 > '{out}'")

    def _disk(self, out: Path, label: str) -> None:
        rootfs = self.get("rootfs.ext4")
        mib = -(-rootfs.stat().st_size // MIB)
        gpt = label == "gpt"
        _disk(out, label, [
            (_vfat(self.work / f"efi-{label}.img", 32), 32, EFI if gpt else "ef", "efi"),
            (rootfs, mib, LINUX if gpt else "83", "rootfs"),
            (_swap(self.work / f"swap-{label}.img", 8), 8, SWAP if gpt else "82", "swap"),
        ])


@pytest.fixture(scope="session")
def images(small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Images:
    return Images(small_root, tmp_path_factory.mktemp("images"))


_SCANS: dict[tuple[str, ...], dict[str, Any]] = {}


def _scan(target: Path, tmp: Path, *extra: str) -> dict[str, Any]:
    key = (str(target), *extra)
    if key not in _SCANS:
        out = tmp / f"inv-{len(_SCANS)}.json"
        r = run_cli("scan", str(target), "-o", f"json={out}", *extra)
        assert r.rc == 0, f"scan {target} failed ({r.rc}): {r.err}"
        _SCANS[key] = json.loads(out.read_text())
    return _SCANS[key]


def _summary(inv: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the rootfs was stored."""
    return {
        "architecture": inv["architecture"],
        "images": sorted(
            (i["config_digest"], i["source"], tuple(i["tags"]),
             tuple(sorted((p["name"], p["version"], p["purl"], p["concluded_license"])
                          for p in i["packages"])))
            for i in inv["images"]),
        "declared": sorted((d["reference"], d["found"], tuple(d["matches"]))
                           for d in inv["declared"]),
        "undeclared": sorted(inv["undeclared"]),
    }


@pytest.fixture(scope="session")
def baseline(small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    inv = _scan(small_root, tmp_path_factory.mktemp("scans"), "--no-cache")
    summary = _summary(inv)
    assert len(summary["images"]) == 2 and all(found for _, found, _ in summary["declared"])
    assert any(len(pkgs) > 50 for *_, pkgs in summary["images"])  # debian-base
    return summary


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, kind", [
    ("rootfs.ext4", "ext4"), ("rootfs-xz.squashfs", "squashfs"),
    ("rootfs-zstd.squashfs", "squashfs"), ("rootfs.cpio.gz", "cpio.gz"), ("disk.wic", "gpt"),
    ("disk-mbr.wic", "mbr"), ("disk.wic.zst", "gpt.zst"), ("rootfs.ext4.xz", "ext4.xz"),
])
def test_detect_by_content(images: Images, tmp_path: Path, name: str, kind: str) -> None:
    assert diskimage.detect(images.get(name)) == kind
    renamed = tmp_path / "no-suffix"  # the name plays no part
    renamed.symlink_to(images.get(name))
    assert diskimage.detect(renamed) == kind


def test_detect_rejects_other_files(small_root: Path, tmp_path: Path) -> None:
    tar = small_root / "usr/share/container-images/busybox-1.35.tar"
    (tmp_path / "random").write_bytes(os.urandom(200_000))
    (tmp_path / "empty").write_bytes(b"")
    _pipe(f"cd '{small_root}' && tar -czf '{tmp_path}/rootfs.tar.gz' etc bin")
    vfat = _vfat(tmp_path / "efi.img", 8)  # a boot sector ends in 55 AA too: not an MBR
    for p in (tar, tmp_path / "random", tmp_path / "empty", tmp_path / "rootfs.tar.gz", vfat,
              small_root):
        assert diskimage.detect(p) == "", p


# -- the same findings as on the directory ---------------------------------------------------


@pytest.mark.parametrize("name", [
    "rootfs.ext4", "rootfs-xz.squashfs", "rootfs-zstd.squashfs", "rootfs.cpio.gz", "disk.wic",
])
def test_scan_matches_directory(images: Images, baseline: dict[str, Any], tmp_path: Path,
                                name: str) -> None:
    """Catalogued afresh (no cache): same images, declarations and packages as the dir."""
    inv = _scan(images.get(name), tmp_path, "--no-cache")
    assert _summary(inv) == baseline
    # the outputs name the image file (and partition) each container came from
    assert inv["image_file"].startswith(images.get(name).name + ": ")
    assert all(i["stored_at"].endswith(i["source"]) for i in inv["images"])
    if "wic" in name:
        assert "rootfs on partition 2" in inv["image_file"]
        assert all(i["stored_at"].startswith("partition 2: ") for i in inv["images"])
    assert inv["target"] == str(images.get(name))


@pytest.mark.parametrize("name", ["disk-mbr.wic", "disk.wic.zst", "rootfs.ext4.xz"])
def test_scan_variants_match_directory(images: Images, baseline: dict[str, Any],
                                       tmp_path: Path, name: str) -> None:
    """MBR and compressed images: with the inventory cache, every layer is still read
    from the image and checked against its digests."""
    inv = _scan(images.get(name), tmp_path)
    assert _summary(inv) == baseline


def test_big_filesystem_is_not_extracted_whole(images: Images, baseline: dict[str, Any],
                                               tmp_path: Path) -> None:
    image = images.get("rootfs-big.ext4")
    assert image.stat().st_size > 300 * MIB
    work = tmp_path / "work"
    inv = _scan(image, tmp_path, "--work-dir", str(work), "--keep-work")
    assert _summary(inv) == baseline
    root = work / "rootfs"
    containers = sum(os.path.getsize(root / "usr/share/container-images" / n) for n in KEEP)
    assert not (root / "opt").exists()
    assert _du(root) < containers + 4 * MIB, _du(root)
    assert not [p for p in work.iterdir() if p.name.endswith(".diskimage")]  # scratch removed


# -- what extract() reports ------------------------------------------------------------------


def _tree(root: Path) -> dict[str, str]:
    """path -> kind:size or link target, for comparing extracted trees."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in [*dirnames, *filenames]:
            p = Path(dirpath, n)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = f"{p.stat().st_size}:{oct(p.stat().st_mode & 0o777)}"
    return out


def test_extracts_only_what_discovery_reads(images: Images, small_root: Path,
                                            tmp_path: Path) -> None:
    trees = {}
    for name in ("rootfs.ext4", "rootfs-zstd.squashfs", "rootfs.cpio.gz", "disk.wic.zst"):
        info = diskimage.extract(images.get(name), tmp_path / name, what=name)
        assert info.root == tmp_path / name
        trees[name] = _tree(info.root)
    first = trees["rootfs.ext4"]
    assert all(t == first for t in trees.values()), {k: set(t) ^ set(first)
                                                    for k, t in trees.items()}
    wanted = {"etc", "etc/os-release", "bin", "bin/sh", "bin/busybox", "usr", "usr/share",
              "usr/share/container-images", "usr/share/container-images/images.manifest",
              *(f"usr/share/container-images/{n}" for n in KEEP)}
    assert set(first) == wanted
    assert first["bin/sh"] == "-> busybox"
    for n in KEEP:  # byte for byte
        rel = f"usr/share/container-images/{n}"
        assert _sha(tmp_path / "rootfs.cpio.gz" / rel) == _sha(small_root / rel)


def _sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_gpt_partitions_are_probed_and_reported(images: Images, tmp_path: Path) -> None:
    info = diskimage.extract(images.get("disk.wic"), tmp_path / "root", what="disk.wic")
    assert info.kind == "gpt" and info.filesystem == "ext4"
    assert info.partition is not None
    assert (info.partition.index, info.partition.type, info.partition.filesystem,
            info.partition.name) == (2, LINUX, "ext4", "rootfs")
    assert info.partition.start == 33 * MIB
    others = {p.index: (p.type, p.filesystem, p.name, p.label) for p in info.other_partitions}
    assert others == {1: (EFI, "vfat", "efi", "EFI"), 3: (SWAP, "swap", "swap", "")}
    assert str(info.partition) == ("partition 2 (Linux filesystem, ext4, name 'rootfs'; "
                                   f"{info.partition.size / MIB:.1f} MiB at 33.0 MiB)")
    where = info.where("/usr/share/container-images/busybox-1.35.tar")
    assert where == "partition 2: /usr/share/container-images/busybox-1.35.tar"


def test_gpt_backup_header_is_used(images: Images, tmp_path: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    """A damaged primary GPT header: the backup at the end of the disk still describes it."""
    disk = tmp_path / "primary-damaged.wic"
    shutil.copyfile(images.get("disk.wic"), disk)
    with open(disk, "r+b") as fh:
        fh.seek(512 + 24)  # current LBA: the header checksum no longer matches
        fh.write(b"\xff" * 8)
    info = diskimage.extract(disk, tmp_path / "root", what="primary-damaged.wic")
    assert info.partition is not None and info.partition.index == 2
    assert (info.root / "usr/share/container-images/busybox-1.35.tar").is_file()
    assert "primary GPT header is damaged" in caplog.text


def test_mbr_partitions(images: Images, tmp_path: Path) -> None:
    info = diskimage.extract(images.get("disk-mbr.wic"), tmp_path / "root", what="disk-mbr.wic")
    assert info.kind == "mbr" and info.partition is not None
    assert (info.partition.index, info.partition.type, info.partition.filesystem) == (2, "83",
                                                                                     "ext4")
    assert {p.index: p.filesystem for p in info.other_partitions} == {1: "vfat", 3: "swap"}


# -- read-only and overlay layouts, other partitions mounted by fstab --------------------------


SEED_FSTAB = """\
# meta-embedded-containers: read-only rootfs, docker store as the lower dir of an overlay
/dev/root            /                    auto       defaults              1  1
tmpfs                /usr/share/docker-store tmpfs   defaults              0  0
overlay /var/lib/docker overlay noauto,x-systemd.automount,lowerdir=/var/lib/docker,upperdir=/usr/share/docker-store/docker,workdir=/usr/share/docker-store/.docker 0 0
"""


def test_seed_overlay_layout(fixtures: dict[str, Any], tmp_path: Path) -> None:
    """A squashfs rootfs whose /var/lib/docker (a vfs store with device nodes in its layer
    snapshots) is the read-only lower dir of an overlay declared in /etc/fstab."""
    need(*TOOLS)
    store_root = Path(fixtures["rootfs"]["dockerstore"]["path"])
    fstab = tmp_path / "fstab"
    fstab.write_text(SEED_FSTAB)
    image = tmp_path / "seed.squashfs"
    # the store's device nodes can be neither read nor made without root: mksquashfs
    # takes the tree as it is, and pseudo definitions add the rest
    _sh("mksquashfs", store_root, image, "-comp", "zstd", "-noappend", "-quiet", "-no-progress",
        "-p", f"etc/fstab f 644 0 0 cat {shlex.quote(str(fstab))}",
        *(x for d in ("usr", "usr/share", "usr/share/docker-store")
          for x in ("-p", f"{d} d 755 0 0")))
    info = diskimage.extract(image, tmp_path / "root", what="seed.squashfs")
    (m,) = info.mounts
    assert (m.fstype, m.mountpoint, m.lower, m.upper, m.volatile, m.line) == (
        "overlay", "/var/lib/docker", ("/var/lib/docker",), "/usr/share/docker-store/docker",
        True, 4)
    assert "read-only lower dir of the overlay at /var/lib/docker" in info.where(
        "/var/lib/docker")
    assert any("/dev/" in s for s in info.skipped)  # device nodes of the layer snapshots
    for dirpath, _dirs, files in os.walk(info.root):
        for n in files:
            mode = os.lstat(os.path.join(dirpath, n)).st_mode
            assert (mode & 0o170000) in (0o100000, 0o120000), os.path.join(dirpath, n)
    want = _summary(_scan(store_root, tmp_path))
    got = _summary(_scan(image, tmp_path))
    assert got == want and len(got["images"]) == 3


def test_partition_mounted_by_fstab(images: Images, small_root: Path, tmp_path: Path) -> None:
    """wic's `part /usr/share/container-images --label containers`: the archives live on
    their own partition, found through the rootfs's /etc/fstab."""
    rootfs_src, data_src = tmp_path / "rootfs-src", tmp_path / "data-src"
    shutil.copytree(small_root, rootfs_src, symlinks=True, ignore=shutil.ignore_patterns("*.tar"))
    data_src.mkdir()
    shutil.copy2(small_root / "usr/share/container-images/busybox-1.35.tar", data_src)
    (rootfs_src / "etc/fstab").write_text(
        "/dev/root / auto defaults 1 1\n"
        "PARTLABEL=containers /usr/share/container-images ext4 ro 0 2\n")
    rootfs = _mkext4(rootfs_src, tmp_path / "root.ext4", _size_mib(rootfs_src))
    data = _mkext4(data_src, tmp_path / "data.ext4", _size_mib(data_src), label="images")
    disk = _disk(tmp_path / "split.wic", "gpt", [
        (rootfs, -(-rootfs.stat().st_size // MIB), LINUX, "rootfs"),
        (data, -(-data.stat().st_size // MIB), LINUX, "containers"),
    ])
    info = diskimage.extract(disk, tmp_path / "root", what="split.wic")
    assert info.partition is not None and info.partition.index == 1
    (m,) = info.mounts
    assert (m.partition, m.mountpoint) == (2, "/usr/share/container-images")
    rel = "usr/share/container-images/busybox-1.35.tar"
    assert _sha(info.root / rel) == _sha(small_root / rel)
    assert (info.root / "usr/share/container-images/images.manifest").is_file()  # from the rootfs
    assert info.where("/" + rel) == ("partition 2: /busybox-1.35.tar (mounted at "
                                     "/usr/share/container-images, /etc/fstab line 2)")
    inv = _scan(disk, tmp_path)
    assert [i["source"] for i in inv["images"]] == ["/" + rel]
    # the SBOM says so: rootfs on partition 1, the container on partition 2
    (tmp_path / "inv.json").write_text(json.dumps(inv))
    r = run_cli("sbom", "--inventory", str(tmp_path / "inv.json"),
                "-o", f"cyclonedx-json={tmp_path / 'split.cdx.json'}")
    assert r.rc == 0, r.err
    cdx = json.loads((tmp_path / "split.cdx.json").read_text())
    [image_file] = _cdx_props(cdx["metadata"]["component"], "container-audit:image-file")
    assert image_file.startswith("split.wic: gpt, ext4, rootfs on partition 1 (")
    [container] = cdx["components"]
    assert _cdx_props(container, "container-audit:stored-at") == [info.where("/" + rel)]


# -- the outputs name the image file, its partitions and where each container is stored --------


YOCTO = SHARED / "fixtures" / "yocto-spdx" / "vulnscout" / "example"
YOCTO_SPDX3 = YOCTO / "spdx3" / "core-image-minimal-qemux86-64.rootfs.spdx.json"
YOCTO_SPDX2 = YOCTO / "spdx2" / "example.rootfs.spdx.tar.zst"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
OUTPUTS = ("container-audit.txt", "container-audit.html", "container-audit.md",
           "container-audit.spdx.json", "container-audit.spdx3.json", "container-audit.cdx.json")


@dataclass(frozen=True)
class Audited:
    """Every output of one `audit` (merging into a copy of Yocto's SPDX 3 SBOM), then `merge`
    into a copy of Yocto's SPDX 2.2 archive, `report -o json` and `sbom --inventory`."""

    out: Path  # audit --output-dir
    spdx3: Path  # the Yocto SPDX 3 SBOM, merged in place by `audit --sbom`
    spdx2: Path  # the Yocto SPDX 2.2 archive, merged in place by `merge`
    report_json: Path
    sbom_dir: Path  # `sbom --inventory` of the audit's inventory

    def inventory(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "container-audit.inventory.json").read_text())
        return data

    def text(self, name: str) -> str:
        return (self.out / name).read_text()

    def json(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text(name))
        return data

    def spdx2_containers(self) -> list[dict[str, Any]]:
        """Our container documents inside the merged SPDX 2.2 archive."""
        raw = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(self.spdx2.read_bytes()), read_across_frames=True).read()
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return [json.load(tar.extractfile(m))  # type: ignore[arg-type]
                    for m in tar.getmembers() if m.name.startswith("container-")]


def _audit(target: Path, work: Path) -> Audited:
    need_path(YOCTO_SPDX3)
    need_path(YOCTO_SPDX2)
    out, spdx3, spdx2 = work / "out", work / YOCTO_SPDX3.name, work / YOCTO_SPDX2.name
    shutil.copyfile(YOCTO_SPDX3, spdx3)
    shutil.copyfile(YOCTO_SPDX2, spdx2)
    r = run_cli("audit", str(target), "--policy", "report-only", "--sbom", str(spdx3),
                "--output-dir", str(out), env=EPOCH)
    assert r.rc == 0, r.err
    inv, verdicts = out / "container-audit.inventory.json", out / "container-audit.verdicts.json"
    r = run_cli("merge", "--sbom", str(spdx2), "--inventory", str(inv), "--verdicts",
                str(verdicts), env=EPOCH)
    assert r.rc == 0, r.err
    report_json = work / "report.json"
    r = run_cli("report", "--inventory", str(inv), "--verdicts", str(verdicts),
                "-o", f"json={report_json}", env=EPOCH)
    assert r.rc == 0, r.err
    sbom_dir = work / "sbom"
    sbom_dir.mkdir()
    r = run_cli("sbom", "--inventory", str(inv), "-o",
                f"spdx-json={sbom_dir / 'container-audit.spdx.json'}", "-o",
                f"spdx3-json={sbom_dir / 'container-audit.spdx3.json'}", "-o",
                f"cyclonedx-json={sbom_dir / 'container-audit.cdx.json'}", env=EPOCH)
    assert r.rc == 0, r.err
    return Audited(out=out, spdx3=spdx3, spdx2=spdx2, report_json=report_json,
                   sbom_dir=sbom_dir)


@pytest.fixture(scope="session")
def audited_disk(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    return _audit(images.get("disk.wic"), tmp_path_factory.mktemp("audit-disk"))


@pytest.fixture(scope="session")
def audited_dir(small_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    """The same rootfs as a directory: no image file."""
    return _audit(small_root, tmp_path_factory.mktemp("audit-dir"))


def _cdx_props(component: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def _spdx3_props(element: dict[str, Any], name: str) -> list[str]:
    return [e["extension_cdxPropValue"] for x in element.get("extension", [])
            for e in x["extension_cdxProperty"] if e["extension_cdxPropName"] == name]


@pytest.mark.fixtures
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_outputs_name_image_file_partition_and_stored_at(audited_disk: Audited) -> None:
    """A GPT disk image: every report and SBOM names the image file with the partition
    holding the rootfs, and where each container is stored in it."""
    from tests.sbom.test_writers import _spdx3_validate_offline

    inv = audited_disk.inventory()
    image_file = inv["image_file"]
    assert image_file.startswith("disk.wic: gpt, ext4, rootfs on partition 2 (")
    assert "also partition 1 (EFI System" in image_file
    stored = {i["name"]: i["stored_at"] for i in inv["images"]}
    assert len(stored) == 2
    assert all(s.startswith("partition 2: /usr/share/container-images/") for s in stored.values())
    sentence = "Stored in the disk image file disk.wic at {}."

    # people's reports: the text summary, HTML, Markdown and the report JSON
    txt = audited_disk.text("container-audit.txt")
    assert f"image file: {image_file}\n" in txt
    for name, where in stored.items():
        assert re.search(rf"^  {re.escape(name)} +{re.escape(where)}$", txt, re.M), txt
    html = audited_disk.text("container-audit.html")
    assert f'id="image-file">Image file <code>{escape(image_file)}</code>' in html
    md = audited_disk.text("container-audit.md")
    assert f"\nImage file `{image_file}`\n" in md
    for name, where in stored.items():
        assert f'<dt>stored at</dt><dd class="mono stored-at">{escape(where)}</dd>' in html
        assert f" · stored at `{where}`\n" in md.split(f"\n### {name}\n", 1)[1]
    report = json.loads(audited_disk.report_json.read_text())
    assert report["image_file"] == image_file
    assert {i["name"]: i["stored_at"] for i in report["images"]} == stored

    # standalone SBOMs, each in its format's place
    spdx2 = audited_disk.json("container-audit.spdx.json")
    by_purpose = {p.get("primaryPackagePurpose"): p for p in spdx2["packages"]}
    assert by_purpose["OPERATING_SYSTEM"]["sourceInfo"] == (
        f"Read from the disk image file {image_file}.")
    for p in spdx2["packages"]:
        if p.get("primaryPackagePurpose") == "CONTAINER":
            assert p["sourceInfo"] == sentence.format(stored[p["name"]])
            assert f"stored-at: {stored[p['name']]}" in p["comment"].splitlines()
    spdx3 = audited_disk.json("container-audit.spdx3.json")
    assert _spdx3_validate_offline(json.dumps(spdx3)) == []
    [product] = [o for o in spdx3["@graph"]
                 if o.get("software_primaryPurpose") == "operatingSystem"]
    assert _spdx3_props(product, "container-audit:image-file") == [image_file]
    assert product["software_sourceInfo"] == f"Read from the disk image file {image_file}."
    containers = [o for o in spdx3["@graph"] if o.get("software_primaryPurpose") == "container"]
    assert {c["name"]: _spdx3_props(c, "container-audit:stored-at")[0]
            for c in containers} == stored
    assert all(c["software_sourceInfo"] == sentence.format(stored[c["name"]])
               for c in containers)
    cdx = audited_disk.json("container-audit.cdx.json")
    assert _cdx_props(cdx["metadata"]["component"], "container-audit:image-file") == [
        image_file]
    assert {c["name"]: _cdx_props(c, "container-audit:stored-at")
            for c in cdx["components"]} == {n: [w] for n, w in stored.items()}
    # `sbom --inventory` writes the same documents: the inventory carries it all
    for name in ("container-audit.spdx.json", "container-audit.spdx3.json",
                 "container-audit.cdx.json"):
        assert (audited_disk.sbom_dir / name).read_bytes() == \
            (audited_disk.out / name).read_bytes()

    # Yocto's own SBOMs: SPDX 3 (audit --sbom) and SPDX 2.2 (merge)
    yocto3 = json.loads(audited_disk.spdx3.read_text())["@graph"]
    ours = {o["spdxId"] for o in yocto3 if o.get("software_primaryPurpose") == "container"}
    [rootfs] = {r["from"] for r in yocto3 if r["type"] == "Relationship"
                and r["relationshipType"] == "contains" and ours & set(r["to"])}
    assert [(a["subject"], a["statement"]) for a in yocto3 if a["type"] == "Annotation"] == [
        (rootfs, f"Read from the disk image file {image_file}.")]
    merged = {o["name"]: o.get("software_sourceInfo") for o in yocto3
              if o.get("software_primaryPurpose") == "container"}
    assert merged == {n.rsplit(":", 1)[0]: sentence.format(w) for n, w in stored.items()}
    docs = audited_disk.spdx2_containers()
    assert len(docs) == 2
    for doc in docs:
        assert doc["creationInfo"]["comment"].endswith(
            f" Read from the disk image file {image_file}.")
        container = doc["packages"][0]
        assert container["sourceInfo"] == sentence.format(stored[container["name"]])


@pytest.mark.fixtures
def test_outputs_of_a_directory_name_no_image_file(audited_dir: Audited,
                                                   audited_disk: Audited) -> None:
    """The same rootfs as a directory: the same containers, and not a word about image
    files or partitions in any output."""
    inv = audited_dir.inventory()
    assert inv["image_file"] == "" and {i["stored_at"] for i in inv["images"]} == {""}
    assert sorted(i["config_digest"] for i in inv["images"]) == sorted(
        i["config_digest"] for i in audited_disk.inventory()["images"])
    texts = {name: audited_dir.text(name) for name in OUTPUTS}
    texts["spdx3 merged"] = audited_dir.spdx3.read_text()
    texts["spdx2 merged"] = json.dumps(audited_dir.spdx2_containers())
    texts["report.json"] = audited_dir.report_json.read_text()
    for name, text in texts.items():
        for word in ("image file", "Image file", "image-file", "stored at", "Stored in",
                     "stored-at", "rootfs on partition", "partition 2: "):
            assert word not in text, (name, word)
    report = json.loads(texts["report.json"])
    assert report["image_file"] == "" and {i["stored_at"] for i in report["images"]} == {""}


# -- broken images: exit 2, one line naming the file ---------------------------------------------


def _cut(fraction: float) -> Callable[[Path, Path], None]:
    def cut(src: Path, dst: Path) -> None:
        with open(src, "rb") as fh, open(dst, "wb") as out:
            out.write(fh.read(int(src.stat().st_size * fraction)))
    return cut


def _garble(at: Callable[[Path], int], length: int) -> Callable[[Path, Path], None]:
    def garble(src: Path, dst: Path) -> None:
        shutil.copyfile(src, dst)
        with open(dst, "r+b") as fh:
            fh.seek(at(dst))
            fh.write(bytes((i * 151 + 7) % 256 for i in range(length)))
    return garble


def _root_inode(image: Path) -> int:
    """Byte offset of inode 2 (the root directory) of an ext4 image."""
    out = _sh("debugfs", "-R", "imap <2>", image)
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", out)
    assert m, out
    block = int(re.search(r"Block size:\s+(\d+)", _sh("dumpe2fs", "-h", image)).group(1))  # type: ignore[union-attr]
    return int(m.group(1)) * block + int(m.group(2), 16)


def _wic_gpt_headers(src: Path, dst: Path) -> None:
    """Both GPT headers damaged: the protective MBR is all that is left."""
    shutil.copyfile(src, dst)
    size = dst.stat().st_size
    with open(dst, "r+b") as fh:
        for at in (512, size - 512):
            fh.seek(at)
            fh.write(b"\0" * 92)


def _partition_past_end(src: Path, dst: Path) -> None:
    """The file ends inside the swap partition: the table points past the end."""
    shutil.copyfile(src, dst)
    os.truncate(dst, dst.stat().st_size - 6 * MIB)


def _table_cut(src: Path, dst: Path) -> None:
    """Only the protective MBR and the GPT header: the partition entries are cut off."""
    with open(src, "rb") as fh, open(dst, "wb") as out:
        out.write(fh.read(1024 + 512))


BROKEN = [
    ("rootfs.ext4", "truncated", _cut(0.5), "truncated"),
    ("rootfs.ext4", "corrupt", _garble(_root_inode, 256), "corrupt ext2/3/4 file system"),
    ("rootfs-xz.squashfs", "truncated", _cut(0.6), "truncated"),
    ("rootfs-xz.squashfs", "corrupt", _garble(lambda p: p.stat().st_size // 3, 4096),
     "not a readable squashfs"),
    ("rootfs.cpio.gz", "truncated", _cut(0.5), "truncated or corrupt"),
    ("rootfs.cpio.gz", "corrupt", _garble(lambda p: p.stat().st_size // 2, 4096), "corrupt"),
    ("disk.wic", "table-truncated", _table_cut, "partition table truncated"),
    ("disk.wic", "past-end", _partition_past_end, "partition 3 ends at byte"),
    ("disk.wic", "no-gpt", _wic_gpt_headers, "corrupt GPT"),
    ("disk.wic.zst", "truncated", _cut(0.5), "truncated or corrupt zst stream"),
]


@pytest.mark.parametrize("name, damage, make, message", BROKEN,
                         ids=[f"{b[0]}-{b[1]}" for b in BROKEN])
def test_broken_image_exits_2(images: Images, tmp_path: Path, name: str, damage: str,
                              make: Callable[[Path, Path], None], message: str) -> None:
    target = tmp_path / f"{damage}-{name}"
    make(images.get(name), target)
    work = tmp_path / "work"
    r = run_cli("scan", str(target), "--work-dir", str(work), "-o", f"json={tmp_path}/inv.json")
    assert r.rc == 2, (r.rc, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith(f"container-audit: error: {target}"), lines[0]
    assert message in lines[0], lines[0]
    assert not (tmp_path / "inv.json").exists()
    with pytest.raises(InputError):
        diskimage.extract(target, tmp_path / "api", what=str(target))


def test_unknown_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "firmware.bin"
    target.write_bytes(os.urandom(300_000))
    r = run_cli("scan", str(target))
    assert r.rc == 2
    assert r.err.strip() == (f"container-audit: error: {target}: not a root filesystem, "
                             "image archive or image store")


def test_hostile_cpio_names(tmp_path: Path) -> None:
    """`..` in a cpio member is refused, like in a layer; nothing lands outside."""
    src = tmp_path / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc/os-release").write_text("ID=x\n")
    listing = tmp_path / "names"
    listing.write_text("etc\netc/os-release\netc/../../escaped\n")
    (tmp_path / "escaped").write_text("outside\n")
    _pipe(f"cd '{src}' && cpio -o -H newc --quiet < '{listing}' > '{tmp_path}/evil.cpio' || true")
    data = (tmp_path / "evil.cpio").read_bytes()
    assert b"etc/../../escaped" in data, "cpio did not store the name as given"
    (tmp_path / "escaped").unlink()
    with pytest.raises(InputError, match=r"points outside the image"):
        diskimage.extract(tmp_path / "evil.cpio", tmp_path / "root", what="evil.cpio")
    assert not (tmp_path / "escaped").exists()


def test_special_files_and_setuid_are_not_copied(tmp_path: Path) -> None:
    """Device nodes, FIFOs in a container area are skipped; setuid bits dropped."""
    src = tmp_path / "src"
    area = src / "var/lib/docker/x"
    area.mkdir(parents=True)
    os.mkfifo(area / "fifo")
    (area / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(area / "tool", 0o4755)
    if os.geteuid() == 0:
        os.mknod(area / "null", 0o666 | 0o020000, os.makedev(1, 3))
    image = _mkext4(src, tmp_path / "x.ext4", 8)
    info = diskimage.extract(image, tmp_path / "root", what="x.ext4")
    x = info.root / "var/lib/docker/x"
    assert sorted(os.listdir(x)) == ["tool"]
    assert os.lstat(x / "tool").st_mode & 0o7777 == 0o755
    assert "/var/lib/docker/x/fifo" in info.skipped


def test_selection_on_odd_layouts(tmp_path: Path) -> None:
    """Archives and stores outside the usual places, a container area behind a symlink,
    names that clash with the readers' own scratch names: the same tree from every format."""
    src = tmp_path / "src"
    for d in ("etc", "root", "2", "opt/oci/blobs/sha256", "data/docker/image/overlay2",
              "var/lib", "usr/share/doc/big"):
        (src / d).mkdir(parents=True)
    (src / "etc/os-release").write_text("ID=odd\n")
    (src / "root/app.tar").write_bytes(b"x" * 2048)  # discovery looks at any *.tar
    (src / "root/small.tar").write_bytes(b"x" * 10)  # ... of at least 1 KiB
    (src / "2/f2").write_bytes(b"y" * 4096)  # not wanted; named like a dumped inode
    (src / "opt/oci/oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (src / "opt/oci/index.json").write_text("{}")
    (src / "opt/oci/blobs/sha256/abc").write_text("blob")
    (src / "data/docker/image/overlay2/repositories.json").write_text("{}")
    (src / "data/docker/engine-id").write_text("id")
    (src / "var/lib/docker").symlink_to("../../data/docker")
    (src / "usr/share/doc/big/README").write_bytes(b"z" * 100_000)
    images = {
        "odd.ext4": _mkext4(src, tmp_path / "odd.ext4", 8),
        "odd.squashfs": tmp_path / "odd.squashfs",
        "odd.cpio": tmp_path / "odd.cpio",
    }
    _sh("mksquashfs", src, images["odd.squashfs"], "-noappend", "-quiet", "-no-progress")
    _pipe(f"cd '{src}' && find . | cpio -o -H newc --quiet > '{images['odd.cpio']}'")
    want = {"etc", "etc/os-release", "root", "root/app.tar", "opt", "opt/oci",
            "opt/oci/oci-layout", "opt/oci/index.json", "opt/oci/blobs", "opt/oci/blobs/sha256",
            "opt/oci/blobs/sha256/abc", "data", "data/docker", "data/docker/image",
            "data/docker/image/overlay2", "data/docker/image/overlay2/repositories.json",
            "data/docker/engine-id", "var", "var/lib", "var/lib/docker"}
    for name, image in images.items():
        info = diskimage.extract(image, tmp_path / f"out-{name}", what=name)
        tree = _tree(info.root)
        assert set(tree) == want, (name, set(tree) ^ want)
        assert tree["var/lib/docker"] == "-> ../../data/docker"
        assert tree["root/app.tar"].startswith("2048:")
