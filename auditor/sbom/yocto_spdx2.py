# SPDX-License-Identifier: Apache-2.0
"""SBOM stage: merge inventoried containers into the SPDX 2.2 output of OE's create-spdx.

Two shapes are handled, both pure bytes in / bytes out:

* scarthgap-style `${IMAGE_NAME}.spdx.tar.zst` (mickledore and later deploy only this; kirkstone
  deploys it beside the loose files): zstd over a tar of the image document, every document it
  references (transitively) and `index.json`;
* kirkstone-style loose `${IMAGE_NAME}.spdx.json` plus `${IMAGE_NAME}.spdx.index.json`.

Each container becomes one document `container-<name>` (written with spdx-tools, validated with
its validator) holding a package for the image itself that CONTAINS one package per inventoried
package. The image document gets an `externalDocumentRefs` entry per container document (SHA1 of
the exact bytes written) and a `CONTAINS` relationship from its root package
(`SPDXRef-Image-…`) to `DocumentRef-container-<name>:SPDXRef-Container-<name>`, the way
`combine_spdx` links package documents. The image document is edited as JSON and serialised
the way OE does (`sort_keys`, OE's indent): spdx-tools would rewrite OE's fields
(`supplier: "Organization: OpenEmbedded ()"`, `licenseInfoFromFiles`). Every other member of the
archive is kept byte for byte.

When the scan target was a disk image file, each container document's creator comment names
the file and the partition the rootfs was read from, and the container package's
`sourceInfo` where in that file the container is stored; for other targets neither is written.

Our documents are recognised on a later merge by their namespace, which lives under the image
document's namespace (`<image namespace>/container-audit/…`), so merging again replaces them.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
import re
import tarfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import zstandard
from license_expression import LicenseExpression  # type: ignore[import-untyped]
from spdx_tools.common.spdx_licensing import spdx_licensing  # type: ignore[import-untyped]
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
from spdx_tools.spdx.model.package import ExternalPackageRef, ExternalPackageRefCategory
from spdx_tools.spdx.model.package import Package as SpdxPackage
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.model.spdx_none import SpdxNone
from spdx_tools.spdx.model.version import Version
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.validation.external_package_ref_validator import (
    CPE22TYPE_REGEX,
    CPE23TYPE_REGEX,
    PURL_REGEX,
)
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from .. import __version__
from ..errors import SbomError
from ..licenses.normalize import LICENSE_LIST_VERSION, is_valid, normalize
from ..model import Image, Inventory, Package, Sentinel
from .origin import image_file_sentence, stored_at_sentence

log = logging.getLogger(__name__)

SPDX_VERSION = "SPDX-2.2"
TOOL = f"container-audit-{__version__}"
INDEX_NAME = "index.json"
DOC_PREFIX = "container-"
NAMESPACE_SEGMENT = "container-audit"  # our namespaces: <image namespace>/container-audit/<doc>
MAX_TAR_BYTES = 1 << 30  # decompressed archive limit (a real image archive is a few MB)
ROOT_PREFIXES = ("SPDXRef-Image-", "SPDXRef-SDK-")  # combine_spdx's root package ids

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 14  # zstd input fed per step: bounds the output of one step (bomb check)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9.-]+")



# ----------------------------------------------------------------------------- detection

def _is_zstd(data: bytes) -> bool:
    # pzstd (bb.compress.zstd with threads) starts with a skippable frame 0x184D2A5?
    return data[:4] == _ZSTD_MAGIC or (
        len(data) >= 4 and data[0] & 0xF0 == 0x50 and data[1:4] == b"\x2a\x4d\x18")


def is_spdx2_archive(data: bytes) -> bool:
    """True if `data` is zstd whose content starts with a tar header (OE's `.spdx.tar.zst`)."""
    if not _is_zstd(data):
        return False
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data),
                                                            read_across_frames=True)
        head = reader.read(512)
    except zstandard.ZstdError:
        return False
    return head[257:262] == b"ustar"


