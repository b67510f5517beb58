# SPDX-License-Identifier: Apache-2.0
"""A wheel install (not this checkout) finds the shipped policy presets and report
templates: they are data files under <prefix>/share/container-audit/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import REPO


def test_wheel_install_finds_presets_and_templates(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("container_audit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                   "['purelib'])"], check=True, capture_output=True,
                                  text=True).stdout.strip())
    ours = Path(sys.executable).parent / "container-audit"
    had_ours = ours.exists()
    # --ignore-installed: pip would otherwise uninstall this environment's own copy first
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--ignore-installed", "--prefix", str(venv), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    assert ours.exists() == had_ours  # the environment running the tests is untouched
    # the dependencies from this environment, but not its editable copy of auditor
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = ("import auditor, json; from auditor.cli.check import resolve_policy; "
            "from auditor.report.render import environment; environment(); "
            "print(json.dumps([auditor.__file__, str(resolve_policy('gplv3-free'))]))")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env={k: v for k, v in os.environ.items()
                                            if k != "PYTHONPATH"})
    module, preset = json.loads(out.stdout)
    assert Path(module).is_relative_to(venv), module  # the installed copy, not the checkout
    assert preset == str(venv / "share" / "container-audit" / "policies" / "gplv3-free.yaml")
