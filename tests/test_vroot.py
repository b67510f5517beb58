# SPDX-License-Identifier: Apache-2.0
"""layers.py + vroot.py: the in-memory squash must be the on-disk squash (unpack.py).

The property test draws random layer stacks (files, directories, symlinks — also
absolute and dangling ones, and links that redirect later members —, hard links,
whiteouts, opaque directories) and checks that VirtualRoot and Squasher agree on every
path, its kind, its contents, its layer and its identity (hard links), and refuse the
same inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import AuditorError, InputError, LimitExceededError, UnsafeInputError
from auditor.layers import LayerStore
from auditor.model import LayerSource
from auditor.rootpath import ImageRoot
from auditor.unpack import Limits, squash
from auditor.vroot import VirtualRoot
from tests.archive_tools import layer_tar as _tar
from tests.test_unpack import _layer, tree

_paths = st.sampled_from(["a", "b", "d/x", "d/y", "d/e/f", "l/x", "d", "l", "e/f/g"])
_targets = st.sampled_from(["d", "/d", "d/x", "../../d", "/", "missing", "l", "d/e"])


@st.composite
def _stack(draw):  # type: ignore[no-untyped-def]
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        entries: dict[str, tuple] = {}
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["file", "file", "dir", "sym", "hard", "wh", "opq"]))
            path = draw(_paths)
            if kind == "file":
                e = (path, "file", draw(st.text("xyz", min_size=1, max_size=3)))
            elif kind == "dir":
                e = (path, "dir", None)
            elif kind == "sym":
                e = (path, "sym", draw(_targets))
            elif kind == "hard":
                e = (path, "hard", draw(_paths))
            elif kind == "wh":
                d, _, b = path.rpartition("/")
                e = ((d + "/" if d else "") + ".wh." + b, "file", "")
            else:
                e = (path.rsplit("/", 1)[0] + "/.wh..wh..opq" if "/" in path else ".wh..wh..opq",
                     "file", "")
            entries[e[0]] = e
        layers.append(list(entries.values()))
    return layers


def _virtual(layers: list[bytes], blobs: Path, limits: Limits = Limits()) -> VirtualRoot:
    store = LayerStore(blobs, limits=limits)
    return VirtualRoot([store.get(_layer(data), "img") for data in layers], what="img")


def _vtree(v: VirtualRoot) -> dict[str, str]:
    out = {}
    for path, kind in v.files().items():
        out[path] = (v.read_bytes(path) or b"").decode() if kind == "file" else kind
    return out


@settings(max_examples=150, deadline=None)
@given(_stack())
def test_virtual_squash_equals_disk_squash(tmp_path_factory: pytest.TempPathFactory,
                                           stack: list) -> None:
    base = tmp_path_factory.mktemp("v")
    datas = [_tar(entries) for entries in stack]
    try:
        disk = squash([_layer(d) for d in datas], base / "r", what="img")
    except AuditorError as exc:
        with pytest.raises(type(exc)):
            _virtual(datas, base / "blobs")
        return
    v = _virtual(datas, base / "blobs")
    expected = tree(disk.root)
    assert _vtree(v) == expected
    img = ImageRoot(disk.root)
    for path in expected:
        assert v.layer_of(path) == disk.layer_of(path), path
        assert v.is_symlink(path) == img.is_symlink(path), path
        assert _outcome(v.real_path, path) == _outcome(img.real_path, path), path
    # hard links: the same identity exactly where the disk tree shares an inode
    files = [p for p, k in expected.items() if not k.startswith("->") and k != "dir"]
    for p in files:
        for q in files:
            same_disk = img.identity(p) == img.identity(q)
            assert (v.identity(p) is v.identity(q)) == same_disk, (p, q)


def _outcome(fn, path: str) -> object:  # type: ignore[no-untyped-def]
    """A value, or the type of error (a link loop) — both sides must agree."""
    try:
        return fn(path)
    except AuditorError as exc:
        return type(exc)


def test_shared_layers_are_read_once(tmp_path: Path) -> None:
    base = _tar([("etc/os-release", "file", "ID=debian\n"), ("bin/sh", "file", "sh")])
    top1 = _tar([("app/one", "file", "1")])
    top2 = _tar([("app/two", "file", "2"), ("bin/.wh.sh", "file", "")])
    store = LayerStore(tmp_path / "blobs")
    lb = _layer(base)
    one = VirtualRoot([store.get(lb, "a"), store.get(_layer(top1), "a")], what="a")
    two = VirtualRoot([store.get(lb, "b"), store.get(_layer(top2), "b")], what="b")
    assert store.reads == 3
    assert one.read_bytes("/bin/sh") == b"sh" and two.read_bytes("/bin/sh") is None
    assert one.read_bytes("/etc/os-release") == two.read_bytes("etc/os-release") == b"ID=debian\n"
    assert one.layer_of("/app/one") == one.layers[1].diff_id


def test_contents_come_from_the_verified_blob(tmp_path: Path) -> None:
    big = "x" * 70000
    v = _virtual([_tar([("usr/share/doc/p/copyright", "file", big), ("e", "file", "")])],
                 tmp_path)
    assert v.read_bytes("/usr/share/doc/p/copyright") == big.encode()
    assert v.read_bytes("/usr/share/doc/p/copyright", limit=10) == b"x" * 10
    assert v.read_bytes("/e") == b""
    assert v.read_bytes("/usr/share/doc/p") is None  # a directory
    (blob,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert blob.name == v.layers[0].diff_id.replace(":", "-")
    assert os.path.getsize(blob) == v.layers[0].size


@pytest.mark.parametrize("entries, error", [
    ([("/abs", "file", "x")], UnsafeInputError),
    ([("a/../../x", "file", "x")], UnsafeInputError),
    ([("x", "hard", "../etc/passwd")], UnsafeInputError),
    ([("x", "hard", "nothing")], InputError),
    ([("d", "dir", None), ("x", "hard", "d")], UnsafeInputError),
    ([("l", "sym", "l"), ("l/x", "file", "x")], UnsafeInputError),  # a symlink loop
])
def test_hostile_members_are_refused(tmp_path: Path, entries: list, error: type) -> None:
    with pytest.raises(error):
        _virtual([_tar(entries)], tmp_path)


def test_limits(tmp_path: Path) -> None:
    data = _tar([("a", "file", "x" * 100), ("b", "file", "y" * 100)])
    with pytest.raises(LimitExceededError):
        _virtual([data], tmp_path / "1", Limits(max_file_bytes=50))
    with pytest.raises(LimitExceededError):
        _virtual([data], tmp_path / "2", Limits(max_total_bytes=150))
    with pytest.raises(LimitExceededError):
        _virtual([data], tmp_path / "3", Limits(max_members=1))


def test_failed_read_leaves_no_blob(tmp_path: Path) -> None:
    data = _tar([("a", "file", "x")])
    store = LayerStore(tmp_path)
    with pytest.raises(InputError):
        store.get(_layer(data, diff_id="sha256:" + "0" * 64), "img")
    assert list(tmp_path.iterdir()) == []


def test_blobs_live_while_an_image_needs_them(tmp_path: Path) -> None:
    base, top = _layer(_tar([("bin/sh", "file", "sh")])), _layer(_tar([("app", "file", "1")]))
    store = LayerStore(tmp_path)
    store.expect([base, top])  # image 1
    store.expect([base])  # image 2
    one = VirtualRoot([store.get(base, "1"), store.get(top, "1")], what="1")
    blobs = {rl.blob for rl in one.read_layers}
    store.release([base, top])
    assert [b.exists() for b in sorted(blobs)].count(True) == 1  # the shared base stays
    two = VirtualRoot([store.get(base, "2")], what="2")
    assert two.read_bytes("/bin/sh") == b"sh" and store.reads == 2
    store.release([base])
    assert not any(tmp_path.iterdir())
    store.verify([base], "again")  # already verified in this run: not read again
    assert store.reads == 2


def _archive_with(tmp_path: Path, member: bytes) -> tuple[Path, LayerSource]:
    """A tar holding `member` as `layer.tar`, and the layer as a source would give it."""
    import hashlib
    import io
    import tarfile

    from auditor.sources.blobs import TarIndex

    path = tmp_path / "archive.tar"
    with tarfile.open(path, "w") as tf:
        pad = tarfile.TarInfo("before")
        pad.size = 1000
        tf.addfile(pad, io.BytesIO(b"p" * 1000))
        ti = tarfile.TarInfo("layer.tar")
        ti.size = len(member)
        tf.addfile(ti, io.BytesIO(member))
    idx = TarIndex(path, "archive.tar")
    diff = "sha256:" + hashlib.sha256(member).hexdigest()  # right when `member` is a plain tar
    return path, LayerSource(diff_id=diff, open=idx.opener("layer.tar"),
                             region=idx.region("layer.tar"), description="layer.tar")


def test_uncompressed_layer_in_an_archive_is_read_in_place(tmp_path: Path) -> None:
    member = _tar([("usr/share/doc/p/copyright", "file", "License: MIT\n")])
    path, source = _archive_with(tmp_path, member)
    before = path.read_bytes()
    store = LayerStore(tmp_path / "blobs")
    store.expect([source])
    rl = store.get(source, "img")
    assert rl.in_place and rl.blob == path and rl.offset > 0
    assert not list((tmp_path / "blobs").glob("*"))  # nothing copied (nor a dir made)
    v = VirtualRoot([rl], what="img")
    assert v.read_bytes("/usr/share/doc/p/copyright") == b"License: MIT\n"
    store.release([source])
    assert path.read_bytes() == before  # the source's own file is never deleted or changed


def test_compressed_layer_in_an_archive_is_copied_uncompressed(tmp_path: Path) -> None:
    import gzip
    import hashlib

    raw = _tar([("f", "file", "data")])
    path, source = _archive_with(tmp_path, gzip.compress(raw))
    source = LayerSource(diff_id="sha256:" + hashlib.sha256(raw).hexdigest(),
                         open=source.open, region=source.region)
    rl = LayerStore(tmp_path / "blobs").get(source, "img")
    assert not rl.in_place and rl.blob.parent == tmp_path / "blobs" and rl.blob.read_bytes() == raw


def test_in_place_layer_is_verified_before_use(tmp_path: Path) -> None:
    import dataclasses

    from auditor.errors import DigestMismatchError

    member = _tar([("f", "file", "data")])
    _, source = _archive_with(tmp_path, member)
    wrong = dataclasses.replace(source, diff_id="sha256:" + "1" * 64)
    with pytest.raises(DigestMismatchError, match="content hashes to"):
        LayerStore(tmp_path / "b1").get(wrong, "img")
    short = dataclasses.replace(source, region=(source.region[0], source.region[1],
                                                source.region[2] - 512))
    with pytest.raises(AuditorError):  # a region cut short: never read past it
        LayerStore(tmp_path / "b2").get(short, "img")