def is_spdx2_json(data: bytes) -> bool:
    """True if `data` is an SPDX 2.x JSON document (any 2.x version; merging checks for 2.2)."""
    if data.lstrip()[:1] != b"{":
        return False
    try:
        obj = json.loads(data)
    except ValueError:
        return False
    version = obj.get("spdxVersion") if isinstance(obj, dict) else None
    return isinstance(version, str) and version.startswith("SPDX-2") and "SPDXID" in obj


# ----------------------------------------------------------------------------- public API

def merge_spdx2_archive(data: bytes, inv: Inventory, *, label: str, created: str,
                        epoch: int | None) -> bytes:
    """The `.spdx.tar.zst` `data` with one document per image of `inv` added (or replaced)."""
    members = _read_tar(_decompress(data, label), label)
    names = {m.name: m for m in members}
    if INDEX_NAME not in names:
        raise SbomError(f"{label}: no {INDEX_NAME} in the archive (not an OE .spdx.tar.zst?)")
    index = _load_index(names[INDEX_NAME].data, f"{label}: {INDEX_NAME}")
    image_member = _find_image_member(members, label)
    where = f"{label}: {image_member.name}"
    image = _load_image(image_member.data, where)
    prefix = _our_prefix(image)

    ours = {e["filename"] for e in index["documents"]
            if e.get("documentNamespace", "").startswith(prefix)}
    ours |= {m.name for m in members if _is_our_member(m, prefix)}
    ours.discard(image_member.name)
    taken = {_stem(m.name) for m in members if m.name not in ours and m.name != INDEX_NAME}
    taken |= {_stem(e["filename"]) for e in index["documents"] if e["filename"] not in ours}

    new_image, docs = _merge_image(image, taken, inv, label=label, created=created)
    image_bytes = _dump_like(new_image, image_member.data)
    _check_image(image_member.data, image_bytes, where)

    created_mtime = calendar.timegm(_parse_created(created, label).timetuple())
    out: list[_Member] = []
    for m in members:
        if m.name in ours or m.name == INDEX_NAME:
            continue
        out.append(_Member(m.name, image_bytes, m.mode, m.mtime) if m is image_member else m)
    out.extend(_Member(d.filename, d.content, 0o644, created_mtime) for d in docs)

    content = {m.name: m.data for m in out}
    entries = [dict(e, sha1=_sha1(content[e["filename"]])) if e["filename"] in content else e
               for e in index["documents"] if e["filename"] not in ours]
    if image_member.name not in {e["filename"] for e in entries}:
        entries.append(_index_entry(image_member.name, new_image["documentNamespace"],
                                    image_bytes))
    entries.extend(_index_entry(d.filename, d.namespace, d.content) for d in docs)
    index_bytes = _dump_index(index, entries, names[INDEX_NAME].data)
    out.append(_Member(INDEX_NAME, index_bytes, names[INDEX_NAME].mode,
                       names[INDEX_NAME].mtime))
    return _compress(_write_tar(out, epoch))


def merge_spdx2_loose(image_doc: bytes, index: bytes | None, inv: Inventory, *, label: str,
                      created: str) -> dict[str, bytes]:
    """Kirkstone's loose files: {file name: bytes} for the image document
    (`<name>.spdx.json`), the container documents and, when `index` is given, the updated
    `<name>.spdx.index.json`. Container documents of an earlier merge are no longer referenced;
    their files are not in the result (the caller may delete stale `container-*.spdx.json`)."""
    image = _load_image(image_doc, label)
    prefix = _our_prefix(image)
    name = image["name"]
    image_file = f"{name}.spdx.json"
    idx = _load_index(index, f"{label}: index") if index is not None else None
    entries: list[dict[str, Any]] = []
    taken = {name}
    if idx is not None:
        entries = [e for e in idx["documents"]
                   if not e.get("documentNamespace", "").startswith(prefix)]
        taken |= {_stem(e["filename"]) for e in entries}

    new_image, docs = _merge_image(image, taken, inv, label=label, created=created)
    image_bytes = _dump_like(new_image, image_doc)
    _check_image(image_doc, image_bytes, label)

    out = {image_file: image_bytes}
    out.update((d.filename, d.content) for d in docs)
    if idx is not None and index is not None:
        ns = new_image["documentNamespace"]
        entries = [dict(e, sha1=_sha1(image_bytes)) if e.get("documentNamespace") == ns else e
                   for e in entries]
        if not any(e.get("documentNamespace") == ns for e in entries):
            entries.append(_index_entry(image_file, ns, image_bytes))
        entries.extend(_index_entry(d.filename, d.namespace, d.content) for d in docs)
        out[f"{name}.spdx.index.json"] = _dump_index(idx, entries, index)
    return dict(sorted(out.items()))


