# SPDX-License-Identifier: Apache-2.0
"""The reference recipes of bbclass/recipes-containers/ under the real BitBake, configured
the way a user's layer does it: a .bbappend setting where the archives are and their
sha256sum.

The archives are real fixture images (tests/fixtures/build.py): busybox (localhost/busybox
1.35, a static busybox from Debian) and an Alpine 3.16 package database image, retagged
localhost/alpine:3.16. They are served over HTTP on 127.0.0.1, so BitBake's real wget
fetcher downloads them and checks each sha256sum (a wrong one fails do_fetch), or taken
from the bbappend's files/ directory (file://). Each recipe goes through do_fetch,
do_unpack, do_install and container-image-audit's do_container_image_audit: with the
default policy it passes and its verdicts name both images (and no declared image is
missing or undeclared), with a policy forbidding GPL-2.0-only it fails right after
do_install, before do_package, with the violations in the log.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bbclass.harness import Result
from tests.bbclass.layer_recipes import CONTAINERS_DIR, LayerBuild

pytestmark = pytest.mark.fixtures

IMAGES = CONTAINERS_DIR / "container-images-example" / "container-images-example_1.0.bb"
COMPOSE = CONTAINERS_DIR / "container-compose-example" / "container-compose-example_1.0.bb"
URI_VAR = {IMAGES: "CONTAINER_IMAGES_EXAMPLE_URI", COMPOSE: "CONTAINER_COMPOSE_EXAMPLE_URI"}
# archive file -> (SRC_URI name, the image it holds)
ARCHIVES = {"busybox-1.35.tar": ("busybox", "localhost/busybox:1.35"),
            "alpine-3.16.tar": ("alpine", "localhost/alpine:3.16")}
CONSISTENCY_RULES = ("missing-image", "undeclared-image")


def retag(src: Path, dst: Path, tag: str) -> None:
    """A copy of a docker-archive whose manifest names `tag` (layers and config untouched)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin.getmembers():
            fh = tin.extractfile(member) if member.isfile() else None
            data = fh.read() if fh is not None else None
            if member.name == "manifest.json" and data is not None:
                manifest = json.loads(data)
                for entry in manifest:
                    entry["RepoTags"] = [tag]
                data = json.dumps(manifest).encode()
                member.size = len(data)
            elif member.name == "repositories":
                continue
            tout.addfile(member, io.BytesIO(data) if data is not None else None)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def image_dir(tmp_path: Path, archives: dict[str, str]) -> Path:
    """busybox-1.35.tar and alpine-3.16.tar, as a CI would publish them."""
    out = tmp_path / "published"
    out.mkdir()
    os.link(archives["busybox.podman"], out / "busybox-1.35.tar")
    retag(Path(archives["apk"]), out / "alpine-3.16.tar", "localhost/alpine:3.16")
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.requested.append(self.path)


