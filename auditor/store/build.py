# SPDX-License-Identifier: Apache-2.0
"""Store stage: a prebuilt Docker image store (vfs) for a root filesystem, made reproducibly.

This is "approach 3" of embedding containers in a Yocto image: a build-time `dockerd
--storage-driver vfs --data-root X` loads the image archives, and X is copied to
/var/lib/docker in the rootfs. `build_store()` replaces the usual `sudo dockerd & docker
load … ; kill $(pidof dockerd)` dance:

- a PRIVATE dockerd: its own data root (a temp dir beside the requested one, renamed into
  place at the end, so a failed build leaves nothing half made), exec root, pidfile and
  unix socket in a short private temp dir (socket paths must stay below 108 bytes), and a
  configuration file of ours, so the host's /etc/docker/daemon.json is never read. The
  host's daemon is never contacted: the docker SDK client gets our socket explicitly.
  Bridge, iptables and ip6tables are off. dockerd 20.10 would write its trust key to
  /etc/docker/key.json: our configuration points `deprecated-key-path` into the run dir
  (dockerd >= 23 has no trust key and is not given the option);
- the archives are loaded through the Engine API (`POST /images/load`). dockerd < 25
  cannot read OCI archives (`podman save --format oci-archive`): those are streamed to it
  with a `manifest.json` appended that names the OCI blobs, which is how Docker >= 25
  writes its own archives; a multi-platform index needs `platform`;
- dockerd is stopped by the pid we started (SIGTERM, bounded wait, SIGKILL of its
  process group), always, also on errors and on SIGTERM/SIGHUP to us.

What a data root holds after `docker load` with dockerd 20.10 (vfs), and what is kept:

    image/vfs/{repositories.json,imagedb/,layerdb/,distribution/}   kept: the image store
    vfs/dir/<cache-id>/                                            kept: layer snapshots
    vfs/backingFsBlockDev, volumes/backingFsBlockDev   dropped: device nodes of the build
                                                       host's disk (quota probing)
    network/files/local-kv.db                          dropped: default networks with ids
                                                       made up on this host
    containerd/, buildkit/, builder/, containers/, plugins/, runtimes/, swarm/, tmp/,
    trust/, volumes/, engine-id (dockerd >= 23)         dropped: daemon/run state; empty
                                                       after a load, recreated on start
    image/vfs/layerdb/tmp/                             dropped: load scratch, if left

Only `image/` and `vfs/` are kept (an allow-list, so state that newer dockerd versions
add stays out too). tests/store/test_build.py checks that a dockerd started later on a
copy lists, inspects and runs the images. That dockerd must be told the driver
(`"storage-driver": "vfs"` in its daemon.json, or `--storage-driver vfs`): dockerd never
picks vfs by itself from an existing data root (it would start an empty overlay2 store).

Reproducibility. Everything in the store is content-addressed or derived from content
(image ids = sha256 of the config, diff ids, chain ids, `repositories.json` whose keys Go
sorts, tar-split records, sizes), except what dockerd randomises or stamps:

- cache ids: dockerd names each layer's directory with a random 64-hex id
  (`vfs/dir/<cache-id>`, recorded in `layerdb/sha256/<chain-id>/cache-id`). They are
  renamed to the layer's chain id, so two builds have the same file list;
- `imagedb/metadata/sha256/<id>/lastUpdated`: written by `docker tag` (our `--tag`)
  with the wall-clock time; rewritten to SOURCE_DATE_EPOCH when that is set;
- modification times: clamped to SOURCE_DATE_EPOCH when set, as OE does for the rootfs.

With SOURCE_DATE_EPOCH set, two builds from the same archives are identical file by file
(names, content, modes, mtimes); tests/store/test_build.py compares two.

Running dockerd is a subprocess, like syft in inventory/; the library never prints.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import AuditorError, InputError, ToolError
from ..model import ImageSource
from ..sources import oci
from ..sources.base import OpenContext
from ..sources.blobs import TarIndex, compression_of, looks_like_tar

log = logging.getLogger(__name__)

STORE_BUILD_VERSION = "1"  # of the --json summary
STORAGE_DRIVER = "vfs"
KEEP = ("image", "vfs")  # the only top-level entries a rootfs store carries
DEFAULT_TIMEOUT = 60.0
SOCKET_DIR_MAX = 60  # run dir path length: containerd's sockets live below it too
_SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# never handed to our dockerd: they would point it at other state or make it notify systemd
_ENV_DROP_PREFIXES = ("DOCKER_", "CONTAINERD_")
_ENV_DROP = ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
_LOG_TAIL_LINES = 6
_LOG_TAIL_CHARS = 1500


# --------------------------------------------------------------------------- values

@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    dockerd: str | None = None  # path or command name; None: `dockerd` in PATH
    tags: tuple[tuple[str, str], ...] = ()  # (source ref or image id, new ref)
    force: bool = False  # replace a non-empty data root
    platform: str = ""  # os/arch[/variant] (or arch) for multi-platform OCI archives
    source_date_epoch: int | None = None
    timeout: float = DEFAULT_TIMEOUT  # for dockerd to answer, and to stop


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedImage:
    image_id: str  # sha256:<hex> of the config, as dockerd reports it
    tags: tuple[str, ...]
    archives: tuple[str, ...]  # the archives (as given) that held it


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreBuild:
    data_root: str
    storage_driver: str
    dockerd_version: str
    source_date_epoch: int | None
    images: tuple[LoadedImage, ...]
    removed: tuple[str, ...]  # paths below the data root dropped after the load


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """One archive as it will be fed to dockerd."""

    path: Path
    label: str
    kind: str  # "docker-archive" (passed as is) or "oci-archive" (manifest.json appended)
    images: tuple[ImageSource, ...] = ()  # oci-archive: what goes into manifest.json
    end: int = 0  # oci-archive: offset of the end-of-archive marker


# --------------------------------------------------------------------------- parsing

def parse_tag(text: str) -> tuple[str, str]:
    """`SRC=DEST` of --tag; SRC is a reference or image id that was loaded."""
    src, sep, dest = text.partition("=")
    src, dest = src.strip(), dest.strip()
    if not sep or not src or not dest or any(c.isspace() for c in src + dest):
        raise InputError(f"--tag {text!r}: expected SRC=DEST "
                         "(e.g. localhost/app:1.0=registry.example.com/app:1.0)")
    if "@" in dest:
        raise InputError(f"--tag {text!r}: {dest} is a digest reference, not a name to tag")
    return src, dest


def parse_epoch(text: str | None, what: str = "SOURCE_DATE_EPOCH") -> int | None:
    if text is None or not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(f"{what} = {text!r}: not a number of seconds") from None
    if value < 0:
        raise InputError(f"{what} = {text!r}: negative")
    return value


def _split_ref(ref: str) -> tuple[str, str]:
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def _platform_context(platform: str) -> OpenContext:
    parts = [p for p in platform.strip().split("/") if p]
    if not parts:
        return OpenContext(root=None)
    if len(parts) == 1:
        return OpenContext(root=None, architecture=parts[0])
    if len(parts) > 3:
        raise InputError(f"--platform {platform!r}: expected OS/ARCH[/VARIANT] or ARCH")
    return OpenContext(root=None, architecture=parts[1],
                       variant=parts[2] if len(parts) == 3 else "")


# --------------------------------------------------------------------------- checks

def require_root() -> None:
    if os.geteuid() != 0:
        raise ToolError(f"store build: running dockerd needs root (effective uid is "
                        f"{os.geteuid()})")


def find_dockerd(name: str | None) -> str:
    wanted = name or "dockerd"
    if os.sep in wanted:
        path = wanted if os.path.isfile(wanted) and os.access(wanted, os.X_OK) else None
    else:
        # a build task's PATH (OE's HOSTTOOLS) rarely has dockerd: the system dirs next
        path = shutil.which(wanted) or shutil.which(wanted, path=os.pathsep.join(_SYSTEM_PATH))
    if not path:
        where = "" if os.sep in wanted else " in PATH or the system directories"
        raise ToolError(f"{wanted}: no dockerd executable{where} (install docker.io, or pass "
                        "--dockerd PATH)")
    return os.path.abspath(path)


def _check_target(data_root: Path, force: bool) -> Path:
    target = Path(os.path.abspath(data_root))
    if target == Path(target.anchor):
        raise InputError(f"{data_root}: cannot be the data root")
    if target.is_symlink():
        raise InputError(f"{data_root}: is a symbolic link; give the real directory")
    if target.exists():
        if not target.is_dir():
            raise InputError(f"{data_root}: exists and is not a directory")
        if any(target.iterdir()):
            if not force:
                raise InputError(f"{data_root}: is not empty (pass --force to replace it)")
            if _mounts_below(target):
                raise InputError(f"{data_root}: has file systems mounted below it (a running "
                                 "daemon's data root?); not replacing it")
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{data_root}: cannot create it ({parent} is not a writable "
                         "directory)")
    return target


def _archive_names(path: Path, label: str) -> set[str]:
    """Member names (headers only for plain tars), or InputError if it is not a tar."""
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{label}: no such file")
    if not path.is_file():
        raise InputError(f"{label}: not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{label}: not readable")
    comp = compression_of(path)
    if comp == "zst":
        raise InputError(f"{label}: is zstd-compressed, which docker load does not read; "
                         "decompress it first")
    if not comp and not looks_like_tar(path):
        raise InputError(f"{label}: not a tar archive (expected an image archive written "
                         "by docker save or podman save)")
    names: set[str] = set()
    try:
        with tarfile.open(path, mode="r:*") as tf:
            for member in tf:
                names.add(member.name.removeprefix("./"))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{label}: truncated or corrupt archive ({exc})") from None
    return names


def _tar_end(path: Path, label: str) -> int:
    """Offset of the end-of-archive marker: where another member can be appended."""
    try:
        with tarfile.open(path, mode="r:") as tf:
            for _ in tf:
                pass
            end = tf.offset
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{label}: truncated or corrupt archive ({exc})") from None
    if end <= 0 or end > path.stat().st_size:
        raise InputError(f"{label}: cannot find the end of the archive")
    return end


def _plan(path: Path, ctx: OpenContext, platform: str) -> _Plan:
    label = str(path)
    names = _archive_names(path, label)
    if "manifest.json" in names:
        return _Plan(path=path, label=label, kind="docker-archive")
    if "index.json" not in names or "oci-layout" not in names:
        raise InputError(f"{label}: not an image archive (no manifest.json, and no "
                         "index.json with oci-layout)")
    if compression_of(path):
        raise InputError(f"{label}: a compressed OCI archive; decompress it first")
    stem = path.name.split(".", 1)[0]
    blobs = TarIndex(path, label)
    # first without a platform (the reader would warn and fall back to the first one)
    images = oci.read_layout(blobs, label, stem, OpenContext(root=None))
    for img in images:
        if not img.skipped_platforms:
            continue
        have = [img.platform, *img.skipped_platforms]
        listed = ", ".join(sorted({_platform_name(p) for p in have}))
        if not platform:
            raise InputError(f"{label}: {img.name} is a multi-platform image ({listed}); "
                             "choose one with --platform")
        if not any(oci.platform_matches(p, ctx) for p in have):
            raise InputError(f"{label}: {img.name} has no platform {platform} (it has "
                             f"{listed})")
    if platform:
        images = oci.read_layout(blobs, label, stem, ctx)
    if not images:
        raise InputError(f"{label}: index.json lists no image")
    return _Plan(path=path, label=label, kind="oci-archive", images=tuple(images),
                 end=_tar_end(path, label))


def _platform_name(p: Any) -> str:
    return "/".join(x for x in (p.os, p.architecture, p.variant) if x)


# --------------------------------------------------------------------------- filesystem

def _mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path` (from /proc/self/mountinfo)."""
    base = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) < 5:
                    continue
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                if point == base or point.startswith(base.rstrip("/") + "/"):
                    found.append(point)
    except OSError:
        pass
    return found