def stale_loose_documents(image_doc: bytes, candidates: dict[str, bytes], keep: set[str],
                          *, label: str) -> list[str]:
    """Names among `candidates` (`container-*.spdx.json` beside a loose image document) that
    an earlier merge into this image wrote and the new merge no longer references."""
    prefix = _our_prefix(_load_image(image_doc, label))
    return sorted(name for name, data in candidates.items()
                  if name not in keep and _is_our_member(_Member(name, data, 0o644, 0), prefix))


# ----------------------------------------------------------------------------- archive I/O

@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    data: bytes
    mode: int
    mtime: int


def _decompress(data: bytes, label: str) -> bytes:
    if not _is_zstd(data):
        raise SbomError(f"{label}: not zstd-compressed (expected an OE .spdx.tar.zst)")
    out = bytearray()
    pos, pending = 0, b""
    obj: Any = None
    try:
        # Frame by frame, in small steps: stream_reader would silently return a truncated
        # stream, and one decompress() call has no output limit.
        while pos < len(data) or pending:
            if obj is None:
                obj = zstandard.ZstdDecompressor().decompressobj()
            if pending:
                chunk, pending = pending, b""
            else:
                chunk = data[pos:pos + _CHUNK]
                pos += len(chunk)
            out += obj.decompress(chunk)
            if len(out) > MAX_TAR_BYTES:
                raise SbomError(f"{label}: decompresses to more than {MAX_TAR_BYTES} bytes")
            if obj.eof:
                pending, obj = obj.unused_data, None
    except zstandard.ZstdError as exc:
        raise SbomError(f"{label}: corrupt zstd data ({exc})") from None
    if obj is not None:
        raise SbomError(f"{label}: zstd data is truncated")
    return bytes(out)


def _read_tar(raw: bytes, label: str) -> list[_Member]:
    members: list[_Member] = []
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for info in tar:
                if not info.isreg():
                    raise SbomError(f"{label}: member {info.name!r} is not a regular file "
                                    "(OE archives hold only documents)")
                if info.name in seen:
                    raise SbomError(f"{label}: member {info.name!r} appears twice")
                seen.add(info.name)
                fh = tar.extractfile(info)
                assert fh is not None  # a regular file always has a stream
                members.append(_Member(info.name, fh.read(), info.mode, int(info.mtime)))
    except (tarfile.TarError, EOFError) as exc:
        raise SbomError(f"{label}: not a valid tar archive inside the zstd data ({exc})"
                        ) from None
    return members


