# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: syft-json → our `Package` values, with the fixes syft needs.

- each package is attributed to the layer that brought it (from our own unpack
  provenance, not syft's, which only sees the squashed tree);
- opkg packages (Yocto/OpenWrt images) come out of syft's dpkg cataloger twice (from
  `status` and `info/*.control`), typed `deb`, with no purl and no license: they are
  merged into one `opkg` package with a purl and the raw `License:` of its control data;
- binary-classifier hits reached only through another binary's applet link (busybox's
  `/bin/gzip` → `/bin/busybox`) are dropped: the file belongs to the package it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from debian.deb822 import Deb822

from ..model import NOASSERTION, License, Location, Package
from ..rootpath import ImageFiles

OPKG_DIRS = ("/var/lib/opkg/", "/usr/lib/opkg/", "/lib/opkg/")
MULTI_CALL = frozenset({"busybox", "toybox"})
SHARED_DB_NAMES = ("status", "installed", "Packages", "rpmdb.sqlite", "Packages.db")


def _is_opkg(paths: Iterable[str]) -> bool:
    return any(any(d in p for d in OPKG_DIRS) for p in paths)


def _locations(art: dict[str, Any], layer_of: Callable[[str], str | None]) -> list[Location]:
    out = []
    for loc in art.get("locations") or ():
        path = loc.get("path") or loc.get("accessPath")
        if isinstance(path, str) and path:
            out.append(Location(path=path, layer=layer_of(path)))
    return out


def _licenses(art: dict[str, Any], layer_of: Callable[[str], str | None]) -> list[License]:
    out = []
    for lic in art.get("licenses") or ():
        value = lic.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        evidence = tuple(Location(path=p, layer=layer_of(p)) for p in
                         sorted({l.get("path") for l in lic.get("locations") or ()
                                 if isinstance(l.get("path"), str)}))
        out.append(License(value=value, spdx_expression=lic.get("spdxExpression") or NOASSERTION,
                           kind=str(lic.get("type") or "declared"), method="syft",
                           evidence=evidence))
    return out


def _distro(doc: dict[str, Any]) -> tuple[str, str]:
    d = doc.get("distro") or {}
    return str(d.get("id") or ""), str(d.get("versionID") or "")


def _package_layer(locs: list[Location], shared: set[str], rank: dict[str, int]) -> str | None:
    """The layer that brought a package: the lowest layer among its own evidence files
    (lists, md5sums, copyright, binaries); shared databases only as a last resort."""
    own = [l.layer for l in locs if l.path not in shared and l.layer]
    pool = own or [l.layer for l in locs if l.layer]
    return min(pool, key=lambda d: rank.get(d, 1 << 30)) if pool else None


def build_packages(doc: dict[str, Any], *, img: ImageFiles, layer_of: Callable[[str], str | None],
                   layer_order: list[str]) -> list[Package]:
    rank = {d: i for i, d in enumerate(layer_order)}
    arts = [a for a in doc.get("artifacts") or () if isinstance(a, dict)]
    counts: dict[str, int] = defaultdict(int)
    for a in arts:
        for p in {l.get("path") for l in a.get("locations") or ()}:
            if isinstance(p, str):
                counts[p] += 1
    shared = {p for p, n in counts.items() if n > 1 or p.rsplit("/", 1)[-1] in SHARED_DB_NAMES}
    distro_id, distro_ver = _distro(doc)

    merged: dict[tuple[str, str, str, str], Package] = {}
    for a in arts:
        locs = _locations(a, layer_of)
        meta = a.get("metadata") or {}
        ptype = str(a.get("type") or "")
        name, version = str(a.get("name") or ""), str(a.get("version") or "")
        arch = str(meta.get("architecture") or meta.get("arch") or "")
        purl = str(a.get("purl") or "")
        licenses = _licenses(a, layer_of)
        if ptype == "deb" and _is_opkg(l.path for l in locs):
            ptype = "opkg"
            purl = purl or _opkg_purl(name, version, arch, distro_id, distro_ver)
        pkg = Package(
            name=name, version=version, type=ptype, purl=purl, layer=None,
            architecture=arch,
            source_name=str(meta.get("source") or meta.get("originPackage") or
                            meta.get("sourceRpm") or ""),
            source_version=str(meta.get("sourceVersion") or ""),
            found_by=str(a.get("foundBy") or ""),
            cpes=tuple(sorted({c.get("cpe", "") if isinstance(c, dict) else str(c)
                               for c in a.get("cpes") or ()} - {""})),
            licenses=tuple(licenses), locations=tuple(locs),
        )
        key = (ptype, name, version, arch)
        if key in merged:  # opkg: the same package from status and from info/*.control
            prev = merged[key]
            pkg = Package(**{**_fields(prev), "locations": _uniq(prev.locations + pkg.locations),
                             "licenses": _uniq(prev.licenses + pkg.licenses),
                             "cpes": tuple(sorted(set(prev.cpes) | set(pkg.cpes))),
                             "purl": prev.purl or pkg.purl})
        merged[key] = pkg

    control = _ControlLicenses(img, layer_of)
    out = []
    for pkg in merged.values():
        if pkg.type == "opkg" and not pkg.licenses:
            pkg = Package(**{**_fields(pkg), "licenses": control.of(pkg)})
        layer = _package_layer(list(pkg.locations), shared, rank)
        out.append(Package(**{**_fields(pkg), "layer": layer,
                              "locations": tuple(sorted(pkg.locations, key=lambda l: l.path))}))
    out = _drop_applet_aliases(_drop_not_installed(out, img), img)
    return sorted(out, key=lambda p: (p.type, p.name, p.version, p.purl))


