# SPDX-License-Identifier: Apache-2.0
"""container-image-audit.bbclass under the real BitBake: a recipe that installs a
container archive is checked right after do_install, before it is packaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bbclass.harness import Build

pytestmark = pytest.mark.fixtures


@pytest.fixture
def recipe_build(tmp_path: Path, bitbake: str, audit_bin: Path, archives: dict[str, str]):
    def make(key: str, *conf: str) -> Build:
        return Build(tmp_path / "build", conf=[
            f'TEST_EMBED_ARCHIVE = "{archives[key]}"',
            f'CONTAINER_AUDIT_BIN = "{audit_bin}"',
            'TEST_OE_QA = "1"',
            *conf,
        ])
    return make


def test_violating_recipe_fails_at_install(recipe_build) -> None:
    build = recipe_build("busybox.podman", 'CONTAINER_AUDIT_POLICY = "permissive-only"')
    r = build.run("embedder")
    assert not r.ok and r.failed == "do_container_image_audit", str(r)
    assert r.ran("do_install")
    assert "do_package" not in r.tasks and "do_populate_sysroot" not in r.tasks
    out = build.workdir("embedder") / "container-audit"
    findings = json.loads((out / "container-audit.verdicts.json").read_text())["findings"]
    assert findings
    for f in findings:
        line = (f"embedder: {f['image']}: {f['package']} {f['version']}: {f['license']} "
                f"[{f['rule']}]")
        assert f"ERROR: QA Issue: {line} [container-license]" in r.output, str(r)
    assert f"report: {out / 'container-audit.txt'} [container-license]" in r.output


def test_clean_recipe_is_packaged(recipe_build) -> None:
    build = recipe_build("busybox.podman", 'CONTAINER_AUDIT_POLICY = "gplv3-free"')
    r = build.run("embedder")
    assert r.ok, str(r)
    order = r.data["order"]
    assert order.index("do_install") < order.index("do_container_image_audit") \
        < order.index("do_package")
    assert r.ran("do_container_image_audit") and r.tasks["do_package"] == "noexec"
    log = r.log("do_container_image_audit")
    assert f" check {build.workdir('embedder') / 'image'} " in log
    assert "embedder: container-audit: audited " in log and "): PASS" in log
