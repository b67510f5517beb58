# SPDX-License-Identifier: Apache-2.0
"""container-store-example.bb (bbclass/recipes-containers/) under the real BitBake: image
archives from SRC_URI (or a path variable) become a prebuilt Docker store in ${D} through
`container-audit store build` in do_compile, with a real dockerd (root); the store is
audited after do_install; a prebuilt store tarball needs no dockerd; lint-clean for every
release the layer claims."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.bbclass.layer_recipes import CONTAINERS_DIR, LayerBuild
from tests.bbclass.test_lint import NEWER_SYNTAX, _layerseries, _python_blocks
from tests.conftest import run_cli
from tests.store.test_build import need_root_and_dockerd

pytestmark = [pytest.mark.fixtures, pytest.mark.daemon]

RECIPE = CONTAINERS_DIR / "container-store-example" / "container-store-example.bb"
PN = "container-store-example"
EPOCH = 1700000000
RETAG = "localhost/apk:3.16=registry.example.com/tools/apk:3.16"


@pytest.fixture
def store_build(tmp_path: Path, bitbake: str, audit_bin: Path):  # type: ignore[no-untyped-def]
    def make(*conf: str) -> LayerBuild:
        return LayerBuild(tmp_path / "build", conf=[
            f'CONTAINER_AUDIT_BIN = "{audit_bin}"',
            'TEST_OE_QA = "1"',
            f'export SOURCE_DATE_EPOCH = "{EPOCH}"',
            # OE's bitbake.conf has these; the test core does not need them otherwise
            'localstatedir ?= "/var"',
            'sysconfdir ?= "/etc"',
            *conf,
        ])
    return make


def _src_uri(archives: dict[str, str], *keys: str) -> list[str]:
    """conf lines fetching fixture archives as file:// entries (FILESEXTRAPATHS)."""
    folder = {str(Path(archives[k]).parent) for k in keys}
    assert len(folder) == 1
    entries = " ".join(f"file://{Path(archives[k]).name};unpack=0" for k in keys)
    return [f'FILESEXTRAPATHS = "{folder.pop()}:"', f'SRC_URI:pn-{PN} = "{entries}"']


def _repositories(store: Path) -> dict[str, str]:
    doc = json.loads((store / "image" / "vfs" / "repositories.json").read_text())
    return {ref: image_id for refs in doc["Repositories"].values() for ref, image_id in refs.items()}


def _verdicts(build: LayerBuild) -> dict[str, Any]:
    out = build.workdir(PN) / "container-audit" / "container-audit.verdicts.json"
    return json.loads(out.read_text())


@pytest.mark.parametrize("unpackdir", ["sources", "workdir"])
def test_store_from_src_uri(store_build, fixtures: dict[str, Any], archives: dict[str, str],
                            unpackdir: str) -> None:
    need_root_and_dockerd()
    conf = [*_src_uri(archives, "busybox.podman", "apk"), 'CONTAINER_AUDIT_POLICY = "gplv3-free"',
            f'CONTAINER_STORE_TAGS = "{RETAG}"']
    if unpackdir == "workdir":  # kirkstone to scarthgap: no UNPACKDIR
        conf.append('UNPACKDIR = ""')
    build = store_build(*conf)
    r = build.run_file(RECIPE)
    assert r.ok, str(r)
    order = r.data["order"]
    assert [t for t in order if t in ("do_fetch", "do_unpack", "do_compile", "do_install",
                                      "do_container_image_audit", "do_package")] == \
        ["do_fetch", "do_unpack", "do_compile", "do_install", "do_container_image_audit",
         "do_package"]
    workdir = build.workdir(PN)
    sources = workdir / "sources" if unpackdir == "sources" else workdir
    compile_log = r.log("do_compile")
    assert f" store build --data-root {workdir / 'build' / 'docker'} " in compile_log
    assert f" {sources / 'busybox.podman.tar'} {sources / 'apk.tar'}" in compile_log
    busybox, apk = fixtures["images"]["busybox"], fixtures["images"]["apk"]
    assert f"{busybox['ref']} {busybox['config_digest']}" in compile_log

    store = workdir / "image" / "var" / "lib" / "docker"
    assert sorted(os.listdir(store)) == ["image", "vfs"]
    assert _repositories(store) == {busybox["ref"]: busybox["config_digest"],
                                    apk["ref"]: apk["config_digest"],
                                    RETAG.split("=")[1]: apk["config_digest"]}
    assert json.loads((workdir / "image" / "etc" / "docker" / "daemon.json").read_text()) == \
        {"storage-driver": "vfs"}
    assert all(p.lstat().st_mtime <= EPOCH for p in [store, *store.rglob("*")])

    log = r.log("do_container_image_audit")
    assert f" check {workdir / 'image'} " in log and "): PASS" in log, log
    assert _verdicts(build)["summary"]["images"] == 2


def test_violating_store_fails_after_install(store_build, archives: dict[str, str]) -> None:
    need_root_and_dockerd()
    build = store_build(f'CONTAINER_STORE_ARCHIVES = "{archives["busybox.podman"]}"',
                        'CONTAINER_AUDIT_POLICY = "permissive-only"')
    r = build.run_file(RECIPE)
    assert not r.ok and r.failed == "do_container_image_audit", str(r)
    assert r.ran("do_compile") and r.ran("do_install")
    assert "do_package" not in r.tasks and "do_populate_sysroot" not in r.tasks
    findings = _verdicts(build)["findings"]
    assert findings
    for f in findings:
        line = f"{PN}: {f['image']}: {f['package']} {f['version']}: {f['license']} [{f['rule']}]"
        assert f"ERROR: QA Issue: {line} [container-license]" in r.output, str(r)
        assert f["image"] == "localhost/busybox:1.35"


