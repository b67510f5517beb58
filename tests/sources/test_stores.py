# SPDX-License-Identifier: Apache-2.0
"""sources/docker_store.py, containers_storage.py and tarsplit.py against real stores.

The stores are written by the real tools, once, from files of real Debian packages:
dockerd 20.10 (vfs and overlay2) and podman (vfs and overlay) load the same two-layer
image (the second layer has whiteouts, a hardlink, a symlink, a PAX long name and a
non-UTF-8 name), docker also holds a dangling image and a locally built one whose
intermediate step is an untagged parent. Each store is cached with what the tool itself
says about it (`docker images`, `podman images`, and a `docker save`/`podman save` per
image) under .cache/store-tests/. Tests that damage a store work on a copy in tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pytest

from auditor.errors import DigestMismatchError, InputError, UnsafeInputError
from auditor.model import Embedding, ImageSource
from auditor.sources import containers_storage, docker_store
from auditor.sources.base import OpenContext

pytestmark = pytest.mark.fixtures

FIXTURE_VERSION = "v1"  # bump when the builder below changes
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "store-tests"
BASE_DEBS = ("base-files", "busybox-static", "libc6", "tzdata")
LAYER2_DEBS = ("perl-modules-5.36",)
IMAGE = "localhost/test/store:2layer"
ALIAS = "localhost/test/store:alias"
BASE = "localhost/test/dangling:1"  # docker: moved to IMAGE, leaving the base dangling
BUILT = "localhost/test/built:1"
LONG_NAME = "opt/app/" + "long-name-" * 12 + "end.txt"  # > 100 bytes: a PAX header
LATIN1_NAME = b"etc/caf\xe9"  # not UTF-8: tar-split records it as name_raw

# kind, reader module, driver directory names
STORES = {
    "docker-vfs": docker_store,
    "docker-overlay2": docker_store,
    "podman-vfs": containers_storage,
    "podman-overlay": containers_storage,
}


# -- building the stores with the real tools -------------------------------------------


def run(*argv: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in argv], check=False, capture_output=True, text=True, timeout=600, **kw
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    return proc


def podman(driver: str, graph: Path, runroot: Path) -> list[str]:
    return [
        "podman",
        "--storage-driver",
        driver,
        "--root",
        str(graph),
        "--runroot",
        str(runroot),
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
    ]


def make_archives(work: Path) -> None:
    """image.tar (IMAGE + ALIAS) and base.tar (BASE), both by podman, from real files."""
    debs = work / "debs"
    debs.mkdir()
    run("apt-get", "download", *BASE_DEBS, *LAYER2_DEBS, cwd=debs)
    rootfs = work / "rootfs"
    rootfs.mkdir()
    for name in BASE_DEBS:
        run("dpkg-deb", "-x", next(debs.glob(f"{name}_*.deb")), rootfs)
    (rootfs / os.fsdecode(LATIN1_NAME)).write_bytes(b"latin-1 name\n")
    os.link(rootfs / "bin/busybox", rootfs / "bin/busybox-hardlink")
    run("tar", "--numeric-owner", "-cf", work / "rootfs.tar", "-C", rootfs, ".")
    shutil.rmtree(rootfs)

    graph, runroot = work / "build-graph", Path(tempfile.mkdtemp(prefix="st-build-"))
    p = podman("vfs", graph, runroot)
    b = ["buildah", "--storage-driver", "vfs", "--root", str(graph), "--runroot", str(runroot)]
    try:
        run(*p, "import", "--change", 'CMD ["/bin/sh"]', work / "rootfs.tar", BASE)
        ctr = run(*b, "from", BASE).stdout.strip()
        mnt = Path(run(*b, "mount", ctr).stdout.strip())
        run("dpkg-deb", "-x", next(debs.glob(f"{LAYER2_DEBS[0]}_*.deb")), mnt)
        (mnt / "etc/debian_version").unlink()  # whiteout of a lower file
        shutil.rmtree(mnt / "usr/share/doc/base-files")  # whiteout of a lower directory
        app = mnt / "opt/app"
        app.mkdir(parents=True)
        shutil.copy(next(debs.glob("busybox-static_*.deb")), app / "blob.bin")
        (app / "hello.txt").write_text("hello\n")
        os.link(app / "hello.txt", app / "hello-hardlink.txt")
        (app / "sh").symlink_to("../../bin/busybox")
        (app / "empty").touch()
        (app / "block").write_bytes(random.Random(1).randbytes(1024))  # exactly 2 blocks
        (mnt / LONG_NAME).write_text("long\n")
        (mnt / "etc/motd").write_text("x")
        run(*b, "umount", ctr)
        run(*b, "commit", "--format", "docker", ctr, IMAGE)
        run(*b, "rm", ctr)
        run(*p, "tag", IMAGE, ALIAS)
        run(*p, "save", "--format", "docker-archive", "-o", work / "image.tar", IMAGE, ALIAS)
        run(*p, "save", "--format", "docker-archive", "-o", work / "base.tar", BASE)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
        shutil.rmtree(graph, ignore_errors=True)
        (work / "rootfs.tar").unlink(missing_ok=True)


def timed(*argv: str | Path) -> float:
    start = time.perf_counter()
    run(*argv)
    return time.perf_counter() - start


def save_references(cli: list[str], ids: list[str], save_dir: Path) -> None:
    save_dir.mkdir()
    for image_id in ids:
        run(*cli, "save", "-o", save_dir / f"{image_id.removeprefix('sha256:')}.tar", image_id)


def make_docker_store(work: Path, driver: str) -> None:
    out = work / f"docker-{driver}"
    out.mkdir()
    run_dir = Path(tempfile.mkdtemp(prefix="st-dockerd-"))  # short: unix socket paths
    sock = f"unix://{run_dir}/docker.sock"
    with (out / "dockerd.log").open("wb") as log:
        daemon = subprocess.Popen(
            [
                "dockerd",
                "--storage-driver",
                driver,
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--data-root",
                str(out / "data"),
                "--exec-root",
                str(run_dir / "exec"),
                "--pidfile",
                str(run_dir / "dockerd.pid"),
                "--host",
                sock,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    docker = ["docker", "-H", sock]
    try:
        for _ in range(300):
            if daemon.poll() is not None:
                raise AssertionError(
                    f"dockerd --storage-driver {driver} exited: "
                    f"{(out / 'dockerd.log').read_text()[-2000:]}"
                )
            probe = subprocess.run([*docker, "version"], check=False, capture_output=True)
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"dockerd --storage-driver {driver} did not answer in 30 s")
        run(*docker, "load", "-i", work / "image.tar")
        run(*docker, "load", "-i", work / "base.tar")
        run(*docker, "tag", IMAGE, BASE)
        ctx = run_dir / "build"
        ctx.mkdir()
        (ctx / "added.txt").write_text("added by docker build\n")
        (ctx / "Dockerfile").write_text(
            f"FROM {IMAGE}\nCOPY added.txt /opt/added.txt\nLABEL org.example.test=1\n"
        )
        run(*docker, "build", "-q", "-t", BUILT, ctx, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        rows = run(*docker, "images", "--no-trunc", "--format", "{{json .}}").stdout.splitlines()
        images: dict[str, list[str]] = {}
        for row in map(json.loads, rows):
            tags = images.setdefault(row["ID"], [])
            if row["Repository"] != "<none>":
                tags.append(f"{row['Repository']}:{row['Tag']}")
        save_references(docker, sorted(images), out / "save")
        seconds = timed(*docker, "save", "-o", run_dir / "timing.tar", IMAGE)
        version = run(*docker, "version", "--format", "{{.Server.Version}}").stdout.strip()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            raise AssertionError("dockerd did not stop on SIGTERM within 60 s") from None
        shutil.rmtree(run_dir, ignore_errors=True)
    facts = {
        "images": {k: sorted(v) for k, v in images.items()},
        "save_seconds": seconds,
        "tool": f"docker {version}",
        "store": "data",
    }
    (out / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True))


def make_podman_store(work: Path, driver: str) -> None:
    out = work / f"podman-{driver}"
    out.mkdir()
    runroot = Path(tempfile.mkdtemp(prefix="st-podman-"))
    p = podman(driver, out / "graph", runroot)
    try:
        run(*p, "load", "-i", work / "image.tar")
        run(*p, "load", "-i", work / "base.tar")
        listed = json.loads(run(*p, "images", "--no-trunc", "--format", "json").stdout)
        images = {
            "sha256:" + row["Id"].removeprefix("sha256:"): sorted(row.get("Names") or [])
            for row in listed
        }
        digests = {"sha256:" + row["Id"].removeprefix("sha256:"): row["Digest"] for row in listed}
        save_references([*p], sorted(images), out / "save")
        seconds = timed(
            *p, "save", "--format", "docker-archive", "-o", runroot / "timing.tar", IMAGE
        )
        version = run(*p, "version", "--format", "{{.Client.Version}}").stdout.strip()
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    facts = {
        "images": images,
        "manifest_digests": digests,
        "save_seconds": seconds,
        "tool": f"podman {version}",
        "store": "graph",
    }
    (out / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True))


@pytest.fixture(scope="session")
def store_cache() -> Path:
    """All four stores, built once and cached; rebuilt when FIXTURE_VERSION changes."""
    done = CACHE / FIXTURE_VERSION
    if (done / "complete").exists():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
    try:
        make_archives(work)
        make_docker_store(work, "vfs")
        make_docker_store(work, "overlay2")
        make_podman_store(work, "vfs")
        make_podman_store(work, "overlay")
        (work / "complete").touch()
        shutil.rmtree(done, ignore_errors=True)
        work.rename(done)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return done


@dataclass(frozen=True)
class Store:
    kind: str
    path: Path  # the data-root / graph root
    reader: ModuleType
    facts: dict[str, Any]
    rootfs: Path | None = None  # the fake rootfs a copy sits in

    @property
    def saves(self) -> Path:
        return self.path.parent / "save"


def load_store(cache: Path, kind: str) -> Store:
    facts = json.loads((cache / kind / "facts.json").read_text())
    return Store(kind, cache / kind / facts["store"], STORES[kind], facts)


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, store_cache: Path) -> Store:
    return load_store(store_cache, request.param)


@pytest.fixture(params=sorted(STORES))
def store_copy(request: pytest.FixtureRequest, store_cache: Path, tmp_path: Path) -> Store:
    """A private copy inside a fake rootfs (tmp_path/rootfs), so messages show /var/lib/….

    Files are hardlinked to the cache (copying 100-200 MB per test took minutes on a busy
    machine): directories are private, file inodes are shared. So a test may unlink,
    rename or replace anything, but must change file contents only through `rewrite()`.
    A slip would corrupt the cache, and the intact-store tests would fail next run.
    """
    orig = load_store(store_cache, request.param)
    where = "var/lib/docker" if orig.reader is docker_store else "var/lib/containers/storage"
    dest = tmp_path / "rootfs" / where
    dest.parent.mkdir(parents=True)
    # -a keeps overlay whiteouts (character devices), symlinks and xattrs; -l links files
    run("cp", "-al", orig.path, dest)
    return Store(orig.kind, dest, orig.reader, orig.facts, tmp_path / "rootfs")


# -- helpers ---------------------------------------------------------------------------


def open_store(store: Store) -> list[ImageSource]:
    images: list[ImageSource] = store.reader.open(store.path, OpenContext(root=store.rootfs))
    return images


def by_tag(images: list[ImageSource], tag: str) -> ImageSource:
    (image,) = [i for i in images if tag in i.tags]
    return image


def read_all(image: ImageSource, index: int) -> bytes:
    with image.layers[index].open() as f:
        return f.read()


def members(data: bytes | IO[bytes]) -> list[str]:
    fileobj = io.BytesIO(data) if isinstance(data, bytes) else data
    with tarfile.open(fileobj=fileobj, mode="r|") as tf:
        return [m.name for m in tf]


def saved_layers(save: Path) -> dict[str, list[str]]:
    """diff_id -> member names of that layer, from a `docker save`/`podman save` archive."""
    out = {}
    with tarfile.open(save) as outer:
        (manifest,) = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(outer.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        for diff_id, name in zip(config["rootfs"]["diff_ids"], manifest["Layers"]):
            data = outer.extractfile(name).read()  # type: ignore[union-attr]
            assert "sha256:" + hashlib.sha256(data).hexdigest() == diff_id
            out[diff_id] = members(data)
    return out


def layer_paths(store: Store, image: ImageSource, index: int) -> tuple[Path, Path]:
    """(tar-split record, layer directory) of one layer, found from the store's own files."""
    root = store.path
    if store.reader is docker_store:
        driver = store.kind.removeprefix("docker-")
        chain = image.layers[0].diff_id
        for layer in image.layers[1 : index % len(image.layers) + 1]:
            chain = "sha256:" + hashlib.sha256(f"{chain} {layer.diff_id}".encode()).hexdigest()
        db = root / "image" / driver / "layerdb/sha256" / chain.removeprefix("sha256:")
        cache_id = (db / "cache-id").read_text()
        content = (
            root / "vfs/dir" / cache_id if driver == "vfs" else root / driver / cache_id / "diff"
        )
        return db / "tar-split.json.gz", content
    driver = store.kind.removeprefix("podman-")
    records = json.loads((root / f"{driver}-images/images.json").read_text())
    (record,) = [r for r in records if "sha256:" + r["id"] == image.config_digest]
    layers = {r["id"]: r for r in json.loads((root / f"{driver}-layers/layers.json").read_text())}
    ids = [record["layer"]]
    while layers[ids[-1]].get("parent"):
        ids.append(layers[ids[-1]]["parent"])
    layer_id = ids[::-1][index]
    content = root / "vfs/dir" / layer_id if driver == "vfs" else root / driver / layer_id / "diff"
    return root / f"{driver}-layers/{layer_id}.tar-split.gz", content


