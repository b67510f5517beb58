# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: facts about the host root filesystem that carries the images.

- its architecture (from ELF headers, to pick the right platform of an image index);
- what the integrator declared: `images.manifest` (`name version tag` per line, as the
  container-images recipes write it) and `docker-compose.yml` services, matched against
  the images actually found.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..errors import InputError
from ..model import Declaration
from ..rootpath import ImageRoot
from .base import normalize_reference

MANIFEST_NAMES = frozenset({"images.manifest"})
COMPOSE_NAMES = frozenset({"docker-compose.yml", "docker-compose.yaml", "compose.yml",
                           "compose.yaml"})

# ELF e_machine -> OCI architecture name
_ELF_ARCH = {0x3E: "amd64", 0xB7: "arm64", 0x28: "arm", 0x03: "386", 0xF3: "riscv64",
             0x15: "ppc64le", 0x16: "s390x", 0x08: "mips", 0x102: "loong64"}
_PROBES = ("/bin/sh", "/sbin/init", "/bin/busybox", "/usr/bin/env", "/lib/ld-linux.so.2",
           "/usr/lib/os-release")


def elf_architecture(data: bytes) -> str:
    if len(data) < 20 or data[:4] != b"\x7fELF":
        return ""
    little = data[5] == 1
    machine = int.from_bytes(data[18:20], "little" if little else "big")
    arch = _ELF_ARCH.get(machine, "")
    if arch == "ppc64le" and not little:
        return "ppc64"
    if arch == "mips" and little:
        return "mipsle"
    return arch


def detect_architecture(root: Path) -> str:
    """OCI architecture of a rootfs from the ELF header of a well-known binary."""
    img = ImageRoot(root)
    for probe in _PROBES:
        arch = elf_architecture(img.read_bytes(probe, limit=64) or b"")
        if arch:
            return arch
    for d in ("/bin", "/usr/bin", "/sbin"):
        host = img.resolve(d)
        try:
            names = sorted(os.listdir(host))[:50]
        except OSError:
            continue
        for name in names:
            arch = elf_architecture(img.read_bytes(f"{d}/{name}", limit=64) or b"")
            if arch:
                return arch
    return ""


def parse_images_manifest(data: bytes, label: str) -> list[Declaration]:
    out = []
    for lineno, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) not in (2, 3):
            raise InputError(f"{label}:{lineno}: expected 'name version tag', got {raw.strip()!r}")
        name, version = fields[0], fields[1]
        tag = fields[2] if len(fields) == 3 else name
        out.append(Declaration(file=label, kind="images.manifest", reference=" ".join(fields),
                               name=name, version=version, tag=tag))
    return out


def parse_compose(data: bytes, label: str) -> list[Declaration]:
    try:
        doc: Any = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InputError(f"{label}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if doc is None:
        return []
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict):
        raise InputError(f"{label}: no 'services' mapping")
    out = []
    for svc, spec in sorted(services.items(), key=lambda kv: str(kv[0])):
        image = spec.get("image") if isinstance(spec, dict) else None
        if not isinstance(image, str) or not image:
            continue  # build-only services embed nothing
        out.append(Declaration(file=label, kind="docker-compose", reference=image,
                               service=str(svc)))
    return out


def _repo(ref: str) -> str:
    n = normalize_reference(ref).split("@", 1)[0]
    last = n.rsplit("/", 1)[-1]
    return n.rsplit(":", 1)[0] if ":" in last else n


def _wanted(decl: Declaration) -> tuple[set[str], set[str], set[str]]:
    """(exact normalised references, repositories matched whatever the tag, file names)."""
    if decl.kind == "docker-compose":
        ref = normalize_reference(decl.reference)
        repos = {_repo(ref)} if ref.endswith(":latest") else set()
        return {ref}, repos, set()
    refs = set()
    for n in {decl.name, decl.tag}:
        for prefix in ("localhost/", ""):
            refs.add(normalize_reference(f"{prefix}{n}:{decl.version}"))
    files = {f"{decl.tag}-{decl.version}.tar", f"{decl.name}-{decl.version}.tar"}
    return refs, set(), files


def match_declarations(decls: Iterable[Declaration], found: Iterable[Any]
                       ) -> tuple[list[Declaration], list[str]]:
    """Mark each declaration found or not; return them plus the undeclared image sources.

    `found` items are discover.Found: an image plus the other places it was found.
    """
    from dataclasses import replace

    found = list(found)
    decls = list(decls)
    used: set[int] = set()
    out = []
    for decl in decls:
        refs, repos, files = _wanted(decl)
        hits = []
        for i, f in enumerate(found):
            tags = {normalize_reference(t) for t in f.image.tags}
            names = {s.rsplit("/", 1)[-1] for s in (f.image.source, *f.also_found_at)}
            if tags & refs or {_repo(t) for t in tags} & repos or names & files:
                hits.append(i)
        used.update(hits)
        out.append(replace(decl, found=bool(hits),
                           matches=tuple(sorted({found[i].image.config_digest for i in hits}))))
    undeclared = sorted(f.image.source for i, f in enumerate(found) if i not in used) if decls else []
    return out, undeclared
