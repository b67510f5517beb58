# SPDX-License-Identifier: Apache-2.0
"""Merging containers into OE's SPDX 3.0.x image SBOM (auditor.sbom.yocto_spdx3).

Inputs: the real walnascar-era 3.0.1 image SBOM kept beside the checkout (never copied in;
missing: skipped locally, a failure in CI), and two small OE-shaped SBOMs of our own in
data/ (3.0.1 with the 5.2+ rootfs file walk, 3.0.0 as styhead writes it). The inventory is
built from model values. spdx3-validate runs offline: the spdx.org URLs it fetches (JSON
schema, SHACL model, JSON-LD context) are served from ../shared/fixtures/spdx3-model.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import json
import os
import random
import time
import urllib.error
import urllib.request
import urllib.response
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spdx_python_model import v3_0_1 as spdx

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
    Package,
    Sentinel,
)
from auditor.sbom.yocto_spdx3 import NAMESPACE, is_spdx3, merge_spdx3

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REAL = (SHARED / "fixtures/yocto-spdx/vulnscout/example/spdx3"
        / "core-image-minimal-qemux86-64.rootfs.spdx.json")
MODEL = SHARED / "fixtures/spdx3-model"
DATA = Path(__file__).resolve().parent / "data"
SMALL = DATA / "oe-3.0.1-container-image.spdx.json"
STYHEAD = DATA / "oe-3.0.0-container-image.spdx.json"
IN_CI = os.environ.get("CI", "").lower() == "true"
CREATED = "2025-06-01T12:00:00Z"
# SPDX 3.0.1's individual for "no license", compact or full
NONE_LICENSE = ("expandedlicensing_NoneLicense",
                "https://spdx.org/rdf/3.0.1/terms/ExpandedLicensing/NoneLicense")


def require(path: Path) -> Path:
    if not path.exists():
        msg = f"missing {path} (shared fixtures beside the checkout)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


# --------------------------------------------------------------------------- the inventory

def _pkg(name: str, version: str, declared: str | Sentinel, concluded: str | Sentinel = NOASSERTION,
         *, ptype: str = "deb", raw: str = "", purl: str | None = None) -> Package:
    purl = purl if purl is not None else f"pkg:{ptype}/{name}@{version}"
    return Package(
        name=name, version=version, type=ptype, purl=purl, layer=None,
        cpes=(f"cpe:2.3:a:{name}:{name}:{version}:*:*:*:*:*:*:*",),
        licenses=(License(value=raw or str(declared), spdx_expression=declared,
                          evidence=(Location(path=f"/usr/share/doc/{name}/copyright"),)),),
        declared_license=declared, concluded_license=concluded)


def _chain(a: str, b: str) -> str:
    return "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()


REDIS = Image(
    name="docker.io/library/redis:7", tags=("docker.io/library/redis:7",),
    config_digest="sha256:" + "a1" * 32, manifest_digest="", architecture="amd64", os="linux",
    source="/usr/share/container-images/redis_container-7.tar", embedding=Embedding.ARCHIVE,
    layers=(Layer(diff_id="sha256:" + "a2" * 32),),
    packages=(
        _pkg("libc6", "2.36-9", "LGPL-2.1-or-later AND GPL-2.0-or-later",
             "LGPL-2.1-or-later AND GPL-2.0-or-later"),
        _pkg("redis", "7.2.4", "BSD-3-Clause"),
        _pkg("libssl3", "3.0.11", "Apache-2.0 OR MIT", "Apache-2.0"),
        _pkg("mit-tool", "1.0", "MIT", "MIT"),
    ))
BUSYBOX = Image(
    name="busybox:1.36", tags=("busybox:1.36",), config_digest="sha256:" + "b2" * 32,
    manifest_digest="", architecture="amd64", os="linux", source="/var/lib/docker",
    embedding=Embedding.DOCKER_STORE,
    layers=(Layer(diff_id="sha256:" + "b3" * 32), Layer(diff_id="sha256:" + "b4" * 32)),
    packages=(
        _pkg("busybox", "1.36.1", "GPL-2.0-only WITH Linux-syscall-note",
             "GPL-2.0-only WITH Linux-syscall-note", ptype="binary"),
        _pkg("foo", "0.1", "LicenseRef-Foo-Public", "LicenseRef-Foo-Public",
             raw="Foo Public License, version 1"),
        _pkg("mystery", "2.0", NOASSERTION),
    ))
APP = Image(
    name="localhost/app:1.0", tags=("localhost/app:1.0", "localhost/app:latest"),
    config_digest="sha256:" + "c5" * 32, manifest_digest="sha256:" + "c6" * 32,
    architecture="amd64", os="linux", source="/var/lib/docker", embedding=Embedding.DOCKER_STORE,
    layers=(Layer(diff_id="sha256:" + "c7" * 32),),
    packages=(
        _pkg("musl", "1.2.4", "MIT", ptype="apk"),
        _pkg("app-data", "1.0", NONE, ptype="apk"),
        _pkg("bar", "3", "MIT AND LicenseRef-Foo-Public", "MIT AND LicenseRef-Foo-Public",
             ptype="apk", raw="MIT and the Foo license"),
    ))
INV = Inventory(target="rootfs", images=(REDIS, BUSYBOX, APP),
                tools=(("container-audit", "0.1.0"), ("syft", "1.18.1"),
                       ("spdx-license-list", "3.27")))


Found = dict[str, list[tuple[str, Any, Any]]]


def expected(inv: Inventory, *, with_none: bool = True) -> Found:
    """config digest → sorted [(purl, declared, concluded)] as a reader should find them."""
    def lic(value: str | Sentinel) -> Any:
        if value is NOASSERTION or (value is NONE and not with_none):
            return None
        return "NONE" if value is NONE else str(value)
    return {img.config_digest.removeprefix("sha256:"): sorted(
        ((p.purl, lic(p.declared_license), lic(p.concluded_license)) for p in img.packages),
        key=repr) for img in inv.images}


# --------------------------------------------------------------------------- a reader

def walk(doc: dict[str, Any]) -> Found:
    """Follow the graph the way a consumer does: SpdxDocument → software_Sbom → rootfs →
    contains → containers → contains → packages → license relationships → expressions."""
    by_id = {o["spdxId"]: o for o in doc["@graph"] if "spdxId" in o}
    rels: dict[tuple[str, str], list[str]] = defaultdict(list)
    for o in doc["@graph"]:
        if o["type"] in ("Relationship", "LifecycleScopedRelationship"):
            rels[(o["from"], o["relationshipType"])].extend(o["to"])
    [document] = [o for o in doc["@graph"] if o["type"] == "SpdxDocument"]
    [sbom] = [by_id[r] for r in document["rootElement"]]
    [rootfs] = [by_id[r] for r in sbom["rootElement"] if by_id[r]["type"] == "software_Package"
                and by_id[r].get("software_primaryPurpose") == "archive"]

    def license_of(pkg_id: str, typ: str) -> Any:
        targets = rels.get((pkg_id, typ), [])
        assert len(targets) <= 1
        if not targets:
            return None
        if targets[0] in NONE_LICENSE:
            return "NONE"
        return by_id[targets[0]]["simplelicensing_licenseExpression"]

    found: Found = {}
    for cid in rels[(rootfs["spdxId"], "contains")]:
        c = by_id[cid]
        if c.get("software_primaryPurpose") != "container":
            continue
        [config] = [h["hashValue"] for h in c["verifiedUsing"]
                    if h.get("comment", "").startswith("OCI image config")]
        found[config] = sorted(
            ((by_id[p].get("software_packageUrl", ""), license_of(p, "hasDeclaredLicense"),
              license_of(p, "hasConcludedLicense"))
             for p in rels[(cid, "contains")] if by_id[p]["type"] == "software_Package"),
            key=repr)
    return found


# --------------------------------------------------------------------------- helpers

def merged(path: Path, inv: Inventory = INV) -> bytes:
    return merge_spdx3(path.read_bytes(), inv, label=path.name, created=CREATED)


def ours(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in doc["@graph"] if str(o.get("spdxId", "")).startswith(NAMESPACE)
            or str(o.get("@id", "")).startswith("_:container-audit-")]


def check_bindings(data: bytes) -> spdx.SHACLObjectSet:
    """The whole merged document loads with spdx-python-model and re-serializes (the
    serializer enforces every required property and cardinality)."""
    objset = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(json.loads(data), objset)
    assert objset.missing_ids == set()
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objset, out)
    again = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().deserialize_data(json.loads(out.getvalue()), again)
    def ids(s: spdx.SHACLObjectSet) -> set[str]:
        return {i for o in s.foreach() if (i := o.get_id()) is not None}

    assert ids(again) == ids(objset)
    return objset


class _LocalSpdxModel(urllib.request.BaseHandler):
    """Serves spdx.org's schema, model and context from the local copies; refuses anything
    else, so validation can never reach the network."""

    handler_order = 100  # before urllib's own http(s) handlers

    def __init__(self) -> None:
        self.files: dict[str, tuple[Path, str]] = {}
        for v in ("3.0.0", "3.0.1"):
            self.files[f"https://spdx.org/rdf/{v}/spdx-context.jsonld"] = (
                MODEL / v / "spdx-context.jsonld", "application/ld+json")
            self.files[f"https://spdx.org/rdf/{v}/spdx-model.ttl"] = (
                MODEL / v / "spdx-model.ttl", "text/turtle")
            self.files[f"https://spdx.org/schema/{v}/spdx-json-schema.json"] = (
                MODEL / v / "spdx-json-schema.json", "application/json")

    def _open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        url = req.full_url
        if url not in self.files:
            raise urllib.error.URLError(f"offline test: no local copy of {url}")
        path, ctype = self.files[url]
        headers = email.message.Message()
        headers["Content-Type"] = ctype
        response = urllib.response.addinfourl(io.BytesIO(path.read_bytes()), headers, url, 200)
        response.msg = "OK"  # type: ignore[attr-defined]  # read by HTTPErrorProcessor
        return response

    http_open = https_open = _open


@pytest.fixture
def offline_spdx_model() -> Iterator[None]:
    require(MODEL / "3.0.1" / "spdx-model.ttl")
    urllib.request.install_opener(urllib.request.build_opener(_LocalSpdxModel()))
    try:
        yield
    finally:
        urllib.request.install_opener(None)


def spdx3_validate(path: Path) -> None:
    from spdx3_validate import validate

    result = validate(str(path))
    assert result.valid, "\n".join(str(e)[:2000] for e in result.errors[:5])


# --------------------------------------------------------------------------- small, 3.0.1

def test_detects_spdx3() -> None:
    assert is_spdx3(SMALL.read_bytes())
    assert is_spdx3(STYHEAD.read_bytes())
    assert is_spdx3(SMALL.read_bytes()[:200])  # truncated: routed here, reported as corrupt
    assert not is_spdx3(b'{"spdxVersion": "SPDX-2.2", "SPDXID": "SPDXRef-DOCUMENT"}')
    assert not is_spdx3(b'{"@context": "https://spdx.org/rdf/3.1/spdx-context.jsonld"}')
    assert not is_spdx3(b"\x28\xb5\x2f\xfd")  # zstd (SPDX 2.2 archive)


def test_small_reader_finds_every_container_package_and_license() -> None:
    doc = json.loads(merged(SMALL))
    assert walk(doc) == expected(INV)


def test_small_elements_and_links() -> None:
    src = json.loads(SMALL.read_bytes())
    doc = json.loads(merged(SMALL))
    by_id = {o["spdxId"]: o for o in doc["@graph"] if "spdxId" in o}
    name = {o["spdxId"]: o["name"] for o in src["@graph"] if o["type"] == "software_File"}
    mine = ours(doc)
    rels = [o for o in mine if o["type"] == "Relationship"]

    [ci] = [o for o in mine if o["type"] == "CreationInfo"]
    assert ci["created"] == CREATED and ci["specVersion"] == "3.0.1"
    assert by_id[ci["createdBy"][0]] == {**by_id[ci["createdBy"][0]], "type": "SoftwareAgent",
                                         "name": "container-audit"}
    assert sorted(by_id[t]["name"] for t in ci["createdUsing"]) == [
        "container-audit 0.1.0", "syft 1.18.1"]
    assert all(o.get("creationInfo", ci["@id"]) == ci["@id"] for o in mine)

    containers = {o["spdxId"]: o for o in mine if o.get("software_primaryPurpose") == "container"}
    redis = containers[f"{NAMESPACE}/container/{'a1' * 32}"]
    assert redis["name"] == "docker.io/library/redis" and redis["software_packageVersion"] == "7"
    assert redis["software_packageUrl"] == (
        f"pkg:oci/redis@sha256:{'a1' * 32}?arch=amd64&repository_url=docker.io/library/redis"
        "&tag=7")
    app = containers[f"{NAMESPACE}/container/{'c5' * 32}"]
    assert sorted(e["identifier"] for e in app["externalIdentifier"]) == [
        f"pkg:oci/app@sha256:{'c6' * 32}?arch=amd64&repository_url=localhost/app&tag=1.0",
        f"pkg:oci/app@sha256:{'c6' * 32}?arch=amd64&repository_url=localhost/app&tag=latest"]
    assert [(h["algorithm"], h["hashValue"]) for h in app["verifiedUsing"]] == [
        ("sha256", "c5" * 32), ("sha256", "c6" * 32)]
    busybox = containers[f"{NAMESPACE}/container/{'b2' * 32}"]
    assert "docker.io/library/busybox" in busybox["software_packageUrl"]

    # the archive OE's rootfs walk already lists expands to the redis container
    [expands] = [r for r in rels if r["relationshipType"] == "expandsTo"]
    assert name[expands["from"]] == "usr/share/container-images/redis_container-7.tar"
    assert expands["to"] == [redis["spdxId"]]
    # files of the shared /var/lib/docker store: each container claims what bears its digests
    claimed = {r["from"]: sorted(name[t] for t in r["to"]) for r in rels
               if r["relationshipType"] == "contains" and r["from"] in containers
               and all(t in name for t in r["to"])}
    store = "var/lib/docker/image/overlay2"
    chain = _chain("sha256:" + "b3" * 32, "sha256:" + "b4" * 32).removeprefix("sha256:")
    assert claimed == {
        busybox["spdxId"]: sorted([f"{store}/imagedb/content/sha256/{'b2' * 32}",
                                   f"{store}/layerdb/sha256/{'b3' * 32}/diff",
                                   f"{store}/layerdb/sha256/{chain}/diff"]),
        app["spdxId"]: sorted([f"{store}/imagedb/content/sha256/{'c5' * 32}",
                               f"{store}/layerdb/sha256/{'c7' * 32}/diff"])}
    assert not any(f"{store}/repositories.json" in v for v in claimed.values())
    # no new software_File: OE's are linked, never duplicated
    assert not [o for o in mine if o["type"] == "software_File"]


def test_small_license_elements() -> None:
    src = json.loads(SMALL.read_bytes())
    doc = json.loads(merged(SMALL))
    by_id = {o["spdxId"]: o for o in doc["@graph"] if "spdxId" in o}
    mine = ours(doc)
    exprs = [o for o in mine if o["type"] == "simplelicensing_LicenseExpression"]
    strings = [o["simplelicensing_licenseExpression"] for o in exprs]
    assert len(strings) == len(set(strings)), "one element per distinct expression"
    assert "MIT" not in strings, "OE's identical MIT element is reused"
    [oe_mit] = [o["spdxId"] for o in src["@graph"]
                if o.get("simplelicensing_licenseExpression") == "MIT"]
    lic_rels = [o for o in mine if o["type"] == "Relationship"
                and o["relationshipType"] in ("hasDeclaredLicense", "hasConcludedLicense")]
    assert any(r["to"] == [oe_mit] for r in lic_rels)
    assert all(o["simplelicensing_licenseListVersion"] == "3.27.0" for o in exprs)
    # LicenseRefs: the expression maps each one to a text element holding what was found
    refd = [o for o in exprs if "LicenseRef-Foo-Public" in o["simplelicensing_licenseExpression"]]
    assert len(refd) == 2
    targets = {e["value"] for o in refd for e in o["simplelicensing_customIdToUri"]
               if e["key"] == "LicenseRef-Foo-Public"}
    [text_id] = targets
    text = by_id[text_id]
    assert text["type"] == "simplelicensing_SimpleLicensingText"
    assert text["simplelicensing_licenseText"] == (
        "Foo Public License, version 1\nMIT and the Foo license")
    # declared and concluded apart; NOASSERTION has no relationship at all
    types = defaultdict(set)
    for r in lic_rels:
        types[by_id[r["from"]]["name"]].add(r["relationshipType"])
    assert types["redis"] == {"hasDeclaredLicense"}
    assert types["libssl3"] == {"hasDeclaredLicense", "hasConcludedLicense"}
    assert "mystery" not in types


def test_small_oe_elements_unchanged() -> None:
    src = json.loads(SMALL.read_bytes())["@graph"]
    out = json.loads(merged(SMALL))["@graph"]
    assert out[:len(src)] == src  # same objects, same order; ours only appended
    assert len(out) - len(src) == len(ours({"@graph": out}))
    # and the pretty (SPDX_PRETTY=1) layout is kept: the input is a prefix of the output
    raw = SMALL.read_bytes()
    last_oe_object = raw[:raw.rindex(b"\n  ]\n}")]
    assert merged(SMALL).startswith(last_oe_object + b",\n    {")


def test_small_idempotent_and_deterministic() -> None:
    once = merged(SMALL)
    assert merge_spdx3(once, INV, label="x", created=CREATED) == once
    rnd = random.Random(7)
    images = [replace(i, packages=tuple(rnd.sample(i.packages, len(i.packages))))
              for i in INV.images]
    shuffled = replace(INV, images=tuple(rnd.sample(images, len(images))))
    assert merged(SMALL, shuffled) == once
    # a different inventory replaces the previous merge entirely
    fewer = replace(INV, images=(REDIS,))
    assert merge_spdx3(once, fewer, label="x", created=CREATED) == merged(SMALL, fewer)
    assert merge_spdx3(once, replace(INV, images=()), label="x",
                       created=CREATED) == json.dumps(
        json.loads(SMALL.read_bytes()), indent=2).encode()


def test_small_ids_do_not_depend_on_oe_ids() -> None:
    """A rebuild changes every OE spdxId (BB_UNIHASH); our IDs stay put."""
    raw = SMALL.read_text()
    rebuilt = raw.replace("/" + hashlib.sha256(b"rootfs").hexdigest() + "/", "/" + "0" * 64 + "/")
    assert rebuilt != raw
    a = {o["spdxId"] for o in ours(json.loads(merged(SMALL))) if "spdxId" in o}
    b = {o["spdxId"] for o in ours(json.loads(
        merge_spdx3(rebuilt.encode(), INV, label="x", created=CREATED))) if "spdxId" in o}
    assert a == b


def test_small_loads_with_bindings() -> None:
    objset = check_bindings(merged(SMALL))
    c = objset.find_by_id(f"{NAMESPACE}/container/{'a1' * 32}")
    assert isinstance(c, spdx.software_Package)
    assert c.software_primaryPurpose == spdx.software_SoftwarePurpose.container


def test_small_validates(tmp_path: Path, offline_spdx_model: None) -> None:
    out = tmp_path / "merged.spdx.json"
    out.write_bytes(merged(SMALL))
    spdx3_validate(out)


# --------------------------------------------------------------------------- styhead, 3.0.0

def test_styhead_3_0_0(tmp_path: Path, offline_spdx_model: None) -> None:
    data = merged(STYHEAD)
    doc = json.loads(data)
    assert doc["@context"] == "https://spdx.org/rdf/3.0.0/spdx-context.jsonld"
    # NONE needs 3.0.1's NoneLicense individual: left out in 3.0.0, like NOASSERTION
    assert walk(doc) == expected(INV, with_none=False)
    [ci] = [o for o in ours(doc) if o["type"] == "CreationInfo"]
    assert ci["specVersion"] == "3.0.0"
    # styhead has no rootfs walk: nothing to link, nothing duplicated
    assert not [o for o in ours(doc) if o.get("relationshipType") == "expandsTo"]
    assert merge_spdx3(data, INV, label="x", created=CREATED) == data
    out = tmp_path / "merged-3.0.0.spdx.json"
    out.write_bytes(data)
    spdx3_validate(out)


# --------------------------------------------------------------------------- disk image files

WIC = "core-image-minimal-qemux86-64.rootfs.wic"
IMAGE_FILE = (f"{WIC}: gpt, ext4, rootfs on partition 2 (Linux filesystem, ext4, name 'root'; "
              "96.0 MiB at 33.0 MiB); also partition 1 (EFI System, vfat; 32.0 MiB at 1.0 MiB)")
ON_DISK = replace(INV, target=f"tmp/deploy/images/qemux86-64/{WIC}", image_file=IMAGE_FILE,
                  images=tuple(replace(i, stored_at=f"partition 2: {i.source}")
                               for i in INV.images))


def _origin(doc: dict[str, Any]) -> tuple[list[tuple[str, str]], dict[str, str | None]]:
    """([(annotated element, statement)] of our Annotations, {container: sourceInfo})."""
    mine = ours(doc)
    return ([(o["subject"], o["statement"]) for o in mine if o["type"] == "Annotation"],
            {o["spdxId"]: o.get("software_sourceInfo") for o in mine
             if o.get("software_primaryPurpose") == "container"})


@pytest.mark.parametrize("sbom", [SMALL, STYHEAD], ids=["3.0.1", "3.0.0"])
def test_disk_image_file_and_partitions_are_named(sbom: Path, tmp_path: Path,
                                                  offline_spdx_model: None) -> None:
    """An inventory of a disk image file: an Annotation on OE's rootfs names the file and
    its rootfs partition, each container's sourceInfo where in it it is stored; valid,
    idempotent, and merging a plain inventory over it takes all of that away again."""
    data = merged(sbom, ON_DISK)
    doc = json.loads(data)
    [rootfs] = [o["spdxId"] for o in doc["@graph"] if o.get("software_primaryPurpose") == "archive"]
    annotations, containers = _origin(doc)
    assert annotations == [(rootfs, f"Read from the disk image file {IMAGE_FILE}.")]
    [annotation] = [o for o in ours(doc) if o["type"] == "Annotation"]
    assert annotation["annotationType"] == "other"
    assert containers == {f"{NAMESPACE}/container/{i.config_digest[7:]}":
                          f"Stored in the disk image file {WIC} at partition 2: {i.source}."
                          for i in INV.images}
    assert walk(doc) == expected(INV, with_none=sbom is SMALL)
    assert merge_spdx3(data, ON_DISK, label="x", created=CREATED) == data
    assert merge_spdx3(data, INV, label="x", created=CREATED) == merged(sbom)
    if sbom is SMALL:  # the 3.0.1 bindings do not load styhead's 3.0.0 terms (hasInputs)
        check_bindings(data)
    out = tmp_path / "merged.spdx.json"
    out.write_bytes(data)
    spdx3_validate(out)


def test_no_image_file_no_origin() -> None:
    annotations, containers = _origin(json.loads(merged(SMALL)))
    assert annotations == [] and len(containers) == 3
    assert set(containers.values()) == {None}
    assert b"disk image file" not in merged(SMALL)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("data", "message"), [
    (b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [{"type":',
     "corrupt JSON at line 1"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[]", "expected a JSON-LD object"),
    (json.dumps({"spdxVersion": "SPDX-2.2", "SPDXID": "SPDXRef-DOCUMENT"}).encode(),
     "SPDX-2.2 document, expected SPDX 3.0"),
    (json.dumps({"@context": "https://spdx.org/rdf/3.1/spdx-context.jsonld",
                 "@graph": []}).encode(), "SPDX 3.1 is not supported"),
    (json.dumps({"@context": "https://example.org/ctx.jsonld", "@graph": []}).encode(),
     "is not one SPDX context URL"),
    (json.dumps({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
                 "@graph": []}).encode(), "expected one SpdxDocument element, found 0"),
])
def test_errors(data: bytes, message: str) -> None:
    with pytest.raises(SbomError, match=r"^bad\.spdx\.json: .*" + message.replace(".", r"\.")):
        merge_spdx3(data, INV, label="bad.spdx.json", created=CREATED)


def test_missing_image_root() -> None:
    doc = json.loads(SMALL.read_bytes())
    doc["@graph"] = [o for o in doc["@graph"] if o.get("software_primaryPurpose") != "archive"]
    with pytest.raises(SbomError, match="no image root"):
        merge_spdx3(json.dumps(doc).encode(), INV, label="x", created=CREATED)


def test_bad_created() -> None:
    with pytest.raises(SbomError, match="not an ISO 8601 timestamp"):
        merge_spdx3(SMALL.read_bytes(), INV, label="x", created="yesterday")


# --------------------------------------------------------------------------- the real SBOM

@pytest.fixture(scope="module")
def real() -> tuple[bytes, bytes, float]:
    data = require(REAL).read_bytes()
    t0 = time.perf_counter()
    out = merge_spdx3(data, INV, label=REAL.name, created=CREATED)
    return data, out, time.perf_counter() - t0


def test_real_timing(real: tuple[bytes, bytes, float]) -> None:
    data, _, seconds = real
    n = len(json.loads(data)["@graph"])
    print(f"\nmerge_spdx3 on the real {n}-element OE SBOM: {seconds * 1000:.0f} ms")
    assert n == 2558
    assert seconds < 5  # target < 1 s; generous for slow CI machines


def test_real_reader_and_oe_unchanged(real: tuple[bytes, bytes, float]) -> None:
    data, out, _ = real
    assert out.startswith(data[:-2])  # compact OE layout, byte for byte, ours appended
    src = json.loads(data)["@graph"]
    doc = json.loads(out)
    assert doc["@graph"][:len(src)] == src
    by_id = {o["spdxId"]: o for o in doc["@graph"] if "spdxId" in o}
    for o in src:
        if "spdxId" in o:
            assert by_id[o["spdxId"]] == o
    assert walk(doc) == expected(INV)


def test_real_idempotent_and_deterministic(real: tuple[bytes, bytes, float]) -> None:
    data, out, _ = real
    assert merge_spdx3(out, INV, label="x", created=CREATED) == out
    assert merge_spdx3(data, INV, label="x", created=CREATED) == out


def test_real_loads_with_bindings(real: tuple[bytes, bytes, float]) -> None:
    check_bindings(real[1])


def test_real_validates(real: tuple[bytes, bytes, float], tmp_path: Path,
                        offline_spdx_model: None) -> None:
    out = tmp_path / "merged-real.spdx.json"
    out.write_bytes(real[1])
    spdx3_validate(out)


def test_offline_validator_is_not_vacuous(tmp_path: Path, offline_spdx_model: None) -> None:
    """The same offline setup rejects a merge we broke on purpose."""
    doc = json.loads(merged(SMALL))
    for o in ours(doc):
        if o.get("software_primaryPurpose") == "container":
            o["software_primaryPurpose"] = "bogus"
    out = tmp_path / "broken.spdx.json"
    out.write_text(json.dumps(doc))
    from spdx3_validate import validate

    result = validate(str(out))
    assert not result.valid
    assert any("primaryPurpose" in e.message for e in result.errors)


# --------------------------------------------------------------------------- properties

_EXPRESSIONS = st.sampled_from([
    NOASSERTION, NONE, "MIT", "GPL-2.0-only AND bzip2-1.0.6", "Apache-2.0 OR MIT",
    "GPL-2.0-or-later WITH Classpath-exception-2.0", "LicenseRef-Custom",
    "(MIT OR BSD-3-Clause) AND LicenseRef-Other-1.0"])


@st.composite
def _inventories(draw: st.DrawFn) -> Inventory:
    packages = st.builds(
        lambda name, version, ptype, declared, concluded: _pkg(
            name, version, declared, concluded, ptype=ptype),
        st.sampled_from(["a", "b", "libfoo", "zlib"]), st.sampled_from(["1", "2.0-r1"]),
        st.sampled_from(["deb", "apk", "binary", "python"]), _EXPRESSIONS, _EXPRESSIONS)
    digests = draw(st.lists(st.binary(min_size=4, max_size=4), min_size=0, max_size=3,
                            unique=True))
    images = []
    for i, d in enumerate(digests):
        images.append(replace(
            BUSYBOX if i % 2 else REDIS, config_digest="sha256:" + d.hex() * 8,
            packages=tuple(draw(st.lists(packages, max_size=6)))))
    return replace(INV, images=tuple(images))


@settings(max_examples=60, deadline=None)
@given(_inventories())
def test_property_idempotent_and_complete(inv: Inventory) -> None:
    once = merged(SMALL, inv)
    assert merge_spdx3(once, inv, label="x", created=CREATED) == once
    assert walk(json.loads(once)) == expected(inv)
    # replacing one inventory by another equals merging the other from scratch
    assert merge_spdx3(once, INV, label="x", created=CREATED) == merged(SMALL)
