# SPDX-License-Identifier: Apache-2.0
"""`container-audit check` end to end on the real fixtures: licenses normalised from the
images' own copyright files, curations, policies, exit codes 0/1/2 and the verdicts JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from license_expression import get_spdx_licensing

from auditor.licenses.normalize import is_valid
from tests.conftest import run_cli

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="session")
def jq_inventory(fixtures, tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("inv") / "jq.json"
    r = run_cli("scan", fixtures["archives"]["debian-jq.podman"], "-o", f"json={out}")
    assert r.rc == 0, r.err
    return out, json.loads(out.read_text())


def _pkgs(inv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for i in inv["images"] for p in i["packages"]}


def test_declared_licenses_are_valid_spdx(fixtures, scan_json) -> None:
    licensing = get_spdx_licensing()
    spdx_ids = {k.lower() for k in licensing.known_symbols}
    for name in ("debian-base", "debian-jq", "debian-tools"):
        ref = fixtures["images"][name]["ref"]
        inv = scan_json(fixtures["rootfs"]["podman"]["path"])
        (img,) = [i for i in inv["images"] if ref in i["tags"]]
        pkgs = img["packages"]
        good = 0
        for p in pkgs:
            expr = p["declared_license"]
            if expr == "NOASSERTION":
                continue
            assert is_valid(expr), (p["name"], expr)
            for sym in licensing.license_symbols(expr):
                if sym.key.startswith("LicenseRef-"):
                    # nothing on the SPDX list hides behind a LicenseRef
                    assert sym.key[len("LicenseRef-"):].lower() not in spdx_ids, (p["name"], expr)
            good += 1
        assert good >= 0.95 * len(pkgs), (name, good, len(pkgs))


def test_tricky_real_packages_are_pinned(jq_inventory) -> None:
    _, inv = jq_inventory
    p = _pkgs(inv)
    # DEP-5 `GPL-1+ or Artistic`: the choice is kept, Artistic in Debian's perl meaning
    assert p["perl-base"]["declared_license"] == "GPL-1.0-or-later OR Artistic-1.0-Perl"
    assert p["perl-base"]["declared_method"] == "copyright-dep5"
    # a Files: * license plus many other paragraphs kept as evidence
    assert p["coreutils"]["declared_license"] == "GPL-3.0-or-later"
    assert len(p["coreutils"]["other_licenses"]) >= 5
    assert all(o["files"] and o["expression"] for o in p["coreutils"]["other_licenses"])
    assert p["libzstd1"]["declared_license"] == "BSD-3-Clause OR GPL-2.0-only"
    # a non-DEP-5 file: from its references to /usr/share/common-licenses
    assert p["libc6"]["declared_method"] == "copyright-free-text"
    assert p["libc6"]["declared_license"] == "GPL-2.0-or-later AND LGPL-2.1-or-later"
    # the upper layer's opaque dir replaced libonig5's copyright: that one is declared
    assert p["libonig5"]["declared_license"] == "GPL-3.0-or-later"
    # an exception, through the built-in curation of GCC's runtime
    assert p["libgcc-s1"]["concluded_license"] == "GPL-3.0-or-later WITH GCC-exception-3.1"
    assert "Runtime Library Exception" in p["libgcc-s1"]["curation"]
    # evidence: path and layer of the copyright file
    lic = [l for l in p["jq"]["licenses"] if l["method"].startswith("dep5")]
    assert lic and lic[0]["evidence"][0]["path"] == "/usr/share/doc/jq/copyright"
    assert lic[0]["evidence"][0]["layer"] == inv["images"][0]["layers"][1]["diff_id"]


def test_busybox_is_licensed_by_curation(fixtures, scan_json) -> None:
    inv = scan_json(fixtures["archives"]["busybox.podman"])
    (img,) = inv["images"]
    (bb,) = img["packages"]
    assert (bb["name"], bb["declared_license"], bb["concluded_license"]) == (
        "busybox", "NOASSERTION", "GPL-2.0-only")
    assert bb["curation"]


def test_user_curation_comes_first_and_can_drop(fixtures, tmp_path: Path) -> None:
    cur = tmp_path / "cur.yaml"
    cur.write_text("curations:\n"
                   "  - match: {name: busybox}\n"
                   "    drop: true\n"
                   "    reason: we ship our own busybox\n")
    out = tmp_path / "inv.json"
    r = run_cli("scan", fixtures["archives"]["busybox.podman"], "--curations", str(cur),
                "-o", f"json={out}")
    assert r.rc == 0, r.err
    (img,) = json.loads(out.read_text())["images"]
    assert img["packages"] == []
    assert img["false_positives"] == ["busybox@1.35.0: we ship our own busybox"]


@pytest.mark.parametrize("text,where", [
    ("curations:\n  - match: {name: x}\n    concluded: MIT\n", "cur.yaml:2: a curation needs a 'reason'"),
    ("curations:\n  - match: {nam: x}\n    concluded: MIT\n    reason: r\n", "cur.yaml:2: unknown match key"),
    ("curations:\n  - match: {name: x}\n    concluded: 'MIT AND'\n    reason: r\n", "cur.yaml:2: 'concluded' is not a valid"),
])
def test_bad_curation_file_is_exit_2(tmp_path: Path, text: str, where: str) -> None:
    cur = tmp_path / "cur.yaml"
    cur.write_text(text)
    r = run_cli("scan", str(tmp_path), "--curations", str(cur))
    assert r.rc == 2 and where in r.err, r.err


def test_check_fails_gplv3_free_and_names_everything(jq_inventory, tmp_path: Path) -> None:
    inv_path, inv = jq_inventory
    out = tmp_path / "verdicts.json"
    r = run_cli("check", "--inventory", str(inv_path), "--policy", "gplv3-free",
                "-o", f"json={out}", "-o", "table")
    assert r.rc == 1, r.err
    v = json.loads(out.read_text())
    assert v["result"] == "fail" and v["summary"]["error"] > 0
    errors = [f for f in v["findings"] if f["severity"] == "error"]
    names = {f["package"] for f in errors}
    assert "bash" in names and "coreutils" in names
    assert "perl-base" not in names  # GPL-1.0-or-later OR Artistic: the OR passes
    f = next(f for f in errors if f["package"] == "bash")
    assert f["image"] == "localhost/debian-jq:1.6" and f["version"] and f["purl"]
    assert f["evidence"] == "/usr/share/doc/bash/copyright"
    assert f["layer"] == inv["images"][0]["layers"][0]["diff_id"]
    assert "GPL-3.0" in f["license"]
    pkgs = {p["name"]: p for p in v["packages"]}
    assert pkgs["perl-base"]["concluded_license"] == "Artistic-1.0-Perl"
    assert pkgs["libgcc-s1"]["concluded_license"] == "GPL-3.0-or-later WITH GCC-exception-3.1"
    assert "bash" in r.out and "ERROR" in r.out


def test_check_yocto_variables_and_exceptions(jq_inventory, tmp_path: Path) -> None:
    inv_path, _ = jq_inventory
    out = tmp_path / "v.json"
    r = run_cli("check", "--inventory", str(inv_path), "--incompatible-license", "GPL-3.0*",
                "-o", f"json={out}")
    assert r.rc == 1
    before = {f["package"] for f in json.loads(out.read_text())["findings"]
              if f["severity"] == "error"}
    assert "bash" in before
    r = run_cli("check", "--inventory", str(inv_path), "--incompatible-license", "GPL-3.0*",
                "--license-exception", "bash:GPL-3.0-or-later", "-o", f"json={out}")
    after = json.loads(out.read_text())["findings"]
    assert "bash" not in {f["package"] for f in after if f["severity"] == "error"}
    assert any(f["package"] == "bash" and f["rule"] == "license-exception" for f in after)


def test_check_report_only_passes_and_fail_on(jq_inventory) -> None:
    inv_path, _ = jq_inventory
    assert run_cli("check", "--inventory", str(inv_path), "--policy", "report-only").rc == 0
    assert run_cli("check", "--inventory", str(inv_path), "--policy", "gplv3-free",
                   "--fail-on", "never").rc == 0


def test_check_scans_a_target_directly(fixtures, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    r = run_cli("check", fixtures["archives"]["busybox.podman"], "--policy", "permissive-only",
                "-o", f"json={out}")
    assert r.rc == 1  # busybox is GPL-2.0-only by curation: not permissive
    (f,) = [f for f in json.loads(out.read_text())["findings"] if f["severity"] == "error"]
    assert f["package"] == "busybox" and f["license"] == "GPL-2.0-only"


def test_check_input_errors_are_exit_2(jq_inventory, tmp_path: Path) -> None:
    inv_path, _ = jq_inventory
    bad = tmp_path / "p.yaml"
    bad.write_text("incompatible_licenses: [GPL-3.0*]\nalowed: [MIT]\n")
    r = run_cli("check", "--inventory", str(inv_path), "--policy", str(bad))
    assert r.rc == 2 and "p.yaml:2" in r.err, r.err
    junk = tmp_path / "inv.json"
    junk.write_text("{}")
    r = run_cli("check", "--inventory", str(junk), "--policy", "report-only")
    assert r.rc == 2 and "inv.json" in r.err
    assert run_cli("check", "--inventory", str(inv_path)).rc == 2  # no policy
    assert run_cli("check", "--inventory", str(inv_path), "--policy", "no-such-preset").rc == 2


def test_builtin_curations_are_valid() -> None:
    """The scan loads the built-in curations without checking their expressions against the
    SPDX list (that index costs a warm re-audit a tenth of its time): this test checks them."""
    from auditor.licenses.curations import BUILTIN_LABEL, builtin_text, parse

    items = parse(builtin_text(), BUILTIN_LABEL, validate=True)
    assert items and all(c.concluded or c.drop for c in items)
    assert parse(builtin_text(), BUILTIN_LABEL, validate=False) == items