def _write_tar(members: Iterable[_Member], epoch: int | None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.size = len(m.data)
            info.mode = m.mode
            info.mtime = m.mtime if epoch is None else min(m.mtime, epoch)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"  # as combine_spdx sets them
            tar.addfile(info, io.BytesIO(m.data))
    return buf.getvalue()


def _compress(raw: bytes) -> bytes:
    # One frame with content size and checksum; single-threaded, so the bytes are stable.
    return zstandard.ZstdCompressor(level=3, write_checksum=True,
                                    write_content_size=True).compress(raw)


# ----------------------------------------------------------------------------- JSON helpers

def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # SPDX 2.2 externalDocumentRefs and OE's index


def _stem(filename: str) -> str:
    return filename.removesuffix(".spdx.json")


def _load_json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SbomError(f"{where}: not valid JSON ({exc})") from None


def _indent_of(data: bytes) -> int | None:
    """The indent OE wrote with (SPDX_PRETTY=1 → 2, else compact)."""
    lines = data.lstrip().split(b"\n", 2)
    if len(lines) < 2:
        return None
    return len(lines[1]) - len(lines[1].lstrip(b" "))


def _dump_like(obj: Any, original: bytes) -> bytes:
    # combine_spdx: json with sort_keys, indent from SPDX_PRETTY, default separators, ASCII.
    return json.dumps(obj, sort_keys=True, indent=_indent_of(original)).encode("utf-8")


def _load_index(data: bytes, where: str) -> dict[str, Any]:
    obj = _load_json(data, where)
    index: dict[str, Any] = obj if isinstance(obj, dict) else {}
    docs = index.get("documents")
    if not isinstance(docs, list) or not all(
            isinstance(e, dict) and isinstance(e.get("filename"), str) for e in docs):
        raise SbomError(f"{where}: not an OE SPDX index (expected "
                        '{"documents": [{"filename": …, "documentNamespace": …, "sha1": …}]})')
    return index


def _index_entry(filename: str, namespace: str, data: bytes) -> dict[str, Any]:
    return {"documentNamespace": namespace, "filename": filename, "sha1": _sha1(data)}


def _dump_index(index: dict[str, Any], entries: list[dict[str, Any]], original: bytes) -> bytes:
    new = dict(index, documents=sorted(entries, key=lambda e: e["filename"]))
    return _dump_like(new, original)


def _load_image(data: bytes, where: str) -> dict[str, Any]:
    image = _load_json(data, where)
    if not isinstance(image, dict):
        raise SbomError(f"{where}: not an SPDX document (expected a JSON object)")
    version = image.get("spdxVersion")
    if version != SPDX_VERSION:
        raise SbomError(f"{where}: unknown spdxVersion {version!r} (expected {SPDX_VERSION!r})")
    for key in ("documentNamespace", "name"):
        if not isinstance(image.get(key), str) or not image[key]:
            raise SbomError(f"{where}: the image document has no {key}")
    if not isinstance(image.get("packages"), list):
        raise SbomError(f"{where}: the image document has no packages")
    for key in ("externalDocumentRefs", "relationships"):
        if not isinstance(image.get(key, []), list):
            raise SbomError(f"{where}: {key} is not a list")
    _root_id(image, where)
    return image


def _root_id(image: dict[str, Any], where: str) -> str:
    for pkg in image["packages"]:
        spdx_id = pkg.get("SPDXID", "") if isinstance(pkg, dict) else ""
        if isinstance(spdx_id, str) and spdx_id.startswith(ROOT_PREFIXES):
            return spdx_id
    raise SbomError(f"{where}: no image package (SPDXRef-Image-…) in the image document")


def _find_image_member(members: list[_Member], label: str) -> _Member:
    # combine_spdx writes the image document first; look further only for foreign archives.
    found: list[_Member] = []
    for m in members:
        if m.name == INDEX_NAME or not any(p.encode() in m.data for p in ROOT_PREFIXES):
            continue
        try:
            doc = json.loads(m.data)
        except (ValueError, UnicodeDecodeError):
            continue
        pkgs = doc.get("packages") if isinstance(doc, dict) else None
        if isinstance(pkgs, list) and any(
                isinstance(p, dict) and str(p.get("SPDXID", "")).startswith(ROOT_PREFIXES)
                for p in pkgs):
            found.append(m)
    if not found:
        raise SbomError(f"{label}: no image document (one with a SPDXRef-Image-… package) "
                        "in the archive")
    if len(found) > 1:
        log.warning("%s: %d image documents, merging into the first, %s", label, len(found),
                    found[0].name)
    return found[0]


def _our_prefix(image: dict[str, Any]) -> str:
    return f"{image['documentNamespace']}/{NAMESPACE_SEGMENT}/"


def _is_our_member(m: _Member, prefix: str) -> bool:
    if not m.name.startswith(DOC_PREFIX) or f"Tool: {NAMESPACE_SEGMENT}-".encode() not in m.data:
        return False
    try:
        doc = json.loads(m.data)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and str(doc.get("documentNamespace", "")).startswith(prefix)


def _check_image(before: bytes, after: bytes, where: str) -> None:
    """The edited image document must not draw validator messages the original did not."""
    new = _messages(after)
    if not new:
        if new is None:
            if _messages(before) is not None:
                raise SbomError(f"{where}: spdx-tools cannot parse the merged image document")
            log.warning("%s: spdx-tools cannot parse the image document OE wrote either; "
                        "merged without validating it", where)
        return
    old = _messages(before) or []
    added = sorted(set(new) - set(old))
    if added:
        raise SbomError(f"{where}: the merged image document does not validate: "
                        + "; ".join(added[:3]))
    log.info("%s: %d validator messages, all already in the document OE wrote", where, len(new))


def _messages(data: bytes) -> list[str] | None:
    try:
        doc = JsonLikeDictParser().parse(json.loads(data))  # type: ignore[no-untyped-call]
    except SPDXParsingError:
        return None
    return [m.validation_message for m in validate_full_spdx_document(doc)]


# ----------------------------------------------------------------------------- the merge

@dataclass(frozen=True, slots=True)
class _Doc:
    name: str
    namespace: str
    root_id: str
    content: bytes

    @property
    def filename(self) -> str:
        return f"{self.name}.spdx.json"

    @property
    def ref_id(self) -> str:
        return f"DocumentRef-{self.name}"


def _merge_image(image: dict[str, Any], taken: set[str], inv: Inventory, *, label: str,
                 created: str) -> tuple[dict[str, Any], list[_Doc]]:
    """The image document without our earlier references, plus this inventory's documents."""
    where = label
    root = _root_id(image, where)
    prefix = _our_prefix(image)
    refs = image.get("externalDocumentRefs", [])
    old_ids = {r.get("externalDocumentId") for r in refs
               if isinstance(r, dict) and str(r.get("spdxDocument", "")).startswith(prefix)}
    keep_refs = [r for r in refs if not (isinstance(r, dict)
                                         and r.get("externalDocumentId") in old_ids)]
    taken = taken | {str(r.get("externalDocumentId", "")).removeprefix("DocumentRef-")
                     for r in keep_refs if isinstance(r, dict)}

    def ours(element: Any) -> bool:
        return isinstance(element, str) and element.split(":", 1)[0] in old_ids

    rels = [r for r in image.get("relationships", []) if not (
        isinstance(r, dict) and (ours(r.get("spdxElementId"))
                                 or ours(r.get("relatedSpdxElement"))))]

    when = _parse_created(created, label)
    docs = _container_docs(inv, image, taken, when, label)

    new = dict(image)
    creation = dict(image.get("creationInfo") or {})
    creators = [c for c in creation.get("creators", [])
                if not (isinstance(c, str) and c.startswith(f"Tool: {NAMESPACE_SEGMENT}-"))]
    if docs:
        creators.append(f"Tool: {TOOL}")
    if "creationInfo" in image:
        creation["creators"] = creators
        new["creationInfo"] = creation
    keep_refs += [{"checksum": {"algorithm": "SHA1", "checksumValue": _sha1(d.content)},
                   "externalDocumentId": d.ref_id, "spdxDocument": d.namespace} for d in docs]
    rels += [{"relatedSpdxElement": f"{d.ref_id}:{d.root_id}", "relationshipType": "CONTAINS",
              "spdxElementId": root} for d in docs]
    if keep_refs or "externalDocumentRefs" in image:
        new["externalDocumentRefs"] = keep_refs
    if rels or "relationships" in image:
        new["relationships"] = rels
    return new, docs


def _parse_created(created: str, label: str) -> datetime:
    try:
        when = datetime.fromisoformat(created.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SbomError(f"{label}: creation time {created!r} is not ISO 8601") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.replace(microsecond=0)


def _safe(text: str) -> str:
    return _UNSAFE_ID.sub("-", text).strip("-.") or "unnamed"


def _digest_hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _container_docs(inv: Inventory, image_doc: dict[str, Any], taken: set[str],
                    when: datetime, label: str) -> list[_Doc]:
    namespace = image_doc["documentNamespace"]
    ns_uuid = uuid.uuid5(uuid.NAMESPACE_URL, namespace)
    used = set(taken)
    docs: list[_Doc] = []
    for img in sorted(inv.images, key=lambda i: (i.name, i.config_digest, i.source)):
        base = DOC_PREFIX + _safe(img.name)
        name = base
        if name in used:
            name = f"{base}-{_safe(_digest_hex(img.config_digest))[:12]}"
        n = 2
        while name in used:
            name, n = f"{base}-{_safe(_digest_hex(img.config_digest))[:12]}-{n}", n + 1
        used.add(name)
        doc_ns = (f"{namespace}/{NAMESPACE_SEGMENT}/{name}-"
                  f"{uuid.uuid5(ns_uuid, img.config_digest)}")
        root_id = "SPDXRef-Container-" + name.removeprefix(DOC_PREFIX)
        document = _container_document(img, name, doc_ns, root_id, when, inv, image_doc)
        messages = validate_full_spdx_document(document)
        if messages:
            raise SbomError(f"{label}: {name}: the container document does not validate "
                            "(a bug): " + "; ".join(m.validation_message for m in messages[:3]))
        out = io.StringIO()
        write_document_to_stream(document, out, validate=False)
        docs.append(_Doc(name, doc_ns, root_id, out.getvalue().encode("utf-8")))
    return docs


def _container_document(img: Image, name: str, namespace: str, root_id: str, when: datetime,
                        inv: Inventory, image_doc: dict[str, Any]) -> Document:
    creators = [Actor(ActorType.TOOL, TOOL)]
    creators += [Actor(ActorType.TOOL, f"{tool}-{ver}")
                 for tool, ver in sorted(set(inv.tools)) if tool != NAMESPACE_SEGMENT]
    list_version = None
    if re.fullmatch(r"\d+\.\d+", LICENSE_LIST_VERSION):
        list_version = Version.from_string(LICENSE_LIST_VERSION)
    info = CreationInfo(
        spdx_version=SPDX_VERSION, spdx_id="SPDXRef-DOCUMENT", name=name,
        document_namespace=namespace, creators=creators, created=when,
        license_list_version=list_version, data_license="CC0-1.0",
        creator_comment=" ".join(x for x in (
            f"Container image {img.name} embedded in {image_doc['name']}, inventoried by "
            "container-audit.", image_file_sentence(inv)) if x))

    pkg_ids: dict[int, str] = {}
    used: set[str] = {root_id}
    ordered = sorted(img.packages, key=_package_key)
    for i, pkg in enumerate(ordered):
        base = f"SPDXRef-Package-{_safe(pkg.type or 'unknown')}-{_safe(pkg.name)}"
        if pkg.version:
            base += f"-{_safe(pkg.version)}"
        spdx_id, n = base, 2
        if spdx_id in used:
            spdx_id = f"{base}-{hashlib.sha256(repr(_package_key(pkg)).encode()).hexdigest()[:8]}"
        while spdx_id in used:
            spdx_id, n = f"{base}-{n}", n + 1
        used.add(spdx_id)
        pkg_ids[i] = spdx_id

    packages = [_container_package(img, root_id, stored_at_sentence(inv, img))]
    refs: dict[str, set[str]] = {}
    for i, pkg in enumerate(ordered):
        spdx_pkg, used_refs = _package(pkg, pkg_ids[i])
        packages.append(spdx_pkg)
        for ref in used_refs:
            refs.setdefault(ref, set()).update(_raw_for(pkg, ref))
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, root_id)]
    relationships += [Relationship(root_id, RelationshipType.CONTAINS, pkg_ids[i])
                      for i in range(len(ordered))]
    extracted = [
        ExtractedLicensingInfo(
            license_id=ref, license_name=ref.removeprefix("LicenseRef-"),
            extracted_text="\n".join(sorted(raws)) if raws else
            f"{ref}: no license text was found; the package metadata names this license.",
            comment="The license statements as found in the package metadata (not a full "
                    "license text).")
        for ref, raws in sorted(refs.items())]
    return Document(creation_info=info, packages=packages, relationships=relationships,
                    extracted_licensing_info=extracted)


