# SPDX-License-Identifier: Apache-2.0
"""Image archives compressed whole (`docker save | gzip`, `.tar.zst`, ...), in a rootfs or
as the target: found by content, the same images and packages as the plain archive, the
compressed file named as the source; damaged or hostile ones stop with exit 2."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import shutil
from pathlib import Path
from typing import Any

import pytest
import zstandard

from auditor.inventory.cache import fingerprint
from tests.conftest import run_cli

pytestmark = pytest.mark.fixtures

COMPRESS = {
    "gz": gzip.compress,
    "zst": lambda b: zstandard.ZstdCompressor().compress(b),
    "xz": lzma.compress,
    "bz2": bz2.compress,
}


def _packages(inv: dict[str, Any]) -> dict[str, set[tuple[str, str, str]]]:
    return {i["config_digest"]: {(p["type"], p["name"], p["version"]) for p in i["packages"]}
            for i in inv["images"]}


def _scan(target: Path, tmp: Path, *extra: str) -> tuple[int, str, dict[str, Any]]:
    out = tmp / f"inv-{len(list(tmp.glob('inv-*.json')))}.json"
    r = run_cli("scan", str(target), "-o", f"json={out}", *extra)
    return r.rc, r.err, (json.loads(out.read_text()) if r.rc == 0 else {})


@pytest.fixture(scope="module")
def plain(fixtures, scan_json) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {k: scan_json(fixtures["archives"][k], "--no-cache") for k in ("busybox.podman", "apk")}


def test_compressed_archives_in_a_rootfs(fixtures, plain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    images = root / "usr/share/container-images"
    images.mkdir(parents=True)
    busybox = Path(fixtures["archives"]["busybox.podman"]).read_bytes()
    apk = Path(fixtures["archives"]["apk"]).read_bytes()
    (images / "busybox-1.35.tar.gz").write_bytes(COMPRESS["gz"](busybox))  # container dir
    (root / "opt").mkdir()
    (root / "opt" / "apk.tar.zst").write_bytes(COMPRESS["zst"](apk))  # elsewhere: by suffix
    (images / "README.gz").write_bytes(gzip.compress(b"not an archive\n" * 100))
    rc, err, inv = _scan(root, tmp_path, "--no-cache")
    assert rc == 0, err
    sources = {i["source"] for i in inv["images"]}
    assert sources == {"/usr/share/container-images/busybox-1.35.tar.gz", "/opt/apk.tar.zst"}
    expected = {**_packages(plain["busybox.podman"]), **_packages(plain["apk"])}
    assert _packages(inv) == expected


@pytest.mark.parametrize("fmt", sorted(COMPRESS))
def test_compressed_archive_as_target(fixtures, plain, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / f"apk.tar.{fmt}"
    target.write_bytes(COMPRESS[fmt](Path(fixtures["archives"]["apk"]).read_bytes()))
    rc, err, inv = _scan(target, tmp_path, "--no-cache")
    assert rc == 0, err
    assert [i["source"] for i in inv["images"]] == [str(target)]
    assert _packages(inv) == _packages(plain["apk"])


def test_warm_cache_trusts_the_unchanged_compressed_file(fixtures, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "busybox.tar.gz"
    target.write_bytes(gzip.compress(Path(fixtures["archives"]["busybox.podman"]).read_bytes()))
    cache, work = tmp_path / "cache", tmp_path / "work"
    args = ("--cache-dir", str(cache), "--work-dir", str(work), "--keep-work")
    rc, err, cold = _scan(target, tmp_path, *args)
    assert rc == 0, err
    assert any((work / "images").iterdir())  # cold: read and catalogued
    # the entry is tied to the compressed file itself, not to this run's decompressed copy
    (entry,) = cache.glob("??/*.json")
    assert json.loads(entry.read_text())["fingerprint"] == fingerprint(target)
    shutil.rmtree(work)
    rc, err, warm = _scan(target, tmp_path, *args)
    assert rc == 0 and warm["images"] == cold["images"]
    assert not (work / "images").exists()  # not catalogued again


def test_damaged_and_hostile(fixtures, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = gzip.compress(Path(fixtures["archives"]["busybox.podman"]).read_bytes())
    root = tmp_path / "root"
    images = root / "usr/share/container-images"
    images.mkdir(parents=True)
    (images / "busybox.tar.gz").write_bytes(data[: len(data) // 2])
    r = run_cli("scan", str(root), "--no-cache")
    assert r.rc == 2 and len(r.err.strip().splitlines()) == 1
    assert "/usr/share/container-images/busybox.tar.gz: truncated or corrupt" in r.err
    bomb = tmp_path / "bomb.tar.zst"
    cctx = zstandard.ZstdCompressor(level=19)
    with open(bomb, "wb") as fh, cctx.stream_writer(fh) as w:
        for _ in range(400):
            w.write(b"\0" * (1 << 20))
    r = run_cli("scan", str(bomb), "--no-cache")
    assert r.rc == 2 and "decompression bomb" in r.err, r.err


def test_compressed_rootfs_tarball_is_not_copied_first(fixtures, plain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A `rootfs.tar.zst` (packed from `.`, as Yocto does) is told apart from an image archive
    by its first members and extracted straight from the compressed file."""
    import io
    import tarfile

    from auditor.sources.compressed import is_compressed_rootfs

    root = tmp_path / "root"
    (root / "usr/share/container-images").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=poky\n")
    shutil.copyfile(fixtures["archives"]["apk"], root / "usr/share/container-images/apk-3.16.tar")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(root, arcname=".")
    ball = tmp_path / "rootfs.tar.zst"
    ball.write_bytes(COMPRESS["zst"](buf.getvalue()))
    archive = tmp_path / "apk.tar.gz"
    archive.write_bytes(COMPRESS["gz"](Path(fixtures["archives"]["apk"]).read_bytes()))
    assert is_compressed_rootfs(ball) and not is_compressed_rootfs(archive)
    work = tmp_path / "work"
    work.mkdir()
    (work / "decompressed").write_text("")  # any decompressed copy would fail the scan
    rc, err, inv = _scan(ball, tmp_path, "--no-cache", "--work-dir", str(work))
    assert rc == 0, err
    assert [i["source"] for i in inv["images"]] == ["/usr/share/container-images/apk-3.16.tar"]
    assert _packages(inv) == _packages(plain["apk"])
