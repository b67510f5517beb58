# SPDX-License-Identifier: Apache-2.0
"""The inventory cache: identical results with and without it, warm runs unpack nothing,
corrupt entries are discarded and rebuilt, a tampered layer behind a cached config fails."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.archive_tools import docker_archive, layer_tar, sha
from tests.conftest import run_cli

ENV = {"SOURCE_DATE_EPOCH": "1700000000"}
STATUS = ("Package: p\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n"
          "Maintainer: t <t@e.org>\nDescription: d\n")


def _image(tmp: Path, marker: str = "") -> Path:
    layer = layer_tar([("var/lib/dpkg/status", "file", STATUS),
                       ("usr/share/doc/p/copyright", "file", "Files: *\nLicense: MIT\n"),
                       ("etc/marker", "file", marker or "m")])
    return docker_archive(tmp / "img.tar", [layer])


def _scan(target: Path, tmp: Path, cache: Path | None, tag: str) -> tuple[int, str, dict]:
    out = tmp / f"{tag}.json"
    work = tmp / f"work-{tag}"
    args = ["scan", str(target), "-o", f"json={out}", "--work-dir", str(work), "--keep-work"]
    args += ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    r = run_cli(*args, env=ENV)
    doc = json.loads(out.read_text()) if r.rc == 0 else {}
    unpacked = (work / "images").exists() and any((work / "images").iterdir())
    return r.rc, r.err + ("UNPACKED" if unpacked else ""), doc


def test_same_results_with_and_without_cache(tmp_path: Path) -> None:
    arch = _image(tmp_path)
    cache = tmp_path / "cache"
    rc0, _, plain = _scan(arch, tmp_path, None, "plain")
    rc1, err1, cold = _scan(arch, tmp_path, cache, "cold")
    rc2, err2, warm = _scan(arch, tmp_path, cache, "warm")
    assert rc0 == rc1 == rc2 == 0
    assert plain == cold == warm
    assert "UNPACKED" in err1 and "UNPACKED" not in err2  # warm: no unpacking, no syft
    assert warm["images"][0]["packages"][0]["declared_license"] == "MIT"


def test_corrupt_entry_is_discarded_and_rebuilt(tmp_path: Path) -> None:
    arch = _image(tmp_path)
    cache = tmp_path / "cache"
    _, _, cold = _scan(arch, tmp_path, cache, "cold")
    (entry,) = list(cache.glob("??/*.json"))
    data = entry.read_text()
    entry.write_text(data.replace('"MIT"', '"GPL-3.0-only"', 1))  # tampered, same shape
    rc, err, again = _scan(arch, tmp_path, cache, "again")
    assert rc == 0 and "corrupt" in err and "UNPACKED" in err
    assert again == cold
    assert json.loads(entry.read_text())["sha256"]  # rewritten whole
    rc, err, third = _scan(arch, tmp_path, cache, "third")
    assert third == cold and "UNPACKED" not in err
    entry.write_text("{trunc")
    rc, err, fourth = _scan(arch, tmp_path, cache, "fourth")
    assert rc == 0 and fourth == cold


def test_touched_archive_is_verified_not_rescanned(tmp_path: Path) -> None:
    arch = _image(tmp_path)
    cache = tmp_path / "cache"
    _, _, cold = _scan(arch, tmp_path, cache, "cold")
    st = arch.stat()
    os.utime(arch, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rc, err, warm = _scan(arch, tmp_path, cache, "touched")
    assert rc == 0 and warm == cold and "UNPACKED" not in err


def test_tampered_layer_behind_cached_config_fails(tmp_path: Path) -> None:
    good = layer_tar([("var/lib/dpkg/status", "file", STATUS), ("etc/marker", "file", "a")])
    evil = layer_tar([("var/lib/dpkg/status", "file", STATUS), ("etc/marker", "file", "b")])
    cache = tmp_path / "cache"
    a = docker_archive(tmp_path / "a.tar", [good])
    assert _scan(a, tmp_path, cache, "a")[0] == 0
    # same config (same diff_ids), other layer bytes: the cache must not vouch for it
    (tmp_path / "b").mkdir()
    b = docker_archive(tmp_path / "b" / "a.tar", [evil], diff_ids=[sha(good)],
                       manifest_layers=[sha(good).split(":")[1] + ".tar"])
    rc, err, _ = _scan(b, tmp_path, cache, "b")
    assert rc == 2 and "hashes to" in err


@pytest.mark.fixtures
def test_warm_rootfs_audit_reuses_every_image(fixtures, tmp_path: Path) -> None:
    root = Path(fixtures["rootfs"]["podman"]["path"])
    cache = tmp_path / "cache"
    rc1, err1, cold = _scan(root, tmp_path, cache, "cold")
    rc2, err2, warm = _scan(root, tmp_path, cache, "warm")
    assert rc1 == rc2 == 0 and cold == warm
    assert "UNPACKED" in err1 and "UNPACKED" not in err2
    assert len(list(cache.glob("??/*.json"))) == len(cold["images"])


def test_prune_keeps_the_cache_bounded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for i in range(3):
        d = tmp_path / f"i{i}"
        d.mkdir()
        _scan(_image(d, marker=f"m{i}"), d, cache, "s")
    entries = list(cache.glob("??/*.json"))
    assert len(entries) == 3
    one = max(p.stat().st_size for p in entries)
    r = run_cli("cache", "prune", "--max-size", str(one + 10), "--cache-dir", str(cache))
    assert r.rc == 0 and "removed 2 entries" in r.out
    assert len(list(cache.glob("??/*.json"))) == 1
    assert run_cli("cache", "prune", "--max-size", "lots", "--cache-dir", str(cache)).rc == 2