def test_prebuilt_store_needs_no_dockerd(store_build, archives: dict[str, str],
                                         tmp_path: Path) -> None:
    need_root_and_dockerd()  # to make the tarball, as a user would outside BitBake
    made = tmp_path / "made" / "store"
    made.parent.mkdir()
    r = run_cli("store", "build", "--data-root", str(made), archives["apk"],
                env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert r.rc == 0, r.err
    tarball = tmp_path / "made" / "docker-store.tar"
    subprocess.run(["tar", "--sort=name", "--numeric-owner", f"--mtime=@{EPOCH}",
                    "--clamp-mtime", "-C", str(made), "-cf", str(tarball), "."], check=True)
    build = store_build(f'FILESEXTRAPATHS = "{tarball.parent}:"',
                        f'SRC_URI:pn-{PN} = "file://docker-store.tar;unpack=0"',
                        'CONTAINER_STORE_PREBUILT = "docker-store.tar"',
                        'CONTAINER_STORE_DAEMON_CONFIG = "0"',
                        'CONTAINER_STORE_DOCKERD = "/nonexistent/dockerd"',  # never run
                        'CONTAINER_AUDIT_POLICY = "report-only"')
    r = build.run_file(RECIPE)
    assert r.ok, str(r)
    workdir = build.workdir(PN)
    assert f"using the prebuilt store {workdir / 'sources' / 'docker-store.tar'}" \
        in r.log("do_compile")
    assert "store build" not in r.log("do_compile")
    store = workdir / "image" / "var" / "lib" / "docker"
    with tarfile.open(tarball) as tf:
        members = {m.name.removeprefix("./").rstrip("/") for m in tf} - {"."}
    assert {str(p.relative_to(store)) for p in store.rglob("*")} == members
    assert not (workdir / "image" / "etc").exists()
    assert r.ran("do_container_image_audit") and "): PASS" in r.log("do_container_image_audit")


def test_unloadable_archive_fails_do_compile(store_build, tmp_path: Path) -> None:
    text = tmp_path / "notes.tar"
    text.write_text("not an image archive\n" * 40)
    r = store_build(f'CONTAINER_STORE_ARCHIVES = "{text}"').run_file(RECIPE)
    assert not r.ok and r.failed == "do_compile", str(r)
    assert f"{PN}: cannot build the Docker store: container-audit: error: {text}: not a tar " \
        "archive" in r.output, str(r)
    assert "do_install" not in r.tasks


def test_no_archives_fails_do_compile(store_build) -> None:
    r = store_build().run_file(RECIPE)
    assert not r.ok and r.failed == "do_compile", str(r)
    assert f"{PN}: cannot build the Docker store: no image archives" in r.output, str(r)


def test_store_inputs_are_in_the_signature(store_build, tmp_path: Path) -> None:
    archive = tmp_path / "app.tar"
    archive.write_bytes(b"\0" * 1024)

    def compile_hash(*conf: str) -> str:
        r = store_build(f'CONTAINER_STORE_ARCHIVES = "{archive}"', *conf).run_file(
            RECIPE, hashes_only=True)
        assert r.data["parsed"], str(r)
        return str(r.data["hashes"]["do_compile"])

    base = compile_hash()
    assert compile_hash(f'CONTAINER_STORE_TAGS = "{RETAG}"') != base
    assert compile_hash('CONTAINER_STORE_PLATFORM = "linux/arm64"') != base
    assert compile_hash('CONTAINER_STORE_DOCKERD = "/usr/sbin/dockerd"') == base
    archive.write_bytes(b"\1" * 1024)  # the archive's content, through [file-checksums]
    assert compile_hash() != base


@pytest.mark.parametrize("release", _layerseries())
def test_oelint_clean(oelint: str, release: str) -> None:
    layer = RECIPE.parents[2]
    proc = subprocess.run([oelint, "--quiet", "--release", release,
                           str(RECIPE.relative_to(layer))], cwd=layer, capture_output=True,
                          text=True, check=False,
                          env={**os.environ, "OELINT_CONFIG": str(layer / ".oelint.cfg")})
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), \
        proc.stdout + proc.stderr


def test_kirkstone_syntax_and_explained_suppressions() -> None:
    text = RECIPE.read_text()
    for word in NEWER_SYNTAX:
        assert not re.search(rf"^\s*{word}\b", text, re.MULTILINE), word
    assert not re.search(r"^[A-Z0-9_]+_(append|prepend|remove)\b", text, re.MULTILINE)
    blocks = _python_blocks(text)
    assert len(blocks) >= 4
    for block in blocks:
        ast.parse(block, feature_version=(3, 6))  # kirkstone's oldest supported host Python
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# nooelint:") and i > 0:  # the first line's are explained below it
            assert lines[i - 1].startswith("#") and not lines[i - 1].startswith("# nooelint"), \
                f"line {i + 1}: suppression without a reason above it"
    for match in re.finditer(r"^(CONTAINER_STORE_\w+) \?\?= ", text, re.MULTILINE):
        assert f"{match.group(1)}[doc] = " in text, match.group(1)
