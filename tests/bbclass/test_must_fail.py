# SPDX-License-Identifier: Apache-2.0
"""Fixtures that must FAIL: defects the real BitBake catches (or, for a misspelled task
name, that only our "the audit really ran" assertion catches). They show the harness
would notice the same defect in our classes. Copies of our classes with one defect each
go into an extra layer that comes first in BBPATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bbclass.harness import LAYER, Build, assert_audited


def overlay(tmp_path: Path, cls: str, old: str, new: str) -> Path:
    layer = tmp_path / "meta-defect"
    (layer / "conf").mkdir(parents=True, exist_ok=True)
    (layer / "conf" / "layer.conf").write_text('BBPATH .= ":${LAYERDIR}"\n')
    (layer / "classes").mkdir(exist_ok=True)
    text = (LAYER / "classes" / cls).read_text()
    assert old in text, f"{cls} no longer contains {old!r}: update this fixture"
    (layer / "classes" / cls).write_text(text.replace(old, new, 1))
    return layer


def test_bashism_fails_under_dash(tmp_path: Path, bitbake: str) -> None:
    r = Build(tmp_path / "build").run("bashism")
    assert not r.ok and r.failed == "do_install", str(r)
    assert "[[: not found" in r.log("do_install")
    assert "only bash gets here" not in r.log("do_install")


@pytest.mark.fixtures
def test_misspelled_task_name_is_caught_by_the_audit_assertion(image_build,
                                                                tmp_path: Path) -> None:
    build = image_build("busybox.podman", conf=('CONTAINER_AUDIT_POLICY = "gplv3-free"',))
    build.layers.insert(0, overlay(
        tmp_path, "container-audit.bbclass",
        "addtask container_audit after do_rootfs before do_image ",
        "addtask container_audit after do_rootfs before do_imag "))
    r = build.run()
    assert r.ok, str(r)  # BitBake accepts it silently...
    assert "do_container_audit" not in r.tasks
    with pytest.raises(AssertionError, match="do_container_audit did not run"):
        assert_audited(r)  # ...our success assertion does not


@pytest.mark.parametrize(("cls", "old", "new", "error"), [
    ("container-audit-common.bbclass", 'CONTAINER_AUDIT_EXTRA_ARGS ??= ""',
     'CONTAINER_AUDIT_EXTRA_ARGS ??= ""\nCONTAINER_AUDIT_EXTRA_ARGS_append = " --debug"',
     "old override syntax"),
    ("container-audit.bbclass", "    container_audit_image(d)\n",
     "    container_audit_image(d\n", "SyntaxError"),
    ("container-audit-common.bbclass", 'ERROR_QA:append = " container-license"',
     'ERROR_QA:append = " container-license"\ncontainer_audit_sh() { true; }',
     "unparsed line"),
], ids=["old-override-syntax", "python-syntax-error", "one-line-shell-function"])
def test_parse_errors_fail(tmp_path: Path, bitbake: str, cls: str, old: str, new: str,
                           error: str) -> None:
    (tmp_path / "rootfs").mkdir()
    build = Build(tmp_path / "build", conf=[
        f'TEST_ROOTFS_SOURCE = "{tmp_path / "rootfs"}"', 'IMAGE_CLASSES += "container-audit"'],
        layers=[overlay(tmp_path, cls, old, new)])
    r = build.run(hashes_only=True)
    assert not r.data["parsed"], str(r)
    assert error in f"{r.data['error']}\n{r.output}", str(r)
