# SPDX-License-Identifier: Apache-2.0
"""`container-audit store build` with a real dockerd (root): the store it makes is what a
rootfs needs (scanned like the archives it came from, run by a later dockerd), two builds
are identical, and every refusal is exit 2 with one line and nothing left behind.

Each build starts a private dockerd on a socket in its own /tmp/ca-store-* dir, never the
test dockerd of tests/tools/services.sh nor the fixture builder's."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.archive_tools import docker_archive, layer_tar, oci_archive, sha
from tests.conftest import IN_CI, Run, need, run_cli

pytestmark = [pytest.mark.fixtures, pytest.mark.daemon]

EPOCH = 1700000000
PAIR = ("busybox.podman", "apk")  # two small real images: one binary, one apk-based
RETAG = ("localhost/apk:3.16", "registry.example.com/tools/apk:stable")


def need_root_and_dockerd() -> None:
    if os.geteuid() != 0:
        msg = "store build starts dockerd: needs root"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    need("dockerd", "containerd", "runc")


def _run_dirs() -> set[str]:
    return {p.name for p in Path("/tmp").glob("ca-store-*")}


def _dockerds_under(path: Path) -> list[str]:
    """Command lines of running processes that mention `path` (our dockerds would)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline and "dockerd" in cmdline:
            found.append(cmdline)
    return found


def _build(data_root: Path, *archives: str | Path, args: tuple[str, ...] = (),
           epoch: int | None = EPOCH) -> Run:
    env = {"SOURCE_DATE_EPOCH": str(epoch)} if epoch is not None else {}
    return run_cli("store", "build", "--data-root", str(data_root), *args,
                   *(str(a) for a in archives), env=env, timeout=600)


