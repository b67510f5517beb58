# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: the contract every image source (archive, OCI, store, daemon) fulfils.

A source kind is one row of `REGISTRY` (see sources/__init__.py): a name, a cheap
`detect(path)` that looks at content (never at the file name alone), and
`open(path, ctx)` returning the `ImageSource`s it holds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import DigestMismatchError, InputError
from ..model import ImageSource, Platform


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenContext:
    """What a source needs to know besides the path it was given."""

    root: Path | None  # the rootfs root on the host, None when TARGET is the source itself
    architecture: str = ""  # preferred platform architecture (OCI names: amd64, arm64, ...)
    variant: str = ""
    scratch: Path | None = None  # where compressed archives are decompressed; None: not at all
    alias: tuple[str, str] = ("", "")  # (decompressed copy, the compressed file it stands for)

    def display(self, path: Path) -> str:
        """The path as the user knows it: inside the rootfs (`/usr/share/...`), else as given."""
        if self.alias[0] and str(path) == self.alias[0]:
            return self.alias[1]
        if self.root is not None:
            try:
                return "/" + path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(path)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceKind:
    name: str
    detect: Callable[[Path], bool]
    open: Callable[[Path, OpenContext], list[ImageSource]]
    is_directory: bool  # detect() is asked about directories (True) or files (False)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify_bytes(data: bytes, digest: str, what: str) -> None:
    """Check `data` against an OCI digest string; only sha256/sha512 are known."""
    algo, _, hexpart = digest.partition(":")
    if algo not in ("sha256", "sha512") or not hexpart:
        raise InputError(f"{what}: unsupported digest {digest!r}")
    actual = hashlib.new(algo, data).hexdigest()
    if actual != hexpart:
        raise DigestMismatchError(
            f"{what}: content hashes to {algo}:{actual[:16]}… but {digest[:23]}… was expected"
        )


def parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what}: not valid JSON ({exc})") from None


def config_platform(config: dict[str, Any]) -> Platform:
    return Platform(
        os=str(config.get("os") or "linux"),
        architecture=str(config.get("architecture") or ""),
        variant=str(config.get("variant") or ""),
    )


def config_diff_ids(config: Any, what: str) -> list[str]:
    try:
        diff_ids = config["rootfs"]["diff_ids"]
        if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
            raise TypeError
    except (KeyError, TypeError):
        raise InputError(f"{what}: image config has no rootfs.diff_ids list") from None
    return diff_ids


def normalize_reference(ref: str) -> str:
    """Docker's reference normalisation: `redis` → `docker.io/library/redis:latest`."""
    ref = ref.strip()
    name, digest = (ref.split("@", 1) + [""])[:2]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    else:
        tag = "" if digest else "latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    out = name + (":" + tag if tag else "")
    return out + ("@" + digest if digest else "")