def rewrite(path: Path, data: bytes) -> None:
    """Give `path` new contents in a new inode (store copies share inodes with the cache)."""
    path.unlink()
    path.write_bytes(data)


def shown(store: Store, path: Path) -> str:
    """How the reader names `path` in messages (inside the fake rootfs: /var/lib/…)."""
    assert store.rootfs is not None
    return "/" + path.relative_to(store.rootfs).as_posix()


# -- reading intact stores -------------------------------------------------------------


def test_detect(store: Store, tmp_path: Path) -> None:
    other = containers_storage if store.reader is docker_store else docker_store
    assert store.reader.detect(store.path)
    assert not other.detect(store.path)
    assert not store.reader.detect(tmp_path)
    assert not store.reader.detect(store.path.parent / "facts.json")


def test_images_and_tags_are_what_the_tool_lists(store: Store) -> None:
    images = open_store(store)
    found = {i.config_digest: list(i.tags) for i in images}
    assert found == store.facts["images"]
    for image in images:
        config = json.loads(image.config)
        assert image.embedding is (
            Embedding.DOCKER_STORE if store.reader is docker_store else Embedding.CONTAINERS_STORAGE
        )
        assert image.source == str(store.path)
        assert "sha256:" + hashlib.sha256(image.config).hexdigest() == image.config_digest
        assert [layer.diff_id for layer in image.layers] == config["rootfs"]["diff_ids"]
        assert image.platform.architecture == config["architecture"]
        if "manifest_digests" in store.facts:
            assert image.manifest_digest == store.facts["manifest_digests"][image.config_digest]
    assert by_tag(images, IMAGE).tags == tuple(
        sorted([IMAGE, ALIAS] + ([BASE] if store.reader is docker_store else []))
    )
    if store.reader is docker_store:
        # the dangling base is listed, the intermediate step of the build (a parent) is not
        assert sum(1 for i in images if not i.tags) == 1
        assert len(by_tag(images, BUILT).layers) == 3