def _remove_tree(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    mounts = _mounts_below(path)
    if mounts:
        raise ToolError(f"{path}: not removed: {mounts[0]} is still mounted")
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _trim(root: Path) -> list[str]:
    """Drop everything a rootfs must not carry; return what was removed (sorted)."""
    removed = []
    for name in sorted(os.listdir(root)):
        if name not in KEEP:
            _remove_tree(root / name)
            removed.append(name)
    driver_dir = root / STORAGE_DRIVER
    if driver_dir.is_dir():
        for name in sorted(os.listdir(driver_dir)):
            if name != "dir":
                _remove_tree(driver_dir / name)
                removed.append(f"{STORAGE_DRIVER}/{name}")
    layerdb = root / "image" / STORAGE_DRIVER / "layerdb"
    scratch = layerdb / "tmp"
    if scratch.exists():
        _remove_tree(scratch)
        removed.append(f"image/{STORAGE_DRIVER}/layerdb/tmp")
    mounts = layerdb / "mounts"
    if mounts.is_dir() and not any(mounts.iterdir()):
        mounts.rmdir()
        removed.append(f"image/{STORAGE_DRIVER}/layerdb/mounts")
    elif mounts.exists():
        raise ToolError(f"{mounts}: the store holds containers; nothing was expected to "
                        "create one")
    return removed


def _normalise_cache_ids(root: Path) -> None:
    """Rename each layer directory from dockerd's random cache id to its chain id."""
    layers = root / "image" / STORAGE_DRIVER / "layerdb" / "sha256"
    dirs = root / STORAGE_DRIVER / "dir"
    wanted: set[str] = set()
    for layer in sorted(layers.iterdir()) if layers.is_dir() else ():
        cache_file = layer / "cache-id"
        old = cache_file.read_text(encoding="ascii").strip()
        new = layer.name
        wanted.add(new)
        if old == new:
            continue
        if not re.fullmatch(r"[0-9a-f]{64}", new) or not (dirs / old).is_dir():
            raise ToolError(f"{layer}: unexpected layer record (cache id {old!r}); "
                            "is this dockerd's layout?")
        if (dirs / new).exists():
            raise ToolError(f"{dirs / new}: exists already; cannot rename cache id {old}")
        os.rename(dirs / old, dirs / new)
        mode = cache_file.stat().st_mode & 0o7777
        cache_file.write_text(new, encoding="ascii")  # dockerd writes it without a newline
        os.chmod(cache_file, mode)
    for entry in sorted(os.listdir(dirs)) if dirs.is_dir() else ():
        if entry not in wanted:
            log.warning("%s: layer directory no image refers to; removed", dirs / entry)
            _remove_tree(dirs / entry)


def _normalise_last_updated(root: Path, epoch: int) -> None:
    stamp = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    metadata = root / "image" / STORAGE_DRIVER / "imagedb" / "metadata" / "sha256"
    for path in sorted(metadata.glob("*/lastUpdated")):
        mode = path.stat().st_mode & 0o7777
        path.write_text(stamp, encoding="ascii")
        os.chmod(path, mode)


def clamp_mtimes(root: Path, epoch: int) -> None:
    """Every mtime (and atime) newer than `epoch` becomes `epoch`, links not followed."""
    ns = epoch * 1_000_000_000

    def clamp(path: str) -> None:
        st = os.lstat(path)
        if st.st_mtime_ns > ns:
            os.utime(path, ns=(ns, ns), follow_symlinks=False)

    for top, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(top, d))]:
            clamp(os.path.join(top, name))
        clamp(top)


