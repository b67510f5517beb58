# SPDX-License-Identifier: Apache-2.0
"""`make bench`: our audit beside syft alone on the same images, as ratios, in one run.

syft alone gets the best case: its own native scheme on each archive (docker-archive: /
oci-archive:), the same offline environment we give it. Multi-image archives and stores
have no syft-alone equivalent and are timed for us only. Each time is the median of
BENCH_RUNS runs (default 5; the 2 GB image: one run). Peak RSS is measured in the
audited process itself (RUSAGE_SELF, so syft's own memory is apart) and for syft.

Rows:
- archives and fixture rootfs trees: cold audit (no cache) / sum of syft alone per image;
- warm re-audit / cold audit (inventory cache), and after touching one archive;
- 10 images sharing one base layer / 1 such image (and with --no-shared-base, every
  image scanned whole);
- a 1 GB ext4 image holding the podman rootfs / the same rootfs as a directory;
- merging the podman rootfs's containers into OE's real 2,558-element SPDX 3.0.1 image
  SBOM (../shared) / the cold audit of that rootfs;
- a 2 GB image (Debian base + 1.9 GB of incompressible files): cold audit / syft alone,
  and peak RSS of our process.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from auditor.inventory import syft
from tests.conftest import CACHE
from tests.fixtures.build import build_all

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SHARED = Path(__file__).resolve().parents[2] / "shared"
OE_SPDX3 = (SHARED / "fixtures/yocto-spdx/vulnscout/example/spdx3/"
            "core-image-minimal-qemux86-64.rootfs.spdx.json")
RSS_LIMIT_MB = 300

# runs the CLI in a child python and records that process's own peak RSS and its
# children's (syft) in $CA_BENCH_RSS at exit
_RUNNER = """
import atexit, os, resource, sys
def _rss():
    with open(os.environ["CA_BENCH_RSS"], "w") as fh:
        fh.write("%d %d" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
atexit.register(_rss)
from auditor.cli.main import main
sys.argv[0] = "container-audit"
main()
"""


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.syft_env = {**os.environ, **syft._env(work)}  # noqa: SLF001
        self.rows: list[tuple[str, float, float | None, str]] = []
        self.rss: list[tuple[str, float, float]] = []

    def time(self, argv: list[str], env: dict[str, str] | None = None, *, runs: int = RUNS,
             may_fail: bool = False, before=None, ok=(0, 1)) -> float | None:  # type: ignore[no-untyped-def]
        samples = []
        for _ in range(runs):
            if before:
                before()
            t0 = time.perf_counter()
            proc = subprocess.run(argv, env=env or dict(os.environ), capture_output=True)
            samples.append(time.perf_counter() - t0)
            if proc.returncode not in ok:
                if may_fail:  # syft alone cannot read every input we can
                    return None
                raise SystemExit(f"bench: {' '.join(argv)} failed: {proc.stderr.decode()[-800:]}")
        return statistics.median(samples)

    def ours(self, *args: str, cache: Path | None = None, runs: int = RUNS, label: str = "",
             before=None) -> float:  # type: ignore[no-untyped-def]
        rss_file = self.work / "rss"
        env = {**os.environ, "CA_BENCH_RSS": str(rss_file)}
        extra = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
        t = self.time([sys.executable, "-c", _RUNNER, *args, *extra], env, runs=runs,
                      before=before)
        assert t is not None
        if label:
            own, child = (int(x) / 1024 for x in rss_file.read_text().split())
            self.rss.append((label, own, child))
        return t

    def syft(self, archive: Path, runs: int = RUNS) -> float | None:
        return self.time([str(syft.binary()), "scan", f"{_scheme(archive)}:{archive}", "-o",
                          f"syft-json={self.work}/s.json"], self.syft_env, runs=runs,
                         may_fail=True, ok=(0,))

    def row(self, label: str, ours: float, base: float | None, base_name: str = "syft") -> None:
        self.rows.append((label, ours, base, base_name))
        print(f"  {label}: {ours:.2f} s" + (f" / {base_name} {base:.2f} s" if base else ""),
              file=sys.stderr, flush=True)

    def print(self) -> None:
        w = max(len(r[0]) for r in self.rows)
        print(f"{'input'.ljust(w)}  {'ours s':>8}  {'vs':>8}  {'base s':>8}  {'ratio':>6}")
        for label, ours, base, name in self.rows:
            ratio = f"{ours / base:6.3f}" if base else "     -"
            base_s = f"{base:8.2f}" if base else "       -"
            print(f"{label.ljust(w)}  {ours:8.2f}  {name:>8}  {base_s}  {ratio}")
        print(f"(median of {RUNS} runs; syft = syft alone on the same archive(s), summed; "
              "'-': syft alone cannot read it)\n")
        w = max(len(r[0]) for r in self.rss)
        print(f"{'peak RSS'.ljust(w)}  {'ours MB':>8}  {'syft MB':>8}  {'limit':>6}")
        for label, own, child in self.rss:
            print(f"{label.ljust(w)}  {own:8.0f}  {child:8.0f}  {RSS_LIMIT_MB:6d}"
                  + ("" if own <= RSS_LIMIT_MB else "  OVER"))


def _scheme(path: Path) -> str:
    with tarfile.open(path) as tf:
        names = set(tf.getnames())
    return "docker-archive" if "manifest.json" in names else "oci-archive"


def _sha_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _archive(dest: Path, layer_files: list[Path], tag: str) -> Path:
    """A podman-style docker-archive of existing layer tar files (streamed, not in memory)."""
    ids = [_sha_file(p) for p in layer_files]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ids}}).encode()
    cfg = hashlib.sha256(config).hexdigest() + ".json"
    names = [i.split(":")[1] + ".tar" for i in ids]
    manifest = json.dumps([{"Config": cfg, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(dest, "w") as tf:
        for name, path in zip(names, layer_files):
            tf.add(path, arcname=name)
        for name, data in ((cfg, config), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return dest


def _base_layer(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tf:
        (manifest,) = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        (name,) = manifest["Layers"]
        with tf.extractfile(name) as src, open(dest, "wb") as out:  # type: ignore[union-attr]
            shutil.copyfileobj(src, out, 1 << 20)
    return dest


def _small_layer(dest: Path, i: int) -> Path:
    with tarfile.open(dest, "w") as tf:
        data = f"app {i}\n".encode()
        ti = tarfile.TarInfo(f"etc/app-{i}.conf")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    return dest


def _big_layer(dest: Path, total: int, files: int = 8) -> Path:
    """`total` bytes of incompressible data in `files` files, written as a layer tar."""
    chunk = 1 << 20
    per = total // files
    with tarfile.open(dest, "w") as tf:
        for n in range(files):
            src = dest.parent / "payload"
            with open(src, "wb") as fh:
                for _ in range(per // chunk):
                    fh.write(os.urandom(chunk))
            tf.add(src, arcname=f"opt/data/blob-{n}.bin")
            src.unlink()
    return dest


def main() -> None:
    fx = build_all(CACHE)
    work = Path(tempfile.mkdtemp(prefix="ca-bench-"))
    b = Bench(work)
    try:
        for name, path in sorted(fx["archives"].items()):
            p = Path(path)
            b.row(f"archive {name}", b.ours("scan", str(p), "-o", f"json={work}/o.json"),
                  b.syft(p))
        cold = 0.0
        for name, info in sorted(fx["rootfs"].items()):
            t = b.ours("scan", info["path"], "-o", f"json={work}/o.json",
                       label=f"rootfs {name}" if name == "podman" else "")
            alone: float | None = 0.0
            for loc in info["locations"]:
                p = Path(info["path"]) / loc["path"]
                one = b.syft(p) if p.is_file() and len(loc["images"]) == 1 else None
                if one is None:  # stores, layouts, multi-image archives
                    alone = None
                    break
                alone += one
            b.row(f"rootfs {name} ({len(info['images'])} images) cold", t, alone)
            if name == "podman":
                cold = t
        podman = fx["rootfs"]["podman"]["path"]

        # the inventory cache: warm, then one archive touched (verified again, not scanned)
        cache = work / "cache"
        b.ours("scan", podman, "-o", f"json={work}/w.json", cache=cache, runs=1)
        warm = b.ours("scan", podman, "-o", f"json={work}/w.json", cache=cache)
        b.row("rootfs podman warm re-audit", warm, cold, "cold")
        one = next(Path(podman).glob("usr/share/container-images/debian-jq*.tar"))

        def touch() -> None:
            os.utime(one)
        touched = b.ours("scan", podman, "-o", f"json={work}/w.json", cache=cache, before=touch)
        b.row("rootfs podman, one archive touched", touched, cold, "cold")

        # 10 images sharing one base layer
        base_archive = Path(fx["archives"]["debian-base.podman"])
        base = _base_layer(base_archive, work / "base.tar")
        trees = {}
        for n in (1, 10):
            root = work / f"shared-{n}" / "usr/share/container-images"
            root.mkdir(parents=True)
            for i in range(n):
                _archive(root / f"app{i}-1.0.tar", [base, _small_layer(work / f"s{i}.tar", i)],
                         f"localhost/app{i}:1.0")
            trees[n] = root.parents[2]
        t1 = b.ours("scan", str(trees[1]), "-o", f"json={work}/o.json")
        t10 = b.ours("scan", str(trees[10]), "-o", f"json={work}/o.json")
        b.row("10 images sharing a base", t10, t1, "1 image")
        whole = b.ours("scan", str(trees[10]), "-o", f"json={work}/o.json", "--no-shared-base")
        b.row("10 images sharing a base, each scanned whole", whole, t1, "1 image")
        shutil.rmtree(work / "shared-10")

        # a 1 GB ext4 image of the podman rootfs (plus filler outside the container areas)
        src = work / "ext4-src"
        shutil.copytree(podman, src, symlinks=True)
        _big_layer(work / "filler.tar", 600 << 20, files=4)
        with tarfile.open(work / "filler.tar") as tf:
            tf.extractall(src, filter="data")
        (work / "filler.tar").unlink()
        img = work / "rootfs.ext4"
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(src), str(img), "1024M"], check=True,
                       capture_output=True)
        shutil.rmtree(src)
        t_img = b.ours("scan", str(img), "-o", f"json={work}/o.json", label="1 GB ext4 image")
        b.row("1 GB ext4 image of the podman rootfs", t_img, cold, "dir")
        img.unlink()

        # merge into OE's real SPDX 3.0.1 image SBOM (2,558 elements)
        if OE_SPDX3.is_file():
            b.ours("scan", podman, "-o", f"json={work}/inv.json", runs=1)
            sbom = work / "image.spdx.json"

            def fresh() -> None:
                shutil.copyfile(OE_SPDX3, sbom)
            merge = b.time([sys.executable, "-m", "auditor", "merge", "--sbom", str(sbom),
                            "--inventory", str(work / "inv.json")], before=fresh)
            assert merge is not None
            n = len(json.loads(OE_SPDX3.read_text())["@graph"])
            b.row(f"merge into OE SPDX 3 ({n} elements)", merge, cold, "cold")

        # a 2 GB image: memory stays bounded
        big = _archive(work / "big.tar", [base, _big_layer(work / "big-layer.tar", 1900 << 20)],
                       "localhost/big:1")
        (work / "big-layer.tar").unlink()
        t_big = b.ours("scan", str(big), "-o", f"json={work}/o.json", runs=1,
                       label="2 GB image")
        b.row("2 GB image (1 run)", t_big, b.syft(big, runs=1))
        b.print()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
