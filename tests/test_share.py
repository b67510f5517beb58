# SPDX-License-Identifier: Apache-2.0
"""One syft scan of a base shared by several images (auditor/share.py).

The ground truth is a scan of every image whole (--no-shared-base): a shared result must
be identical to it, and each image must take the route its top layers call for."""

from __future__ import annotations

import io
import logging
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from auditor.inventory import schema
from auditor.layers import LayerStore
from auditor.model import Embedding, ImageSource, LayerSource
from auditor.scan import ScanOptions, scan
from auditor.share import footprint, plan, touched
from auditor.unpack import Limits
from auditor.vroot import VirtualRoot
from tests.archive_tools import docker_archive, layer_tar

# -- planning -------------------------------------------------------------------------


def _src(name: str, layers: list[str]) -> ImageSource:
    return ImageSource(source=name, embedding=Embedding.ARCHIVE, config=b"{}",
                       config_digest="sha256:" + name,
                       layers=tuple(LayerSource(diff_id="sha256:" + l, open=lambda: None)
                                    for l in layers))


def test_plan_takes_the_longest_prefix_two_images_choose() -> None:
    srcs = [_src("a", ["b", "x", "y"]), _src("b", ["b", "x", "z"]), _src("c", ["b", "w"]),
            _src("d", ["q"])]
    chains = plan(srcs)
    assert chains == {"sha256:a": ("sha256:b", "sha256:x"),
                      "sha256:b": ("sha256:b", "sha256:x")}


def test_plan_an_image_that_is_the_base_shares_its_whole_chain() -> None:
    chains = plan([_src("base", ["b"]), _src("app", ["b", "x"]), _src("app2", ["b", "y"])])
    assert chains == {f"sha256:{n}": ("sha256:b",) for n in ("base", "app", "app2")}


def test_plan_nothing_shared_nothing_planned() -> None:
    assert plan([_src("a", ["x"]), _src("b", ["y"])]) == {}
    assert plan([_src("a", ["x", "y"])]) == {}


# -- what a delta touches ---------------------------------------------------------------

DOC: dict[str, Any] = {"artifacts": [{
    "name": "adduser", "type": "deb",
    "locations": [{"path": "/var/lib/dpkg/status"},
                  {"path": "/var/lib/dpkg/info/adduser.list"}],
    "licenses": [{"value": "GPL-2", "locations": [{"path": "/usr/share/doc/adduser/copyright"}]}],
    "metadata": {"files": [{"path": "/usr/sbin/adduser"}, {"path": "/etc/adduser.conf"}]},
}, {  # no copyright file, no info files
    "name": "nodoc", "type": "deb", "locations": [{"path": "/var/lib/dpkg/status"}],
}]}
BASE = [
    ("usr/", "dir", None), ("usr/lib/", "dir", None), ("lib", "sym", "usr/lib"),
    ("usr/sbin/", "dir", None), ("usr/sbin/adduser", "file", "#!/usr/bin/perl\n"),
    ("etc/", "dir", None), ("etc/adduser.conf", "file", "x"),
    ("usr/share/doc/adduser/", "dir", None), ("usr/share/doc/adduser/copyright", "file", "c"),
    ("var/lib/dpkg/info/", "dir", None), ("var/lib/dpkg/status", "file", "Package: adduser\n"),
    ("var/lib/dpkg/info/adduser.list", "file", "/usr/sbin/adduser\n"),
]


def _touch(tmp_path: Path, delta: list[tuple]) -> str | None:
    layers = [layer_tar(BASE), layer_tar(delta)]
    archive = docker_archive(tmp_path / "img.tar", layers)
    from auditor.sources.base import OpenContext
    from auditor.sources.docker_archive import open_archive
    (src,) = open_archive(archive, OpenContext(root=tmp_path, architecture="amd64"))
    store = LayerStore(tmp_path / "blobs", limits=Limits())
    read = [store.get(l, "test") for l in src.layers]
    return touched(footprint(DOC), VirtualRoot(read[:1], what="base"), read[1:],
                   VirtualRoot(read, what="image"))