def _package_key(pkg: Package) -> tuple[str, ...]:
    return (pkg.name, pkg.version, pkg.type, pkg.purl, pkg.architecture, pkg.layer or "",
            ",".join(loc.path for loc in pkg.locations))


def _split_ref(ref: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; tag "" when there is none."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, ""


def _oci_purl(img: Image) -> str:
    repo, tag = _split_ref(img.tags[0] if img.tags else img.name)
    name = repo.rsplit("/", 1)[-1].lower() or "image"
    version = img.manifest_digest or img.config_digest
    qualifiers = {"arch": img.architecture, "tag": tag,
                  "repository_url": repo if "/" in repo else ""}
    query = "&".join(f"{k}={quote(v, safe='/:')}" for k, v in sorted(qualifiers.items()) if v)
    purl = f"pkg:oci/{quote(name, safe='')}@{quote(version, safe='')}"
    return f"{purl}?{query}" if query else purl


def _container_package(img: Image, root_id: str, stored_at: str) -> SpdxPackage:
    repo, tag = _split_ref(img.tags[0] if img.tags else img.name)
    algo, _, hexdigest = img.config_digest.partition(":")
    checksums = []
    algorithm = {"sha256": ChecksumAlgorithm.SHA256,
                 "sha512": ChecksumAlgorithm.SHA512}.get(algo.lower())
    if algorithm is not None and re.fullmatch(r"[0-9a-f]+", hexdigest):
        checksums.append(Checksum(algorithm, hexdigest))
    lines = [
        "Primary purpose: CONTAINER (SPDX 2.2 has no primaryPackagePurpose).",
        f"Embedded in the root filesystem as {img.embedding.value} at {img.source}.",
        f"The checksum is the image config digest {img.config_digest}.",
    ]
    if img.manifest_digest:
        lines.append(f"Manifest digest: {img.manifest_digest}.")
    if img.tags:
        lines.append("Tags: " + ", ".join(img.tags) + ".")
    platform = "/".join(p for p in (img.os, img.architecture) if p)
    if platform:
        lines.append(f"Platform: {platform}.")
    if img.distro:
        lines.append(f"Distribution: {img.distro}.")
    if img.layers:
        lines.append("Layers (diff_id): " + ", ".join(layer.diff_id for layer in img.layers)
                     + ".")
    if img.also_found_at:
        lines.append("Also found at: " + ", ".join(img.also_found_at) + ".")
    if img.skipped_platforms:
        lines.append("Platforms not inventoried: " + ", ".join(img.skipped_platforms) + ".")
    if img.false_positives:
        lines.append("Dropped by curation: " + "; ".join(img.false_positives) + ".")
    return SpdxPackage(
        spdx_id=root_id, name=img.name, download_location=SpdxNoAssertion(),
        version=tag or None, files_analyzed=False, checksums=checksums,
        license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(), summary=f"Container image {repo}",
        source_info=stored_at or None,
        comment="\n".join(lines), external_references=_purl_refs(_oci_purl(img)))


def _purl_refs(purl: str) -> list[ExternalPackageRef]:
    if purl and re.match(PURL_REGEX, purl):
        return [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)]
    return []