def _install(work: Path, target: Path) -> None:
    """Put the finished store in place with renames (same file system)."""
    old: Path | None = None
    if target.exists() and any(target.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                    dir=target.parent))
        os.rename(target, old / "store")
    try:
        os.rename(work, target)  # replaces an empty directory
    except OSError as exc:
        if old is not None:
            os.rename(old / "store", target)
            old.rmdir()
        raise InputError(f"{target}: cannot put the store in place ({exc.strerror})") from None
    if old is not None:
        _remove_tree(old)


# --------------------------------------------------------------------------- dockerd

def _probe(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout + proc.stderr


def _dockerd_env(dockerd: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_ENV_DROP_PREFIXES) and k not in _ENV_DROP}
    # containerd, runc and docker-init are found through PATH; a build task's PATH
    # (OE's HOSTTOOLS) may not have them
    path = [os.path.dirname(dockerd), *env.get("PATH", "").split(os.pathsep), *_SYSTEM_PATH]
    env["PATH"] = os.pathsep.join(dict.fromkeys(p for p in path if p))
    return env


def _short_run_dir() -> Path:
    for base in (tempfile.gettempdir(), "/tmp"):
        if len(base) + len("/ca-store-XXXXXXXX") <= SOCKET_DIR_MAX and os.path.isdir(base):
            return Path(tempfile.mkdtemp(prefix="ca-store-", dir=base))
    raise ToolError(f"no short temporary directory for dockerd's sockets (TMPDIR="
                    f"{tempfile.gettempdir()} is too long and /tmp is missing)")


