# SPDX-License-Identifier: Apache-2.0
"""A small SPDX 2.2 image SBOM in the shape OE's create-spdx writes (written for these tests).

Shapes follow the real scarthgap archive in ../shared/fixtures/yocto-spdx (vulnscout) and the
research notes: package, runtime and recipe documents per installed package, an image document
whose `SPDXRef-Image-…` package CONTAINS each package and has an OTHER relationship to each
runtime document, `index.json` sorted by file name with the SHA1 of each document's bytes, JSON
with sorted keys (compact, or indent 2 for SPDX_PRETTY=1), a tar with uid/gid 0, `root`, mtimes
clamped to SOURCE_DATE_EPOCH (index.json at 0), compressed with zstd behind a pzstd-style
skippable frame. Kirkstone differs in the namespace prefix, the image name, no download packages
and the loose `.spdx.json` + `.spdx.index.json` beside the archive.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import zstandard

OE_UUID_NS = uuid.uuid5(uuid.NAMESPACE_DNS, "sbom.openembedded.org")
CREATORS = ["Tool: OpenEmbedded Core create-spdx.bbclass", "Organization: OpenEmbedded ()",
            "Person: N/A ()"]
SUPPLIER = "Organization: OpenEmbedded ()"
SDE = 1_700_000_000  # SOURCE_DATE_EPOCH of the fake build


@dataclass(frozen=True)
class Flavor:
    prefix: str
    image_name: str
    downloads: bool
    indent: int | None


SCARTHGAP = Flavor("http://spdx.org/spdxdocs", "core-image-minimal-qemux86-64.rootfs-20250101120000",
                   True, None)
KIRKSTONE = Flavor("http://spdx.org/spdxdoc", "core-image-minimal-qemux86-64-20240101120000",
                   False, 2)

# (package, recipe, version, LICENSE as OE converts it)
PACKAGES = (
    ("base-files", "base-files", "3.0.14", "GPL-2.0-only"),
    ("busybox", "busybox", "1.36.1",
     "GPL-2.0-only AND DocumentRef-recipe-busybox:LicenseRef-bzip2-1.0.4"),
)


@dataclass
class OeSbom:
    flavor: Flavor
    docs: dict[str, bytes] = field(default_factory=dict)  # file name → bytes, in tar order
    index: bytes = b""

    @property
    def image_file(self) -> str:
        return f"{self.flavor.image_name}.spdx.json"

    def archive(self) -> bytes:
        return tar_zst([(name, data, SDE + 5) for name, data in self.docs.items()], self.index)


def namespace(flavor: Flavor, name: str) -> str:
    return f"{flavor.prefix}/{name}-{uuid.uuid5(OE_UUID_NS, name)}"


def dump(doc: dict[str, Any], flavor: Flavor) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=flavor.indent).encode("utf-8")


def _doc(flavor: Flavor, name: str, comment: str) -> dict[str, Any]:
    return {
        "SPDXID": "SPDXRef-DOCUMENT", "spdxVersion": "SPDX-2.2", "dataLicense": "CC0-1.0",
        "name": name, "documentNamespace": namespace(flavor, name),
        "creationInfo": {"comment": comment, "created": "2025-01-01T12:00:00Z",
                         "creators": list(CREATORS), "licenseListVersion": "3.14"},
    }


def _ref(ref_id: str, doc: dict[str, Any], data: bytes) -> dict[str, Any]:
    return {"externalDocumentId": ref_id, "spdxDocument": doc["documentNamespace"],
            "checksum": {"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()}}


def _oe_package(spdx_id: str, name: str, version: str, lic: str) -> dict[str, Any]:
    return {"SPDXID": spdx_id, "name": name, "versionInfo": version, "supplier": SUPPLIER,
            "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION",
            "licenseDeclared": lic, "licenseInfoFromFiles": ["NOASSERTION"],
            "copyrightText": "NOASSERTION"}


def build(flavor: Flavor = SCARTHGAP, packages: tuple[tuple[str, str, str, str], ...] = PACKAGES
          ) -> OeSbom:
    """Documents in the order combine_spdx visits them (image, then each reference depth-first)."""
    recipes: dict[str, tuple[dict[str, Any], bytes]] = {}
    pkg_docs: dict[str, tuple[dict[str, Any], bytes]] = {}
    runtime_docs: dict[str, tuple[dict[str, Any], bytes]] = {}
    for pkg, recipe, version, lic in packages:
        r = _doc(flavor, f"recipe-{recipe}",
                 "This document was created by analyzing recipe files during the build.")
        rpkg = _oe_package(f"SPDXRef-Recipe-{recipe}", recipe, version,
                           lic.replace(f"DocumentRef-recipe-{recipe}:", ""))
        # OE writes the long cpe23 type URI, which spdx-tools flags: an OE quirk we keep.
        rpkg["externalRefs"] = [{"referenceCategory": "SECURITY",
                                 "referenceType": "http://spdx.org/rdf/references/cpe23Type",
                                 "referenceLocator": f"cpe:2.3:*:*:{recipe}:{version}:*:*:*:*:*:*:*"}]
        r["packages"] = [rpkg]
        r["relationships"] = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                               "relatedSpdxElement": rpkg["SPDXID"]}]
        if flavor.downloads:
            dl = _oe_package(f"SPDXRef-Download-{recipe}-1", recipe, version, "NOASSERTION")
            dl["downloadLocation"] = f"https://example.org/{recipe}-{version}.tar.gz"
            r["packages"].append(dl)
            r["relationships"].append({"spdxElementId": dl["SPDXID"],
                                       "relationshipType": "BUILD_DEPENDENCY_OF",
                                       "relatedSpdxElement": rpkg["SPDXID"]})
        if "LicenseRef-" in lic:
            r["hasExtractedLicensingInfos"] = [{
                "licenseId": "LicenseRef-bzip2-1.0.4", "name": "bzip2-1.0.4",
                "extractedText": "This program, \"bzip2\", ... is copyright (C) 1996 Julian Seward."}]
        rb = dump(r, flavor)
        recipes[recipe] = (r, rb)

        p = _doc(flavor, pkg, "This document was created by analyzing packages created during "
                              "the build.")
        p["externalDocumentRefs"] = [_ref(f"DocumentRef-recipe-{recipe}", r, rb)]
        ppkg = _oe_package(f"SPDXRef-Package-{pkg}", pkg, version, lic)
        ppkg["packageVerificationCode"] = {
            "packageVerificationCodeValue": hashlib.sha1(pkg.encode()).hexdigest()}
        p["packages"] = [ppkg]
        p["files"] = [{"SPDXID": f"SPDXRef-PackagedFile-{pkg}-1", "fileName": f"usr/share/{pkg}",
                       "fileTypes": ["BINARY"], "licenseConcluded": "NOASSERTION",
                       "licenseInfoInFiles": ["NOASSERTION"], "copyrightText": "NOASSERTION",
                       "checksums": [
                           {"algorithm": "SHA1", "checksumValue": hashlib.sha1(pkg.encode()).hexdigest()},
                           {"algorithm": "SHA256",
                            "checksumValue": hashlib.sha256(pkg.encode()).hexdigest()}]}]
        p["relationships"] = [
            {"spdxElementId": ppkg["SPDXID"], "relationshipType": "GENERATED_FROM",
             "relatedSpdxElement": f"DocumentRef-recipe-{recipe}:SPDXRef-Recipe-{recipe}"},
            {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
             "relatedSpdxElement": ppkg["SPDXID"]},
            {"spdxElementId": ppkg["SPDXID"], "relationshipType": "CONTAINS",
             "relatedSpdxElement": f"SPDXRef-PackagedFile-{pkg}-1"}]
        pb = dump(p, flavor)
        pkg_docs[pkg] = (p, pb)

        rt = _doc(flavor, f"runtime-{pkg}",
                  "This document was created by analyzing package runtime dependencies.")
        rt["externalDocumentRefs"] = [_ref(f"DocumentRef-package-{pkg}", p, pb)]
        rt["relationships"] = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "AMENDS",
                                "relatedSpdxElement": f"DocumentRef-package-{pkg}:SPDXRef-DOCUMENT"}]
        runtime_docs[pkg] = (rt, dump(rt, flavor))

    image = _doc(flavor, flavor.image_name,
                 "This document was created by analyzing the source of the Yocto recipe during "
                 "the build.")
    root = f"SPDXRef-Image-{flavor.image_name}"
    image["packages"] = [{
        "SPDXID": root, "name": "core-image-minimal", "versionInfo": "1.0", "supplier": SUPPLIER,
        "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION", "licenseInfoFromFiles": ["NOASSERTION"],
        "copyrightText": "NOASSERTION"}]
    image["externalDocumentRefs"] = []
    image["relationships"] = []
    for pkg, *_ in sorted(packages):
        p, pb = pkg_docs[pkg]
        rt, rtb = runtime_docs[pkg]
        image["externalDocumentRefs"] += [_ref(f"DocumentRef-{pkg}", p, pb),
                                          _ref(f"DocumentRef-runtime-{pkg}", rt, rtb)]
        image["relationships"] += [
            {"spdxElementId": root, "relationshipType": "CONTAINS",
             "relatedSpdxElement": f"DocumentRef-{pkg}:SPDXRef-Package-{pkg}"},
            {"spdxElementId": root, "relationshipType": "OTHER",
             "relatedSpdxElement": f"DocumentRef-runtime-{pkg}:SPDXRef-DOCUMENT",
             "comment": f"Runtime dependencies for {pkg}"}]

    sbom = OeSbom(flavor)
    sbom.docs[sbom.image_file] = dump(image, flavor)
    for pkg, recipe, *_ in sorted(packages):
        for name, data in ((pkg, pkg_docs[pkg][1]), (f"recipe-{recipe}", recipes[recipe][1]),
                           (f"runtime-{pkg}", runtime_docs[pkg][1])):
            sbom.docs.setdefault(f"{name}.spdx.json", data)
    sbom.index = index_bytes(sbom.docs, flavor)
    return sbom


def index_bytes(docs: dict[str, bytes], flavor: Flavor) -> bytes:
    entries = [{"filename": name, "documentNamespace": json.loads(data)["documentNamespace"],
                "sha1": hashlib.sha1(data).hexdigest()} for name, data in docs.items()]
    return json.dumps({"documents": sorted(entries, key=lambda e: e["filename"])},
                      sort_keys=True, indent=flavor.indent).encode("utf-8")


def tar_zst(members: list[tuple[str, bytes, int]], index: bytes | None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|") as tar:
        for name, data, mtime in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, min(mtime, SDE)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
        if index is not None:
            info = tarfile.TarInfo("index.json")  # combine_spdx: a bare TarInfo, mtime 0
            info.size = len(index)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(index))
    return zst(buf.getvalue())


def zst(raw: bytes) -> bytes:
    frame = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(raw)
    # pzstd puts a skippable frame (magic 0x184D2A50, 4-byte size) holding the frame size first
    return struct.pack("<II", 0x184D2A50, 4) + struct.pack("<I", len(frame)) + frame
