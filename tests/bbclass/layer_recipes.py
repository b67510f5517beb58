# SPDX-License-Identifier: Apache-2.0
"""Test side of the BitBake harness for the recipes the layer ships (bbclass/recipes-*/).

Stage: tests (BitBake harness). `harness.Build.run` builds the test-only recipes of
core/recipes/; `LayerBuild.run_file` runs any recipe file through the same runner, with
the .bbappend files a test gives (append_runner.py), and finds its WORKDIR whatever its PV.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.bbclass.harness import HERE, LAYER, MACHINE, RUNNER, STUBS, Build, Result

NATIVE_DIR = LAYER / "recipes-devtools" / "container-audit"
NATIVE_RECIPES = sorted(NATIVE_DIR.glob("container-audit-native_*.bb"))
CONTAINERS_DIR = LAYER / "recipes-containers"
APPEND_RUNNER = HERE / "append_runner.py"


@dataclass
class LayerBuild(Build):
    def workdir(self, recipe: str) -> Path:
        found = sorted((self.topdir / "tmp" / "work" / MACHINE / recipe).glob("*-r0"))
        return found[0] if len(found) == 1 else super().workdir(recipe)

    def run_file(self, bbfile: Path, target: str = "do_build", *, hashes_only: bool = False,
                 dump: tuple[str, ...] = (), appends: tuple[Path, ...] = (),
                 env: dict[str, str] | None = None, timeout: int = 900) -> Result:
        """Parse and build `bbfile` (PN from its name, as BitBake derives it) with
        `appends` applied."""
        self.write()
        pn = bbfile.name.split("_")[0].removesuffix(".bb")
        result_file = self.topdir / f"result-{pn}.json"
        result_file.unlink(missing_ok=True)
        argv = [sys.executable, str(APPEND_RUNNER if appends else RUNNER), str(self.topdir),
                str(bbfile), str(result_file), "--target", target,
                *(["--hashes-only"] if hashes_only else []),
                *[f"--dump={name}" for name in dump], *[f"--append={a}" for a in appends]]
        proc = subprocess.run(argv, check=False, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout,
                              env={**os.environ, **(env or {}), "PYTHONPATH": str(STUBS)})
        data = (json.loads(result_file.read_text()) if result_file.exists()
                else {"parsed": False, "error": "runner crashed", "tasks": {}, "failed": None,
                      "hashes": {}, "order": [], "dump": {}})
        return Result(self, pn, proc.returncode, data, proc.stdout)


def native_recipe() -> Path:
    assert len(NATIVE_RECIPES) == 1, f"expected one container-audit-native recipe: {NATIVE_RECIPES}"
    return NATIVE_RECIPES[0]