class PrivateDockerd:
    """A dockerd of our own on `data_root`; `client` is a docker SDK client on its socket.

    Use as a context manager: it is stopped (SIGTERM, bounded wait, SIGKILL of its process
    group) and its run dir removed on exit, whatever happened.
    """

    def __init__(self, data_root: Path, *, dockerd: str, timeout: float = DEFAULT_TIMEOUT,
                 storage_driver: str = STORAGE_DRIVER) -> None:
        self.data_root = Path(data_root)
        self.dockerd = dockerd
        self.timeout = timeout
        self.storage_driver = storage_driver
        self.run_dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: Any = None
        self.version = ""

    @property
    def socket(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "docker.sock"

    @property
    def log_file(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "dockerd.log"

    def log_tail(self) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, AssertionError):
            return "(no log)"
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        tail = " | ".join(lines[-_LOG_TAIL_LINES:]) or "(empty log)"
        return tail if len(tail) <= _LOG_TAIL_CHARS else "…" + tail[-_LOG_TAIL_CHARS:]

    def argv(self) -> list[str]:
        assert self.run_dir is not None
        version = re.search(r"version (\d+)\.", _probe([self.dockerd, "--version"]))
        config: dict[str, str] = {}
        if version is None or int(version.group(1)) < 23:
            # dockerd < 23 writes its trust key to /etc/docker/key.json otherwise
            config["deprecated-key-path"] = str(self.run_dir / "key.json")
        (self.run_dir / "daemon.json").write_text(json.dumps(config) + "\n")
        argv = [self.dockerd, "--config-file", str(self.run_dir / "daemon.json"),
                "--data-root", str(self.data_root),
                "--exec-root", str(self.run_dir / "exec"),
                "--pidfile", str(self.run_dir / "docker.pid"),
                "--host", f"unix://{self.socket}",
                "--storage-driver", self.storage_driver,
                "--iptables=false", "--bridge=none"]
        if "--ip6tables" in _probe([self.dockerd, "--help"]):
            argv.append("--ip6tables=false")
        return argv

    def __enter__(self) -> PrivateDockerd:  # noqa: PYI034 (typing.Self needs 3.11)
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _start(self) -> None:
        import docker
        from docker.errors import DockerException
        from requests.exceptions import RequestException

        self.run_dir = _short_run_dir()
        argv = self.argv()
        log.debug("starting %s", " ".join(argv))
        with self.log_file.open("wb") as log_fh:
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fh,
                                             stderr=subprocess.STDOUT,
                                             env=_dockerd_env(self.dockerd),
                                             start_new_session=True)
            except OSError as exc:
                raise ToolError(f"{self.dockerd}: cannot be started ({exc.strerror})") from None
        deadline = time.monotonic() + self.timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ToolError(f"{self.dockerd} exited with code {rc} before it answered; "
                                f"its log ends: {self.log_tail()}")
            if self.socket.exists():
                try:
                    client = docker.DockerClient(base_url=f"unix://{self.socket}",
                                                 timeout=600)
                except (DockerException, RequestException):
                    client = None
                if client is not None:
                    try:
                        if client.ping():
                            self.client = client
                            self.version = str(client.version().get("Version", ""))
                            return
                    except (DockerException, RequestException):
                        pass
                    client.close()
            if time.monotonic() > deadline:
                raise ToolError(f"{self.dockerd} did not answer on {self.socket} within "
                                f"{self.timeout:.0f} s; its log ends: {self.log_tail()}")
            time.sleep(0.2)

    def _stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", self.dockerd,
                            proc.pid, self.timeout)
                # not yet reaped, so the group id is still ours: containerd and shims too
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.run_dir is not None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("dockerd log: %s", self.log_tail())
            run_dir, self.run_dir = self.run_dir, None
            _remove_tree(run_dir)