def _tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """path -> (type, mode, uid, gid, mtime, size, sha256 or link target) for every entry."""
    out: dict[str, tuple[Any, ...]] = {}
    for top, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(top) / name
            st = path.lstat()
            if path.is_symlink():
                what: Any = os.readlink(path)
            elif path.is_file():
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = None
            out[str(path.relative_to(root))] = (
                oct(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns, st.st_size
                if not path.is_dir() else 0, what)
    return out


def _oci_config_digest(path: Path) -> str:
    with tarfile.open(path) as tf:
        def blob(digest: str) -> Any:
            member = tf.extractfile(f"blobs/sha256/{digest.split(':')[1]}")
            assert member is not None
            return json.load(member)

        index = tf.extractfile("index.json")
        assert index is not None
        manifest = blob(json.load(index)["manifests"][0]["digest"])
        return str(manifest["config"]["digest"])


def _packages(inv: dict[str, Any]) -> dict[str, set[tuple[str, str, str]]]:
    return {img["config_digest"]: {(p["name"], p["version"], p["type"]) for p in img["packages"]}
            for img in inv["images"]}


@pytest.fixture(scope="module")
def built(fixtures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A rootfs whose /var/lib/docker is a store built from the two PAIR archives."""
    need_root_and_dockerd()
    rootfs = tmp_path_factory.mktemp("store-rootfs")
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "os-release").write_text('ID=poky\nNAME="Test image"\n')
    store = rootfs / "var" / "lib" / "docker"
    archives = [fixtures["archives"][k] for k in PAIR]
    r = _build(store, *archives, args=("--tag", "=".join(RETAG), "--json"))
    assert r.rc == 0, r.err
    return {"rootfs": rootfs, "store": store, "archives": archives, "run": r,
            "summary": json.loads(r.out)}


# --------------------------------------------------------------------------- the store


def test_summary_names_every_image(built: dict[str, Any], fixtures: dict[str, Any]) -> None:
    summary = built["summary"]
    want = {fixtures["images"][k.split(".")[0]]["config_digest"]: fixtures["images"][
        k.split(".")[0]]["ref"] for k in PAIR}
    assert {i["id"] for i in summary["images"]} == set(want)
    for img in summary["images"]:
        assert want[img["id"]] in img["tags"]
        assert len(img["archives"]) == 1
    apk = next(i for i in summary["images"] if RETAG[0] in i["tags"])
    assert apk["tags"] == sorted(RETAG)
    assert summary["storage_driver"] == "vfs" and summary["source_date_epoch"] == EPOCH
    assert summary["dockerd_version"].startswith(fixtures["tools"]["dockerd"].split()[2][:5])
    assert {"containers", "network", "runtimes", "tmp", "trust", "vfs/backingFsBlockDev"} \
        <= set(summary["removed"])
    assert "Traceback" not in built["run"].err


def test_store_holds_only_the_image_store(built: dict[str, Any]) -> None:
    store: Path = built["store"]
    assert sorted(os.listdir(store)) == ["image", "vfs"]
    assert os.listdir(store / "vfs") == ["dir"]
    assert os.listdir(store / "image") == ["vfs"]
    layers = store / "image" / "vfs" / "layerdb" / "sha256"
    chains = sorted(p.name for p in layers.iterdir())
    # cache ids are the chain ids, not dockerd's random ones
    assert sorted(os.listdir(store / "vfs" / "dir")) == chains
    for chain in chains:
        assert (layers / chain / "cache-id").read_text() == chain
    # the retag's lastUpdated carries SOURCE_DATE_EPOCH, not the time of the build
    stamps = list(store.glob("image/vfs/imagedb/metadata/sha256/*/lastUpdated"))
    assert stamps and {p.read_text() for p in stamps} == {"2023-11-14T22:13:20Z"}
    for entry in [store, *store.rglob("*")]:
        assert entry.lstat().st_mtime <= EPOCH, entry


def test_scan_of_rootfs_matches_the_archives(built: dict[str, Any], scan_json) -> None:
    inv = scan_json(built["rootfs"])
    got = _packages(inv)
    want: dict[str, set[tuple[str, str, str]]] = {}
    for archive in built["archives"]:
        want.update(_packages(scan_json(archive)))
    assert set(got) == set(want)
    for digest, packages in want.items():
        assert packages and got[digest] == packages, digest
    by_digest = {img["config_digest"]: img for img in inv["images"]}
    for img in built["summary"]["images"]:
        assert set(img["tags"]) <= {by_digest[img["id"]]["name"], *by_digest[img["id"]]["tags"]}
        assert by_digest[img["id"]]["embedding"] == "docker-store"


def test_a_later_dockerd_lists_inspects_and_runs_the_images(
        built: dict[str, Any], tmp_path: Path) -> None:
    from auditor.store.build import PrivateDockerd, find_dockerd

    copy = tmp_path / "var-lib-docker"
    subprocess.run(["cp", "-a", str(built["store"]), str(copy)], check=True)
    try:
        with PrivateDockerd(copy, dockerd=find_dockerd(None)) as daemon:
            client = daemon.client
            assert client.info()["Driver"] == "vfs"
            tags = {t: i.id for i in client.images.list() for t in i.tags}
            for img in built["summary"]["images"]:
                for tag in img["tags"]:
                    assert tags[tag] == img["id"]
                inspected = client.images.get(img["id"]).attrs
                assert inspected["RootFS"]["Layers"]
            out = client.containers.run("localhost/busybox:1.35", ["sh", "-c", "echo ran"],
                                        network_mode="none", remove=True)
            assert out == b"ran\n"
            # the apk fixture holds package databases, no executables: create only
            container = client.containers.create(RETAG[1], ["/none"], network_mode="none")
            assert container.image.id == tags[RETAG[1]]
            container.remove()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    assert not _dockerds_under(copy)


def test_two_builds_are_identical(built: dict[str, Any], tmp_path: Path) -> None:
    again = tmp_path / "docker"
    r = _build(again, *built["archives"], args=("--tag", "=".join(RETAG), "--json"))
    assert r.rc == 0, r.err
    summary = json.loads(r.out)
    assert [(i["id"], i["tags"]) for i in summary["images"]] == \
        [(i["id"], i["tags"]) for i in built["summary"]["images"]]
    first, second = _tree(built["store"]), _tree(again)
    assert sorted(first) == sorted(second)  # the same files ...
    differing = sorted(p for p in first if first[p] != second[p])
    assert not differing, [(p, first[p], second[p]) for p in differing[:5]]  # ... bit for bit


def test_lines_and_force(built: dict[str, Any], fixtures: dict[str, Any],
                         tmp_path: Path) -> None:
    target = tmp_path / "store"
    target.mkdir()
    (target / "old-file").write_text("from an earlier build\n")
    r = _build(target, built["archives"][0], args=("--force",), epoch=None)
    assert r.rc == 0, r.err
    busybox = fixtures["images"]["busybox"]
    assert r.out.splitlines() == [f"{busybox['ref']} {busybox['config_digest']}"]
    assert sorted(os.listdir(target)) == ["image", "vfs"]
    assert sorted(os.listdir(tmp_path)) == ["store"]  # no temp dirs beside it


def test_oci_archives(fixtures: dict[str, Any], tmp_path: Path) -> None:
    need_root_and_dockerd()
    multi = fixtures["archives"]["busybox-multi.oci"]
    arm64 = fixtures["images"]["busybox-multi"]["platforms"]["linux/arm64"]["config_digest"]
    # a single-platform OCI archive with a gzip layer, which dockerd 20.10 cannot load alone
    layer = layer_tar([("hello.txt", "file", "hello\n")])
    small = oci_archive(tmp_path / "small.oci.tar", [(gzip.compress(layer, mtime=0), layer,
                        "application/vnd.oci.image.layer.v1.tar+gzip")],
                        tag="localhost/small:1")
    small_id = _oci_config_digest(small)
    r = _build(tmp_path / "store", multi, small, args=("--platform", "linux/arm64"))
    assert r.rc == 0, r.err
    lines = dict(line.split() for line in r.out.splitlines())
    assert lines["busybox-multi:multi"] == arm64
    assert lines["localhost/small:1"] == small_id
    assert len(lines) == 2


# --------------------------------------------------------------------------- refusals


def _refused(tmp_path: Path, data_root: Path, *archives: str | Path, args: tuple[str, ...] = (),
             expect: tuple[str, ...] = (), before: dict[str, Any] | None = None,
             runner=None) -> str:
    """exit 2, one line naming the problem, data root untouched, nothing left behind."""
    run_dirs = _run_dirs()
    siblings = sorted(os.listdir(data_root.parent))
    r = (runner or _build)(data_root, *archives, args=args)
    assert r.rc == 2, (r.rc, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("container-audit: error: "), lines[0]
    for text in expect:
        assert text in lines[0], (text, lines[0])
    assert "Traceback" not in r.err and not r.out
    assert sorted(os.listdir(data_root.parent)) == siblings  # no .partial dir left
    if before is None:
        assert not data_root.exists()
    else:
        assert _tree(data_root) == before
    assert _run_dirs() <= run_dirs  # the private run dir is gone
    assert not _dockerds_under(tmp_path)  # and so is its dockerd
    return lines[0]


@pytest.fixture
def small_archive(fixtures: dict[str, Any]) -> str:
    need_root_and_dockerd()
    return str(fixtures["archives"]["busybox.podman"])


def test_refuses_a_non_empty_data_root(tmp_path: Path, small_archive: str) -> None:
    target = tmp_path / "store"
    target.mkdir()
    (target / "keep").write_text("mine\n")
    _refused(tmp_path, target, small_archive, expect=(str(target), "not empty", "--force"),
             before=_tree(target))


def test_refuses_a_missing_archive(tmp_path: Path, small_archive: str) -> None:
    missing = tmp_path / "nope.tar"
    _refused(tmp_path, tmp_path / "store", small_archive, missing,
             expect=(str(missing), "no such file"))


def test_refuses_a_file_that_is_not_a_tar(tmp_path: Path, small_archive: str) -> None:
    text = tmp_path / "notes.tar"
    text.write_text("not an archive at all\n" * 40)
    _refused(tmp_path, tmp_path / "store", text, expect=(str(text), "not a tar archive"))


def test_refuses_a_tar_that_is_not_an_image(tmp_path: Path, small_archive: str) -> None:
    plain = tmp_path / "plain.tar"
    plain.write_bytes(layer_tar([("etc/hostname", "file", "box\n")]))
    _refused(tmp_path, tmp_path / "store", plain, expect=(str(plain), "not an image archive"))


def test_refuses_what_docker_refuses(tmp_path: Path, small_archive: str) -> None:
    # dockerd is started, loads the good archive, refuses the broken one: all undone
    l0 = layer_tar([("f", "file", "x")])
    broken = docker_archive(tmp_path / "broken.tar", [l0], skip_layers={0})
    line = _refused(tmp_path, tmp_path / "store", small_archive, broken,
                    expect=(str(broken), "docker refused it"))
    assert sha(l0).split(":")[1] in line  # docker's own reason: the missing layer file


def test_refuses_a_multi_platform_archive_without_platform(
        tmp_path: Path, fixtures: dict[str, Any], small_archive: str) -> None:
    multi = fixtures["archives"]["busybox-multi.oci"]
    _refused(tmp_path, tmp_path / "store", multi,
             expect=(str(multi), "linux/amd64, linux/arm64", "--platform"))
    _refused(tmp_path, tmp_path / "store", multi, args=("--platform", "linux/s390x"),
             expect=(str(multi), "no platform linux/s390x"))


def test_refuses_a_missing_dockerd(tmp_path: Path, small_archive: str) -> None:
    _refused(tmp_path, tmp_path / "store", small_archive,
             args=("--dockerd", str(tmp_path / "bin" / "dockerd")),
             expect=(str(tmp_path / "bin" / "dockerd"), "no dockerd executable"))


def test_reports_a_dockerd_that_exits_early(tmp_path: Path, small_archive: str) -> None:
    fake = tmp_path / "bin" / "dockerd"  # the one error a real dockerd will not make on demand
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'level=info msg=\"starting up\"'\n"
                    "echo 'failed to start daemon: test dockerd gives up' >&2\nexit 3\n")
    fake.chmod(0o755)
    _refused(tmp_path, tmp_path / "store", small_archive, args=("--dockerd", str(fake)),
             expect=("exited with code 3", "failed to start daemon: test dockerd gives up"))


def test_refuses_a_tag_of_nothing_loaded(tmp_path: Path, small_archive: str) -> None:
    _refused(tmp_path, tmp_path / "store", small_archive,
             args=("--tag", "localhost/other:1=example.com/other:1"),
             expect=("localhost/other:1", "no loaded image"))
    _refused(tmp_path, tmp_path / "store", small_archive, args=("--tag", "no-equals-sign"),
             expect=("expected SRC=DEST",))


def test_refuses_a_bad_source_date_epoch(tmp_path: Path, small_archive: str) -> None:
    def run(data_root: Path, *archives: str | Path, args: tuple[str, ...] = ()) -> Run:
        return run_cli("store", "build", "--data-root", str(data_root), *args,
                       *(str(a) for a in archives), env={"SOURCE_DATE_EPOCH": "yesterday"})

    _refused(tmp_path, tmp_path / "store", small_archive, runner=run,
             expect=("SOURCE_DATE_EPOCH", "yesterday"))


def test_refuses_to_run_without_root(tmp_path: Path, small_archive: str) -> None:
    need("setpriv")

    def as_nobody(data_root: Path, *archives: str | Path, args: tuple[str, ...] = ()) -> Run:
        import sys

        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               sys.executable, "-m", "auditor", "store", "build",
                               "--data-root", str(data_root), *map(str, archives)],
                              check=False, capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])
        return Run(proc.returncode, proc.stdout, proc.stderr)

    _refused(tmp_path, tmp_path / "store", small_archive, runner=as_nobody,
             expect=("needs root", "65534"))


def _silent_dockerd(tmp_path: Path) -> tuple[Path, Path]:
    """A dockerd that starts and never answers (what a real one does only when broken);
    it writes its pid to the returned marker file."""
    fake = tmp_path / "bin" / "dockerd"
    marker = fake.parent / "fake-dockerd.pid"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncase \"$1\" in --version|--help) echo fake; exit 0;; esac\n"
                    f"echo $$ >{marker}\nexec sleep 300\n")
    fake.chmod(0o755)
    return fake, marker


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_reports_a_dockerd_that_never_answers(tmp_path: Path, small_archive: str) -> None:
    fake, marker = _silent_dockerd(tmp_path)
    _refused(tmp_path, tmp_path / "store", small_archive,
             args=("--dockerd", str(fake), "--timeout", "2"),
             expect=("did not answer on", "within 2 s"))
    assert not _alive(int(marker.read_text()))


def test_sigterm_stops_dockerd_and_cleans_up(tmp_path: Path, small_archive: str) -> None:
    import signal
    import sys
    import time

    fake, marker = _silent_dockerd(tmp_path)
    run_dirs = _run_dirs()
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "store", "build", "--data-root",
                             str(tmp_path / "store"), "--dockerd", str(fake), "--timeout", "120",
                             small_archive], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        "container-audit: error: store build interrupted by SIGTERM"]
    assert not _alive(int(marker.read_text()))  # the dockerd we started is gone
    assert os.listdir(tmp_path) == ["bin"]  # no store, no .partial dir
    assert _run_dirs() <= run_dirs