@pytest.mark.parametrize("delta, hit", [
    ([("etc/", "dir", None), ("etc/app.conf", "file", "x")], None),
    ([("opt/app/", "dir", None), ("opt/app/data.txt", "file", "x")], None),
    ([("usr/share/doc/adduser/copyright", "file", "other")], "/usr/share/doc/adduser/copyright"),
    ([("usr/share/doc/adduser/.wh.copyright", "file", "")], "/usr/share/doc/adduser/copyright"),
    ([("usr/share/doc/.wh..wh..opq", "file", "")], "/usr/share/doc"),
    ([("usr/share/.wh.doc", "file", "")], "/usr/share/doc"),
    ([("var/lib/dpkg/status", "file", "Package: other\n")], "/var/lib/dpkg/status"),
    ([("var/lib/dpkg/info/new.list", "file", "/x\n")], "/var/lib/dpkg/info/new.list"),
    ([("etc/adduser.conf", "file", "y")], "/etc/adduser.conf"),  # an owned file
    ([("usr/sbin/adduser", "file", "y")], "/usr/sbin/adduser"),
    ([("usr/lib/os-release", "file", "ID=other\n")], "/usr/lib/os-release"),
    ([("lib/", "dir", None), ("lib/x", "file", "x")], "/lib"),  # a directory over a link
    # where syft would look for a package's copyright or file lists, though it has none
    ([("usr/share/doc/nodoc/copyright", "file", "x")], "/usr/share/doc/nodoc/copyright"),
    ([("var/lib/dpkg/info/nodoc.md5sums", "file", "x")], "/var/lib/dpkg/info/nodoc.md5sums"),
    # a file where the base had a directory holding evidence
    ([("usr/share/doc/adduser", "file", "x")], "/usr/share/doc/adduser"),
])
def test_touched(tmp_path: Path, delta: list[tuple], hit: str | None) -> None:
    assert _touch(tmp_path, delta) == hit


def test_touched_sees_writes_through_a_symlinked_directory(tmp_path: Path) -> None:
    """/lib -> usr/lib in the base: a delta writing lib/os-release writes
    /usr/lib/os-release, which syft identifies the distro from."""
    assert _touch(tmp_path, [("lib/os-release", "file", "ID=other\n")]) == "/usr/lib/os-release"


# -- end to end, real syft, a real Debian base --------------------------------------------

def _layer(entries: list[tuple[str, str, Any]]) -> bytes:
    return layer_tar(entries)


def _base_files(base: bytes, *names: str) -> dict[str, bytes]:
    """Regular files of the base layer (its members are named ./PATH)."""
    with tarfile.open(fileobj=io.BytesIO(base)) as tf:
        out = {}
        for n in names:
            fh = tf.extractfile(tf.getmember("./" + n))
            assert fh is not None
            out[n] = fh.read()
        return out


