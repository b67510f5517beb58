# SPDX-License-Identifier: Apache-2.0
"""`container-audit scan` on the real fixtures: every embedding, every image, every package.

Ground truth is what tests/fixtures/build.py read from the images themselves with dpkg-query,
rpm and the apk/opkg databases, never a hand-typed list."""

from __future__ import annotations

import collections
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

pytestmark = pytest.mark.fixtures


def _key(img: dict[str, Any]) -> str:
    return img["config_digest"]


def _truth_by_digest(fx: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, info in fx["images"].items():
        if "config_digest" in info:
            out[info["config_digest"]] = {**info, "fixture": name}
        for plat in (info.get("platforms") or {}).values():
            out[plat["config_digest"]] = {**info, **plat, "fixture": name}
    return out


def _assert_packages(img: dict[str, Any], truth: dict[str, Any]) -> None:
    kind = truth["kind"]
    got = collections.Counter((p["name"], p["version"]) for p in img["packages"]
                              if kind == "binary" or p["type"] != "binary")
    want = collections.Counter((p["name"], p["version"]) for p in truth["packages"])
    assert not [k for k, n in got.items() if n > 1], "a package is reported twice"
    missing, extra = set(want) - set(got), set(got) - set(want)
    assert not missing and not extra, (truth["fixture"], sorted(missing)[:10], sorted(extra)[:10])
    for purged in truth.get("purged") or ():
        assert purged not in {p["name"] for p in img["packages"]}


def _check_inventory(inv: dict[str, Any], fx: dict[str, Any], expected: list[str]) -> None:
    truth = _truth_by_digest(fx)
    want_digests = set()
    for name in expected:
        info = fx["images"][name]
        want_digests.add(info.get("config_digest") or
                         info["platforms"]["linux/amd64"]["config_digest"])
    assert {_key(i) for i in inv["images"]} == want_digests
    for img in inv["images"]:
        t = truth[_key(img)]
        _assert_packages(img, t)
        assert [l["diff_id"] for l in img["layers"]] == t["diff_ids"]
        assert img["architecture"] == "amd64"
        for p in img["packages"]:
            assert p["layer"] in t["diff_ids"], p
            assert p["purl"], p


@pytest.mark.parametrize("rootfs", ["podman", "compose", "dockerstore", "mixed"])
def test_rootfs_finds_every_image_and_package(fixtures, scan_json, rootfs: str) -> None:
    info = fixtures["rootfs"][rootfs]
    inv = scan_json(info["path"])
    _check_inventory(inv, fixtures, info["images"])
    assert inv["architecture"] == info.get("arch", "amd64")


def test_embedding_and_places_are_reported(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["rootfs"]["mixed"]["path"])
    places = collections.defaultdict(set)
    embeddings = set()
    for img in inv["images"]:
        embeddings.add(img["embedding"])
        for src in [img["source"], *img["also_found_at"]]:
            places[src].add(img["config_digest"])
    digests = {n: fixtures["images"][n].get("config_digest") for n in fixtures["images"]}
    for loc in fixtures["rootfs"]["mixed"]["locations"]:
        want = {digests[n] or fixtures["images"][n]["platforms"]["linux/amd64"]["config_digest"]
                for n in loc["images"]}
        assert want <= places["/" + loc["path"]], loc
    assert embeddings <= {"archive", "oci", "docker-store", "containers-storage"}
    busybox = next(i for i in inv["images"] if "localhost/busybox:1.35" in i["tags"])
    assert busybox["skipped_platforms"] == fixtures["rootfs"]["mixed"]["skipped_platforms"]


def test_dockerstore_embedding(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["rootfs"]["dockerstore"]["path"])
    assert {i["embedding"] for i in inv["images"]} == {"docker-store"}
    assert {i["source"] for i in inv["images"]} == {"/var/lib/docker"}
    tags = {t for i in inv["images"] for t in i["tags"]}
    assert "localhost/debian-jq:1.6" in tags


def test_layer_attribution_and_whiteouts(fixtures, scan_json) -> None:
    jq = fixtures["images"]["debian-jq"]
    inv = scan_json(fixtures["archives"]["debian-jq.podman"])
    (img,) = inv["images"]
    by_name = {p["name"]: p for p in img["packages"]}
    base_names = {p["name"] for p in fixtures["images"]["debian-base"]["packages"]}
    for name, p in by_name.items():
        want = jq["diff_ids"][0] if name in base_names else jq["diff_ids"][1]
        assert p["layer"] == want, name
    assert "e2fsprogs" not in by_name
    # the opaque directory of the top layer replaced libonig5's copyright
    lic = by_name["libonig5"]["licenses"]
    assert {e["layer"] for l in lic for e in l["evidence"]} == {jq["diff_ids"][2]}
    assert any("GPL-3.0-or-later" in l["value"] for l in lic)


@pytest.mark.parametrize("archive", ["busybox.podman", "debian-base.podman", "debian-jq.podman",
                                     "jq.docker-classic", "jq.oci", "jq-docker25",
                                     "pair.docker-classic", "busybox-multi.oci"])
def test_single_archive_targets(fixtures, scan_json, archive: str) -> None:
    inv = scan_json(fixtures["archives"][archive])
    truth = _truth_by_digest(fixtures)
    assert inv["images"]
    for img in inv["images"]:
        _assert_packages(img, truth[_key(img)])
    if archive == "pair.docker-classic":
        assert len(inv["images"]) == 2
    if archive == "busybox-multi.oci":
        (img,) = inv["images"]
        assert img["architecture"] == "amd64" and img["skipped_platforms"] == ["linux/arm64"]


def test_arch_option_picks_the_other_platform(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["archives"]["busybox-multi.oci"], "--arch", "arm64")
    (img,) = inv["images"]
    arm = fixtures["images"]["busybox-multi"]["platforms"]["linux/arm64"]
    assert img["config_digest"] == arm["config_digest"] and img["architecture"] == "arm64"
    assert img["skipped_platforms"] == ["linux/amd64"]


def test_busybox_is_found_without_false_applet_hits(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["archives"]["busybox.podman"])
    (img,) = inv["images"]
    assert [(p["name"], p["version"], p["type"]) for p in img["packages"]] == [
        ("busybox", "1.35.0", "binary")]


@pytest.mark.parametrize("eco", ["apk", "opkg", "rpm"])
def test_other_ecosystems(fixtures, scan_json, eco: str) -> None:
    inv = scan_json(fixtures["archives"][eco])
    (img,) = inv["images"]
    truth = fixtures["images"][eco]
    _assert_packages(img, {**truth, "fixture": eco})
    types = {p["type"] for p in img["packages"]}
    assert types == {eco}
    if eco == "opkg":
        # syft lists opkg packages twice and without purl: one package each, with a purl
        assert all(p["purl"].startswith("pkg:opkg/") for p in img["packages"])
        # the License: field of each package's control data (the status file has none)
        controlled = [p for p in img["packages"]
                      if any(l["path"].endswith(".control") for l in p["locations"])]
        assert len(controlled) >= 90
        for p in controlled:
            assert p["licenses"] and p["licenses"][0]["method"] == "opkg-control", p["name"]
            assert p["licenses"][0]["evidence"][0]["path"].endswith(f"/{p['name']}.control")


def test_declarations_podman(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["rootfs"]["podman"]["path"])
    assert len(inv["declared"]) == len(fixtures["rootfs"]["podman"]["declared"])
    assert all(d["found"] and d["matches"] for d in inv["declared"])
    assert inv["undeclared"] == []


def test_declarations_compose(fixtures, scan_json) -> None:
    info = fixtures["rootfs"]["compose"]
    inv = scan_json(info["path"])
    missing = sorted(d["reference"] for d in inv["declared"] if not d["found"])
    assert missing == sorted(info["missing"])
    found = {d["reference"] for d in inv["declared"] if d["found"]}
    assert found == set(info["declared"]) - set(info["missing"])
    tools_digest = fixtures["images"]["debian-tools"]["config_digest"]
    undeclared = {i["config_digest"] for i in inv["images"] if i["source"] in inv["undeclared"]}
    assert undeclared == {tools_digest}


def _pack(src: Path, dest: Path, comp: str) -> Path:
    if comp == "zst":
        raw = dest.with_suffix("")
        with tarfile.open(raw, "w") as tf:
            tf.add(src, arcname=".")
        with open(raw, "rb") as fi, open(dest, "wb") as fo:
            zstandard.ZstdCompressor(level=3).copy_stream(fi, fo)
        raw.unlink()
        return dest
    with tarfile.open(dest, "w:" + comp if comp else "w") as tf:
        tf.add(src, arcname=".")
    return dest


@pytest.mark.parametrize("comp", ["", "gz", "bz2", "xz", "zst"])
def test_rootfs_tarballs_equal_the_directory(fixtures, scan_json, tmp_path_factory, comp: str
                                             ) -> None:
    src = Path(fixtures["rootfs"]["podman"]["path"])
    if comp in ("bz2", "xz"):
        # slow compressors: a rootfs with the two small images is enough to prove the reader
        small = tmp_path_factory.mktemp("small") / "rootfs"
        shutil.copytree(src, small, symlinks=True, ignore=shutil.ignore_patterns("debian-*"))
        src = small
    ext = {"": ".tar", "gz": ".tar.gz", "bz2": ".tar.bz2", "xz": ".tar.xz", "zst": ".tar.zst"}[comp]
    ball = _pack(src, tmp_path_factory.mktemp("ball") / ("rootfs" + ext), comp)
    from_dir = scan_json(src)
    from_ball = scan_json(ball)
    strip = lambda inv: [{k: v for k, v in i.items()} for i in inv["images"]]  # noqa: E731
    assert strip(from_ball) == strip(from_dir)
    assert from_ball["declared"] == from_dir["declared"]


def test_deterministic_output(fixtures, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    target = fixtures["archives"]["debian-jq.podman"]
    outs = []
    for i in range(2):
        out = tmp_path / f"{i}.json"
        r = run_cli("scan", target, "-o", f"json={out}", env={"SOURCE_DATE_EPOCH": "1700000000"})
        assert r.rc == 0, r.err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b'"created": "2023-11-14T22:13:20Z"' in outs[0]


def test_stores_as_direct_targets(fixtures, scan_json) -> None:
    store = fixtures["rootfs"]["dockerstore"]["data_root"]
    inv = scan_json(store)
    _check_inventory(inv, fixtures, fixtures["rootfs"]["dockerstore"]["images"])
    cs = Path(fixtures["rootfs"]["mixed"]["path"]) / "var/lib/containers/storage"
    inv = scan_json(cs)
    assert {i["embedding"] for i in inv["images"]} == {"containers-storage"}
    oci_dir = Path(fixtures["rootfs"]["mixed"]["path"]) / "usr/share/container-bundles/busybox"
    inv = scan_json(oci_dir)
    assert [p["name"] for p in inv["images"][0]["packages"]] == ["busybox"]


@pytest.mark.daemon
def test_daemon_image(fixtures, scan_json) -> None:
    from tests.conftest import DOCKER_SOCK, need, need_path, run_cli

    need("docker")
    need_path(Path(DOCKER_SOCK))
    host = f"unix://{DOCKER_SOCK}"
    subprocess.run(["docker", "-H", host, "load", "-i", fixtures["archives"]["debian-jq.podman"]],
                   check=True, capture_output=True)
    out = Path(fixtures["rootfs"]["podman"]["path"]).parent / "daemon-inv.json"
    r = run_cli("scan", "docker:localhost/debian-jq:1.6", "-o", f"json={out}",
                env={"DOCKER_HOST": host})
    assert r.rc == 0, r.err
    import json

    inv = json.loads(out.read_text())
    (img,) = inv["images"]
    assert img["embedding"] == "daemon" and img["source"] == "docker:localhost/debian-jq:1.6"
    _assert_packages(img, {**fixtures["images"]["debian-jq"], "fixture": "debian-jq"})
    out.unlink()
    r = run_cli("scan", "docker:localhost/no-such-image:1", env={"DOCKER_HOST": host})
    assert r.rc == 2 and "no such image" in r.err
