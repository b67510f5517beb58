# SPDX-License-Identifier: Apache-2.0
"""unpack.py: squashing semantics and every refusal of hostile layers.

Layers here are written with tarfile because they must be hostile or exact in ways no
real tool produces on demand (an escaping hard link, a bomb, a wrong digest)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from auditor.errors import DigestMismatchError, InputError, LimitExceededError, UnsafeInputError
from auditor.model import LayerSource
from auditor.unpack import Limits, squash
from tests.archive_tools import layer_tar as _tar


def _layer(data: bytes, *, diff_id: str | None = None, digest: str = "", size: int = -1,
           uncompressed: bytes | None = None) -> LayerSource:
    content = uncompressed if uncompressed is not None else data

    @contextmanager
    def opener():
        yield io.BytesIO(data)

    return LayerSource(diff_id=diff_id or "sha256:" + hashlib.sha256(content).hexdigest(),
                       digest=digest, size=size, open=opener, description="test")


def tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = Path(dirpath, n)
            rel = "/" + p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = p.read_text()
    return out


def test_whiteouts_opaque_and_provenance(tmp_path: Path) -> None:
    l0 = _tar([("etc", "dir", None), ("etc/motd", "file", "hi"), ("etc/keep", "file", "k"),
               ("usr/share/doc/x", "dir", None), ("usr/share/doc/x/copyright", "file", "old"),
               ("usr/share/doc/x/README", "file", "r"), ("bin/a", "file", "a"),
               ("bin/b", "hard", "bin/a")])
    l1 = _tar([("etc/.wh.motd", "file", ""), ("usr/share/doc/x/.wh..wh..opq", "file", ""),
               ("usr/share/doc/x/copyright", "file", "new"), ("etc/new", "file", "n")])
    res = squash([_layer(l0), _layer(l1)], tmp_path / "r", what="img")
    t = tree(res.root)
    assert "/etc/motd" not in t and t["/etc/keep"] == "k" and t["/etc/new"] == "n"
    assert t["/usr/share/doc/x/copyright"] == "new"
    assert "/usr/share/doc/x/README" not in t  # hidden by the opaque marker
    assert not any(".wh." in k for k in t)
    assert os.stat(res.root / "bin/a").st_ino == os.stat(res.root / "bin/b").st_ino
    assert res.layer_of("/etc/keep") == res.layers[0].diff_id
    assert res.layer_of("usr/share/doc/x/copyright") == res.layers[1].diff_id
    assert res.layer_of("/etc/motd") is None


def test_opaque_marker_before_or_after_new_children(tmp_path: Path) -> None:
    l0 = _tar([("d/old", "file", "o")])
    # children of this layer written before the marker must survive it
    l1 = _tar([("d/new", "file", "n"), ("d/.wh..wh..opq", "file", "")])
    res = squash([_layer(l0), _layer(l1)], tmp_path / "r", what="img")
    assert sorted(os.listdir(res.root / "d")) == ["new"]


def test_absolute_symlinks_stay_inside(tmp_path: Path) -> None:
    host_secret = tmp_path / "secret"
    host_secret.write_text("HOST")
    l0 = _tar([("etc/shadow", "file", "IMAGE"), ("lnk", "sym", str(host_secret)),
               ("usr/share/doc/p/copyright", "sym", "/etc/shadow"),
               ("deep", "sym", "../../../../../../" + str(host_secret).lstrip("/"))])
    res = squash([_layer(l0)], tmp_path / "r", what="img")
    from auditor.rootpath import ImageRoot
    img = ImageRoot(res.root)
    assert img.read_bytes("/usr/share/doc/p/copyright") == b"IMAGE"
    assert img.read_bytes("/lnk") is None  # the image has no such file: nothing, not the host's
    assert img.read_bytes("/deep") is None
    assert str(img.resolve("/deep")).startswith(str(res.root))


def test_write_through_symlinked_dir_lands_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    l0 = _tar([("escape", "sym", str(outside)), ("rel", "sym", "../../../../" + str(outside))])
    l1 = _tar([("escape/pwned", "file", "x"), ("rel/pwned2", "file", "y")])
    res = squash([_layer(l0), _layer(l1)], tmp_path / "r", what="img")
    assert list(outside.iterdir()) == []
    assert (res.root / str(outside).lstrip("/") / "pwned").read_text() == "x"


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/etc/evil"])
def test_member_escape_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeInputError, match="evil"):
        squash([_layer(_tar([(name, "file", "x")]))], tmp_path / "r", what="img")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd"])
def test_hardlink_escape_is_refused(tmp_path: Path, target: str) -> None:
    with pytest.raises(UnsafeInputError, match="hard link"):
        squash([_layer(_tar([("x", "hard", target)]))], tmp_path / "r", what="img")


def test_hardlink_through_symlink_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "hostfile").write_text("HOST")
    l0 = _tar([("d", "sym", str(tmp_path)), ("hostfile", "file", "IMAGE")])
    l1 = _tar([("x", "hard", "d/hostfile")])
    # d -> <tmp> resolves inside the image (to /<tmp>, which does not exist there)
    with pytest.raises(InputError, match="does not exist"):
        squash([_layer(l0), _layer(l1)], tmp_path / "r", what="img")


def test_devices_and_fifos_are_skipped(tmp_path: Path) -> None:
    res = squash([_layer(_tar([("dev/null", "chr", None), ("p", "fifo", None),
                               ("f", "file", "x")]))], tmp_path / "r", what="img")
    assert res.skipped == 2 and not (res.root / "dev/null").exists() and (res.root / "f").exists()


def test_digest_mismatch_names_the_layer(tmp_path: Path) -> None:
    bad = "sha256:" + "0" * 64
    with pytest.raises(DigestMismatchError, match=r"img: layer sha256:000000000000.*hashes to"):
        squash([_layer(_tar([("f", "file", "x")]), diff_id=bad)], tmp_path / "r", what="img")


def test_blob_digest_of_compressed_layer_is_checked(tmp_path: Path) -> None:
    raw = _tar([("f", "file", "x")])
    gz = gzip.compress(raw, mtime=0)
    ok = "sha256:" + hashlib.sha256(gz).hexdigest()
    squash([_layer(gz, digest=ok, uncompressed=raw, size=len(gz))], tmp_path / "a", what="img")
    with pytest.raises(DigestMismatchError, match="blob"):
        squash([_layer(gz, digest="sha256:" + "1" * 64, uncompressed=raw)], tmp_path / "b",
               what="img")
    with pytest.raises(DigestMismatchError, match="manifest says"):
        squash([_layer(gz, digest=ok, uncompressed=raw, size=len(gz) + 1)], tmp_path / "c",
               what="img")


def test_truncated_layer(tmp_path: Path) -> None:
    raw = _tar([("f", "file", "x" * 5000), ("g", "file", "y")])
    with pytest.raises(InputError, match="truncated|corrupt"):
        squash([_layer(raw[:3000], uncompressed=raw)], tmp_path / "r", what="img")
    gz = gzip.compress(raw)
    with pytest.raises(InputError, match="truncated|corrupt"):
        squash([_layer(gz[: len(gz) // 2], uncompressed=raw)], tmp_path / "r2", what="img")


def test_decompression_bomb(tmp_path: Path) -> None:
    raw = _tar([("zeros", "file", b"\0" * (8 << 20))])
    gz = gzip.compress(raw, 9)
    limits = Limits(max_ratio=50, ratio_floor=1 << 20)
    with pytest.raises(LimitExceededError, match="bomb"):
        squash([_layer(gz, uncompressed=raw)], tmp_path / "r", what="img", limits=limits)


def test_size_limits(tmp_path: Path) -> None:
    raw = _tar([("a", "file", "x" * 100), ("b", "file", "y" * 100)])
    with pytest.raises(LimitExceededError, match="'a'"):
        squash([_layer(raw)], tmp_path / "r", what="img", limits=Limits(max_file_bytes=50))
    with pytest.raises(LimitExceededError, match="exceeds"):
        squash([_layer(raw)], tmp_path / "r2", what="img", limits=Limits(max_total_bytes=150))


# property: squashing N layers equals applying them one by one with the OCI rules
_names = st.sampled_from(["a", "b", "c", "d/x", "d/y", "e/f/g"])


@st.composite
def _layers(draw):  # type: ignore[no-untyped-def]
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        ops = draw(st.lists(st.tuples(st.sampled_from(["file", "wh", "opq"]), _names,
                                      st.text("xyz", min_size=1, max_size=3)), max_size=6))
        layers.append(ops)
    return layers


def _model(layers: list) -> dict[str, str]:
    fs: dict[str, str] = {}
    for ops in layers:
        new: dict[str, str] = {}
        for kind, name, text in ops:
            if kind == "file":
                new[name] = text
            elif kind == "wh":
                fs = {k: v for k, v in fs.items() if k != name and not k.startswith(name + "/")}
            else:
                d = name.rsplit("/", 1)[0] if "/" in name else None
                if d:
                    fs = {k: v for k, v in fs.items() if not k.startswith(d + "/")}
        for k, v in new.items():
            # a file replaces a lower dir of the same name and vice versa
            fs = {kk: vv for kk, vv in fs.items() if not kk.startswith(k + "/")}
            for i in range(1, k.count("/") + 1):
                fs.pop("/".join(k.split("/")[:i]), None)
            fs[k] = v
    return fs


@settings(max_examples=60, deadline=None)
@given(_layers())
def test_squash_matches_model(tmp_path_factory: pytest.TempPathFactory, layers: list) -> None:
    entries_per_layer = []
    for ops in layers:
        entries = []
        for kind, name, text in ops:
            if kind == "file":
                entries.append((name, "file", text))
            elif kind == "wh":
                d, _, b = name.rpartition("/")
                entries.append(((d + "/" if d else "") + ".wh." + b, "file", ""))
            elif "/" in name:
                entries.append((name.rsplit("/", 1)[0] + "/.wh..wh..opq", "file", ""))
        # a layer holds each path once; the model applies the same de-duplication
        dedup = {}
        for e in entries:
            dedup[e[0]] = e
        entries_per_layer.append(list(dedup.values()))
    model_layers = []
    for ents in entries_per_layer:
        ops = []
        for name, _, text in ents:
            base = name.rsplit("/", 1)[-1]
            if base == ".wh..wh..opq":
                ops.append(("opq", name.replace(".wh..wh..opq", "z"), ""))
            elif base.startswith(".wh."):
                ops.append(("wh", name.replace(".wh.", ""), ""))
            else:
                ops.append(("file", name, text))
        # whiteouts/opaque apply to lower layers, files of this layer win
        model_layers.append(sorted(ops, key=lambda o: o[0] == "file"))
    expected = _model(model_layers)
    # paths that are prefixes of another file cannot both be files: skip such inputs
    keys = [e[0] for ents in entries_per_layer for e in ents if e[1] == "file"]
    if any(a != b and b.startswith(a + "/") for a in keys for b in keys):
        return
    root = tmp_path_factory.mktemp("sq")
    res = squash([_layer(_tar(e)) for e in entries_per_layer], root / "r", what="img")
    got = {k.lstrip("/"): v for k, v in tree(res.root).items() if v != "dir"}
    assert got == expected
