# SPDX-License-Identifier: Apache-2.0
"""Report-stage inputs, made once per session from a real fixture with the real CLI.

`judged`: `check` of the podman rootfs (4 embedded images) with the `gplv3-free` preset,
giving the inventory and the verdicts; the same inventory judged again with that policy
plus two waivers (no second scan) gives verdicts with waived findings. `baseline`: an
edited copy of the inventory standing for an older release: one image with another config
digest and an older `jq`, one license that changed, one package the new release added.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.conftest import REPO, Run

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
WAIVED_BASH = "accepted for the debug shell, legal ticket LEG-1"
WAIVED_ONIG = "libonig5 replaced in the next release (ticket 42)"


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> Run:
    """The container-audit CLI, run as `python -m auditor`."""
    proc = subprocess.run([sys.executable, "-m", "auditor", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False,
                          env={**os.environ, **EPOCH, **(env or {})})
    return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass(frozen=True)
class Judged:
    inventory: Path
    verdicts: Path  # gplv3-free as shipped
    waived: Path  # gplv3-free + two waivers, judged from `inventory`
    baseline: Path  # an "older release" of `inventory`

    def load(self, which: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(getattr(self, which).read_text())
        return data


def _baseline(inv: dict[str, Any]) -> dict[str, Any]:
    old = copy.deepcopy(inv)
    for img in old["images"]:
        if img["name"] == "localhost/debian-jq:1.6":
            img["config_digest"] = "sha256:" + "0" * 64
            for p in img["packages"]:
                if p["name"] == "jq":
                    p["version"] = "1.5+dfsg-2"
                if p["name"] == "libonig5":
                    p["declared_license"] = p["concluded_license"] = "BSD-2-Clause"
        if img["name"] == "localhost/debian-tools:bookworm":
            img["packages"] = [p for p in img["packages"] if p["name"] != "netbase"]
    return old


@pytest.fixture(scope="session")
def judged(fixtures: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Judged:
    out = tmp_path_factory.mktemp("judged")
    inv, verdicts = out / "inv.json", out / "v.json"
    r = run("check", fixtures["rootfs"]["podman"]["path"], "--policy", "gplv3-free",
            "-o", f"json={verdicts}", "-o", f"inventory={inv}")
    assert r.rc == 1, r.err  # violations: the Debian images carry GPL-3.0 packages
    policy = yaml.safe_load((REPO / "policies" / "gplv3-free.yaml").read_text())
    policy["waivers"] = [
        {"package": "pkg:deb/debian/bash", "license": "GPL-3.0-or-later",
         "images": ["localhost/debian-tools*"], "reason": WAIVED_BASH},
        {"package": "libonig5", "license": "GPL-3.0-or-later", "reason": WAIVED_ONIG},
    ]
    (out / "waived.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    waived = out / "vw.json"
    r = run("check", "--inventory", str(inv), "--policy", str(out / "waived.yaml"),
            "--today", "2025-01-01", "-o", f"json={waived}")
    assert r.rc == 1, r.err
    baseline = out / "baseline.json"
    baseline.write_text(json.dumps(_baseline(json.loads(inv.read_text())), indent=2))
    return Judged(inventory=inv, verdicts=verdicts, waived=waived, baseline=baseline)


@pytest.fixture(scope="session")
def rendered(judged: Judged, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every report output of the waived verdicts with the baseline, written once."""
    out = tmp_path_factory.mktemp("rendered")
    r = run("report", "--inventory", str(judged.inventory), "--verdicts", str(judged.waived),
            "--baseline", str(judged.baseline),
            "-o", f"html={out / 'report.html'},md={out / 'report.md'},json={out / 'report.json'}",
            "-o", f"notice={out / 'notice'}", "-o", f"source-offer={out / 'offer.csv'}",
            "-o", f"source-offer={out / 'offer.md'}")
    assert r.rc == 0, r.err
    return out