def test_layers_are_byte_exact_and_match_the_tools_save(store: Store) -> None:
    for image in open_store(store):
        saved = saved_layers(store.saves / f"{image.config_digest.removeprefix('sha256:')}.tar")
        for layer in image.layers:
            with layer.open() as f:
                digest = hashlib.sha256()
                size = 0
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            assert "sha256:" + digest.hexdigest() == layer.diff_id == layer.digest
            assert layer.size in (-1, size)  # containers-storage records diff-size
            with layer.open() as f:
                assert members(f) == saved[layer.diff_id]


def test_layer_contents_cover_the_tricky_entries(store: Store) -> None:
    image = by_tag(open_store(store), IMAGE)
    with tarfile.open(fileobj=io.BytesIO(read_all(image, 0))) as base:
        assert base.getmember("./" + os.fsdecode(LATIN1_NAME)).size == 13
        pair = [base.getmember(n) for n in ("./bin/busybox", "./bin/busybox-hardlink")]
        assert sorted(m.islnk() for m in pair) == [False, True]  # tar order decides which
    with tarfile.open(fileobj=io.BytesIO(read_all(image, 1))) as top:
        names = top.getnames()
        assert "etc/.wh.debian_version" in names
        assert "usr/share/doc/.wh.base-files" in names
        assert top.getmember(LONG_NAME).size == 5
        assert len([n for n in names if n.startswith("usr/share/perl/")]) > 500