def _package(pkg: Package, spdx_id: str) -> tuple[SpdxPackage, set[str]]:
    notes: list[str] = []
    declared = _license(pkg.declared_license, "declared", notes)
    concluded = _license(pkg.concluded_license, "concluded", notes)
    refs = {key for expr in (declared, concluded) if isinstance(expr, LicenseExpression)
            for key in spdx_licensing.license_keys(expr) if key.startswith("LicenseRef-")}

    external = _purl_refs(pkg.purl)
    if pkg.purl and not external:
        notes.append(f"purl not in purl syntax: {pkg.purl}")
    for cpe in sorted(set(pkg.cpes)):
        for ref_type, regex in (("cpe23Type", CPE23TYPE_REGEX), ("cpe22Type", CPE22TYPE_REGEX)):
            if re.match(regex, cpe):
                external.append(ExternalPackageRef(ExternalPackageRefCategory.SECURITY,
                                                   ref_type, cpe))
                break

    comment = [f"Type: {pkg.type}." if pkg.type else "",
               f"Architecture: {pkg.architecture}." if pkg.architecture else "",
               f"Found by: {pkg.found_by}." if pkg.found_by else "",
               f"Layer (diff_id): {pkg.layer}." if pkg.layer else "",
               ("Evidence: " + ", ".join(sorted({loc.path for loc in pkg.locations})) + ".")
               if pkg.locations else ""]
    license_comment = [f"Declared license from: {pkg.declared_method}."
                       if pkg.declared_method else "",
                       f"Concluded by curation: {pkg.curation}." if pkg.curation else ""]
    for lic in pkg.licenses:
        where = ", ".join(sorted({loc.path for loc in lic.evidence}))
        license_comment.append(f"{lic.kind} ({lic.method}): {lic.value!r} -> "
                               f"{_text(lic.spdx_expression)}" + (f" [{where}]" if where else ""))
    for other in pkg.other_licenses:
        license_comment.append(f"files {' '.join(other.files)}: {other.raw!r} -> "
                               f"{_text(other.expression)}")
    license_comment += notes
    source = ""
    if pkg.source_name:
        source = f"Built from source package {pkg.source_name}"
        source += f" {pkg.source_version}." if pkg.source_version else "."

    return SpdxPackage(
        spdx_id=spdx_id, name=pkg.name, download_location=SpdxNoAssertion(),
        version=pkg.version or None, files_analyzed=False,
        license_concluded=concluded, license_declared=declared,
        license_comment="\n".join(c for c in license_comment if c) or None,
        copyright_text=SpdxNoAssertion(), source_info=source or None,
        comment=" ".join(c for c in comment if c) or None, external_references=external,
    ), refs


