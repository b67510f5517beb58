# SPDX-License-Identifier: Apache-2.0
"""Static checks of the bbclass/ layer: oelint-adv for every release the layer claims,
house style (weak defaults), syntax BitBake 2.0 (kirkstone) and its Python 3.6 accept,
and the layer configuration as BitBake parses it."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.bbclass.harness import LAYER, Build

CLASSES = sorted((LAYER / "classes").glob("*.bbclass"))
# every recipe, bbappend and include of the layer (BBFILES: recipes-*/*/*.bb, *.bbappend)
RECIPES = sorted(p for ext in ("bb", "bbappend", "inc")
                 for p in LAYER.glob(f"recipes-*/*/*.{ext}"))
RELEASES = "kirkstone langdale mickledore nanbield scarthgap styhead walnascar whinlatter wrynose"
# directives BitBake 2.0 (kirkstone) does not know
NEWER_SYNTAX = ("inherit_defer", "addpylib", "include_all", "addfragments")


def _layerseries() -> list[str]:
    m = re.search(r'^LAYERSERIES_COMPAT_container-audit = "([^"]*)"',
                  (LAYER / "conf" / "layer.conf").read_text(), re.MULTILINE)
    assert m
    return m.group(1).split()


@pytest.mark.parametrize("release", _layerseries())
def test_oelint_clean(oelint: str, release: str) -> None:
    files = [str(p.relative_to(LAYER)) for p in [*CLASSES, LAYER / "conf" / "layer.conf",
                                                  *(p for p in RECIPES if p.suffix != ".inc")]]
    proc = subprocess.run([oelint, "--quiet", "--release", release, *files], cwd=LAYER,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "OELINT_CONFIG": str(LAYER / ".oelint.cfg")})
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), \
        proc.stdout + proc.stderr


def test_every_suppression_has_its_reason() -> None:
    cfg = (LAYER / ".oelint.cfg").read_text()
    suppressed = re.search(r"^suppress =\n((?:[ \t]+\S+\n)+)", cfg, re.MULTILINE)
    assert suppressed
    for rule in suppressed.group(1).split():
        assert re.search(rf"^# {re.escape(rule)}: \S", cfg, re.MULTILINE), f"{rule}: no reason given"


def test_weak_defaults_only() -> None:
    for path in CLASSES:
        for m in re.finditer(r"^(CONTAINER_AUDIT_\w+)\s*(\?\?=|\?=|:=|\+=|\.=|=\.|=)",
                             path.read_text(), re.MULTILINE):
            assert m.group(2) == "??=", f"{path.name}: {m.group(0)}"


def _python_blocks(text: str) -> list[str]:
    """`def` functions and `python name () {...}` bodies of a class."""
    blocks = re.findall(r"^(def .*?)(?=^\S)", text + "\n#", re.MULTILINE | re.DOTALL)
    blocks += [textwrap.dedent(b) for b in
               re.findall(r"^python [\w-]* ?\(\) \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL)]
    return blocks


@pytest.mark.parametrize("path", CLASSES, ids=lambda p: p.name)
def test_kirkstone_syntax(path: Path) -> None:
    text = path.read_text()
    for word in NEWER_SYNTAX:
        assert not re.search(rf"^\s*{word}\b", text, re.MULTILINE), f"{path.name}: {word}"
    assert not re.search(r"^(?!python\b)\w+\s*\(\)\s*\{", text, re.MULTILINE), \
        f"{path.name}: a shell function (keep the classes python-only, see README)"
    blocks = _python_blocks(text)
    assert blocks or path.name == "container-audit-common.bbclass"
    for block in blocks:
        ast.parse(block, feature_version=(3, 6))  # kirkstone's oldest supported host Python


def test_inline_suppressions_have_their_reason() -> None:
    """A `# nooelint:` line in a recipe comes after a comment saying why (or, for file-wide
    findings, which oelint-adv only takes from the first line, before one)."""
    for path in RECIPES:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("# nooelint:"):
                continue
            before = lines[i - 1] if i else ""
            after = " ".join(lines[i + 1:i + 4]) if i == 0 else ""
            assert (before.startswith("#") and not before.startswith("# nooelint")) or \
                "(oelint-adv" in after, f"{path.name}:{i + 1}: suppression without a reason"


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_kirkstone_syntax(path: Path) -> None:
    text = path.read_text()
    for word in NEWER_SYNTAX:
        assert not re.search(rf"^\s*{word}\b", text, re.MULTILINE), f"{path.name}: {word}"
    # the old override syntax (VAR_append) is a parse error since BitBake 2.0
    assert not re.search(r"^\w+_(append|prepend|remove)(_\S+)?\s*[+.?:]*=", text,
                         re.MULTILINE), path.name
    for block in _python_blocks(text):
        ast.parse(block, feature_version=(3, 6))


def test_layer_configuration(tmp_path: Path, bitbake: str) -> None:
    (tmp_path / "rootfs").mkdir()
    r = Build(tmp_path / "build", conf=[f'TEST_ROOTFS_SOURCE = "{tmp_path / "rootfs"}"']).run(
        hashes_only=True, dump=("BBFILE_COLLECTIONS", "LAYERSERIES_COMPAT_container-audit",
                                "LAYERDEPENDS_container-audit", "BBPATH", "BBFILES"))
    dump = r.data["dump"]
    assert "container-audit" in dump["BBFILE_COLLECTIONS"].split(), str(r)
    assert dump["LAYERSERIES_COMPAT_container-audit"].split() == RELEASES.split()
    assert dump["LAYERDEPENDS_container-audit"].split() == ["core"]
    assert str(LAYER) in dump["BBPATH"].split(":")
    bbfiles = dump["BBFILES"].split()
    assert f"{LAYER}/recipes-*/*/*.bb" in bbfiles and f"{LAYER}/recipes-*/*/*.bbappend" in bbfiles
    assert RECIPES, "the layer ships recipes"
    assert (LAYER / "policies" / "gplv3-free.yaml").is_file()  # presets, through BBPATH