@contextlib.contextmanager
def _signals_as_errors() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like errors, so dockerd is stopped and temp dirs removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise ToolError(f"store build interrupted by {signal.Signals(signum).name}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------- loading

def _oci_stream(plan: _Plan) -> Iterator[bytes]:
    """The OCI archive, with a docker `manifest.json` naming its blobs appended."""
    entries = [{"Config": oci.blob_path(img.config_digest), "RepoTags": list(img.tags),
                "Layers": [layer.description for layer in img.layers]}
               for img in plan.images]
    data = json.dumps(entries, sort_keys=True).encode()
    with open(plan.path, "rb") as fh:
        left = plan.end
        while left:
            chunk = fh.read(min(1 << 20, left))
            if not chunk:
                raise InputError(f"{plan.label}: changed while it was read")
            left -= len(chunk)
            yield chunk
    info = tarfile.TarInfo("manifest.json")
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    yield data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _load(client: Any, plan: _Plan) -> list[str]:
    """Feed one archive to dockerd; the image ids it loaded."""
    from docker.errors import APIError, DockerException, ImageNotFound
    from requests.exceptions import RequestException

    refs: list[str] = []
    errors: list[str] = []
    try:
        with open(plan.path, "rb") as fh:
            data: Any = fh if plan.kind == "docker-archive" else _oci_stream(plan)
            for chunk in client.api.load_image(data):
                if not isinstance(chunk, dict):
                    continue
                detail = chunk.get("errorDetail") or {}
                message = detail.get("message") or chunk.get("error") or chunk.get("message")
                if message:
                    errors.append(str(message).strip())
                for line in str(chunk.get("stream") or "").splitlines():
                    m = re.match(r"Loaded image(?: ID)?: (\S+)", line.strip())
                    if m:
                        refs.append(m.group(1))
    except APIError as exc:
        errors.append(str(exc.explanation or exc).strip())
    except (DockerException, RequestException) as exc:
        raise ToolError(f"{plan.label}: the connection to dockerd failed during the load "
                        f"({exc})") from None
    if errors:
        raise InputError(f"{plan.label}: docker refused it: {' '.join(errors[0].split())}")
    if not refs:
        raise InputError(f"{plan.label}: docker loaded no image from it")
    ids = []
    for ref in refs:
        try:
            ids.append(str(client.images.get(ref).id))
        except ImageNotFound:
            raise ToolError(f"{plan.label}: docker reported loading {ref} but does not "
                            "have it") from None
    return ids


def _retag(client: Any, tags: Sequence[tuple[str, str]]) -> None:
    from docker.errors import APIError, ImageNotFound

    for src, dest in tags:
        try:
            image = client.images.get(src)
        except ImageNotFound:
            raise InputError(f"--tag {src}={dest}: no loaded image is {src}") from None
        repo, tag = _split_ref(dest)
        try:
            image.tag(repo, tag)
        except APIError as exc:
            raise InputError(f"--tag {src}={dest}: docker refused the name "
                             f"({exc.explanation or exc})") from None


def _describe(client: Any, loaded: dict[str, list[str]]) -> tuple[LoadedImage, ...]:
    out = []
    for image_id, archives in loaded.items():
        image = client.images.get(image_id)
        tags = tuple(sorted(t for t in image.tags if t != "<none>:<none>"))
        out.append(LoadedImage(image_id=image_id, tags=tags,
                               archives=tuple(dict.fromkeys(archives))))
    return tuple(sorted(out, key=lambda i: (i.tags, i.image_id)))


# --------------------------------------------------------------------------- the build

def build_store(data_root: Path, archives: Sequence[Path],
                options: BuildOptions = BuildOptions()) -> StoreBuild:
    """Load `archives` into a new vfs Docker data root at `data_root` (see module doc)."""
    require_root()
    target = _check_target(Path(data_root), options.force)
    if not archives:
        raise InputError("store build: no image archive given")
    ctx = _platform_context(options.platform)
    plans = [_plan(Path(a), ctx, options.platform) for a in archives]
    dockerd = find_dockerd(options.dockerd)
    sde = options.source_date_epoch

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial",
                                 dir=target.parent))
    done = False
    try:
        with _signals_as_errors():
            loaded: dict[str, list[str]] = {}
            with PrivateDockerd(work, dockerd=dockerd, timeout=options.timeout) as daemon:
                for plan in plans:
                    for image_id in _load(daemon.client, plan):
                        loaded.setdefault(image_id, []).append(plan.label)
                _retag(daemon.client, options.tags)
                images = _describe(daemon.client, loaded)
                version = daemon.version
            removed = _trim(work)
            _normalise_cache_ids(work)
            if sde is not None:
                _normalise_last_updated(work, sde)
                clamp_mtimes(work, sde)
            _install(work, target)
            if sde is not None:
                _clamp_top(target, sde)
            done = True
    except OSError as exc:
        raise ToolError(f"{data_root}: store build failed: {exc}") from None
    finally:
        if not done:
            try:
                _remove_tree(work)
            except (OSError, AuditorError) as exc:
                log.warning("%s: not removed (%s)", work, exc)
    return StoreBuild(data_root=str(target), storage_driver=STORAGE_DRIVER,
                      dockerd_version=version, source_date_epoch=sde, images=images,
                      removed=tuple(removed))


def _clamp_top(path: Path, epoch: int) -> None:
    """The renamed top directory: a rename may touch its times on some file systems."""
    if os.lstat(path).st_mtime > epoch:
        os.utime(path, (epoch, epoch), follow_symlinks=False)


# --------------------------------------------------------------------------- output

def render_lines(result: StoreBuild) -> list[str]:
    """One line per image: its references (comma-separated, `<none>` if untagged), its id."""
    return [f"{','.join(i.tags) or '<none>'} {i.image_id}" for i in result.images]


def render_json(result: StoreBuild) -> str:
    doc = {
        "store_build_version": STORE_BUILD_VERSION,
        "data_root": result.data_root,
        "storage_driver": result.storage_driver,
        "dockerd_version": result.dockerd_version,
        "source_date_epoch": result.source_date_epoch,
        "images": [{"id": i.image_id, "tags": list(i.tags), "archives": sorted(i.archives)}
                   for i in result.images],
        "removed": sorted(result.removed),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