def _text(value: str | Sentinel) -> str:
    return value.value if isinstance(value, Sentinel) else str(value)


def _license(value: str | Sentinel, kind: str, notes: list[str]
             ) -> LicenseExpression | SpdxNoAssertion | SpdxNone:
    text = _text(value).strip()
    if text in ("", "NOASSERTION"):
        return SpdxNoAssertion()
    if text == "NONE":
        return SpdxNone()
    if not is_valid(text):
        fixed = normalize(text, flavor="spdx").expression
        if isinstance(fixed, Sentinel) or not is_valid(fixed):
            notes.append(f"{kind} license {text!r} is not an SPDX expression; NOASSERTION")
            return SpdxNoAssertion()
        notes.append(f"{kind} license {text!r} written as {fixed!r}")
        text = fixed
    try:
        parsed: LicenseExpression = spdx_licensing.parse(text)
        return parsed
    except Exception:  # noqa: BLE001 - license-expression raises many types
        notes.append(f"{kind} license {text!r} cannot be parsed; NOASSERTION")
        return SpdxNoAssertion()


def _raw_for(pkg: Package, ref: str) -> set[str]:
    token = re.compile(rf"(?<![A-Za-z0-9.:-]){re.escape(ref)}(?![A-Za-z0-9.-])")
    raws = {lic.value for lic in pkg.licenses
            if lic.value.strip() and token.search(_text(lic.spdx_expression))}
    raws |= {o.raw for o in pkg.other_licenses
             if o.raw.strip() and token.search(_text(o.expression))}
    return raws


__all__ = ["is_spdx2_archive", "is_spdx2_json", "merge_spdx2_archive", "merge_spdx2_loose",
           "stale_loose_documents"]