def test_small_and_odd_reads_give_the_same_bytes(store: Store) -> None:
    image = by_tag(open_store(store), IMAGE)
    whole = read_all(image, 1)
    sizes = [1, 7, 511, 512, 513, 4096, 65537]
    parts = []
    with image.layers[1].open() as f:
        assert isinstance(f, io.BufferedReader)
        raw = f.raw  # the unbuffered tar-split stream itself
        assert isinstance(raw, io.RawIOBase)
        for i in range(10**6):
            chunk = raw.read(sizes[i % len(sizes)])
            if not chunk:
                break
            parts.append(chunk)
        assert raw.tell() == len(whole)
    assert b"".join(parts) == whole


def test_read_time_against_the_tools_save(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    image = by_tag(open_store(store), IMAGE)
    total = 0
    for layer in image.layers:
        digest = hashlib.sha256()
        with layer.open() as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                total += len(chunk)
        assert "sha256:" + digest.hexdigest() == layer.diff_id
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(
            f"\n{store.kind}: read+sha256 {total / 1e6:.1f} MB in {seconds:.3f} s; "
            f"{store.facts['tool']} save of the same image took "
            f"{store.facts['save_seconds']:.3f} s"
        )
    assert seconds < 10


# -- damaged stores: every problem is an InputError that names the place ------------------


def top_layer(store: Store) -> tuple[ImageSource, Path, Path]:
    image = by_tag(open_store(store), IMAGE)
    record, content = layer_paths(store, image, 1)
    return image, record, content


def test_a_content_file_of_another_size_is_named(store_copy: Store) -> None:
    image, _, content = top_layer(store_copy)
    victim = content / "opt/app/hello-hardlink.txt"
    rewrite(victim, victim.read_bytes() + b"more")
    with pytest.raises(InputError) as err:
        read_all(image, 1)
    assert shown(store_copy, content / "opt/app/hello-hardlink.txt") in str(err.value)
    assert "is 10 bytes but" in str(err.value)


def test_a_missing_content_file_is_named(store_copy: Store) -> None:
    image, _, content = top_layer(store_copy)
    (content / "opt/app/block").unlink()
    with pytest.raises(InputError, match="is missing") as err:
        read_all(image, 1)
    assert shown(store_copy, content / "opt/app/block") in str(err.value)


def test_a_symlinked_content_file_is_never_followed(store_copy: Store, tmp_path: Path) -> None:
    image, _, content = top_layer(store_copy)
    victim = content / "opt/app/block"
    # outside the store, the very same bytes: following the link would even hash right
    outside = tmp_path / "outside-block"
    shutil.copy(victim, outside)
    for target in (Path("/etc/passwd"), outside):
        victim.unlink()
        victim.symlink_to(target)
        with pytest.raises(UnsafeInputError, match="symbolic link") as err:
            read_all(image, 1)
        assert shown(store_copy, victim) in str(err.value)


def test_a_symlinked_content_directory_is_never_followed(store_copy: Store, tmp_path: Path) -> None:
    image, _, content = top_layer(store_copy)
    shutil.copytree(content / "opt/app", tmp_path / "outside-app", symlinks=True)
    shutil.rmtree(content / "opt/app")
    (content / "opt/app").symlink_to(tmp_path / "outside-app")
    with pytest.raises(UnsafeInputError, match="symbolic link") as err:
        read_all(image, 1)
    assert shown(store_copy, content / "opt/app") in str(err.value)


def rewrite_record(record: Path, old: str, new: str) -> None:
    text = gzip.decompress(record.read_bytes()).decode()
    assert text.count(f'"name":"{old}"') == 1
    rewrite(record, gzip.compress(text.replace(f'"name":"{old}"', f'"name":"{new}"').encode()))


@pytest.mark.parametrize("name", ["opt/../../../../etc/passwd", "/etc/passwd"])
def test_a_record_naming_a_path_outside_the_layer_is_refused(store_copy: Store, name: str) -> None:
    image, record, _ = top_layer(store_copy)
    rewrite_record(record, "opt/app/blob.bin", name)
    with pytest.raises(UnsafeInputError) as err:
        read_all(image, 1)
    assert shown(store_copy, record) in str(err.value)


def test_a_damaged_record_is_an_input_error(store_copy: Store) -> None:
    image, record, _ = top_layer(store_copy)
    rewrite(record, record.read_bytes()[:200])
    with pytest.raises(InputError, match="gzip") as err:
        read_all(image, 1)
    assert shown(store_copy, record) in str(err.value)


def test_missing_layer_metadata_is_named(store_copy: Store) -> None:
    _, record, _ = top_layer(store_copy)
    if store_copy.reader is docker_store:
        gone = record.parent  # the whole layerdb/sha256/<chain-id> directory
        shutil.rmtree(gone)
    else:
        gone = record
        gone.unlink()
    with pytest.raises(InputError, match="is missing") as err:
        open_store(store_copy)
    assert shown(store_copy, gone) in str(err.value)


def test_a_missing_layer_directory_is_named(store_copy: Store) -> None:
    _, _, content = top_layer(store_copy)
    shutil.rmtree(content)
    with pytest.raises(InputError, match="is missing") as err:
        open_store(store_copy)
    assert shown(store_copy, content) in str(err.value)


def config_file(store: Store, image: ImageSource) -> Path:
    hex_id = image.config_digest.removeprefix("sha256:")
    if store.reader is docker_store:
        driver = store.kind.removeprefix("docker-")
        return store.path / "image" / driver / "imagedb/content/sha256" / hex_id
    driver = store.kind.removeprefix("podman-")
    return (
        store.path
        / f"{driver}-images"
        / hex_id
        / containers_storage.big_data_name(image.config_digest)
    )


def test_an_edited_config_fails_its_digest(store_copy: Store) -> None:
    path = config_file(store_copy, top_layer(store_copy)[0])
    config = path.read_bytes()
    assert b'"architecture":"amd64"' in config
    rewrite(path, config.replace(b'"architecture":"amd64"', b'"architecture":"arm64"'))
    with pytest.raises(DigestMismatchError) as err:
        open_store(store_copy)
    assert shown(store_copy, path) in str(err.value)


def index_file(store: Store) -> Path:
    if store.reader is docker_store:
        return store.path / "image" / store.kind.removeprefix("docker-") / "repositories.json"
    return store.path / f"{store.kind.removeprefix('podman-')}-images/images.json"


@pytest.mark.parametrize("which", ["config", "index"])
def test_a_symlinked_metadata_file_is_never_followed(
    store_copy: Store, tmp_path: Path, which: str
) -> None:
    if which == "config":
        path = config_file(store_copy, top_layer(store_copy)[0])
    else:
        path = index_file(store_copy)
    outside = tmp_path / "outside-metadata"
    shutil.copy(path, outside)  # identical bytes: only the link itself can be the problem
    path.unlink()
    path.symlink_to(outside)
    with pytest.raises(UnsafeInputError, match="symbolic link") as err:
        open_store(store_copy)
    assert shown(store_copy, path) in str(err.value)


def test_a_layer_chain_that_disagrees_with_the_config_is_refused(store_copy: Store) -> None:
    image, record, _ = top_layer(store_copy)
    if store_copy.reader is docker_store:
        diff = record.parent / "diff"
        rewrite(diff, b"sha256:" + b"0" * 64)
        where = diff
    else:
        driver = store_copy.kind.removeprefix("podman-")
        where = store_copy.path / f"{driver}-layers/layers.json"
        layers = json.loads(where.read_text())
        for layer in layers:
            if layer["diff-digest"] == image.layers[1].diff_id:
                layer["diff-digest"] = "sha256:" + "0" * 64
        rewrite(where, json.dumps(layers).encode())
    with pytest.raises(InputError) as err:
        open_store(store_copy)
    assert shown(store_copy, where) in str(err.value)


def test_stream_memory_is_bounded(store: Store) -> None:
    """Peak Python allocations while streaming stay far below the layer's size."""
    image = by_tag(open_store(store), IMAGE)
    tracemalloc.start()
    try:
        size = 0
        with image.layers[1].open() as f:
            while chunk := f.read(1 << 20):
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 15_000_000
    assert peak < 4_000_000
