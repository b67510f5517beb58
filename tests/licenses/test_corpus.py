# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage over the real corpus: every license value of every package database.

For each ecosystem: normalising never raises, every output is a valid SPDX expression, every
name that became a LicenseRef is reported in `unmapped`, and the share of values mapped without
such a LicenseRef is recorded for the terminal summary (and must not regress).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.licenses.debian import parse_copyright
from auditor.licenses.normalize import Normalized, is_valid, normalize
from auditor.model import NOASSERTION, NONE
from tests.licenses.conftest import IN_CI, MAPPED


def _field(path: Path, prefix: str) -> list[str]:
    return [line[len(prefix):].strip()
            for line in path.read_text("utf-8", "replace").splitlines()
            if line.startswith(prefix)]


def apk_values(root: Path) -> list[str]:
    return [v for p in sorted((root / "alpine").rglob("*"))
            if p.is_file() and p.name in ("installed", "apk") for v in _field(p, "L:")]


def opkg_values(root: Path) -> list[str]:
    return [v for p in sorted((root / "opkg").rglob("*"))
            if p.is_file() and (p.name == "status" or p.suffix == ".control")
            for v in _field(p, "License:")]


def yocto_values(root: Path) -> list[str]:
    return [v for p in sorted((root / "yocto").rglob("*license.manifest"))
            for v in _field(p, "LICENSE:")]


def rpm_values(root: Path, tmp: Path) -> list[str]:
    if shutil.which("rpm") is None:
        if IN_CI:
            pytest.fail("rpm is not installed")
        pytest.skip("rpm is not installed")
    values: list[str] = []
    # (database file, backend); SLE 15's ndb database is not readable by this rpm (SOURCES.md),
    # its values are pinned in test_normalize instead
    for rel, backend in (("cbl-mariner-2.0/rpmdb.sqlite", "sqlite"),
                         ("libuuid/Packages", "bdb_ro")):
        db = tmp / rel.split("/")[0]
        db.mkdir()
        shutil.copy(root / "rpm/knqyf263+go-rpmdb" / rel, db)
        proc = subprocess.run(["rpm", "--dbpath", str(db), "--define", f"_db_backend {backend}",
                               "-qa", "--qf", "%{LICENSE}\\n"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        values += proc.stdout.splitlines()
    return values


def check(ecosystem: str, results: list[Normalized], minimum: float) -> None:
    assert results
    for result in results:
        expression = result.expression
        assert expression in (NOASSERTION, NONE) or is_valid(expression), result
        made = set(re.findall(r"LicenseRef-[A-Za-z0-9.-]+", str(expression)))
        if result.unmapped:
            assert result.method == "licenseref"
            assert made, result
        for name in result.unmapped:  # the raw words, not a rewrite of them
            assert name.strip() and all(w in result.raw for w in name.split()), result
    mapped = sum(1 for r in results if not r.unmapped)
    with_ref = len(results) - mapped
    distinct = len({u for r in results for u in r.unmapped})
    MAPPED[ecosystem] = (mapped, len(results), with_ref, distinct)
    print(f"{ecosystem}: {mapped / len(results):.1%} mapped ({mapped}/{len(results)})")
    assert mapped / len(results) >= minimum


def test_apk(package_dbs: Path) -> None:
    values = apk_values(package_dbs)
    assert len(values) > 400
    check("apk", [normalize(v, flavor="apk") for v in values], 0.97)


def test_opkg(package_dbs: Path) -> None:
    values = opkg_values(package_dbs)
    assert len(values) > 1100
    check("opkg", [normalize(v, flavor="yocto") for v in values], 0.98)


def test_yocto_license_manifest(package_dbs: Path) -> None:
    values = yocto_values(package_dbs)
    assert len(values) > 480
    check("yocto", [normalize(v, flavor="yocto") for v in values], 0.95)


def test_rpm(package_dbs: Path, tmp_path: Path) -> None:
    values = rpm_values(package_dbs, tmp_path)
    assert len(values) == 130  # 129 CBL-Mariner packages + the UBI 8 libuuid one
    check("rpm", [normalize(v, flavor="rpm") for v in values], 0.98)


def test_debian_copyright_files(package_dbs: Path) -> None:
    files = [p for p in sorted((package_dbs / "debian").rglob("*"))
             if p.is_file() and "copyright" in p.name]
    assert len(files) > 230
    dep5: list[Normalized] = []
    free_text: list[Normalized] = []
    for path in files:
        parsed = parse_copyright(path.read_bytes())
        assert parsed.format in ("dep5", "free-text"), path
        if parsed.format == "dep5":
            # every paragraph's License: as written; declared is one of them unless it is
            # the AND made for a file without `Files: *`
            combined = any(p.startswith("no 'Files: *'") for p in parsed.problems)
            paragraphs = [n for _, n in parsed.other] + ([] if combined else [parsed.declared])
            dep5.extend(n for n in paragraphs if n.raw.strip())
        else:
            free_text.append(parsed.declared)
    assert len(dep5) > 2000 and len(free_text) > 110
    check("debian", dep5, 0.88)
    # free text: the share of files for which a declared license could be read reliably
    derived = [n for n in free_text if n.expression is not NOASSERTION]
    MAPPED["debian-free-text"] = (len(derived), len(free_text), 0, 0)
    print(f"debian free text: {len(derived)}/{len(free_text)} files with a declared license")
    assert len(derived) / len(free_text) >= 0.6
