# SPDX-License-Identifier: Apache-2.0
"""Merging containers into OE's SPDX 2.2 output: the real scarthgap archive (vulnscout) and a
small OE-shaped archive / kirkstone loose set built by tests/sbom/oe_spdx22.py."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import zstandard
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from auditor.errors import SbomError
from auditor.model import (
    NOASSERTION,
    NONE,
    Embedding,
    Image,
    Inventory,
    Layer,
    License,
    Location,
    OtherLicense,
    Package,
)
from auditor.sbom.yocto_spdx2 import (
    is_spdx2_archive,
    is_spdx2_json,
    merge_spdx2_archive,
    merge_spdx2_loose,
)
from tests.sbom import oe_spdx22 as oe

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/fixtures/yocto-spdx/vulnscout"
REAL_ARCHIVE = FIXTURES / "example/spdx2/example.rootfs.spdx.tar.zst"
REAL_EXTRACTED = FIXTURES / "example/spdx2/example.rootfs.spdx.tar.zst.extracted"
REAL_IMAGE_DOC = "core-image-minimal-beaglebone-yocto.rootfs-20250728170920.spdx.json"
REAL_SPDX3 = FIXTURES / "example/spdx3/core-image-minimal-qemux86-64.rootfs.spdx.json"
REAL_PACKAGE_DOC = FIXTURES / "tests/docker/spdx/valid_v2_2.spdx.json"

CREATED = "2025-08-01T10:00:00Z"
EPOCH = 1_650_000_000
LABEL = "deploy/image.spdx.tar.zst"


def real(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"missing fixture {path}")
        pytest.skip(f"missing fixture {path}")
    return path


# ----------------------------------------------------------------------------- inventory

def _pkg(name: str, version: str, declared: Any, *, concluded: Any = NOASSERTION,
         raw: str = "", type_: str = "deb", layer: str = "sha256:" + "1" * 64,
         cpes: tuple[str, ...] = (), other: tuple[OtherLicense, ...] = ()) -> Package:
    purl = {"deb": f"pkg:deb/debian/{name}@{version}?arch=amd64&distro=debian-12",
            "apk": f"pkg:apk/alpine/{name}@{version}?arch=x86_64"}[type_]
    path = (f"/usr/share/doc/{name}/copyright" if type_ == "deb" else "/lib/apk/db/installed")
    return Package(
        name=name, version=version, type=type_, purl=purl, layer=layer, architecture="amd64",
        found_by=f"{type_}-cataloger", cpes=cpes, declared_license=declared,
        concluded_license=concluded, declared_method="dep5" if type_ == "deb" else "apk-db",
        licenses=(License(value=raw or str(getattr(declared, "value", declared)),
                          spdx_expression=declared,
                          evidence=(Location(path=path, layer=layer),)),),
        locations=(Location(path=path, layer=layer),), other_licenses=other,
        source_name=name if type_ == "deb" else "", source_version=version)


def _image(name: str, digest_byte: str, packages: tuple[Package, ...], *,
           embedding: Embedding = Embedding.DOCKER_STORE, arch: str = "amd64") -> Image:
    return Image(
        name=name, tags=(name,), config_digest="sha256:" + digest_byte * 64,
        manifest_digest="sha256:" + digest_byte * 63 + "0", architecture=arch,
        os="linux", source="/var/lib/docker" if embedding is Embedding.DOCKER_STORE else
        f"/usr/share/container-images/{name.replace('/', '_')}.tar", embedding=embedding,
        layers=(Layer(diff_id="sha256:" + "1" * 64),), packages=packages, distro="debian 12")


def inventory() -> Inventory:
    redis = _image("docker.io/library/redis:7.2", "a", (
        _pkg("libc6", "2.36-9", "LGPL-2.1-or-later AND GPL-2.0-or-later",
             concluded="LGPL-2.1-or-later AND GPL-2.0-or-later"),
        _pkg("bash", "5.2.15-2", "GPL-3.0-or-later WITH Bison-exception-2.2 OR MIT",
             concluded="MIT", cpes=("cpe:2.3:a:gnu:bash:5.2.15:*:*:*:*:*:*:*",)),
        _pkg("libfoo", "1.0", "LicenseRef-foo-custom AND (MIT OR Apache-2.0)",
             raw="Foo Custom License, see /usr/share/doc/libfoo/copyright",
             other=(OtherLicense(files=("debian/*",), expression="LicenseRef-foo-custom",
                                 raw="foo-custom"),)),
        _pkg("tzdata", "2024a", NOASSERTION),
        _pkg("base-files", "12.4", NONE, concluded=NONE),
        _pkg("junk", "0.1", "GPL-2+ or some custom words"),  # not normalised upstream
    ))
    alpine = _image("alpine:3.19", "b", (
        _pkg("busybox", "1.36.1-r15", "GPL-2.0-only", type_="apk"),
        _pkg("musl", "1.2.4-r2", "MIT", type_="apk"),
    ), embedding=Embedding.ARCHIVE)
    # same name as `alpine`, another platform: the document name needs the digest
    alpine_arm = _image("alpine:3.19", "c", (
        _pkg("busybox", "1.36.1-r15", "GPL-2.0-only", type_="apk"),
    ), embedding=Embedding.ARCHIVE, arch="arm64")
    return Inventory(target="rootfs", images=(redis, alpine, alpine_arm),
                     tools=(("syft", "1.18.1"),), created=CREATED)


# ----------------------------------------------------------------------------- helpers

def unpack(data: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data),
                                                     read_across_frames=True).read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        return [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]


def messages(data: bytes) -> list[str]:
    doc = JsonLikeDictParser().parse(json.loads(data))
    return [m.validation_message for m in validate_full_spdx_document(doc)]


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def image_doc_name(members: dict[str, bytes]) -> str:
    (name,) = [n for n, d in members.items() if n != "index.json"
               and any(p["SPDXID"].startswith("SPDXRef-Image-")
                       for p in json.loads(d).get("packages", []))]
    return name


def check_merged(before: bytes, after: bytes, inv: Inventory, *, epoch: int | None
                 ) -> dict[str, bytes]:
    """Everything the merge promises about an archive; returns the members of `after`."""
    old = {i.name: d for i, d in unpack(before)}
    new_members = unpack(after)
    new = {i.name: d for i, d in new_members}
    image_name = image_doc_name(old)
    ours = sorted(n for n in new if n not in old)
    assert len(ours) == len(inv.images)
    assert all(n.startswith("container-") for n in ours)

    # untouched members byte-identical, in their original order, index.json last
    for name, data in old.items():
        if name not in (image_name, "index.json"):
            assert new[name] == data, name
    order = [i.name for i, _ in new_members]
    assert order[: len(old) - 1] == [n for n in old if n != "index.json"]
    assert order[-1] == "index.json"

    # tar attributes as combine_spdx writes them
    for info, _ in new_members:
        assert info.isreg() and info.uid == 0 and info.gid == 0
        assert info.uname == "root" and info.gname == "root"
        if epoch is not None:
            assert info.mtime <= epoch

    # validation: image document and ours give zero messages
    assert messages(new[image_name]) == []
    for name in ours:
        assert messages(new[name]) == [], name

    # references: SHA1 of the exact bytes, CONTAINS from the image root
    image = json.loads(new[image_name])
    root = next(p["SPDXID"] for p in image["packages"]
                if p["SPDXID"].startswith("SPDXRef-Image-"))
    refs = {r["externalDocumentId"]: r for r in image["externalDocumentRefs"]}
    contains = {r["relatedSpdxElement"] for r in image["relationships"]
                if r["spdxElementId"] == root and r["relationshipType"] == "CONTAINS"}
    for name in ours:
        doc = json.loads(new[name])
        ref = refs[f"DocumentRef-{doc['name']}"]
        assert ref["spdxDocument"] == doc["documentNamespace"]
        assert ref["checksum"] == {"algorithm": "SHA1", "checksumValue": sha1(new[name])}
        container = doc["packages"][0]
        assert f"DocumentRef-{doc['name']}:{container['SPDXID']}" in contains
    # every OE reference and relationship is still there, in order, ours appended
    old_image = json.loads(old[image_name])
    assert image["externalDocumentRefs"][: len(old_image["externalDocumentRefs"])] == \
        old_image["externalDocumentRefs"]
    assert image["relationships"][: len(old_image["relationships"])] == \
        old_image["relationships"]

    # index.json: sorted, every member, recomputed sha1s, OE's serialisation
    index = json.loads(new["index.json"])
    files = [e["filename"] for e in index["documents"]]
    assert files == sorted(files) == sorted(n for n in new if n != "index.json")
    for e in index["documents"]:
        assert e["sha1"] == sha1(new[e["filename"]])
        assert e["documentNamespace"] == json.loads(new[e["filename"]])["documentNamespace"]
    indent = 2 if old["index.json"].startswith(b"{\n") else None
    assert new["index.json"] == json.dumps(index, sort_keys=True, indent=indent).encode()
    return new


def ours_by_container(members: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    docs = [json.loads(d) for n, d in members.items() if n.startswith("container-")]
    return {d["packages"][0]["name"] + "@" + d["packages"][0]["checksums"][0]["checksumValue"][:1]:
            d for d in docs}


# ----------------------------------------------------------------------------- detection

def test_detection() -> None:
    small = oe.build()
    assert is_spdx2_archive(small.archive())
    assert not is_spdx2_archive(small.docs[small.image_file])
    assert not is_spdx2_archive(oe.zst(b"not a tar" * 100))
    assert is_spdx2_json(small.docs[small.image_file])
    assert not is_spdx2_json(small.archive())
    assert not is_spdx2_json(b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}')
    assert not is_spdx2_json(b"{ not json")


def test_detection_real() -> None:
    assert is_spdx2_archive(real(REAL_ARCHIVE).read_bytes())
    assert is_spdx2_json(real(REAL_PACKAGE_DOC).read_bytes())
    assert not is_spdx2_json(real(REAL_SPDX3).read_bytes())
    assert not is_spdx2_archive(real(REAL_SPDX3).read_bytes())


# ----------------------------------------------------------------------------- archives

@pytest.mark.parametrize("epoch", [EPOCH, None])
def test_merge_small_archive(epoch: int | None) -> None:
    before = oe.build().archive()
    inv = inventory()
    after = merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=epoch)
    new = check_merged(before, after, inv, epoch=epoch)
    if epoch is None:  # OE's mtimes kept, ours from `created`
        old_mtimes = {i.name: i.mtime for i, _ in unpack(before)}
        for info, _ in unpack(after):
            if info.name in old_mtimes:
                assert info.mtime == old_mtimes[info.name]
            else:
                assert info.mtime == 1754042400  # 2025-08-01T10:00:00Z

    docs = ours_by_container(new)
    assert sorted(json.loads(new[n])["name"] for n in new if n.startswith("container-")) == [
        "container-alpine-3.19", "container-alpine-3.19-cccccccccccc",
        "container-docker.io-library-redis-7.2"]
    redis = docs["docker.io/library/redis:7.2@a"]
    assert redis["spdxVersion"] == "SPDX-2.2"
    assert redis["creationInfo"]["created"] == CREATED
    assert "Tool: container-audit-0.1.0" in redis["creationInfo"]["creators"]
    assert redis["documentNamespace"].startswith(
        oe.namespace(oe.SCARTHGAP, oe.SCARTHGAP.image_name) + "/container-audit/")
    container, *pkgs = redis["packages"]
    assert container["checksums"] == [{"algorithm": "SHA256", "checksumValue": "a" * 64}]
    assert container["externalRefs"][0]["referenceCategory"] == "PACKAGE_MANAGER"
    assert container["externalRefs"][0]["referenceLocator"].startswith(
        "pkg:oci/redis@sha256%3A")
    assert "Primary purpose: CONTAINER" in container["comment"]
    contained = {r["relatedSpdxElement"] for r in redis["relationships"]
                 if r["spdxElementId"] == container["SPDXID"]
                 and r["relationshipType"] == "CONTAINS"}
    assert contained == {p["SPDXID"] for p in pkgs}
    by_name = {p["name"]: p for p in pkgs}
    assert by_name["libc6"]["licenseDeclared"] == "LGPL-2.1-or-later AND GPL-2.0-or-later"
    assert by_name["bash"]["licenseDeclared"] == \
        "GPL-3.0-or-later WITH Bison-exception-2.2 OR MIT"
    assert by_name["bash"]["licenseConcluded"] == "MIT"
    assert {r["referenceType"] for r in by_name["bash"]["externalRefs"]} == {"purl", "cpe23Type"}
    assert by_name["libfoo"]["licenseDeclared"] == "LicenseRef-foo-custom AND (MIT OR Apache-2.0)"
    assert by_name["tzdata"]["licenseDeclared"] == "NOASSERTION"
    assert by_name["tzdata"]["licenseConcluded"] == "NOASSERTION"
    assert by_name["base-files"]["licenseDeclared"] == "NONE"
    # not an SPDX expression in the model: normalised (unknown names become LicenseRefs) and
    # the rewrite recorded
    assert "LicenseRef-" in by_name["junk"]["licenseDeclared"]
    assert "'GPL-2+ or some custom words' written as" in by_name["junk"]["licenseComments"]
    for p in pkgs:
        assert {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                "referenceLocator": p["externalRefs"][0]["referenceLocator"]} in p["externalRefs"]
    extracted = {e["licenseId"]: e for e in redis["hasExtractedLicensingInfos"]}
    used = {tok for p in pkgs for key in ("licenseDeclared", "licenseConcluded")
            for tok in p[key].replace("(", " ").replace(")", " ").split()
            if tok.startswith("LicenseRef-")}
    assert set(extracted) == used and "LicenseRef-foo-custom" in used
    assert "Foo Custom License" in extracted["LicenseRef-foo-custom"]["extractedText"]
    assert "foo-custom" in extracted["LicenseRef-foo-custom"]["extractedText"]


def test_merge_real_archive() -> None:
    before = real(REAL_ARCHIVE).read_bytes()
    inv = inventory()
    # the archive OE wrote: the image document validates, many others draw OE-quirk messages
    old = {i.name: d for i, d in unpack(before)}
    assert messages(old[REAL_IMAGE_DOC]) == []
    start = time.perf_counter()
    after = merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=EPOCH)
    elapsed = time.perf_counter() - start
    print(f"\nmerge into the real archive ({len(before)} B, {len(old)} members, "
          f"{len(inv.images)} containers): {elapsed * 1000:.1f} ms, {len(after)} B")
    new = check_merged(before, after, inv, epoch=EPOCH)
    assert image_doc_name(new) == REAL_IMAGE_DOC
    # the image document changed only where we said: refs, relationships, one creator
    a, b = json.loads(old[REAL_IMAGE_DOC]), json.loads(new[REAL_IMAGE_DOC])
    assert {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} == {
        "creationInfo", "externalDocumentRefs", "relationships"}
    assert b["creationInfo"]["creators"] == a["creationInfo"]["creators"] + [
        "Tool: container-audit-0.1.0"]
    assert len(b["externalDocumentRefs"]) == len(a["externalDocumentRefs"]) + 3
    assert len(b["relationships"]) == len(a["relationships"]) + 3


@pytest.mark.parametrize("source", ["small", "real"])
def test_idempotent_and_deterministic(source: str) -> None:
    before = oe.build().archive() if source == "small" else real(REAL_ARCHIVE).read_bytes()
    inv = inventory()
    once = merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=EPOCH)
    assert merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=EPOCH) == once
    assert merge_spdx2_archive(once, inv, label=LABEL, created=CREATED, epoch=EPOCH) == once
    # a later merge with another inventory replaces ours, as if merged into the original
    fewer = Inventory(target="rootfs", images=inv.images[:1], tools=inv.tools)
    direct = merge_spdx2_archive(before, fewer, label=LABEL, created=CREATED, epoch=EPOCH)
    assert merge_spdx2_archive(once, fewer, label=LABEL, created=CREATED, epoch=EPOCH) == direct
    # and an empty inventory takes everything of ours out again
    empty = Inventory(target="rootfs", images=())
    cleaned = {i.name: d for i, d in unpack(
        merge_spdx2_archive(once, empty, label=LABEL, created=CREATED, epoch=EPOCH))}
    assert cleaned == {i.name: d for i, d in unpack(before)}


def test_name_collision_with_oe_document() -> None:
    # an OE package whose document is already called container-alpine-3.19
    pkgs = oe.PACKAGES + (("container-alpine-3.19", "container-bundle", "1.0", "MIT"),)
    before = oe.build(packages=pkgs).archive()
    inv = inventory()
    after = merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=EPOCH)
    new = check_merged(before, after, inv, epoch=EPOCH)
    names = sorted(json.loads(new[n])["name"] for n in new if n.startswith("container-")
                   and "Tool: container-audit-0.1.0" in json.loads(new[n])["creationInfo"][
                       "creators"])
    assert names == ["container-alpine-3.19-bbbbbbbbbbbb", "container-alpine-3.19-cccccccccccc",
                     "container-docker.io-library-redis-7.2"]
    assert merge_spdx2_archive(after, inv, label=LABEL, created=CREATED, epoch=EPOCH) == after


# ----------------------------------------------------------------------------- loose (kirkstone)

def test_merge_loose_kirkstone() -> None:
    sbom = oe.build(oe.KIRKSTONE)
    inv = inventory()
    image_doc = sbom.docs[sbom.image_file]
    out = merge_spdx2_loose(image_doc, sbom.index, inv, label="x.spdx.json", created=CREATED)
    stem = oe.KIRKSTONE.image_name
    ours = sorted(n for n in out if n.startswith("container-"))
    assert sorted(out) == sorted([f"{stem}.spdx.json", f"{stem}.spdx.index.json", *ours])
    assert len(ours) == 3
    new_image = out[f"{stem}.spdx.json"]
    assert new_image.startswith(b"{\n  ")  # SPDX_PRETTY=1 indent kept
    assert messages(new_image) == []
    for name in ours:
        assert messages(out[name]) == []
    image = json.loads(new_image)
    refs = {r["externalDocumentId"]: r["checksum"]["checksumValue"]
            for r in image["externalDocumentRefs"]}
    for name in ours:
        assert refs[f"DocumentRef-{name.removesuffix('.spdx.json')}"] == sha1(out[name])
    index = json.loads(out[f"{stem}.spdx.index.json"])
    files = [e["filename"] for e in index["documents"]]
    assert files == sorted(files) == sorted([*sbom.docs, *ours])
    entry = {e["filename"]: e["sha1"] for e in index["documents"]}
    assert entry[f"{stem}.spdx.json"] == sha1(new_image)
    assert all(entry[n] == sha1(d) for n, d in sbom.docs.items() if n != sbom.image_file)

    # idempotent: the merged files merged again give the same bytes
    again = merge_spdx2_loose(new_image, out[f"{stem}.spdx.index.json"], inv, label="x",
                              created=CREATED)
    assert again == out
    # without an index: no index written
    assert sorted(merge_spdx2_loose(image_doc, None, inv, label="x", created=CREATED)) == \
        sorted([f"{stem}.spdx.json", *ours])
    # kirkstone's .spdx.tar.zst beside them gets the very same documents
    archive = merge_spdx2_archive(sbom.archive(), inv, label="x", created=CREATED, epoch=EPOCH)
    members = {i.name: d for i, d in unpack(archive)}
    for name, data in out.items():
        if not name.endswith(".index.json"):
            assert members[name] == data, name
    assert members["index.json"] == out[f"{stem}.spdx.index.json"]


def test_merge_loose_real_documents() -> None:
    image_doc = (real(REAL_EXTRACTED) / REAL_IMAGE_DOC).read_bytes()
    index = (REAL_EXTRACTED / "index.json").read_bytes()
    inv = inventory()
    out = merge_spdx2_loose(image_doc, index, inv, label="x", created=CREATED)
    assert messages(out[REAL_IMAGE_DOC]) == []
    assert merge_spdx2_loose(out[REAL_IMAGE_DOC],
                             out[REAL_IMAGE_DOC.replace(".spdx.json", ".spdx.index.json")],
                             inv, label="x", created=CREATED) == out


# ----------------------------------------------------------------------------- corrupt input

# ----------------------------------------------------------------------------- disk images

WIC = "core-image-minimal-qemux86-64.rootfs.wic"
IMAGE_FILE = (f"{WIC}: mbr, ext4, rootfs on partition 2 (Linux, ext4; 96.0 MiB at 33.0 MiB); "
              "also partition 1 (EFI System, vfat; 32.0 MiB at 1.0 MiB)")


def on_disk(inv: Inventory) -> Inventory:
    """`inv` as if scanned from a disk image file: the rootfs on partition 2, the Docker store
    the lower dir of an overlay /etc/fstab declares."""
    def where(img: Image) -> str:
        if img.embedding is Embedding.DOCKER_STORE:
            return (f"partition 2: {img.source} (read-only lower dir of the overlay at "
                    f"{img.source} (/etc/fstab line 4))")
        return f"partition 2: {img.source}"
    return dataclasses.replace(inv, target=f"tmp/deploy/images/qemux86-64/{WIC}",
                               image_file=IMAGE_FILE, images=tuple(
                                   dataclasses.replace(i, stored_at=where(i))
                                   for i in inv.images))


@pytest.mark.parametrize("source", ["small", "real"])
def test_disk_image_file_and_partitions_are_named(source: str) -> None:
    """Each container document says, in its creator comment, which disk image file (and
    rootfs partition) it was read from, and in the container's sourceInfo where in that
    file the container is stored; still valid, still idempotent."""
    before = oe.build().archive() if source == "small" else real(REAL_ARCHIVE).read_bytes()
    inv = on_disk(inventory())
    after = merge_spdx2_archive(before, inv, label=LABEL, created=CREATED, epoch=EPOCH)
    new = {i.name: d for i, d in unpack(after)}
    ours = [json.loads(d) for n, d in new.items() if n.startswith("container-")]
    assert len(ours) == 3
    stored = {(i.name, i.config_digest[7:]): i.stored_at for i in inv.images}
    for doc in ours:
        assert doc["creationInfo"]["comment"].endswith(
            f"inventoried by container-audit. Read from the disk image file {IMAGE_FILE}.")
        container = doc["packages"][0]
        where = stored[(container["name"], container["checksums"][0]["checksumValue"])]
        assert container["sourceInfo"] == f"Stored in the disk image file {WIC} at {where}."
        assert "partition 2: /" in where
    assert any("overlay" in d["packages"][0]["sourceInfo"] for d in ours)
    if source == "small":
        check_merged(before, after, inv, epoch=EPOCH)  # validates every document
    else:
        for doc in ours:
            assert messages(json.dumps(doc).encode()) == []
    assert merge_spdx2_archive(after, inv, label=LABEL, created=CREATED, epoch=EPOCH) == after
    # a plain inventory merged over it: no trace of the image file left
    plain = merge_spdx2_archive(before, inventory(), label=LABEL, created=CREATED, epoch=EPOCH)
    assert merge_spdx2_archive(after, inventory(), label=LABEL, created=CREATED,
                               epoch=EPOCH) == plain


def test_disk_image_loose_kirkstone() -> None:
    sbom = oe.build(oe.KIRKSTONE)
    out = merge_spdx2_loose(sbom.docs[sbom.image_file], sbom.index, on_disk(inventory()),
                            label="x", created=CREATED)
    ours = [json.loads(d) for n, d in out.items() if n.startswith("container-")]
    assert len(ours) == 3
    for doc in ours:
        assert IMAGE_FILE in doc["creationInfo"]["comment"]
        assert doc["packages"][0]["sourceInfo"].startswith(f"Stored in the disk image file {WIC}")
        assert messages(json.dumps(doc).encode()) == []


def test_no_image_file_no_origin() -> None:
    after = merge_spdx2_archive(oe.build().archive(), inventory(), label=LABEL,
                                created=CREATED, epoch=EPOCH)
    for name, data in unpack(after):
        if name.name.startswith("container-"):
            doc = json.loads(data)
            assert "sourceInfo" not in doc["packages"][0]
            assert "disk image" not in doc["creationInfo"]["comment"]


def _tar_zst(members: dict[str, bytes], index: bytes | None) -> bytes:
    return oe.tar_zst([(n, d, oe.SDE) for n, d in members.items()], index)


def _corrupt_archives() -> dict[str, tuple[bytes, str]]:
    small = oe.build()
    good = small.archive()
    image = json.loads(small.docs[small.image_file])
    v23 = dict(small.docs, **{small.image_file: json.dumps(dict(image, spdxVersion="SPDX-2.3"),
                                                           sort_keys=True).encode()})
    no_image = {n: d for n, d in small.docs.items() if n != small.image_file}
    return {
        "not zstd": (b"\x00" * 600, "not zstd"),
        "bad zstd": (b"\x28\xb5\x2f\xfd" + b"\xff" * 200, "corrupt zstd"),
        "truncated zstd": (good[: len(good) // 2], "truncated"),
        "trailing garbage": (good + b"garbage!", "zstd"),
        "zstd, not tar": (oe.zst(b"{}" * 2000), "not a valid tar"),
        "truncated tar": (oe.zst(zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(good), read_across_frames=True).read()[:3000]), "not a valid tar"),
        "no index.json": (_tar_zst(small.docs, None), "no index.json"),
        "index not JSON": (_tar_zst(small.docs, b"{oops"), "index.json: not valid JSON"),
        "index wrong shape": (_tar_zst(small.docs, b'{"docs": []}'), "not an OE SPDX index"),
        "no image document": (_tar_zst(no_image, small.index), "no image document"),
        "SPDX-2.3": (_tar_zst(v23, small.index), "unknown spdxVersion 'SPDX-2.3'"),
    }


@pytest.mark.parametrize("case", sorted(_corrupt_archives()))
def test_corrupt_archive(case: str) -> None:
    data, problem = _corrupt_archives()[case]
    with pytest.raises(SbomError) as err:
        merge_spdx2_archive(data, inventory(), label=LABEL, created=CREATED, epoch=EPOCH)
    assert str(err.value).startswith(f"{LABEL}: ")
    assert problem in str(err.value)


@pytest.mark.parametrize("doc, index, problem", [
    (b"{oops", None, "not valid JSON"),
    (b"[]", None, "not an SPDX document"),
    (b'{"SPDXID": "SPDXRef-DOCUMENT", "spdxVersion": "SPDX-1.2"}', None,
     "unknown spdxVersion 'SPDX-1.2'"),
    ((b'{"SPDXID": "SPDXRef-DOCUMENT", "spdxVersion": "SPDX-2.2", "name": "x", '
      b'"documentNamespace": "http://x/y", "packages": []}'), None, "no image package"),
    (None, b"{oops", "index: not valid JSON"),
])
def test_corrupt_loose(doc: bytes | None, index: bytes | None, problem: str) -> None:
    small = oe.build(oe.KIRKSTONE)
    with pytest.raises(SbomError) as err:
        merge_spdx2_loose(doc if doc is not None else small.docs[small.image_file], index,
                          inventory(), label="img.spdx.json", created=CREATED)
    assert str(err.value).startswith("img.spdx.json: ")
    assert problem in str(err.value)


def test_bad_created() -> None:
    with pytest.raises(SbomError, match=r"^x: creation time 'yesterday'"):
        merge_spdx2_archive(oe.build().archive(), inventory(), label="x", created="yesterday",
                            epoch=None)


def test_deterministic_across_processes() -> None:
    """Same bytes whatever the hash seed (no set or dict order leaks into the output)."""
    script = (
        "import hashlib, sys\n"
        "from tests.sbom.test_spdx2 import inventory, CREATED, EPOCH\n"
        "from tests.sbom import oe_spdx22 as oe\n"
        "from auditor.sbom.yocto_spdx2 import merge_spdx2_archive\n"
        "out = merge_spdx2_archive(oe.build().archive(), inventory(), label='x',"
        " created=CREATED, epoch=EPOCH)\n"
        "sys.stdout.write(hashlib.sha256(out).hexdigest())\n")
    repo = Path(__file__).resolve().parents[2]
    digests = {subprocess.run([sys.executable, "-c", script], cwd=repo, check=True,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1


def test_output_readable_by_zstd_and_tar(tmp_path: Path) -> None:
    need = [t for t in ("zstd", "tar") if shutil.which(t) is None]
    if need:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"missing tools: {need}")
        pytest.skip(f"missing tools: {need}")
    out = tmp_path / "image.spdx.tar.zst"
    out.write_bytes(merge_spdx2_archive(oe.build().archive(), inventory(), label="x",
                                        created=CREATED, epoch=EPOCH))
    listing = subprocess.run(["tar", "--zstd", "-tvf", str(out)], check=True,
                             capture_output=True, text=True).stdout.splitlines()
    assert listing[-1].split()[1] == "root/root" and listing[-1].endswith("index.json")
    assert any("container-docker.io-library-redis-7.2.spdx.json" in line for line in listing)


def test_loose_remerge_removes_its_stale_documents(tmp_path: Path) -> None:
    """Kirkstone's deploy dir: merging an inventory with fewer containers deletes the
    container documents the earlier merge wrote (and only those), after the new files."""
    from auditor.sbom.merge import merge_files

    sbom = oe.build(oe.KIRKSTONE)
    for name, data in sbom.docs.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / f"{oe.KIRKSTONE.image_name}.spdx.index.json").write_bytes(sbom.index)
    image = tmp_path / sbom.image_file
    foreign = tmp_path / "container-someone-else.spdx.json"  # not ours: never touched
    foreign.write_text('{"spdxVersion": "SPDX-2.2", "documentNamespace": "http://x/y"}')
    inv = inventory()
    first = merge_files(image, inv, created=CREATED, epoch=EPOCH)
    ours = sorted(p.name for p in tmp_path.glob("container-*.spdx.json") if p != foreign)
    assert len(ours) == 3 and first.removed == ()
    fewer = dataclasses.replace(inv, images=inv.images[:1])
    second = merge_files(image, fewer, created=CREATED, epoch=EPOCH)
    left = sorted(p.name for p in tmp_path.glob("container-*.spdx.json") if p != foreign)
    assert len(left) == 1 and set(left) < set(ours)
    assert sorted(p.name for p in second.removed) == sorted(set(ours) - set(left))
    assert foreign.exists()
    index = json.loads((tmp_path / f"{oe.KIRKSTONE.image_name}.spdx.index.json").read_text())
    assert {e["filename"] for e in index["documents"]} == \
        {*sbom.docs, *left}  # the index names exactly what is on disk
    doc = json.loads(image.read_text())
    assert len([r for r in doc["externalDocumentRefs"]
                if r["externalDocumentId"].startswith("DocumentRef-container-")]) == 1