@pytest.fixture
def served(image_dir: Path) -> Iterator[tuple[str, list[str]]]:
    """(base URL ending in "/", paths requested) of an HTTP server on 127.0.0.1."""
    requested: list[str] = []
    handler = type("Handler", (_Quiet,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(image_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def bbappend(tmp_path: Path, recipe: Path, uri: str, sums: dict[str, str],
             *extra: str) -> Path:
    """The user's .bbappend: where the archives are and their sha256sum."""
    path = tmp_path / "meta-user" / f"{recipe.stem}.bbappend"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'{URI_VAR[recipe]} = "{uri}"', *extra]
    lines += [f'SRC_URI[{ARCHIVES[f][0]}.sha256sum] = "{s}"' for f, s in sums.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def build(tmp_path: Path, bitbake: str, audit_bin: Path):
    def make(*conf: str) -> LayerBuild:
        return LayerBuild(tmp_path / "build", conf=[
            f'CONTAINER_AUDIT_BIN = "{audit_bin}"',
            f'DL_DIR = "{tmp_path / "downloads"}"',
            'TEST_OE_QA = "1"',
            *conf,
        ])
    return make


def real_sums(image_dir: Path) -> dict[str, str]:
    return {f: sha256(image_dir / f) for f in ARCHIVES}


def verdicts(r: Result) -> dict:
    path = r.build.workdir(r.recipe) / "container-audit" / "container-audit.verdicts.json"
    return json.loads(path.read_text())


def assert_audited(r: Result, installed: Path, files: set[str]) -> None:
    """Built through do_install, audited and packaged; the verdicts name both images."""
    assert r.ok, str(r)
    for task in ("do_fetch", "do_unpack", "do_install", "do_container_image_audit"):
        assert r.ran(task), f"{task} did not run: {r}"
    order = r.data["order"]
    assert order.index("do_install") < order.index("do_container_image_audit") \
        < order.index("do_package")
    assert {p.name for p in installed.iterdir()} == files
    for name in ARCHIVES:
        assert (installed / name).read_bytes() == (r.build.topdir.parent / "published" /
                                                   name).read_bytes()
    doc = verdicts(r)
    assert doc["result"] == "pass" and doc["summary"]["images"] == len(ARCHIVES)
    assert {p["image"] for p in doc["packages"]} == {img for _, img in ARCHIVES.values()}
    assert not [f for f in doc["findings"] if f["rule"] in CONSISTENCY_RULES], doc["findings"]
    log = r.log("do_container_image_audit")
    assert f"{r.recipe}: container-audit: audited " in log and "): PASS" in log, log
    report = (r.build.workdir(r.recipe) / "container-audit" / "container-audit.txt").read_text()
    assert all(img in report for _, img in ARCHIVES.values()), report


def test_images_example_fetched_over_http_checked_and_audited(
        tmp_path: Path, build, image_dir: Path, served: tuple[str, list[str]]) -> None:
    url, requested = served
    append = bbappend(tmp_path, IMAGES, url, real_sums(image_dir))
    r = build().run_file(IMAGES, appends=(append,), dump=("D", "datadir", "S", "UNPACKDIR"))
    assert sorted(requested) == sorted(f"/{f}" for f in ARCHIVES), requested
    for f in ARCHIVES:  # verified and stamped by the fetcher
        assert (tmp_path / "downloads" / f"{f}.done").is_file()
    dump = r.data["dump"]
    assert dump["S"] == dump["UNPACKDIR"]
    installed = Path(dump["D"] + dump["datadir"]) / "container-images"
    assert_audited(r, installed, {"images.manifest", *ARCHIVES})
    assert (installed / "images.manifest").read_text() == \
        "busybox 1.35 busybox\nalpine 3.16 alpine\n"


def test_images_example_from_local_files_unpacked_into_workdir(
        tmp_path: Path, build, image_dir: Path) -> None:
    """file:// from the bbappend's files/, and kirkstone's layout (no UNPACKDIR)."""
    append = bbappend(tmp_path, IMAGES, "file://", {},
                      'FILESEXTRAPATHS:prepend := "${THISDIR}/files:"')
    files = append.parent / "files"
    files.mkdir()
    for f in ARCHIVES:
        os.link(image_dir / f, files / f)
    r = build('UNPACKDIR = ""').run_file(IMAGES, appends=(append,),
                                         dump=("D", "datadir", "S", "WORKDIR"))
    dump = r.data["dump"]
    assert dump["S"] == dump["WORKDIR"]
    assert_audited(r, Path(dump["D"] + dump["datadir"]) / "container-images",
                   {"images.manifest", *ARCHIVES})


def test_images_example_violation_fails_right_after_install(
        tmp_path: Path, build, image_dir: Path, served: tuple[str, list[str]]) -> None:
    append = bbappend(tmp_path, IMAGES, served[0], real_sums(image_dir))
    r = build('CONTAINER_AUDIT_INCOMPATIBLE_LICENSE = "GPL-2.0-only"').run_file(
        IMAGES, appends=(append,))
    assert not r.ok and r.failed == "do_container_image_audit", str(r)
    assert r.ran("do_install") and "do_package" not in r.tasks
    findings = [f for f in verdicts(r)["findings"] if f["severity"] == "error"]
    assert {f["image"] for f in findings} == {img for _, img in ARCHIVES.values()}
    for f in findings:
        line = (f"container-images-example: {f['image']}: {f['package']} {f['version']}: "
                f"{f['license']} [{f['rule']}]")
        assert f"ERROR: QA Issue: {line} [container-license]" in r.output, str(r)
    assert ("container-images-example: localhost/busybox:1.35: busybox 1.35.0: GPL-2.0-only "
            "[incompatible_licenses]") in r.output


def test_wrong_checksum_fails_do_fetch(tmp_path: Path, build, image_dir: Path,
                                       served: tuple[str, list[str]]) -> None:
    sums = real_sums(image_dir)
    sums["alpine-3.16.tar"] = sums["busybox-1.35.tar"]  # a real digest, of the wrong file
    append = bbappend(tmp_path, IMAGES, served[0], sums)
    r = build().run_file(IMAGES, appends=(append,))
    assert not r.ok and r.failed == "do_fetch", str(r)
    assert "do_unpack" not in r.tasks and "do_install" not in r.tasks
    real = sha256(image_dir / "alpine-3.16.tar")
    log = r.log("do_fetch")
    assert "Checksum mismatch" in log and real in log, log
    downloads = tmp_path / "downloads"  # never accepted as a download
    assert not (downloads / "alpine-3.16.tar").exists()
    assert not (downloads / "alpine-3.16.tar.done").exists()


@pytest.mark.parametrize("recipe", [IMAGES, COMPOSE], ids=lambda p: p.stem)
def test_reference_recipe_is_skipped_until_configured(tmp_path: Path, build,
                                                      recipe: Path) -> None:
    r = build().run_file(recipe, hashes_only=True)
    assert not r.data["parsed"]
    assert f"recipe skipped: set {URI_VAR[recipe]}" in r.data["error"], str(r)


def test_compose_example_fetched_and_audited(tmp_path: Path, build, image_dir: Path,
                                             served: tuple[str, list[str]]) -> None:
    append = bbappend(tmp_path, COMPOSE, served[0], real_sums(image_dir))
    r = build().run_file(COMPOSE, appends=(append,), dump=("D", "datadir"))
    installed = Path(r.data["dump"]["D"] + r.data["dump"]["datadir"]) / \
        "container-compose-example"
    assert_audited(r, installed, {"docker-compose.yml", *ARCHIVES})
    compose = (installed / "docker-compose.yml").read_text()
    assert "image: localhost/alpine:latest" in compose
    assert "image: localhost/busybox:latest" in compose


def test_compose_example_violation_fails_right_after_install(
        tmp_path: Path, build, image_dir: Path, served: tuple[str, list[str]]) -> None:
    append = bbappend(tmp_path, COMPOSE, served[0], real_sums(image_dir))
    r = build('CONTAINER_AUDIT_POLICY = "permissive-only"').run_file(COMPOSE,
                                                                      appends=(append,))
    assert not r.ok and r.failed == "do_container_image_audit", str(r)
    assert r.ran("do_install") and "do_package" not in r.tasks
    assert ("container-compose-example: localhost/busybox:1.35: busybox 1.35.0: GPL-2.0-only "
            "[") in r.output and "[container-license]" in r.output, str(r)
