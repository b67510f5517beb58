# SPDX-License-Identifier: Apache-2.0
"""Report stage: what changed between two inventories (pure: values in, values out).

Images are paired, one to one, in passes that each only pair what is unambiguous:
the same config digest (same image, maybe moved), then the same place in the product
(`source`: the archive or store path), then the same repository of the first tag
(`localhost/app:1.0` → `localhost/app:1.1`), then, when each inventory is of one image
archive (its only unpaired image's `source` is the scan target), those two. What is left is
added or removed.

Within a pair, packages are keyed by (type, name, architecture): a key on one side only is
added or removed; a key on both with another version is upgraded, downgraded (dpkg and
opkg versions are compared with dpkg's rules) or just changed. A license change is any
change of the declared or the concluded license of a package kept by name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import Image, Inventory, Package, Sentinel

DIFF_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRef:
    name: str
    config_digest: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageRef:
    name: str
    version: str
    type: str
    purl: str
    license: str  # concluded, else declared


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionChange:
    name: str
    type: str
    old_version: str
    new_version: str
    direction: str  # upgraded | downgraded | changed
    old_purl: str
    new_purl: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseChange:
    name: str
    type: str
    old_version: str
    new_version: str
    old_declared: str
    new_declared: str
    old_concluded: str
    new_concluded: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageDiff:
    status: str  # added | removed | changed (config digest) | same
    matched_by: str  # config-digest | source | repository | target | "" (added/removed)
    old: ImageRef | None
    new: ImageRef | None
    added: tuple[PackageRef, ...] = ()
    removed: tuple[PackageRef, ...] = ()
    versions: tuple[VersionChange, ...] = ()
    licenses: tuple[LicenseChange, ...] = ()

    @property
    def name(self) -> str:
        ref = self.new or self.old
        assert ref is not None
        return ref.name

    @property
    def empty(self) -> bool:
        return (self.status == "same" and not self.added and not self.removed
                and not self.versions and not self.licenses)


@dataclass(frozen=True, slots=True, kw_only=True)
class InventoryDiff:
    old_target: str
    new_target: str
    old_created: str
    new_created: str
    images: tuple[ImageDiff, ...]  # unchanged images included (status "same", empty)

    def count(self, status: str) -> int:
        return sum(1 for i in self.images if i.status == status)

    @property
    def changed_images(self) -> tuple[ImageDiff, ...]:
        return tuple(i for i in self.images if not i.empty)

    @property
    def empty(self) -> bool:
        return not self.changed_images

    def totals(self) -> dict[str, int]:
        return {
            "images_added": self.count("added"), "images_removed": self.count("removed"),
            "images_changed": self.count("changed"),
            "images_same": sum(1 for i in self.images if i.empty),
            "packages_added": sum(len(i.added) for i in self.images),
            "packages_removed": sum(len(i.removed) for i in self.images),
            "packages_upgraded": sum(1 for i in self.images for v in i.versions
                                     if v.direction == "upgraded"),
            "packages_downgraded": sum(1 for i in self.images for v in i.versions
                                       if v.direction == "downgraded"),
            "packages_version_changed": sum(1 for i in self.images for v in i.versions
                                            if v.direction == "changed"),
            "license_changes": sum(len(i.licenses) for i in self.images),
        }


def _s(v: str | Sentinel) -> str:
    return v.value if isinstance(v, Sentinel) else v


def _license(p: Package) -> str:
    c = _s(p.concluded_license)
    return c if c != "NOASSERTION" else _s(p.declared_license)


def _ref(i: Image) -> ImageRef:
    return ImageRef(name=i.name, config_digest=i.config_digest, source=i.source)


def _pref(p: Package) -> PackageRef:
    return PackageRef(name=p.name, version=p.version, type=p.type, purl=p.purl,
                      license=_license(p))


def _repository(i: Image) -> str:
    if not i.tags:
        return ""
    ref = i.tags[0].split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def _direction(ptype: str, old: str, new: str) -> str:
    if ptype in ("deb", "opkg"):
        try:
            from debian.debian_support import Version  # python-debian: dpkg's ordering

            a, b = Version(old), Version(new)
            return "upgraded" if b > a else "downgraded" if b < a else "changed"
        except ValueError:
            return "changed"
    return "changed"


def _pref_order(r: PackageRef) -> tuple[str, str, str, str]:
    return (r.name, r.type, r.version, r.purl)


def _pkg_key(p: Package) -> tuple[str, str, str]:
    return (p.type, p.name, p.architecture)


def _packages(old: Image, new: Image) -> tuple[tuple[PackageRef, ...], tuple[PackageRef, ...],
                                               tuple[VersionChange, ...],
                                               tuple[LicenseChange, ...]]:
    olds: dict[tuple[str, str, str], list[Package]] = defaultdict(list)
    news: dict[tuple[str, str, str], list[Package]] = defaultdict(list)
    for p in old.packages:
        olds[_pkg_key(p)].append(p)
    for p in new.packages:
        news[_pkg_key(p)].append(p)
    added: list[PackageRef] = []
    removed: list[PackageRef] = []
    versions: list[VersionChange] = []
    licenses: list[LicenseChange] = []
    for key in sorted(set(olds) | set(news)):
        a = sorted(olds.get(key, []), key=lambda p: (p.version, p.purl))
        b = sorted(news.get(key, []), key=lambda p: (p.version, p.purl))
        if not a or not b:
            added += [_pref(p) for p in b]
            removed += [_pref(p) for p in a]
            continue
        if len(a) == 1 and len(b) == 1:
            pairs = [(a[0], b[0])]
        else:  # several of one name (e.g. vendored copies): pair equal versions only
            bv = {p.version: p for p in b}
            av = {p.version: p for p in a}
            pairs = [(p, bv[p.version]) for p in a if p.version in bv]
            removed += [_pref(p) for p in a if p.version not in bv]
            added += [_pref(p) for p in b if p.version not in av]
        for p, q in pairs:
            if p.version != q.version:
                versions.append(VersionChange(
                    name=q.name, type=q.type, old_version=p.version, new_version=q.version,
                    direction=_direction(q.type, p.version, q.version),
                    old_purl=p.purl, new_purl=q.purl))
            if (_s(p.declared_license) != _s(q.declared_license)
                    or _s(p.concluded_license) != _s(q.concluded_license)):
                licenses.append(LicenseChange(
                    name=q.name, type=q.type, old_version=p.version, new_version=q.version,
                    old_declared=_s(p.declared_license), new_declared=_s(q.declared_license),
                    old_concluded=_s(p.concluded_license),
                    new_concluded=_s(q.concluded_license)))
    return (tuple(sorted(added, key=_pref_order)), tuple(sorted(removed, key=_pref_order)),
            tuple(sorted(versions, key=lambda v: (v.name, v.type, v.old_version))),
            tuple(sorted(licenses, key=lambda v: (v.name, v.type, v.old_version))))


def _pair(old: list[Image], new: list[Image],
          key: Callable[[Image], str]) -> list[tuple[Image, Image]]:
    """Pairs whose key is non-empty and unique among the unpaired on both sides."""
    ka: dict[str, list[Image]] = defaultdict(list)
    kb: dict[str, list[Image]] = defaultdict(list)
    for i in old:
        if key(i):
            ka[key(i)].append(i)
    for i in new:
        if key(i):
            kb[key(i)].append(i)
    return [(ka[k][0], kb[k][0]) for k in sorted(set(ka) & set(kb))
            if len(ka[k]) == 1 and len(kb[k]) == 1]


def diff(old: Inventory, new: Inventory) -> InventoryDiff:
    """The differences from `old` to `new` (see the module docstring for the pairing)."""
    left = sorted(old.images, key=lambda i: (i.source, i.config_digest))
    right = sorted(new.images, key=lambda i: (i.source, i.config_digest))
    out: list[ImageDiff] = []
    passes: tuple[tuple[str, Callable[[Image], str]], ...] = (
        ("config-digest", lambda i: i.config_digest),
        ("source", lambda i: i.source),
        ("repository", _repository),
    )
    for how, key in passes:
        for a, b in _pair(left, right, key):
            left.remove(a)
            right.remove(b)
            added, removed, versions, licenses = _packages(a, b)
            out.append(ImageDiff(
                status="same" if a.config_digest == b.config_digest else "changed",
                matched_by=how, old=_ref(a), new=_ref(b), added=added, removed=removed,
                versions=versions, licenses=licenses))
    lone_a = [i for i in left if i.source == old.target]
    lone_b = [i for i in right if i.source == new.target]
    if len(lone_a) == 1 and len(lone_b) == 1:
        a, b = lone_a[0], lone_b[0]
        left.remove(a)
        right.remove(b)
        added, removed, versions, licenses = _packages(a, b)
        out.append(ImageDiff(
            status="same" if a.config_digest == b.config_digest else "changed",
            matched_by="target", old=_ref(a), new=_ref(b), added=added, removed=removed,
            versions=versions, licenses=licenses))
    out += [ImageDiff(status="removed", matched_by="", old=_ref(i), new=None,
                      removed=tuple(sorted((_pref(p) for p in i.packages), key=_pref_order)))
            for i in left]
    out += [ImageDiff(status="added", matched_by="", old=None, new=_ref(i),
                      added=tuple(sorted((_pref(p) for p in i.packages), key=_pref_order)))
            for i in right]
    rank = {"changed": 0, "added": 1, "removed": 2, "same": 3}
    out.sort(key=lambda d: (rank[d.status], d.name, (d.new or d.old).config_digest))  # type: ignore[union-attr]
    return InventoryDiff(old_target=old.target, new_target=new.target,
                         old_created=old.created, new_created=new.created, images=tuple(out))


def _image_ref(r: ImageRef | None) -> dict[str, str] | None:
    return None if r is None else {"name": r.name, "config_digest": r.config_digest,
                                   "source": r.source}


def _pkg(r: PackageRef) -> dict[str, str]:
    return {"name": r.name, "version": r.version, "type": r.type, "purl": r.purl,
            "license": r.license}


def to_dict(d: InventoryDiff) -> dict[str, Any]:
    """The diff as versioned, sorted JSON data (`diff -o json`, and inside `report -o json`)."""
    return {
        "schema_version": DIFF_SCHEMA_VERSION,
        "old": {"target": d.old_target, "created": d.old_created},
        "new": {"target": d.new_target, "created": d.new_created},
        "summary": d.totals(),
        "images": [{
            "status": i.status, "matched_by": i.matched_by,
            "old": _image_ref(i.old), "new": _image_ref(i.new),
            "packages_added": [_pkg(p) for p in i.added],
            "packages_removed": [_pkg(p) for p in i.removed],
            "versions": [{"name": v.name, "type": v.type, "old": v.old_version,
                          "new": v.new_version, "direction": v.direction,
                          "old_purl": v.old_purl, "new_purl": v.new_purl} for v in i.versions],
            "licenses": [{"name": c.name, "type": c.type, "old_version": c.old_version,
                          "new_version": c.new_version,
                          "declared": {"old": c.old_declared, "new": c.new_declared},
                          "concluded": {"old": c.old_concluded, "new": c.new_concluded}}
                         for c in i.licenses],
        } for i in d.images],
    }
