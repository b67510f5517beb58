# SPDX-License-Identifier: Apache-2.0
"""`container-audit scan` on broken and hostile input: exit 2, one line naming the file and
the problem, nothing written outside the work dir, no half-written output."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from tests.archive_tools import _add, docker_archive, layer_tar, oci_archive, sha
from tests.conftest import run_cli


def _snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def _assert_refused(tmp_path: Path, target: Path, *patterns: str) -> str:
    """Scan `target` with a private work dir; check exit 2, one line, no stray files."""
    work = tmp_path / "work"
    out = tmp_path / "out" / "inv.json"
    out.parent.mkdir()
    before = _snapshot(tmp_path)
    r = run_cli("scan", str(target), "--work-dir", str(work), "-o", f"json={out}")
    assert r.rc == 2, (r.rc, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert str(target) in lines[0] or target.name in lines[0], lines[0]
    for pat in patterns:
        assert pat in lines[0], (pat, lines[0])
    assert not out.exists() and not list(out.parent.iterdir())  # nothing half-written
    after = _snapshot(tmp_path)
    stray = {p for p in after - before if not p.startswith("work")}
    assert not stray, stray
    assert "Traceback" not in r.err
    return lines[0]


def test_dotdot_member(tmp_path: Path) -> None:
    arch = docker_archive(tmp_path / "a.tar", [layer_tar([("../../escaped", "file", "x")])])
    _assert_refused(tmp_path, arch, "points outside the image")
    assert not (tmp_path / "escaped").exists()


def test_absolute_member(tmp_path: Path) -> None:
    arch = docker_archive(tmp_path / "a.tar", [layer_tar([("/tmp/evil", "file", "x")])])
    _assert_refused(tmp_path, arch, "absolute path")


def test_escaping_hardlink(tmp_path: Path) -> None:
    arch = docker_archive(tmp_path / "a.tar", [layer_tar([("etc/x", "hard", "../../../etc/passwd")])])
    _assert_refused(tmp_path, arch, "hard link")


def test_truncated_archive(tmp_path: Path) -> None:
    big = layer_tar([("f", "file", os.urandom(200_000))])
    full = docker_archive(tmp_path / "full.tar", [big])
    cut = tmp_path / "cut.tar"
    cut.write_bytes(full.read_bytes()[:150_000])
    _assert_refused(tmp_path, cut, "truncated")


def test_manifest_names_missing_layer(tmp_path: Path) -> None:
    l0 = layer_tar([("f", "file", "x")])
    l1 = layer_tar([("g", "file", "y")])
    arch = docker_archive(tmp_path / "a.tar", [l0, l1], skip_layers={1})
    _assert_refused(tmp_path, arch, "missing layer", sha(l1).split(":")[1][:12])


def test_layer_digest_mismatch(tmp_path: Path) -> None:
    good = layer_tar([("f", "file", "x")])
    other = layer_tar([("f", "file", "y")])  # same size, different bytes
    arch = docker_archive(tmp_path / "a.tar", [other], diff_ids=[sha(good)],
                          manifest_layers=[sha(good).split(":")[1] + ".tar"])
    msg = _assert_refused(tmp_path, arch, "hashes to", sha(good)[:19])
    assert "localhost/hostile:1" in msg


def test_decompression_bomb(tmp_path: Path) -> None:
    # 1 GiB of zeros in one member: a few KB as zstd; refused long before it is written
    zeros = 1 << 30
    ti = tarfile.TarInfo("bomb")
    ti.size = zeros
    header = ti.tobuf(tarfile.PAX_FORMAT)
    cctx = zstandard.ZstdCompressor(level=1)
    chunk = b"\0" * (1 << 20)
    buf = io.BytesIO()
    with cctx.stream_writer(buf, closefd=False) as w:
        w.write(header)
        for _ in range(zeros // len(chunk)):
            w.write(chunk)
        w.write(b"\0" * 1024)
    blob = buf.getvalue()
    # diff_id of the uncompressed stream, computed without holding it in memory
    h = hashlib.sha256(header)
    for _ in range(zeros // len(chunk)):
        h.update(chunk)
    h.update(b"\0" * 1024)

    arch = tmp_path / "bomb.tar"
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h.hexdigest()]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                       "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                    "digest": sha(blob), "size": len(blob)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
        "size": len(manifest)}]}).encode()
    with tarfile.open(arch, "w") as tf:
        _add(tf, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tf, "index.json", index)
        for data in (config, manifest, blob):
            _add(tf, "blobs/sha256/" + sha(data).split(":")[1], data)
    msg = _assert_refused(tmp_path, arch, "decompression bomb")
    assert len(blob) < 1 << 20, len(blob)
    assert "bomb.tar" in msg


def test_not_an_image(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world" * 100)
    _assert_refused(tmp_path, junk, "not a root filesystem")


def test_missing_target(tmp_path: Path) -> None:
    r = run_cli("scan", str(tmp_path / "nope"))
    assert r.rc == 2 and "no such file" in r.err and len(r.err.strip().splitlines()) == 1


def test_bad_config_json(tmp_path: Path) -> None:
    l0 = layer_tar([("f", "file", "x")])
    arch = oci_archive(tmp_path / "o.tar", [(l0, l0, "application/vnd.oci.image.layer.v1.tar")])
    # corrupt index.json in place (same length so the archive stays a valid tar)
    data = bytearray(arch.read_bytes())
    i = data.find(b'{"schemaVersion": 2, "manifests"')
    data[i] = ord("[")
    arch.write_bytes(bytes(data))
    _assert_refused(tmp_path, arch, "index.json", "not valid JSON")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("scan").rc == 2
    assert run_cli("scan", str(tmp_path), "-o", "xml=x").rc == 2
    assert run_cli("no-such-command").rc == 2


def test_output_dir_missing_is_exit_2(tmp_path: Path) -> None:
    l0 = layer_tar([("f", "file", "x")])
    arch = docker_archive(tmp_path / "a.tar", [l0])
    r = run_cli("scan", str(arch), "-o", f"json={tmp_path}/nodir/inv.json")
    assert r.rc == 2 and "does not exist" in r.err


@pytest.mark.parametrize("script,pattern", [
    ("#!/bin/sh\necho '{\"version\": \"0.1\"}'\n", "needs 1.18.1"),
    ("#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"version\": \"1.18.1\"}'; exit 0; fi\n"
     "echo 'boom: cataloger exploded' >&2; exit 3\n", "exit 3"),
    ("#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"version\": \"1.18.1\"}'; exit 0; fi\n"
     "for a; do case $a in syft-json=*) echo garbage > ${a#syft-json=};; esac; done\n",
     "unreadable output"),
])
def test_syft_failures_are_tool_errors(tmp_path: Path, script: str, pattern: str) -> None:
    """Only for what the real syft cannot be made to do: a stand-in at the process boundary."""
    fake = tmp_path / "syft"
    fake.write_text(script)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    arch = docker_archive(tmp_path / "a.tar", [layer_tar([("f", "file", "x")])])
    r = run_cli("scan", str(arch), "--no-cache", env={"CONTAINER_AUDIT_SYFT": str(fake)})
    assert r.rc == 2, r.err
    assert pattern in r.err and r.err.startswith("container-audit: error: syft")


def test_work_dir_under_dev_shm_works(tmp_path: Path) -> None:
    """syft skips every path under /dev when it walks a directory; it reads our OCI layout
    of verified blobs instead, so a work dir on /dev/shm (tmpfs) sees the whole image."""
    status = "Package: p\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"
    arch = docker_archive(tmp_path / "a.tar", [layer_tar([("var/lib/dpkg/status", "file", status)])])
    work = Path("/dev/shm") / f"ca-test-{os.getpid()}"
    out = tmp_path / "inv.json"
    try:
        r = run_cli("scan", str(arch), "--work-dir", str(work), "--no-cache", "-o", f"json={out}")
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    assert r.rc == 0, r.err
    import json
    assert [p["name"] for p in json.loads(out.read_text())["images"][0]["packages"]] == ["p"]
