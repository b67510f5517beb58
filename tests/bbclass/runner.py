# SPDX-License-Identifier: Apache-2.0
"""Run one recipe through the real BitBake (the `bb` package of the bitbake-setup wheel).

Stage: tests (BitBake harness). Run in a subprocess, one per build: `bb.build.exec_task`
redirects fds 0/1/2 onto the task log and BitBake keeps global state.

    python runner.py BUILDDIR RECIPE RESULT.json [--target do_build] [--hashes-only]
                     [--dump VAR | --dump VAR[flag] ...]

Does what bitbake-server and bitbake-worker do for one recipe, with the real code for
everything that judges our metadata: the configuration and the recipe are parsed by
BitBake's parser (`bb.cookerdata`), task signatures come from its `basichash` signature
generator (variable dependencies and `[file-checksums]` included), tasks run through
`bb.build.exec_task` (shell under /bin/sh, python via exec_func_python, prefuncs and
postfuncs, stamps, logs). What stands in for the runqueue is small: the tasks the target
depends on, in dependency order; a task whose stamp for its current hash exists is
skipped; a task with a setscene variant whose sstate object exists is restored instead.

RESULT.json: {"parsed", "error", "order", "hashes", "dump": {name: expanded value},
"tasks": {task: ran|failed|stamped|setscene|noexec}, "failed"}. Exit status 0 when the
target was reached.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any


def _layer_of(recipe: str, d: Any) -> str | None:
    for name in (d.getVar("BBFILE_COLLECTIONS") or "").split():
        pattern = d.getVar(f"BBFILE_PATTERN_{name}") or ""
        if pattern and re.match(pattern, recipe):
            return name
    return None


def _order(target: str, d: Any) -> list[str]:
    """The tasks `target` needs, dependencies first (deps outside the recipe's task list
    are dropped, as bb.taskdata does)."""
    tasks = d.getVar("__BBTASKS", False) or []
    order: list[str] = []
    seen: set[str] = set()

    def visit(task: str, path: tuple[str, ...]) -> None:
        if task in path:
            raise RuntimeError("task loop: {}".format(" -> ".join(path + (task,))))
        if task in seen:
            return
        for dep in d.getVarFlag(task, "deps", False) or []:
            if dep in tasks:
                visit(dep, path + (task,))
        seen.add(task)
        order.append(task)

    visit(target, ())
    return order


def _hashes(fn: str, order: list[str], d: Any) -> dict[str, str]:
    """Task hashes as the runqueue computes them: basehash + dependency hashes + file
    checksums, by the configured signature generator."""
    import bb.cache
    import bb.parse

    siggen = bb.parse.siggen
    siggen.setup_datacache_from_datastore(fn, d)
    cache = siggen.datacaches[""]
    info = bb.cache.CoreRecipeInfo(fn, d)
    cache.basetaskhash = {f"{fn}:{t}": h for t, h in info.basetaskhashes.items()}
    cache.file_checksums = {fn: info.file_checksums}
    cache.task_deps = {fn: info.task_deps}
    cache.pkg_fn = {fn: info.pn}
    hashes = {}
    for task in order:
        tid = f"{fn}:{task}"
        deps = [f"{fn}:{t}" for t in d.getVarFlag(task, "deps", False) or []
                if t in order]
        siggen.prep_taskhash(tid, deps, siggen.datacaches)
        hashes[task] = siggen.get_taskhash(tid, deps, siggen.datacaches)
    return hashes


def _export_environment(d: Any) -> None:
    """What bitbake-worker does before a task: the environment is the exported variables."""
    import bb.data

    exports = list(bb.data.exported_vars(d))
    os.environ.clear()
    for name, value in exports:
        os.environ[name] = value


def _dump(d: Any, names: list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        m = re.fullmatch(r"([^\[]+)\[([^\]]+)\]", name)
        out[name] = d.getVarFlag(m.group(1), m.group(2)) if m else d.getVar(name)
    return out


def run(builddir: str, recipe: str, target: str, hashes_only: bool,
        dump: list[str]) -> dict[str, Any]:
    import bb
    import bb.build
    import bb.cookerdata
    import bb.parse
    import bb.utils

    result: dict[str, Any] = {"parsed": False, "error": None, "order": [], "hashes": {},
                              "dump": {}, "tasks": {}, "failed": None}
    fn = os.path.realpath(recipe)
    os.chdir(builddir)
    cfg = bb.cookerdata.CookerConfiguration()
    cfg.env = dict(os.environ)
    try:
        builder = bb.cookerdata.CookerDataBuilder(cfg)
        builder.parseBaseConfiguration()
        d = builder.parseRecipeVariants(fn, [], layername=_layer_of(fn, builder.data))[""]
        if d.getVar("__SKIPPED"):
            raise RuntimeError("recipe skipped: {}".format(d.getVar("__SKIPPED")))
        order = _order(target, d)
        hashes = _hashes(fn, order, d)
        result["dump"] = _dump(d, dump)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a result; BitBake logged it
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.update(parsed=True, order=order, hashes=hashes)
    if hashes_only:
        return result

    tasks = d.getVar("__BBTASKS", False) or []
    _export_environment(d)
    for task in order:
        d.setVar("BB_TASKHASH", hashes[task])
        d.setVar("BB_UNIHASH", hashes[task])
        if d.getVarFlag(task, "noexec", False):
            bb.build.make_stamp_mcfn(task, fn)
            result["tasks"][task] = "noexec"
            continue
        stamp = bb.parse.siggen.stampfile_mcfn(task, fn)
        setscene_stamp = bb.parse.siggen.stampfile_mcfn(task + "_setscene", fn)
        if not d.getVarFlag(task, "nostamp", False) and (
                os.path.exists(stamp) or os.path.exists(setscene_stamp)):
            result["tasks"][task] = "stamped"
            continue
        setscene = task + "_setscene"
        if setscene in tasks and d.getVar("SSTATE_AVAILABLE_FUNCTION"):
            available = bb.utils.better_eval("{}(d, {!r})".format(
                d.getVar("SSTATE_AVAILABLE_FUNCTION"), task), {"d": d})
            if available:
                d.setVar("BB_CURRENTTASK", setscene[3:])
                if bb.build.exec_task(fn, setscene, d) == 0:
                    result["tasks"][task] = "setscene"
                    continue
        d.setVar("BB_CURRENTTASK", task[3:])
        if bb.build.exec_task(fn, task, d) != 0:
            result["tasks"][task] = "failed"
            result["failed"] = task
            return result
        result["tasks"][task] = "ran"
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("recipe")
    ap.add_argument("result")
    ap.add_argument("--target", default="do_build")
    ap.add_argument("--hashes-only", action="store_true")
    ap.add_argument("--dump", action="append", default=[])
    args = ap.parse_args()
    # a copy of stderr: exec_task points fd 2 at the task log while a task runs, and
    # BitBake's logger already writes there
    console = logging.StreamHandler(os.fdopen(os.dup(2), "w", buffering=1))
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[console])
    result = run(args.builddir, args.recipe, args.target, args.hashes_only, args.dump)
    with open(args.result, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    ok = result["parsed"] and result["failed"] is None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
