# SPDX-License-Identifier: Apache-2.0
"""The HTML report in a real headless Chromium: what a reader sees matches the verdicts,
the table filters and sorts, nothing is fetched, nothing logs an error."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, need
from tests.report.chromium import Chromium, Page, executable
from tests.report.conftest import WAIVED_BASH, WAIVED_ONIG, Judged

pytestmark = pytest.mark.fixtures


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    need("chromium")  # fails in CI, skips elsewhere
    exe = executable()
    assert exe is not None
    home = tmp_path_factory.mktemp("chromium")
    b = Chromium(exe, home / "profile", home / "chromium.log")
    yield b
    b.close()


@pytest.fixture()
def page(browser: Chromium, rendered: Path) -> Iterator[Page]:
    p = browser.open((rendered / "report.html").as_uri(), bypass_csp=True)
    yield p
    p.close()


def _visible(page: Page) -> int:
    n: int = page.eval("document.querySelectorAll('#package-table tr.pkg:not([hidden])').length")
    assert page.eval("document.getElementById('shown').textContent") == str(n)
    return n


def _clear(page: Page) -> None:
    page.eval("(() => { const f = document.getElementById('filter'); f.value = '';"
              " f.dispatchEvent(new Event('input')); })()")


def _select(page: Page, select_id: str, value: str) -> None:
    page.eval(f"(() => {{ const s = document.getElementById({json.dumps(select_id)});"
              f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()")


def _open_findings(v: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in v["findings"] if not f["waived_by"] and f["severity"] != "info"]


def test_counts_match_the_verdicts(page: Page, judged: Judged) -> None:
    v = judged.load("waived")
    s = v["summary"]
    count = lambda sel: page.eval(f"document.querySelectorAll({json.dumps(sel)}).length")
    text = lambda sel: page.eval(f"document.querySelector({json.dumps(sel)}).textContent")
    assert count("section.image") == s["images"] == 4
    assert count("#package-table tr.pkg") == s["packages"] == len(v["packages"])
    assert count("tr.violation") == len(_open_findings(v)) == s["error"] + s["warning"]
    assert count("tr.violation.error") == s["error"]
    assert count("tr.waiver") == s["info"] > 0
    assert text("#count-images") == str(s["images"])
    assert text("#count-packages") == str(s["packages"])
    assert text("#count-errors") == str(s["error"])
    assert text("#count-warnings") == str(s["warning"])
    assert text("#result").strip() == v["result"] == "fail"
    # violations come first: the section order a reader scrolls through
    order = page.eval("[...document.querySelectorAll('body > section')].map(s => s.id)")
    assert order[:3] == ["overview", "violations", "waivers"]
    # errors before warnings
    sev = page.eval("[...document.querySelectorAll('tr.violation')].map(r => r.dataset.severity)")
    assert sev == sorted(sev, key=["error", "warning"].index)
    reasons = page.eval("[...document.querySelectorAll('tr.waiver td.reason')].map(t => t.textContent)")
    assert set(reasons) == {WAIVED_BASH, WAIVED_ONIG}
    # each image: its layers and a chart whose bars add up to its packages
    inv = judged.load("inventory")
    for img in inv["images"]:
        anchor = "img-" + img["config_digest"].removeprefix("sha256:")[:16]
        assert count(f"#{anchor} tr.layer") == len(img["layers"])
        bars = page.eval(f"[...document.querySelectorAll('#chart-{anchor} .bar')]"
                         ".map(b => Number(b.dataset.count))")
        assert sum(bars) == len(img["packages"])
    product = page.eval("[...document.querySelectorAll('#chart-product .bar')]"
                        ".map(b => Number(b.dataset.count))")
    assert sum(product) == s["packages"]


def test_violations_show_rule_evidence_and_layer(page: Page, judged: Judged) -> None:
    v = judged.load("waived")
    rows = page.eval("[...document.querySelectorAll('tr.violation')].map(r => "
                     "[...r.cells].map(c => c.textContent.trim()))")
    expected = _open_findings(v)
    assert len(rows) == len(expected)
    for f in expected:
        match = [r for r in rows if r[1] == f["image"] and r[4] == f["rule"]
                 and r[2].startswith(f["package"] or "—") and r[3] == (f["license"] or "—")]
        assert match, f
        if f["evidence"]:
            assert any(r[6] == f["evidence"] for r in match)
        if f["layer"]:
            assert any(f["layer"].removeprefix("sha256:")[:12] in r[7] for r in match)


def test_declared_and_concluded_license_of_each_package(page: Page, judged: Judged) -> None:
    v = judged.load("waived")
    rows = page.eval("[...document.querySelectorAll('#package-table tr.pkg')].map(r => "
                     "[r.cells[1].textContent, r.cells[2].textContent, r.cells[4].textContent,"
                     " r.querySelector('td.declared').textContent,"
                     " r.querySelector('td.concluded > span').textContent])")
    got = sorted(tuple(r) for r in rows)
    want = sorted((p["name"], p["version"], p["image"], p["declared_license"],
                   p["concluded_license"]) for p in v["packages"])
    assert got == want


def test_typing_in_the_filter_hides_rows(page: Page, judged: Judged) -> None:
    v = judged.load("waived")
    total = len(v["packages"])
    assert _visible(page) == total
    page.type("#filter", "libonig5")
    assert _visible(page) == sum(1 for p in v["packages"] if p["name"] == "libonig5") == 1
    _clear(page)
    assert _visible(page) == total
    page.type("#filter", "gpl-3.0-or-later debian-tools")  # every word must match
    want = sum(1 for p in v["packages"] if p["image"] == "localhost/debian-tools:bookworm"
               and ("GPL-3.0-or-later" in p["declared_license"]
                    or "GPL-3.0-or-later" in p["concluded_license"]))
    assert _visible(page) == want > 0
    _clear(page)
    # a chart bar sets the category filter
    page.click("#chart-product .bar[data-category='weak-copyleft']")
    cats = page.eval("[...document.querySelectorAll('#package-table tr.pkg:not([hidden])')]"
                     ".map(r => r.dataset.category)")
    product = page.eval("Number(document.querySelector("
                        "\"#chart-product .bar[data-category='weak-copyleft']\").dataset.count)")
    assert set(cats) == {"weak-copyleft"} and len(cats) == product == _visible(page)
    # the status select
    _select(page, "filter-category", "")
    _select(page, "filter-status", "error")
    errors = {(f["image"], f["purl"]) for f in _open_findings(v) if f["severity"] == "error"
              and f["package"]}
    assert _visible(page) == len(errors)
    assert page.events.errors == []


def test_sorting_by_a_column(page: Page) -> None:
    page.click("#package-table thead th:nth-child(2) button")
    names = page.eval("[...document.querySelectorAll('#package-table tr.pkg')]"
                      ".map(r => r.cells[1].textContent)")
    assert names == sorted(names, key=lambda n: re.sub(r"\d+", lambda m: m[0].zfill(8),
                                                          n.lower()))
    page.click("#package-table thead th:nth-child(2) button")
    again = page.eval("[...document.querySelectorAll('#package-table tr.pkg')]"
                      ".map(r => r.cells[1].textContent)")
    assert again[0] >= again[-1] and sorted(again) == sorted(names)
    assert page.eval("document.querySelector('#package-table thead th:nth-child(2)')"
                     ".getAttribute('aria-sort')") == "descending"


def test_no_network_no_console_errors_and_a_screenshot(browser: Chromium, rendered: Path) -> None:
    html = (rendered / "report.html").read_text()
    # nothing that could load: no src=, no external href, no @import / url()
    assert not re.search(r"\bsrc\s*=", html)
    assert not re.search(r"href=\"(?!#|data:)", html)
    assert "@import" not in html and "url(" not in html
    # the CSP as the page ships it, and again with CSP bypassed so any attempt would show
    for bypass in (False, True):
        page = browser.open((rendered / "report.html").as_uri(), bypass_csp=bypass)
        page.type("#filter", "bash")
        page.click("#package-table thead th:nth-child(3) button")
        page.click("a[href='#images']")
        page.close()
        assert page.events.errors == [], page.events.errors
        schemes = {u.split(":", 1)[0] for u in page.events.requests}
        assert schemes <= {"file", "data"}, page.events.requests
        assert page.events.requests[0] == (rendered / "report.html").as_uri()
    page = browser.open((rendered / "report.html").as_uri())
    out = REPO / "out"
    out.mkdir(exist_ok=True)
    shot = out / "report-screenshot.png"
    page.screenshot(shot)
    page.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_diff_page_in_the_browser(browser: Chromium, judged: Judged, tmp_path: Path) -> None:
    from tests.report.conftest import run

    html = tmp_path / "diff.html"
    r = run("diff", str(judged.baseline), str(judged.inventory), "-o", f"html={html}")
    assert r.rc == 0, r.err
    page = browser.open(html.as_uri(), bypass_csp=True)
    changed = page.eval("[...document.querySelectorAll('.diff-image')].map(d => d.dataset.status)")
    added = page.eval("document.querySelectorAll('tr.pkg-added').length")
    upgraded = page.eval("document.querySelectorAll('tr.pkg-upgraded').length")
    licenses = page.eval("document.querySelectorAll('tr.license-change').length")
    page.close()
    assert sorted(changed) == ["changed", "same"]  # debian-jq: digest; debian-tools: +netbase
    assert (added, upgraded, licenses) == (1, 1, 1)
    assert page.events.errors == []
    assert {u.split(":", 1)[0] for u in page.events.requests} <= {"file", "data"}
