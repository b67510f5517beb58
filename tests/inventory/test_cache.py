# SPDX-License-Identifier: Apache-2.0
"""The inventory cache: identical results with and without it, warm runs unpack nothing,
corrupt entries are discarded and rebuilt, a tampered layer behind a cached config fails."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
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


def _scan(target: Path, tmp: Path, cache: Path | None, tag: str, *extra: str
          ) -> tuple[int, str, dict]:
    out = tmp / f"{tag}.json"
    work = tmp / f"work-{tag}"
    args = ["scan", str(target), "-o", f"json={out}", "--work-dir", str(work), "--keep-work",
            *extra]
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


def _snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory published by a real HTTP server on 127.0.0.1: a cache mirror URL."""
    root = tmp_path / "published"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_directory_mirror_is_read_only_and_fills_the_local_cache(tmp_path: Path) -> None:
    arch = _image(tmp_path)
    shared = tmp_path / "shared"  # e.g. the CI machine's cache, mounted read-only
    _, _, cold = _scan(arch, tmp_path, shared, "cold")
    before = _snapshot(shared)
    local = tmp_path / "local"
    rc, err, warm = _scan(arch, tmp_path, local, "mirror", "--cache-mirror", str(shared))
    assert rc == 0 and warm == cold and "UNPACKED" not in err  # no unpacking, no syft
    assert _snapshot(shared) == before  # the mirror is never written
    assert [p.name for p in local.glob("??/*.json")] == [p.name for p in shared.glob("??/*.json")]
    # once copied, the local entry serves without the mirror
    rc, err, again = _scan(arch, tmp_path, local, "local")
    assert rc == 0 and again == cold and "UNPACKED" not in err


def test_url_mirror_over_http(tmp_path: Path, served: tuple[Path, str]) -> None:
    root, url = served
    arch = _image(tmp_path)
    _, _, cold = _scan(arch, tmp_path, root, "cold")  # publish: the cache dir as it is
    rc, err, warm = _scan(arch, tmp_path, tmp_path / "local", "http", "--cache-mirror", url)
    assert rc == 0 and warm == cold and "UNPACKED" not in err
    # the same through the environment, as the bbclass passes it
    env = {**ENV, "CONTAINER_AUDIT_CACHE_MIRRORS": f"http://127.0.0.1:9/ {url}"}
    out = tmp_path / "env.json"
    r = run_cli("scan", str(arch), "-o", f"json={out}", "--cache-dir",
                str(tmp_path / "local-env"), "--work-dir", str(tmp_path / "w"), "--keep-work",
                env=env)
    assert r.rc == 0 and json.loads(out.read_text()) == cold
    assert "unreachable" in r.err  # the dead mirror is named, then skipped
    assert not any((tmp_path / "w" / "images").glob("*"))


def test_bad_mirror_entries_are_ignored_not_trusted(tmp_path: Path, served: tuple[Path, str]
                                                    ) -> None:
    root, url = served
    arch = _image(tmp_path)
    _, _, cold = _scan(arch, tmp_path, root, "cold")
    (entry,) = root.glob("??/*.json")
    entry.write_text(entry.read_text().replace('"MIT"', '"GPL-3.0-only"', 1))
    rc, err, got = _scan(arch, tmp_path, tmp_path / "local", "bad", "--cache-mirror", url)
    assert rc == 0 and got == cold and "UNPACKED" in err and "corrupt" in err


def test_mirror_hit_still_verifies_the_layers(tmp_path: Path) -> None:
    good = layer_tar([("var/lib/dpkg/status", "file", STATUS), ("etc/marker", "file", "a")])
    evil = layer_tar([("var/lib/dpkg/status", "file", STATUS), ("etc/marker", "file", "b")])
    shared = tmp_path / "shared"
    assert _scan(docker_archive(tmp_path / "a.tar", [good]), tmp_path, shared, "a")[0] == 0
    (tmp_path / "b").mkdir()
    b = docker_archive(tmp_path / "b" / "a.tar", [evil], diff_ids=[sha(good)],
                       manifest_layers=[sha(good).split(":")[1] + ".tar"])
    rc, err, _ = _scan(b, tmp_path, tmp_path / "local", "b", "--cache-mirror", str(shared))
    assert rc == 2 and "hashes to" in err