def _fields(p: Package) -> dict[str, Any]:
    return {f: getattr(p, f) for f in Package.__dataclass_fields__}


def _uniq(items: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def _opkg_purl(name: str, version: str, arch: str, distro: str, distro_ver: str) -> str:
    ns = quote(distro or "opkg", safe="")
    qs = []
    if arch:
        qs.append("arch=" + quote(arch, safe=""))
    if distro:
        qs.append("distro=" + quote(f"{distro}-{distro_ver}" if distro_ver else distro, safe=""))
    return (f"pkg:opkg/{ns}/{quote(name, safe='')}@{quote(version, safe='')}"
            + ("?" + "&".join(qs) if qs else ""))


class _ControlLicenses:
    """`License:` fields of opkg control data in one image, each file parsed once."""

    def __init__(self, img: ImageFiles, layer_of: Callable[[str], str | None]) -> None:
        self._img = img
        self._layer_of = layer_of
        self._files: dict[str, dict[str, str]] = {}

    def _table(self, path: str) -> dict[str, str]:
        if path not in self._files:
            table: dict[str, str] = {}
            data = self._img.read_bytes(path, limit=256 << 20) or b""
            for para in Deb822.iter_paragraphs(data.decode("utf-8", "replace")):
                if para.get("Package") and para.get("License"):
                    table[para["Package"]] = para["License"].strip()
            self._files[path] = table
        return self._files[path]

    def of(self, pkg: Package) -> tuple[License, ...]:
        # the package's own control file first, then shared status files
        for loc in sorted(pkg.locations, key=lambda l: (not l.path.endswith(".control"), l.path)):
            value = self._table(loc.path).get(pkg.name)
            if value:
                return (License(value=value, spdx_expression=NOASSERTION, kind="declared",
                                method="opkg-control",
                                evidence=(Location(path=loc.path, layer=self._layer_of(loc.path)),)),)
        return ()


_GONE = frozenset({"not-installed", "config-files"})


def _drop_not_installed(pkgs: list[Package], img: ImageFiles) -> list[Package]:
    """syft lists dpkg/opkg status entries whatever their state; an entry whose status is
    `not-installed` or `config-files` has no files in the image and is not shipped."""
    states: dict[str, dict[tuple[str, str], str]] = {}

    def state(db: str, name: str, version: str) -> str:
        if db not in states:
            table: dict[tuple[str, str], str] = {}
            data = img.read_bytes(db, limit=256 << 20) or b""
            for para in Deb822.iter_paragraphs(data.decode("utf-8", "replace")):
                status = para.get("Status", "").split()
                if para.get("Package") and status:
                    table[(para["Package"], para.get("Version", ""))] = status[-1]
            states[db] = table
        return states[db].get((name, version), "installed")

    out = []
    for p in pkgs:
        dbs = [l.path for l in p.locations if p.type in ("deb", "opkg")
               and l.path.rsplit("/", 1)[-1] == "status"]
        if dbs and all(state(db, p.name, p.version) in _GONE for db in dbs):
            continue
        out.append(p)
    return out


def _drop_applet_aliases(pkgs: list[Package], img: ImageFiles) -> list[Package]:
    """Drop binary-classifier packages whose only evidence is another package's binary,
    reached through a symlink or hard link under a different name (busybox applets)."""
    def inode(path: str) -> object | None:
        return img.identity(path)

    binaries = [p for p in pkgs if p.found_by == "binary-classifier-cataloger"]
    if len(binaries) < 2:
        return pkgs
    owner: dict[object, list[Package]] = defaultdict(list)
    for p in binaries:
        for loc in p.locations:
            ino = inode(loc.path)
            if ino:
                owner[ino].append(p)
    drop: set[int] = set()
    for group in owner.values():
        if len({p.name for p in group}) < 2:
            continue
        # the package named like one of the file's own (non-symlink) names is the real one;
        # among hard links, the multi-call binary is
        real = [p for p in group if any(
            l.path.rsplit("/", 1)[-1] == p.name
            and not img.is_symlink(l.path) for l in p.locations)]
        if len(real) > 1:
            real = [p for p in real if p.name in MULTI_CALL] or real
        if len(real) == 1:
            drop.update(id(p) for p in group if p is not real[0])
    return [p for p in pkgs if id(p) not in drop]
