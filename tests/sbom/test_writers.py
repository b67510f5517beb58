# SPDX-License-Identifier: Apache-2.0
"""sbom/ stage: the standalone SPDX 2.3, SPDX 3.0.1 and CycloneDX 1.6 writers.

Each output must pass its format's validator (spdx-tools; spdx-python-model and spdx3-validate
with the official schema and SHACL model from ../shared, offline; cyclonedx-python-lib's
strict JSON validator), nest product → containers → packages with every license intact, and
be byte-stable. Golden files in golden/ are rewritten with UPDATE_GOLDEN=1 and reviewed
like code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rdflib
import spdx_python_model
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx3_validate.core import Document, check_graph, schema_validator
from spdx3_validate.spdx_versions import find_version
from spdx_tools.spdx.parser.json import json_parser
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
from auditor.sbom.writers import write_cyclonedx, write_spdx3, write_spdx23
from tests.conftest import SHARED, need_path

# rdflib's JSON-LD parser (used by spdx3-validate's approach) still builds a ConjunctiveGraph
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

GOLDEN = Path(__file__).parent / "golden"
SPDX3_MODEL = SHARED / "fixtures" / "spdx3-model" / "3.0.1"
CREATED = "2024-05-01T12:00:00Z"

L_BASE = "sha256:" + "1" * 64
L_REDIS = "sha256:" + "2" * 64
L_APP = "sha256:" + "3" * 64
L_TOOLS = "sha256:" + "4" * 64


# --------------------------------------------------------------------------- the inventory


def _pkg(name: str, version: str, purl: str, layer: str | None, *, type: str = "deb",
         declared: Any = NOASSERTION, concluded: Any = NOASSERTION, **more: Any) -> Package:
    return Package(name=name, version=version, type=type, purl=purl, layer=layer,
                   declared_license=declared, concluded_license=concluded, **more)


REDIS = Image(
    name="localhost/redis:7.2", tags=("localhost/redis:7.2",),
    config_digest="sha256:" + "a" * 64, manifest_digest="", architecture="arm64", os="linux",
    source="var/lib/images/redis.tar", embedding=Embedding.ARCHIVE,
    layers=(Layer(diff_id=L_BASE), Layer(diff_id=L_REDIS)),
    packages=(
        _pkg("libgcc-s1", "12.2.0-14",
             "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=arm64&distro=debian-12", L_BASE,
             declared="GPL-3.0-or-later WITH GCC-exception-3.1", declared_method="dep5",
             licenses=(License(value="GPL-3+ with GCC-exception-3.1",
                               spdx_expression="GPL-3.0-or-later WITH GCC-exception-3.1"),),
             other_licenses=(OtherLicense(files=("libiberty/*",), raw="LGPL-2.1+",
                                          expression="LGPL-2.1-or-later"),),
             cpes=("cpe:2.3:a:libgcc-s1:libgcc-s1:12.2.0-14:*:*:*:*:*:*:*",),
             source_name="gcc-12", source_version="12.2.0-14", found_by="dpkg-db-cataloger",
             locations=(Location(path="/var/lib/dpkg/status", layer=L_BASE),)),
        _pkg("redis", "7.2.4", "pkg:generic/redis@7.2.4", L_REDIS, type="binary",
             declared="LicenseRef-Redis-Source-Available",
             licenses=(License(value="Redis Source Available License",
                               spdx_expression="LicenseRef-Redis-Source-Available"),),
             locations=(Location(path="/usr/local/bin/redis-server", layer=L_REDIS),)),
        _pkg("tzdata", "2024a-0", "pkg:deb/debian/tzdata@2024a-0?arch=all&distro=debian-12",
             L_BASE),
    ))

APP = Image(
    name="localhost/app:1.0", tags=("localhost/app:1.0", "localhost/app:latest"),
    config_digest="sha256:" + "b" * 64, manifest_digest="sha256:" + "c" * 64,
    architecture="arm64", os="linux", source="var/lib/containers/storage",
    embedding=Embedding.CONTAINERS_STORAGE, layers=(Layer(diff_id=L_APP),),
    packages=(
        _pkg("busybox", "1.36.1-r15",
             "pkg:apk/alpine/busybox@1.36.1-r15?arch=aarch64&distro=alpine-3.19", L_APP,
             type="apk", declared="GPL-2.0-only", concluded="GPL-2.0-only"),
        _pkg("libssl3", "3.1.4-r5",
             "pkg:apk/alpine/libssl3@3.1.4-r5?arch=aarch64&distro=alpine-3.19", L_APP,
             type="apk", declared="Apache-2.0 OR MIT", concluded="MIT",
             curation="policy chose MIT of Apache-2.0 OR MIT",
             source_name="openssl", source_version="3.1.4-r5"),
        # `LicenseRef-GPL` is an alias in license-expression's SPDX table: it must not come
        # out as GPL-1.0-or-later.
        _pkg("legacy-tool", "1.0", "pkg:apk/alpine/legacy-tool@1.0?arch=aarch64", L_APP,
             type="apk", declared="LicenseRef-GPL AND MIT", concluded=NONE),
    ))

# untagged, two packages with the same purl (found at two paths), one without a purl
TOOLS = Image(
    name="0123456789ab", tags=(), config_digest="sha256:0123456789ab" + "d" * 52,
    manifest_digest="", architecture="arm64", os="linux", source="opt/images/tools",
    embedding=Embedding.OCI, layers=(Layer(diff_id=L_TOOLS),),
    packages=(
        _pkg("six", "1.16.0", "pkg:pypi/six@1.16.0", L_TOOLS, type="python",
             declared="MIT", locations=(Location(path="/usr/lib/python3/six.py", layer=L_TOOLS),)),
        _pkg("six", "1.16.0", "pkg:pypi/six@1.16.0", L_TOOLS, type="python",
             declared="MIT", locations=(Location(path="/opt/venv/six.py", layer=L_TOOLS),)),
        _pkg("blob", "", "", None, type="binary"),
    ))

INVENTORY = Inventory(
    target="core-image-minimal-qemuarm64.rootfs.tar.zst", images=(APP, REDIS, TOOLS),
    tools=(("container-audit", "0.1.0"), ("syft", "1.18.1")), created=CREATED)

# (image, package, declared, concluded) as every format must show them
EXPECTED = {
    ("localhost/redis:7.2", "libgcc-s1", "GPL-3.0-or-later WITH GCC-exception-3.1", "NOASSERTION"),
    ("localhost/redis:7.2", "redis", "LicenseRef-Redis-Source-Available", "NOASSERTION"),
    ("localhost/redis:7.2", "tzdata", "NOASSERTION", "NOASSERTION"),
    ("localhost/app:1.0", "busybox", "GPL-2.0-only", "GPL-2.0-only"),
    ("localhost/app:1.0", "libssl3", "Apache-2.0 OR MIT", "MIT"),
    ("localhost/app:1.0", "legacy-tool", "LicenseRef-GPL AND MIT", "NONE"),
    ("0123456789ab", "six", "MIT", "NOASSERTION"),
    ("0123456789ab", "blob", "NOASSERTION", "NOASSERTION"),
}
LAYER_OF = {"libgcc-s1": L_BASE, "redis": L_REDIS, "tzdata": L_BASE, "busybox": L_APP,
            "libssl3": L_APP, "legacy-tool": L_APP, "six": L_TOOLS}

WRITERS: dict[str, Callable[..., bytes]] = {
    "spdx23": write_spdx23, "spdx3": write_spdx3, "cyclonedx": write_cyclonedx}
GOLDEN_NAMES = {"spdx23": "product.spdx.json", "spdx3": "product.spdx3.json",
                "cyclonedx": "product.cdx.json"}


@pytest.fixture(scope="module")
def outputs() -> dict[str, bytes]:
    return {name: write(INVENTORY, created=CREATED) for name, write in WRITERS.items()}


# --------------------------------------------------------------------------- SPDX 2.3


def _spdx23_tree(data: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    by_id = {p["SPDXID"]: p for p in data["packages"]}
    contains: dict[str, list[str]] = {}
    for rel in data["relationships"]:
        if rel["relationshipType"] == "CONTAINS":
            contains.setdefault(rel["spdxElementId"], []).append(rel["relatedSpdxElement"])
    roots = [r["relatedSpdxElement"] for r in data["relationships"]
             if r["relationshipType"] == "DESCRIBES"]
    assert len(roots) == 1
    product = by_id[roots[0]]
    assert product["name"] == INVENTORY.target
    assert product["primaryPackagePurpose"] == "OPERATING_SYSTEM"
    found = set()
    for image_id in contains[product["SPDXID"]]:
        image = by_id[image_id]
        assert image["primaryPackagePurpose"] == "CONTAINER"
        for pkg_id in contains.get(image_id, []):
            pkg = by_id[pkg_id]
            found.add((image["name"], pkg["name"], pkg["licenseDeclared"],
                       pkg["licenseConcluded"]))
            if pkg["name"] in LAYER_OF:
                assert f"layer: {LAYER_OF[pkg['name']]}" in pkg["comment"].splitlines()
    return found


def test_spdx23_validates_with_spdx_tools(outputs: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "product.spdx.json"
    path.write_bytes(outputs["spdx23"])
    document = json_parser.parse_from_file(str(path))
    assert validate_full_spdx_document(document) == []


def test_spdx23_nests_product_containers_packages(outputs: dict[str, bytes]) -> None:
    data = json.loads(outputs["spdx23"])
    assert data["spdxVersion"] == "SPDX-2.3"
    assert _spdx23_tree(data) == EXPECTED
    refs = {x["licenseId"]: x["extractedText"] for x in data["hasExtractedLicensingInfos"]}
    assert sorted(refs) == ["LicenseRef-GPL", "LicenseRef-Redis-Source-Available"]
    assert refs["LicenseRef-Redis-Source-Available"] == "Redis Source Available License"
    redis = next(p for p in data["packages"] if p["name"] == "localhost/redis:7.2")
    assert redis["checksums"] == [{"algorithm": "SHA256", "checksumValue": "a" * 64}]
    assert redis["externalRefs"][0]["referenceLocator"].startswith(
        "pkg:oci/redis@sha256:" + "a" * 64)
    libgcc = next(p for p in data["packages"] if p["name"] == "libgcc-s1")
    assert {(r["referenceCategory"], r["referenceType"]) for r in libgcc["externalRefs"]} == {
        ("PACKAGE_MANAGER", "purl"), ("SECURITY", "cpe23Type")}
    assert "other-license: libiberty/*: LGPL-2.1-or-later" in libgcc["licenseComments"]


# --------------------------------------------------------------------------- SPDX 3.0.1


def _spdx3_validate_offline(text: str) -> list[str]:
    """What `spdx3-validate` does (JSON schema, then SHACL with its ExternalMap handling),
    with the official files from ../shared instead of spdx.org.

    spdx3-validate 0.0.7 has no option for local files: `load_validation_data` downloads
    the schema and the model, and `Document.from_text` lets rdflib fetch the @context URL. So
    the graph is parsed with the local context put in place of the URL (the same terms) and
    its own `schema_validator` and `check_graph` run on the local schema and model.
    """
    for name in ("spdx-context.jsonld", "spdx-json-schema.json", "spdx-model.ttl"):
        need_path(SPDX3_MODEL / name)
    data = json.loads(text)
    version = find_version(data["@context"])
    assert version is not None and version.pretty == "3.0.1"
    context = json.loads((SPDX3_MODEL / "spdx-context.jsonld").read_text("utf-8"))
    graph = rdflib.Graph()
    graph.parse(data=json.dumps({**data, "@context": context["@context"]}), format="json-ld")
    assert len(graph) >= len(data["@graph"])  # the terms resolved: every object is typed
    document = Document("product.spdx3.json", data, graph, version)
    schema = json.loads((SPDX3_MODEL / "spdx-json-schema.json").read_text("utf-8"))
    shacl = rdflib.Graph()
    shacl.parse(SPDX3_MODEL / "spdx-model.ttl", format="turtle")
    errors = [f"{e.json_path}: {e.message}"
              for e in schema_validator(schema).iter_errors(document.data)]
    return errors + check_graph(document.graph, shacl, version, True)


def test_spdx3_passes_spdx3_validate_offline(outputs: dict[str, bytes]) -> None:
    assert _spdx3_validate_offline(outputs["spdx3"].decode()) == []


def test_spdx3_offline_validation_catches_errors(outputs: dict[str, bytes]) -> None:
    data = json.loads(outputs["spdx3"])
    package = next(o for o in data["@graph"] if o["type"] == "software_Package")
    del package["creationInfo"]
    assert _spdx3_validate_offline(json.dumps(data))


def test_spdx3_round_trips_and_nests(outputs: dict[str, bytes]) -> None:
    model, objects = spdx_python_model.load_data(json.loads(outputs["spdx3"]))
    assert model.__name__.endswith("v3_0_1")
    assert not objects.missing_ids
    (document,) = objects.foreach_type(model.SpdxDocument)
    (sbom,) = document.rootElement
    assert isinstance(sbom, model.software_Sbom)
    (product,) = sbom.rootElement
    assert product.name == INVENTORY.target
    assert product.software_primaryPurpose == model.software_SoftwarePurpose.operatingSystem

    related: dict[tuple[str, str], list[Any]] = {}
    for rel in objects.foreach_type(model.Relationship):
        related.setdefault((rel.from_._id, rel.relationshipType), []).extend(rel.to)

    def one_license(pkg: Any, kind: str) -> str:
        (target,) = related[(pkg._id, kind)]
        if isinstance(target, str):  # a named individual
            return {model.expandedlicensing_IndividualLicensingInfo.NoAssertionLicense:
                    "NOASSERTION",
                    model.expandedlicensing_IndividualLicensingInfo.NoneLicense: "NONE"}[target]
        assert isinstance(target, model.simplelicensing_LicenseExpression)
        return str(target.simplelicensing_licenseExpression)

    found = set()
    expressions: dict[str, Any] = {}
    for container in related[(product._id, model.RelationshipType.contains)]:
        assert container.software_primaryPurpose == model.software_SoftwarePurpose.container
        assert container.software_packageUrl.startswith("pkg:oci/")
        (digest,) = container.verifiedUsing
        assert digest.algorithm == model.HashAlgorithm.sha256
        for pkg in related.get((container._id, model.RelationshipType.contains), []):
            found.add((container.name, pkg.name,
                       one_license(pkg, model.RelationshipType.hasDeclaredLicense),
                       one_license(pkg, model.RelationshipType.hasConcludedLicense)))
            props = {(e.extension_cdxPropName, e.extension_cdxPropValue)
                     for ext in pkg.extension for e in ext.extension_cdxProperty}
            if pkg.name in LAYER_OF:
                assert ("container-audit:layer", LAYER_OF[pkg.name]) in props
            for kind in (model.RelationshipType.hasDeclaredLicense,
                         model.RelationshipType.hasConcludedLicense):
                for target in related[(pkg._id, kind)]:
                    if not isinstance(target, str):
                        text = target.simplelicensing_licenseExpression
                        assert expressions.setdefault(text, target) is target  # one per text
    assert found == EXPECTED
    (with_ref,) = [e for e in expressions.values()
                   if e.simplelicensing_licenseExpression == "LicenseRef-GPL AND MIT"]
    (entry,) = with_ref.simplelicensing_customIdToUri
    text = objects.find_by_id(entry.value)
    assert isinstance(text, model.simplelicensing_SimpleLicensingText)
    assert entry.key == "LicenseRef-GPL"
    tools = {t.name for t in document.creationInfo.createdUsing}
    assert tools == {"container-audit 0.1.0", "syft 1.18.1"}


# --------------------------------------------------------------------------- CycloneDX 1.6


def test_cyclonedx_passes_strict_json_validator(outputs: dict[str, bytes]) -> None:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        outputs["cyclonedx"].decode(), all_errors=True)
    assert errors is None, [str(e) for e in errors or ()]


def test_cyclonedx_nests_product_containers_packages(outputs: dict[str, bytes]) -> None:
    data = json.loads(outputs["cyclonedx"])
    assert data["specVersion"] == "1.6"
    assert data["metadata"]["component"]["name"] == INVENTORY.target
    assert data["metadata"]["timestamp"].startswith("2024-05-01T12:00:00")

    def prop(component: dict[str, Any], name: str) -> list[str]:
        return [p["value"] for p in component.get("properties", []) if p["name"] == name]

    found = set()
    refs = set()
    for container in data["components"]:
        assert container["type"] == "container"
        assert container["purl"].startswith("pkg:oci/")
        assert prop(container, "container-audit:config-digest") == [
            "sha256:" + container["hashes"][0]["content"]]
        assert prop(container, "container-audit:source")
        assert prop(container, "container-audit:embedding")
        for pkg in container.get("components", []):
            refs.add(pkg["bom-ref"])
            (declared,) = prop(pkg, "container-audit:declared-license")
            (concluded,) = prop(pkg, "container-audit:concluded-license")
            found.add((container["name"], pkg["name"], declared, concluded))
            if pkg["name"] in LAYER_OF:
                assert prop(pkg, "container-audit:layer") == [LAYER_OF[pkg["name"]]]
            licenses = pkg.get("licenses", [])
            shown = concluded if concluded != "NOASSERTION" else declared
            if shown in ("NOASSERTION", "NONE"):
                assert licenses == []
            elif " " in shown:
                assert licenses == [{"expression": shown, "acknowledgement": (
                    "concluded" if shown == concluded else "declared")}]
            else:
                (lic,) = licenses
                assert shown in (lic["license"].get("id"), lic["license"].get("name"))
    assert found == EXPECTED
    assert len(refs) == 9  # the two `six` packages keep apart
    graph = {d["ref"]: set(d.get("dependsOn", [])) for d in data["dependencies"]}
    product = data["metadata"]["component"]["bom-ref"]
    assert graph[product] == {c["bom-ref"] for c in data["components"]}


# --------------------------------------------------------------------------- all formats


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_byte_identical_for_same_input(fmt: str, outputs: dict[str, bytes]) -> None:
    write = WRITERS[fmt]
    assert write(INVENTORY, created=CREATED) == outputs[fmt]
    # the order in which sources and catalogers delivered things does not matter
    shuffled = dataclasses.replace(INVENTORY, images=tuple(
        dataclasses.replace(i, packages=i.packages[::-1]) for i in INVENTORY.images[::-1]))
    assert write(shuffled, created=CREATED) == outputs[fmt]
    # another creation time is another document
    assert write(INVENTORY, created="2024-05-02T00:00:00Z") != outputs[fmt]


def _package_ids(fmt: str, out: bytes) -> set[str]:
    data = json.loads(out)
    if fmt == "spdx23":
        return {p["SPDXID"] for p in data["packages"]
                if p["SPDXID"].startswith("SPDXRef-Package-")}
    if fmt == "spdx3":  # the document part of the IRI differs, the uuid must not
        return {o["spdxId"].rsplit("/", 1)[1] for o in data["@graph"]
                if "/package/" in o.get("spdxId", "")}
    return {c["bom-ref"] for image in data["components"] for c in image.get("components", [])}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_ids_follow_content_not_neighbours(fmt: str, outputs: dict[str, bytes]) -> None:
    alone = WRITERS[fmt](dataclasses.replace(INVENTORY, images=(REDIS,)), created=CREATED)
    everything = _package_ids(fmt, outputs[fmt])
    assert len(everything) == 9  # the two `six` packages keep apart
    ids = _package_ids(fmt, alone)
    assert len(ids) == 3 and ids < everything


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_golden(fmt: str, outputs: dict[str, bytes]) -> None:
    path = GOLDEN / GOLDEN_NAMES[fmt]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(outputs[fmt])
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 and review it"
    assert outputs[fmt] == path.read_bytes(), (
        f"{path.name} changed: run with UPDATE_GOLDEN=1 and review the diff")


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_empty_inventory_is_a_valid_product(fmt: str) -> None:
    out = WRITERS[fmt](Inventory(target="empty-rootfs", images=()), created=CREATED)
    if fmt == "spdx3":
        assert _spdx3_validate_offline(out.decode()) == []
    elif fmt == "cyclonedx":
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.decode()) is None
    else:
        assert json.loads(out)["packages"][0]["name"] == "empty-rootfs"


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize("bad", [
    {"declared_license": "MIT AND"},
    {"declared_license": ""},
    {"concluded_license": "DocumentRef-other:LicenseRef-x"},
    {"purl": "not a purl"},
])
def test_unrepresentable_values_raise_sbom_error(fmt: str, bad: dict[str, str]) -> None:
    broken = dataclasses.replace(REDIS, packages=(
        dataclasses.replace(REDIS.packages[0], **bad),))
    with pytest.raises(SbomError, match="libgcc-s1"):
        WRITERS[fmt](Inventory(target="rootfs", images=(broken,)), created=CREATED)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_bad_created_raises_sbom_error(fmt: str) -> None:
    with pytest.raises(SbomError, match="created"):
        WRITERS[fmt](INVENTORY, created="yesterday")


# --------------------------------------------------------------------------- disk image files

WIC = "core-image-minimal-qemuarm64.rootfs.wic"
IMAGE_FILE = (f"{WIC}: gpt, ext4, rootfs on partition 2 (Linux filesystem, ext4, name 'rootfs'; "
              "120.0 MiB at 33.0 MiB); also partition 1 (EFI System, vfat, label 'EFI', "
              "name 'efi'; 32.0 MiB at 1.0 MiB)")
# what `ImageFileInfo.where` writes: plain, a partition fstab mounts, an overlay lower dir
STORED_AT = {
    "localhost/redis:7.2": "partition 2: /var/lib/images/redis.tar",
    "localhost/app:1.0": "partition 3: /storage (mounted at /var/lib/containers/storage, "
                         "/etc/fstab line 3)",
    "0123456789ab": "partition 2: /opt/images/tools (read-only lower dir of the overlay at "
                    "/opt/images (/etc/fstab line 4))",
}
ON_DISK = dataclasses.replace(
    INVENTORY, target=f"tmp/deploy/images/qemuarm64/{WIC}", image_file=IMAGE_FILE,
    images=tuple(dataclasses.replace(i, stored_at=STORED_AT[i.name]) for i in INVENTORY.images))


Origin = tuple[list[str], str | None, dict[str, tuple[list[str], str | None]]]


def _origin(fmt: str, out: bytes) -> Origin:
    """(the product's image-file properties, its sourceInfo, {container name: (stored-at
    properties, sourceInfo)}), read from where each format keeps them."""
    data = json.loads(out)
    if fmt == "spdx23":
        product, *rest = data["packages"]
        assert product["primaryPackagePurpose"] == "OPERATING_SYSTEM"
        containers = {p["name"]: (
            [line.removeprefix("stored-at: ") for line in p["comment"].splitlines()
             if line.startswith("stored-at: ")], p.get("sourceInfo"))
            for p in rest if p.get("primaryPackagePurpose") == "CONTAINER"}
        # SPDX 2.3 has no properties: the product's image file is its sourceInfo alone
        return [], product.get("sourceInfo"), containers
    if fmt == "spdx3":
        def props(o: dict[str, Any], name: str) -> list[str]:
            return [e["extension_cdxPropValue"] for x in o.get("extension", [])
                    for e in x["extension_cdxProperty"] if e["extension_cdxPropName"] == name]
        by_purpose: dict[str, list[dict[str, Any]]] = {}
        for o in data["@graph"]:
            by_purpose.setdefault(o.get("software_primaryPurpose", ""), []).append(o)
        (product,) = by_purpose["operatingSystem"]
        return (props(product, "container-audit:image-file"), product.get("software_sourceInfo"),
                {c["name"]: (props(c, "container-audit:stored-at"), c.get("software_sourceInfo"))
                 for c in by_purpose["container"]})

    def cdx(o: dict[str, Any], name: str) -> list[str]:
        return [p["value"] for p in o.get("properties", []) if p["name"] == name]
    product = data["metadata"]["component"]
    # CycloneDX has no sourceInfo: the properties are the record
    return (cdx(product, "container-audit:image-file"), None,
            {c["name"]: (cdx(c, "container-audit:stored-at"), None) for c in data["components"]})


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_disk_image_file_and_partitions_are_named(fmt: str, tmp_path: Path) -> None:
    """Read from a disk image file: the product names the file and its rootfs partition,
    every container where in it it is stored, each in its format's own place; still valid."""
    out = WRITERS[fmt](ON_DISK, created=CREATED)
    image_file, source_info, containers = _origin(fmt, out)
    if fmt != "spdx23":
        assert image_file == [IMAGE_FILE]
    if fmt != "cyclonedx":
        assert source_info == f"Read from the disk image file {IMAGE_FILE}."
    assert sorted(containers) == sorted(STORED_AT)
    for name, (stored, info) in containers.items():
        assert stored == [STORED_AT[name]]
        if fmt != "cyclonedx":
            assert info == f"Stored in the disk image file {WIC} at {STORED_AT[name]}."
    if fmt == "spdx23":
        path = tmp_path / "p.spdx.json"
        path.write_bytes(out)
        assert validate_full_spdx_document(json_parser.parse_from_file(str(path))) == []
    elif fmt == "spdx3":
        assert _spdx3_validate_offline(out.decode()) == []
    else:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.decode(),
                                                                     all_errors=True)
        assert errors is None, [str(e) for e in errors or ()]
    # deterministic, whatever the order, and a document of its own (not the plain one's id)
    shuffled = dataclasses.replace(ON_DISK, images=ON_DISK.images[::-1])
    assert WRITERS[fmt](shuffled, created=CREATED) == out
    plain = WRITERS[fmt](dataclasses.replace(ON_DISK, image_file="", images=INVENTORY.images),
                         created=CREATED)
    ids = {"spdx23": "documentNamespace", "cyclonedx": "serialNumber"}
    if fmt in ids:
        assert json.loads(out)[ids[fmt]] != json.loads(plain)[ids[fmt]]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_no_image_file_no_origin(fmt: str, outputs: dict[str, bytes]) -> None:
    """A directory or tarball target: nothing about image files (and the golden files, made
    before these fields existed, still match byte for byte)."""
    image_file, source_info, containers = _origin(fmt, outputs[fmt])
    assert image_file == [] and source_info is None
    assert all(v == ([], None) for v in containers.values())
    for text in (b"container-audit:image-file", b"container-audit:stored-at", b"image file",
                 b"stored-at"):
        assert text not in outputs[fmt]
