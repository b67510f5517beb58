# SPDX-License-Identifier: Apache-2.0
"""Test side of the BitBake harness: build directories, one subprocess per build.

Stage: tests (BitBake harness). `Build` writes `conf/bblayers.conf` (our test-only core
layer, the bbclass/ layer, optional extra layers first) and `conf/local.conf`, then runs
`runner.py` in a subprocess with the hashserv/prserv stand-ins on PYTHONPATH. A `Result`
tells which tasks ran, were stamped, restored from sstate or failed, and reads task logs
and deployed files. See tests/bbclass/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORE = HERE / "core"
LAYER = REPO / "bbclass"
STUBS = HERE / "stubs"
RUNNER = HERE / "runner.py"
MACHINE = "testmachine"
AUDIT_FILES = ("container-audit.cdx.json", "container-audit.inventory.json",
               "container-audit.spdx.json", "container-audit.spdx3.json",
               "container-audit.txt", "container-audit.verdicts.json")


@dataclass
class Result:
    build: Build
    recipe: str
    rc: int
    data: dict[str, Any]
    output: str

    @property
    def tasks(self) -> dict[str, str]:
        return dict(self.data["tasks"])

    @property
    def failed(self) -> str | None:
        return self.data["failed"]

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def ran(self, task: str) -> bool:
        return self.tasks.get(task) == "ran"

    def log(self, task: str) -> str:
        path = self.build.workdir(self.recipe) / "temp" / f"log.{task}"
        return path.read_text(errors="replace") if path.exists() else ""

    def __str__(self) -> str:  # what assertion messages show
        return (f"{self.recipe}: rc={self.rc} error={self.data.get('error')} "
                f"tasks={self.tasks}\n--- output (tail) ---\n{self.output[-6000:]}")


@dataclass
class Build:
    topdir: Path
    conf: list[str] = field(default_factory=list)
    layers: list[Path] = field(default_factory=list)  # before core and bbclass/ in BBPATH

    def workdir(self, recipe: str) -> Path:
        return self.topdir / "tmp" / "work" / MACHINE / recipe / "1.0-r0"

    @property
    def deploy(self) -> Path:
        return self.topdir / "tmp" / "deploy" / "images" / MACHINE

    def write(self) -> None:
        (self.topdir / "conf").mkdir(parents=True, exist_ok=True)
        layers = " ".join(str(p) for p in [*self.layers, CORE, LAYER])
        (self.topdir / "conf" / "bblayers.conf").write_text(
            f'BBPATH = "${{TOPDIR}}"\nBBFILES ?= ""\nBBLAYERS = "{layers}"\n')
        (self.topdir / "conf" / "local.conf").write_text("\n".join(self.conf) + "\n")

    def run(self, recipe: str = "test-image", target: str = "do_build", *,
            hashes_only: bool = False, dump: tuple[str, ...] = (),
            timeout: int = 900) -> Result:
        self.write()
        result_file = self.topdir / f"result-{recipe}.json"
        result_file.unlink(missing_ok=True)
        argv = [sys.executable, str(RUNNER), str(self.topdir),
                str(CORE / "recipes" / f"{recipe}.bb"), str(result_file), "--target", target]
        if hashes_only:
            argv.append("--hashes-only")
        argv += [f"--dump={name}" for name in dump]
        env = {**os.environ, "PYTHONPATH": str(STUBS)}
        proc = subprocess.run(argv, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=env, timeout=timeout)
        data = (json.loads(result_file.read_text()) if result_file.exists()
                else {"parsed": False, "error": "runner crashed", "tasks": {}, "failed": None,
                      "hashes": {}, "order": [], "dump": {}})
        return Result(self, recipe, proc.returncode, data, proc.stdout)


def make_rootfs(root: Path, archives: dict[str, str | Path]) -> Path:
    """A tiny rootfs with container archives under usr/share/container-images/
    (hard links to the session fixtures when possible: they are large)."""
    images = root / "usr" / "share" / "container-images"
    images.mkdir(parents=True, exist_ok=True)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "os-release").write_text('ID=poky\nNAME="Test image"\n')
    for name, src in archives.items():
        dst = images / name
        try:
            os.link(src, dst)
        except OSError:
            dst.write_bytes(Path(src).read_bytes())
    return root


def assert_audited(result: Result) -> None:
    """The audit really ran and was deployed: a build can succeed without it (a misspelled
    task name in `addtask ... before` is silently accepted by BitBake)."""
    assert result.ok, str(result)
    assert result.ran("do_container_audit"), f"do_container_audit did not run: {result}"
    log = result.log("do_container_audit")
    assert "container-audit: audited " in log, log
    name = f"{result.recipe}-{MACHINE}.rootfs"
    for f in AUDIT_FILES:
        link = result.build.deploy / f"{name}.{f}"
        assert link.is_symlink() and link.resolve().is_file(), f"not deployed: {link}"
