# SPDX-License-Identifier: Apache-2.0
"""`container-audit report` end to end: Markdown and JSON facts, byte-stable output,
template overrides, and exit codes 0 and 2 (report judges nothing, so never 1)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.report.conftest import WAIVED_BASH, WAIVED_ONIG, Judged, run

pytestmark = pytest.mark.fixtures


def test_markdown_states_the_same_facts(rendered: Path, judged: Judged) -> None:
    md = (rendered / "report.md").read_text()
    v = judged.load("waived")
    s = v["summary"]
    lines = md.splitlines()
    assert lines[0] == "# Compliance report: FAIL"
    assert f"Target `{v['target']}` · policy **gplv3-free**" in lines[2]
    assert f"judged {v['created']}" in lines[2]
    assert (f"**{s['images']}** images · **{s['packages']}** packages · " in md
            and f"**{s['error']}** errors · **{s['warning']}** warnings · "
                f"**{s['info']}** waived" in md)
    open_ = [f for f in v["findings"] if not f["waived_by"]]
    assert f"## Violations ({len(open_)})" in lines
    sev = [line.split(" | ")[0] for line in lines if line.startswith(("| ERROR |", "| WARNING |"))]
    assert len(sev) == len(open_) and sev == sorted(sev)  # errors first
    for f in open_:
        assert any(f["package"] in line and f["rule"] in line and (
            not f["evidence"] or f"`{f['evidence']}`" in line) for line in lines), f
    waived = [f for f in v["findings"] if f["waived_by"]]
    assert f"## Waivers ({len(waived)})" in lines
    assert sum(WAIVED_BASH in line for line in lines) == sum(
        f["waived_by"] == WAIVED_BASH for f in waived) == 1
    assert sum(WAIVED_ONIG in line for line in lines) == 1
    # one package row per package, in a collapsed block per image
    assert md.count("<details><summary>") == s["images"]
    pkg_rows = [line for line in lines
                if line.startswith(("| ok |", "| error |", "| warning |", "| waived |"))]
    assert len(pkg_rows) == s["packages"]
    # the changes since the baseline
    changes = md.split("## Changes since the baseline", 1)[1].split("\n## ", 1)[0]
    assert "### Changed: localhost/debian-jq:1.6" in changes
    assert "| upgraded | jq | deb | 1.5+dfsg-2 |" in changes
    assert "| libonig5 |" in changes and "BSD-2-Clause → **" in changes
    assert "### Same digest: localhost/debian-tools:bookworm" in changes
    assert "| added | netbase | deb | — |" in changes
    assert "busybox" not in changes  # unchanged images are not listed


def test_json_report(rendered: Path, judged: Judged) -> None:
    doc = json.loads((rendered / "report.json").read_text())
    v = judged.load("waived")
    assert doc["schema_version"] == "1.1"
    assert doc["image_file"] == ""  # a directory, not a disk image file
    assert doc["summary"] == {"images": 4, "packages": v["summary"]["packages"],
                              "errors": v["summary"]["error"],
                              "warnings": v["summary"]["warning"],
                              "waived": v["summary"]["info"]}
    assert sum(doc["categories"].values()) == v["summary"]["packages"]
    assert len(doc["violations"]) + len(doc["waivers"]) == len(v["findings"])
    assert {w["waived_by"] for w in doc["waivers"]} == {WAIVED_BASH, WAIVED_ONIG}
    assert doc["diff"]["summary"]["packages_upgraded"] == 1
    for img in doc["images"]:
        assert [l["index"] for l in img["layers"]] == list(range(1, len(img["layers"]) + 1))
        assert sum(l["packages"] for l in img["layers"]) == len(img["packages"])


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_outputs_are_byte_identical_across_runs(rendered: Path, judged: Judged,
                                               tmp_path: Path) -> None:
    r = run("report", "--inventory", str(judged.inventory), "--verdicts", str(judged.waived),
            "--baseline", str(judged.baseline),
            "-o", f"html={tmp_path / 'report.html'},md={tmp_path / 'report.md'}",
            "-o", f"json={tmp_path / 'report.json'},notice={tmp_path / 'notice'}",
            "-o", f"source-offer={tmp_path / 'offer.csv'},source-offer={tmp_path / 'offer.md'}",
            env={"SOURCE_DATE_EPOCH": "1800000000", "TZ": "Asia/Tokyo"})
    assert r.rc == 0, r.err
    assert _digests(tmp_path) == _digests(rendered)
    # the only times in the HTML are those of the inputs: verdicts, inventory, baseline
    html = (rendered / "report.html").read_text()
    times = set(re.findall(r"\d{4}-\d\d-\d\dT[\d:]+Z?", html))
    assert times == {judged.load("waived")["created"], judged.load("inventory")["created"],
                     judged.load("baseline")["created"]}


def test_markdown_to_stdout_by_default(judged: Judged) -> None:
    r = run("report", "--inventory", str(judged.inventory), "--verdicts", str(judged.verdicts))
    assert r.rc == 0, r.err  # the verdicts failed, the report did not
    assert r.out.startswith("# Compliance report: FAIL\n")
    assert "## Waivers (0)" in r.out and "No finding is waived." in r.out


def test_template_dir_overrides_one_template(judged: Judged, tmp_path: Path) -> None:
    (tmp_path / "report.md.j2").write_text(
        "{{ r.target }}: {{ r.result }}, {{ r.packages | length }} packages\n")
    r = run("report", "--inventory", str(judged.inventory), "--verdicts", str(judged.verdicts),
            "--template-dir", str(tmp_path), "-o", "md,html=" + str(tmp_path / "r.html"))
    assert r.rc == 0, r.err
    v = judged.load("verdicts")
    assert r.out == f"{v['target']}: fail, {v['summary']['packages']} packages\n"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")  # the shipped one
    (tmp_path / "report.md.j2").write_text("line one\n{{ r.no_such_field }}\n")
    r = run("report", "--inventory", str(judged.inventory), "--verdicts", str(judged.verdicts),
            "--template-dir", str(tmp_path))
    assert r.rc == 2 and f"{tmp_path / 'report.md.j2'}:2: template error" in r.err and "no_such_field" in r.err


@pytest.mark.parametrize("case", ["no-verdicts", "other-inventory", "not-verdicts",
                                  "bad-offer-ext", "notice-stdout", "foreign-dir",
                                  "no-template-dir", "bad-format"])
def test_exit_code_2(case: str, judged: Judged, tmp_path: Path,
                     fixtures: dict[str, object]) -> None:
    inv, verdicts = str(judged.inventory), str(judged.verdicts)
    args: list[str] = ["--inventory", inv, "--verdicts", verdicts]
    expect = ""
    if case == "no-verdicts":
        args = ["--inventory", inv, "--verdicts", str(tmp_path / "missing.json")]
        expect = "cannot read the verdicts"
    elif case == "other-inventory":
        other = json.loads(judged.inventory.read_text())
        other["images"] = other["images"][:1]
        (tmp_path / "inv.json").write_text(json.dumps(other))
        args = ["--inventory", str(tmp_path / "inv.json"), "--verdicts", verdicts]
        expect = "which is not in the inventory"
    elif case == "not-verdicts":
        args = ["--inventory", inv, "--verdicts", inv]
        expect = "not a container-audit verdicts file"
    elif case == "bad-offer-ext":
        args += ["-o", f"source-offer={tmp_path / 'x.txt'}"]
        expect = "must end in .csv or .md"
    elif case == "notice-stdout":
        args += ["-o", "notice"]
        expect = "notice needs a path"
    elif case == "foreign-dir":
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "keep.txt").write_text("precious\n")
        args += ["-o", f"notice={tmp_path / 'mine'}"]
        expect = "not a NOTICE bundle"
    elif case == "no-template-dir":
        args += ["--template-dir", str(tmp_path / "nope")]
        expect = "--template-dir is not a directory"
    elif case == "bad-format":
        args += ["-o", "pdf=x.pdf"]
        expect = "unknown format 'pdf'"
    r = run("report", *args)
    assert r.rc == 2, (r.out, r.err)
    assert expect in r.err
    assert "Traceback" not in r.err
    if case == "foreign-dir":
        assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]


def test_notice_replaces_an_earlier_bundle(judged: Judged, tmp_path: Path) -> None:
    out = tmp_path / "notice"
    args = ["report", "--inventory", str(judged.inventory), "--verdicts", str(judged.verdicts),
            "-o", f"notice={out}"]
    assert run(*args).rc == 0
    (out / "licenses" / "stale.txt").write_text("from an older release\n")
    assert run(*args).rc == 0
    assert not (out / "licenses" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notice"]  # no temp dirs left