@pytest.fixture(scope="module")
def shared_rootfs(fixtures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[Path, dict[str, str]]:
    """A rootfs with the Debian base image and ten images built on it, one per kind of
    top layer; → (rootfs, image tag → the route it must take)."""
    with tarfile.open(fixtures["archives"]["debian-base.podman"]) as tf:
        import json
        (manifest,) = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        (name,) = manifest["Layers"]
        base = tf.extractfile(name).read()  # type: ignore[union-attr]
    files = _base_files(base, "usr/lib/os-release", "var/lib/dpkg/status", "usr/bin/true")
    os_release = files["usr/lib/os-release"].replace(b'VERSION_ID="12"', b'VERSION_ID="13"')
    assert os_release != files["usr/lib/os-release"]
    status = files["var/lib/dpkg/status"]
    _, rest = status.split(b"\n\n", 1)  # drop the first package's entry
    root = tmp_path_factory.mktemp("shared-rootfs")
    images = root / "usr/share/container-images"
    images.mkdir(parents=True)
    deltas: dict[str, tuple[list[tuple], str]] = {
        "conf-a": ([("etc/app-a.conf", "file", "a\n")], "shared"),
        "conf-b": ([("etc/", "dir", None), ("etc/app-b/", "dir", None),
                    ("etc/app-b/app.conf", "file", "b\n")], "shared"),
        "os-release": ([("usr/lib/os-release", "file", os_release)],
                       "touch /usr/lib/os-release"),
        "python": ([("usr/lib/python3/dist-packages/demo-1.0.dist-info/METADATA", "file",
                     "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense: MIT\n")],
                   "syft finds demo"),
        "no-copyright": ([("usr/share/doc/adduser/.wh.copyright", "file", "")],
                         "touch /usr/share/doc/adduser/copyright"),
        "elf": ([("usr/local/bin/tool", "file", files["usr/bin/true"])],
                "syft reads by content"),
        "symlink": ([("usr/local/bin/tool", "sym", "/usr/bin/true")], "a symlink"),
        # the deltas scanned alone already find the database it rewrites
        "status": ([("var/lib/dpkg/status", "file", rest)], "syft finds"),
        "opaque": ([("usr/share/doc/.wh..wh..opq", "file", "")], "touch /usr/share/doc"),
        "dir-over-link": ([("lib/", "dir", None), ("lib/marker", "file", "m\n")],
                          "touch /lib"),
    }
    routes = {"localhost/base:1": "shared"}
    docker_archive(images / "base-1.tar", [base], tag="localhost/base:1")
    for n, (entries, route) in deltas.items():
        docker_archive(images / f"{n}-1.tar", [base, _layer(entries)], tag=f"localhost/{n}:1")
        routes[f"localhost/{n}:1"] = route
    return root, routes


def test_shared_results_equal_whole_scans_and_each_image_takes_its_route(
        shared_rootfs: tuple[Path, dict[str, str]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root, routes = shared_rootfs
    caplog.set_level(logging.DEBUG, logger="auditor.share")
    shared = scan(str(root), ScanOptions(use_cache=False, work_dir=tmp_path / "w1"))
    said = {r.getMessage().split(": ", 1)[0]: r.getMessage().split(": ", 1)[1]
            for r in caplog.records if r.name == "auditor.share"}
    whole = scan(str(root), ScanOptions(use_cache=False, share_bases=False,
                                        work_dir=tmp_path / "w2"))
    assert schema.dumps(shared) == schema.dumps(whole)

    taken = {}
    for tag in routes:
        msg = said.get(tag, "")
        taken[tag] = "shared" if "catalogued from the scan of its base" in msg else msg
    for tag, route in routes.items():
        assert route in taken[tag], (tag, taken[tag])
    # the cases differ from the base where they should: the test can see a wrong route
    by = {i.name: {(p.name, p.version) for p in i.packages} for i in whole.images}
    assert by["localhost/python:1"] - by["localhost/base:1"] == {("demo", "1.0")}
    assert len(by["localhost/status:1"]) == len(by["localhost/base:1"]) - 1
    distro = {i.name: i.distro for i in whole.images}
    assert distro["localhost/os-release:1"] == "debian 13" != distro["localhost/base:1"]
    lic = {i.name: {p.name: p.declared_license for p in i.packages} for i in whole.images}
    assert lic["localhost/no-copyright:1"]["adduser"] != lic["localhost/base:1"]["adduser"]


def test_sharing_leaves_no_work_behind(shared_rootfs: tuple[Path, dict[str, str]],
                                       tmp_path: Path) -> None:
    root, _ = shared_rootfs
    work = tmp_path / "work"
    scan(str(root), ScanOptions(use_cache=False, work_dir=work))
    assert not (work / "shared").exists()


def test_a_base_no_image_is_scanned_from_a_layout_of_its_layers(
        shared_rootfs: tuple[Path, dict[str, str]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the base image itself, the base is scanned from an OCI layout of the
    layers the images share."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root, _ = shared_rootfs
    two = tmp_path / "rootfs" / "usr/share/container-images"
    two.mkdir(parents=True)
    for n in ("conf-a", "conf-b"):
        os.link(root / f"usr/share/container-images/{n}-1.tar", two / f"{n}-1.tar")
    caplog.set_level(logging.DEBUG, logger="auditor.share")
    shared = scan(str(tmp_path / "rootfs"), ScanOptions(use_cache=False))
    assert sorted(r.getMessage().split(": ", 1)[0] for r in caplog.records
                  if "catalogued from the scan of its base" in r.getMessage()) == [
        "localhost/conf-a:1", "localhost/conf-b:1"]
    whole = scan(str(tmp_path / "rootfs"), ScanOptions(use_cache=False, share_bases=False))
    assert schema.dumps(shared) == schema.dumps(whole)


def _shared_bases(tmp_path: Path, deltas: dict[str, list[tuple]], **scans: Any
                  ) -> tuple[Any, dict[str, Any]]:
    """SharedBases over archives of BASE + each delta, with syft replaced by `scans`."""
    from auditor.share import SharedBases
    from auditor.sources.base import OpenContext
    from auditor.sources.docker_archive import open_archive

    srcs = {}
    for n, entries in deltas.items():
        path = docker_archive(tmp_path / f"{n}.tar", [layer_tar(BASE), layer_tar(entries)],
                              tag=f"localhost/{n}:1")
        (srcs[n],) = open_archive(path, OpenContext(root=tmp_path, architecture="amd64"))
    store = LayerStore(tmp_path / "blobs", limits=Limits())
    for s in srcs.values():
        store.expect(list(s.layers))
    shared = SharedBases(list(srcs.values()), store=store, work=tmp_path / "work", **scans)
    return shared, srcs


def _routes(shared: Any, srcs: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for n, src in srcs.items():
        read = [shared.store.get(l, n) for l in src.layers]
        out[n] = shared.doc_for(src, VirtualRoot(read, what=n), read) is not None
    shared.close()
    return out


def test_deltas_the_checks_cannot_read_get_their_own_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditor import share

    monkeypatch.setattr(share, "MAX_DELTA_BYTES", 1000)
    calls: list[str] = []

    def scan_dir(path: Path, **_: Any) -> dict[str, Any]:
        calls.append(sorted(p.name for p in path.iterdir()))  # type: ignore[arg-type]
        return {"artifacts": []}

    shared, srcs = _shared_bases(tmp_path, {
        "a": [("etc/a.conf", "file", "a")],
        "b": [("etc/b.conf", "file", "b")],
        "hardlink": [("etc/passwd-link", "hard", "etc/adduser.conf")],  # into the base
        "big": [("opt/blob", "file", "x" * 1001)],
        "wasm": [("opt/m.wasm", "file", b"\x00asm\x01\x00\x00\x00")],
    }, scan_layout=lambda layout, **_: DOC, scan_dir=scan_dir)
    assert _routes(shared, srcs) == {"a": True, "b": True, "hardlink": False, "big": False,
                                     "wasm": False}
    assert calls == [["0", "1"]]  # one delta scan, of the two deltas that passed
    assert not (tmp_path / "work" / "shared").exists()


def test_what_the_delta_scan_finds_is_scanned_whole(tmp_path: Path) -> None:
    def scan_dir(path: Path, **_: Any) -> dict[str, Any]:
        return {"artifacts": [{"name": "x", "locations": [{"path": "/1/opt/x/package.json"}]}]}

    shared, srcs = _shared_bases(tmp_path, {
        "a": [("etc/a.conf", "file", "a")],
        "npm": [("opt/x/package.json", "file", '{"name": "x", "version": "1"}')],
        "c": [("etc/c.conf", "file", "c")],
    }, scan_layout=lambda layout, **_: DOC, scan_dir=scan_dir)
    assert _routes(shared, srcs) == {"a": True, "npm": False, "c": True}


def test_a_base_scan_failure_fails_the_images_that_wait_for_it(tmp_path: Path) -> None:
    from auditor.errors import ToolError

    def broken(layout: Path, **_: Any) -> dict[str, Any]:
        raise ToolError("syft: broken")

    shared, srcs = _shared_bases(tmp_path, {"a": [("etc/a.conf", "file", "a")],
                                            "b": [("etc/b.conf", "file", "b")]},
                                 scan_layout=broken,
                                 scan_dir=lambda path, **_: {"artifacts": []})
    with pytest.raises(ToolError, match="broken"):
        _routes(shared, srcs)
