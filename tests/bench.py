# SPDX-License-Identifier: Apache-2.0
"""`make bench`: our scan time beside syft alone on the same images, as ratios.

syft alone gets the best case: its own native scheme on each archive (docker-archive: /
oci-archive:), the same offline environment we give it. Multi-image archives and stores
have no syft-alone equivalent and are timed for us only. Median of BENCH_RUNS (default 3).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from auditor.inventory import syft
from tests.conftest import CACHE
from tests.fixtures.build import build_all

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def _time(argv: list[str], env: dict[str, str], *, may_fail: bool = False) -> float | None:
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True)
        samples.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            if may_fail:  # syft alone cannot read every input we can
                return None
            raise SystemExit(f"bench: {' '.join(argv)} failed: {proc.stderr.decode()[-500:]}")
    return statistics.median(samples)


def _scheme(path: Path) -> str:
    import tarfile

    with tarfile.open(path) as tf:
        names = set(tf.getnames())
    return "docker-archive" if "manifest.json" in names else "oci-archive"


def main() -> None:
    fx = build_all(CACHE)
    work = Path(tempfile.mkdtemp(prefix="ca-bench-"))
    syft_env = {**os.environ, **{k: v for k, v in syft._env(work).items()}}  # noqa: SLF001
    ours_env = dict(os.environ)  # our cold timings pass --no-cache
    rows = []
    for name, path in sorted(fx["archives"].items()):
        p = Path(path)
        t_syft = _time([str(syft.binary()), "scan", f"{_scheme(p)}:{p}", "-o",
                        f"syft-json={work}/s.json"], syft_env, may_fail=True)
        t_ours = _time([sys.executable, "-m", "auditor", "scan", str(p), "--no-cache", "-o",
                        f"json={work}/o.json"], ours_env) or 0.0
        rows.append((f"archive {name}", t_ours, t_syft))
    for name, info in sorted(fx["rootfs"].items()):
        t_ours = _time([sys.executable, "-m", "auditor", "scan", info["path"], "--no-cache", "-o",
                        f"json={work}/o.json"], ours_env) or 0.0
        # syft alone on each single-image archive of this rootfs, summed
        alone: float | None = 0.0
        for loc in info["locations"]:
            p = Path(info["path"]) / loc["path"]
            if not p.is_file() or len(loc["images"]) != 1:
                alone = None  # stores, layouts, multi-image archives: syft cannot do them alone
                break
            one = _time([str(syft.binary()), "scan", f"{_scheme(p)}:{p}", "-o",
                         f"syft-json={work}/s.json"], syft_env, may_fail=True)
            if one is None:
                alone = None
                break
            alone += one
        rows.append((f"rootfs {name} ({len(info['images'])} images)", t_ours, alone))
    # warm re-audit through the inventory cache, against the cold audit of the same rootfs
    info = fx["rootfs"]["podman"]
    cache = work / "cache"
    cold_env = {**ours_env, "CONTAINER_AUDIT_CACHE_DIR": str(cache)}
    argv = [sys.executable, "-m", "auditor", "scan", info["path"], "-o", f"json={work}/w.json"]
    cold = []
    for _ in range(RUNS):
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(_time(argv, cold_env) or 0.0)
    warm = _time(argv, cold_env) or 0.0
    rows.append(("rootfs podman warm re-audit vs cold", warm, statistics.median(cold)))
    w = max(len(r[0]) for r in rows)
    print(f"{'input'.ljust(w)}  {'ours s':>8}  {'syft s':>8}  {'ratio':>6}")
    for label, ours, alone in rows:
        ratio = f"{ours / alone:6.2f}" if alone else "     -"
        alone_s = f"{alone:8.2f}" if alone else "       -"
        print(f"{label.ljust(w)}  {ours:8.2f}  {alone_s}  {ratio}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"(median of {RUNS} runs; ratio = ours / syft alone on the same archive(s); '-': syft alone cannot read it)")


if __name__ == "__main__":
    main()
