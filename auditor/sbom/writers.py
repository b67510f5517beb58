# SPDX-License-Identifier: Apache-2.0
"""sbom/ stage: standalone SBOMs of the whole product, written from an `Inventory`.

One nested document per format: the product (the root filesystem, `Inventory.target`)
contains each container image, which contains its packages. Each writer builds the objects of
the format's own library and lets that library serialise them (spdx-tools for SPDX 2.3,
spdx-python-model for SPDX 3.0.1, cyclonedx-python-lib for CycloneDX 1.6); nothing here writes
JSON by hand.

The writers are pure: the same inventory and `created` give the same bytes, whatever the order
of images and packages in the inventory. Identifiers are uuid5s of content (the image's config
digest, the package's purl, the expression text); every list is sorted before it reaches a
library. Layer provenance (the diff_id of the layer that brought each package) travels as a
package comment (SPDX 2.3), a CdxPropertiesExtension (SPDX 3) or a property (CycloneDX), all
named `container-audit:layer`.

When the target was a disk image file, the product says so (`sourceInfo`, and the
`container-audit:image-file` property in SPDX 3 and CycloneDX) and each container says where
in it it is stored (`sourceInfo` and `container-audit:stored-at`); for any other target
nothing about image files is written.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.license import DisjunctiveLicense, LicenseAcknowledgement, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.spdx import is_supported_id
from license_expression import ExpressionError, Licensing  # type: ignore[import-untyped]
from packageurl import PackageURL
from spdx_python_model.bindings import v3_0_1 as spdx3
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    PackagePurpose,
)
from spdx_tools.spdx.model.package import Package as SpdxPackage
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.model.spdx_none import SpdxNone
from spdx_tools.spdx.model.version import Version
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from auditor import __version__
from auditor.errors import SbomError
from auditor.licenses.normalize import LICENSE_LIST_VERSION
from auditor.model import Image, Inventory, Package, Sentinel
from auditor.sbom.origin import (
    IMAGE_FILE_PROPERTY,
    STORED_AT_PROPERTY,
    image_file_sentence,
    stored_at_sentence,
)

TOOL_NAME = "container-audit"
PRODUCT_COMMENT = "The root filesystem that carries the container images."

# Every id is a uuid5 in this namespace, so ours never collide with another tool's.
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://spdx.org/spdxdocs/container-audit")
# SPDX's advice for documents without a web home of their own (SPDX 2.3 §6.5).
_DOC_BASE = "https://spdx.org/spdxdocs/container-audit"

_REF_RE = re.compile(r"(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+")
# A Licensing without known symbols keeps every key as written. spdx-tools' `spdx_licensing`
# resolves scancode aliases while parsing (`LicenseRef-GPL` becomes `GPL-1.0-or-later`), which
# would rewrite our evidence; spdx-tools' validator still checks the result against the list.
_VERBATIM = Licensing()


# --------------------------------------------------------------------------- shared view


@dataclass(frozen=True, slots=True)
class _Pkg:
    key: str  # uuid5, unique in the document
    pkg: Package
    declared: str | Sentinel  # checked and rendered canonically
    concluded: str | Sentinel


@dataclass(frozen=True, slots=True)
class _Img:
    key: str
    image: Image
    packages: tuple[_Pkg, ...]
    stored_at_sentence: str  # where in the disk image file it is stored, or ""


@dataclass(frozen=True, slots=True)
class _Product:
    """The inventory as the three writers see it: sorted, keyed and checked once."""

    key: str
    name: str
    doc_uuid: str  # of this document: inventory content + created
    created: datetime
    images: tuple[_Img, ...]
    tools: tuple[tuple[str, str], ...]  # (name, version), container-audit included, sorted
    license_refs: tuple[tuple[str, str], ...]  # (LicenseRef-…, text) the expressions use
    image_file: str  # the disk image file the rootfs was read from, or ""
    image_file_sentence: str


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "\x1f".join(parts)))


def _parse_created(created: str) -> datetime:
    try:
        # Python 3.10's fromisoformat does not take the `Z` suffix.
        value = datetime.fromisoformat(created.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise SbomError(f"created: {created!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    # Whole seconds in UTC: SPDX 3 requires it by pattern, SPDX 2.3 by its spec.
    return value.astimezone(timezone.utc).replace(microsecond=0)


def _unique_keys(items: Sequence[tuple[str, ...]], prefix: str) -> list[str]:
    """uuid5 of the shortest leading part of each key tuple that no other item shares.

    Key tuples go from most to least telling (purl first, then name, version, …), so an id
    usually depends on the purl alone and stays the same when unrelated packages change;
    items that agree on everything are numbered in their (sorted) order.
    """
    width = max((len(k) for k in items), default=0)
    counts = [Counter(k[:n] for k in items) for n in range(1, width + 1)]
    ordinals: Counter[tuple[str, ...]] = Counter()
    keys = []
    for item in items:
        n = next((n for n in range(1, len(item) + 1) if counts[n - 1][item[:n]] == 1), 0)
        if n:
            keys.append(_uuid(prefix, *item[:n]))
        else:
            ordinals[item] += 1
            keys.append(_uuid(prefix, *item, str(ordinals[item])))
    return keys


def _package_sort_key(p: Package) -> tuple[str, ...]:
    return (p.purl, p.name, p.version, p.type, p.layer or "",
            "\x1e".join(sorted(loc.path for loc in p.locations)))


def _expression(value: str | Sentinel, what: str) -> str | Sentinel:
    """The expression rendered canonically, or the sentinel; SbomError for anything else."""
    if isinstance(value, Sentinel):
        return value
    if value in (Sentinel.NOASSERTION.value, Sentinel.NONE.value):
        return Sentinel(value)
    if not isinstance(value, str) or not value.strip():
        raise SbomError(f"{what}: empty license expression (expected an SPDX expression or "
                        "NOASSERTION)")
    for ref in _REF_RE.findall(value):
        if ":" in ref:
            raise SbomError(f"{what}: {ref} points into another document, which a standalone "
                            "SBOM cannot declare")
    try:
        parsed = _VERBATIM.parse(value, validate=False, strict=False)
    except ExpressionError as exc:
        raise SbomError(f"{what}: {value!r} is not an SPDX license expression ({exc})") from None
    if parsed is None:
        raise SbomError(f"{what}: {value!r} is not an SPDX license expression")
    return str(parsed)


def _what(img: Image, p: Package) -> str:
    return f"{img.name}: {p.name} {p.version}".rstrip()


def _check_purl(text: str, what: str) -> None:
    if text:
        try:
            PackageURL.from_string(text)
        except ValueError as exc:
            raise SbomError(f"{what}: purl {text!r} is not a package URL ({exc})") from None


def _digest_fields(sha: Any, *groups: Iterable[str | tuple[str, str]]) -> None:
    """Feed what reaches the output into the document's fingerprint, unambiguously: a new
    model field that no writer shows must not give every document a new namespace."""
    for group in groups:
        for field in group:
            for text in (field if isinstance(field, tuple) else (field,)):
                sha.update(text.encode("utf-8") + b"\x1f")
        sha.update(b"\x1e")


def _view(inv: Inventory, created: str) -> _Product:
    when = _parse_created(created)
    images = sorted(inv.images, key=lambda i: (i.config_digest, i.source, i.name))
    image_keys = _unique_keys([(i.config_digest, i.source, i.name) for i in images], "image")
    fingerprint = hashlib.sha256(f"{inv.target}\x1f{when.isoformat()}".encode())
    if inv.image_file:  # only then: other documents keep their namespace
        _digest_fields(fingerprint, [IMAGE_FILE_PROPERTY, inv.image_file])
    raw_texts: dict[str, set[str]] = {}
    used: set[str] = set()
    out: list[_Img] = []
    for img, image_key in zip(images, image_keys):
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", img.config_digest):
            raise SbomError(f"{img.name}: config digest {img.config_digest!r} is not a sha256 "
                            "digest")
        _check_purl(_image_purl(img), img.name)
        _digest_fields(fingerprint, [img.name, _image_purl(img)], _image_properties(img))
        packages = sorted(img.packages, key=_package_sort_key)
        keys = _unique_keys([_package_sort_key(p) for p in packages], f"package\x1f{image_key}")
        entries = []
        for key, p in zip(keys, packages):
            what = _what(img, p)
            _check_purl(p.purl, what)
            entry = _Pkg(key, p, _expression(p.declared_license, what),
                         _expression(p.concluded_license, what))
            for value in (entry.declared, entry.concluded):
                if not isinstance(value, Sentinel):
                    used.update(_REF_RE.findall(value))
            # The raw statements a LicenseRef was made from are the best text we have of it.
            for lic in p.licenses:
                if not isinstance(lic.spdx_expression, Sentinel) and lic.value.strip():
                    for ref in _REF_RE.findall(lic.spdx_expression):
                        raw_texts.setdefault(ref, set()).add(lic.value.strip())
            for other in p.other_licenses:
                if not isinstance(other.expression, Sentinel) and other.raw.strip():
                    for ref in _REF_RE.findall(other.expression):
                        raw_texts.setdefault(ref, set()).add(other.raw.strip())
            _digest_fields(fingerprint, [key, *_package_sort_key(p), p.source_name,
                                         p.source_version, *p.cpes],
                           _package_properties(p), _license_properties(entry, expressions=True),
                           [(lic.value, _text(lic.spdx_expression)) for lic in p.licenses])
            entries.append(entry)
        out.append(_Img(image_key, img, tuple(entries), stored_at_sentence(inv, img)))
    tools = dict(inv.tools)
    tools.setdefault(TOOL_NAME, __version__)
    license_refs = tuple(
        (ref, "\n\n".join(sorted(raw_texts.get(ref, ()))) or
         f"{ref}: container-audit knows this license by name only; no text was captured.")
        for ref in sorted(used))
    _digest_fields(fingerprint, sorted(tools.items()), license_refs)
    return _Product(
        key=_uuid("product", inv.target),
        name=inv.target,
        doc_uuid=str(uuid.uuid5(_NS, fingerprint.hexdigest())),
        created=when,
        images=tuple(out),
        tools=tuple(sorted(tools.items())),
        license_refs=license_refs,
        image_file=inv.image_file,
        image_file_sentence=image_file_sentence(inv),
    )


def _digest_hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _image_purl(img: Image) -> str:
    """`pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…` from the first tag.

    The purl spec wants the manifest digest; images from a docker-archive have none, so the
    config digest stands in (still content-derived and unique, but not resolvable in a
    registry).
    """
    repository = (img.tags[0] if img.tags else "").split("@", 1)[0]
    tag = ""
    colon = repository.rfind(":")
    if colon > repository.rfind("/"):
        repository, tag = repository[:colon], repository[colon + 1:]
    name = (repository.rsplit("/", 1)[-1] if repository else img.name).lower()
    qualifiers = {k: v for k, v in (("arch", img.architecture), ("repository_url", repository),
                                    ("tag", tag)) if v}
    return str(PackageURL(type="oci", name=name,
                          version=img.manifest_digest or img.config_digest,
                          qualifiers=qualifiers).to_string())


def _image_properties(img: Image) -> list[tuple[str, str]]:
    props = [
        ("container-audit:config-digest", img.config_digest),
        ("container-audit:source", img.source),
        ("container-audit:embedding", img.embedding.value),
    ]
    if img.stored_at:
        props.append((STORED_AT_PROPERTY, img.stored_at))
    if img.manifest_digest:
        props.append(("container-audit:manifest-digest", img.manifest_digest))
    if img.architecture:
        props.append(("container-audit:platform", f"{img.os}/{img.architecture}"))
    props += [("container-audit:tag", tag) for tag in sorted(img.tags)]
    props += [("container-audit:also-found-at", s) for s in sorted(img.also_found_at)]
    if img.layers:
        # one value, bottom layer first: CycloneDX sorts properties and layer order matters
        props.append(("container-audit:layers", " ".join(x.diff_id for x in img.layers)))
    return props


def _package_properties(p: Package) -> list[tuple[str, str]]:
    """Where the package came from: its layer, cataloger and evidence paths."""
    props: list[tuple[str, str]] = []
    if p.layer:
        props.append(("container-audit:layer", p.layer))
    props.append(("container-audit:package-type", p.type))
    if p.found_by:
        props.append(("container-audit:found-by", p.found_by))
    for loc in sorted(set(p.locations), key=lambda x: (x.path, x.layer or "")):
        props.append(("container-audit:location",
                      f"{loc.path} ({loc.layer})" if loc.layer else loc.path))
    return props


def _license_properties(entry: _Pkg, *, expressions: bool) -> list[tuple[str, str]]:
    """How the licenses were found; `expressions` adds the declared and concluded expressions
    themselves, for a format that has one license field only."""
    p = entry.pkg
    props: list[tuple[str, str]] = []
    if expressions:
        props.append(("container-audit:declared-license", _text(entry.declared)))
    if p.declared_method:
        props.append(("container-audit:declared-method", p.declared_method))
    if expressions:
        props.append(("container-audit:concluded-license", _text(entry.concluded)))
    if p.curation:
        props.append(("container-audit:curation", p.curation))
    for other in sorted(p.other_licenses, key=lambda o: (o.files, _text(o.expression))):
        props.append(("container-audit:other-license",
                      f"{' '.join(other.files)}: {_text(other.expression)}"))
    return props


def _text(value: str | Sentinel) -> str:
    return value.value if isinstance(value, Sentinel) else value


def _comment(props: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{name.removeprefix('container-audit:')}: {value}"
                     for name, value in props)


# --------------------------------------------------------------------------- SPDX 2.3


def write_spdx23(inv: Inventory, *, created: str) -> bytes:
    """SPDX 2.3 JSON: DOCUMENT DESCRIBES product CONTAINS image CONTAINS package.

    The document is checked with spdx-tools' `validate_full_spdx_document` before it is
    written; any message is an SbomError.
    """
    view = _view(inv, created)

    def license_of(value: str | Sentinel) -> Any:
        if value == Sentinel.NOASSERTION:
            return SpdxNoAssertion()
        if value == Sentinel.NONE:
            return SpdxNone()
        return _VERBATIM.parse(value, validate=False, strict=False)

    def external_refs(purl: str, cpes: Iterable[str]) -> list[Any]:
        refs = []
        if purl:
            refs.append(ExternalPackageRef(
                ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl))
        for cpe in cpes:
            refs.append(ExternalPackageRef(
                ExternalPackageRefCategory.SECURITY,
                "cpe23Type" if cpe.startswith("cpe:2.3:") else "cpe22Type", cpe))
        return refs

    def package(spdx_id: str, name: str, **fields: Any) -> Any:
        fields.setdefault("license_declared", SpdxNoAssertion())
        fields.setdefault("license_concluded", SpdxNoAssertion())
        return SpdxPackage(spdx_id=spdx_id, name=name, files_analyzed=False,
                             download_location=SpdxNoAssertion(),
                             copyright_text=SpdxNoAssertion(), **fields)

    product_id = f"SPDXRef-Product-{view.key}"
    packages = [package(product_id, view.name, comment=PRODUCT_COMMENT,
                        primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
                        source_info=view.image_file_sentence or None)]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES,
                                        product_id)]
    for img in view.images:
        image = img.image
        image_id = f"SPDXRef-Image-{img.key}"
        packages.append(package(
            image_id, image.name, primary_package_purpose=PackagePurpose.CONTAINER,
            checksums=[Checksum(ChecksumAlgorithm.SHA256,
                                      _digest_hex(image.config_digest))],
            external_references=external_refs(_image_purl(image), ()),
            source_info=img.stored_at_sentence or None,
            comment=_comment(_image_properties(image))))
        relationships.append(Relationship(product_id, RelationshipType.CONTAINS,
                                                image_id))
        for entry in img.packages:
            p = entry.pkg
            source = " ".join(x for x in (p.source_name, p.source_version) if x)
            package_id = f"SPDXRef-Package-{entry.key}"
            packages.append(package(
                package_id, p.name, version=p.version or None,
                license_declared=license_of(entry.declared),
                license_concluded=license_of(entry.concluded),
                license_comment=_comment(_license_properties(entry, expressions=False)) or None,
                source_info=f"built from source package {source}" if source else None,
                external_references=external_refs(p.purl, p.cpes),
                comment=_comment(_package_properties(p))))
            relationships.append(Relationship(
                image_id, RelationshipType.CONTAINS, package_id))

    list_version = (Version.from_string(LICENSE_LIST_VERSION)
                    if Version.is_valid_version_string(LICENSE_LIST_VERSION) else None)
    document = Document(
        creation_info=CreationInfo(
            spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT",
            name=f"container-audit SBOM of {view.name}",
            document_namespace=f"{_DOC_BASE}/{_slug(view.name)}-{view.doc_uuid}",
            creators=[Actor(ActorType.TOOL, f"{name}-{version}".rstrip("-"))
                      for name, version in view.tools],
            created=view.created, license_list_version=list_version),
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=[
            ExtractedLicensingInfo(license_id=ref, extracted_text=text,
                                         license_name=ref.removeprefix("LicenseRef-"))
            for ref, text in view.license_refs])

    messages = validate_full_spdx_document(document)
    if messages:
        raise SbomError(f"{view.name}: the SPDX 2.3 document is invalid: "
                        + "; ".join(m.validation_message for m in messages[:5]))
    stream = io.StringIO()
    write_document_to_stream(document, stream, validate=False)
    return stream.getvalue().encode("utf-8") + b"\n"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-.")[-64:] or "rootfs"


# --------------------------------------------------------------------------- SPDX 3.0.1


def _semver(version: str) -> str | None:
    """SPDX 3 wants `major.minor.patch` for a license list version; the list says `3.27`."""
    if re.fullmatch(r"\d+\.\d+\.\d+", version):
        return version
    if re.fullmatch(r"\d+\.\d+", version):
        return f"{version}.0"
    return None


def write_spdx3(inv: Inventory, *, created: str) -> bytes:
    """SPDX 3.0.1 JSON-LD: SpdxDocument and software_Sbom, the product `contains` images
    `contains` packages; licenses are shared simplelicensing_LicenseExpression elements
    (NOASSERTION/NONE are the ExpandedLicensing individuals), LicenseRefs map to
    simplelicensing_SimpleLicensingText elements."""
    view = _view(inv, created)
    base = f"{_DOC_BASE}/{view.doc_uuid}"
    objects = spdx3.SHACLObjectSet()
    elements: list[Any] = []

    def add(obj: Any) -> Any:
        objects.add(obj)
        elements.append(obj)
        return obj

    creation = spdx3.CreationInfo(_id="_:CreationInfo", specVersion="3.0.1",
                                  created=view.created)
    creation.createdBy.append(add(spdx3.SoftwareAgent(
        _id=f"{base}/agent/{TOOL_NAME}", name=TOOL_NAME, creationInfo=creation)))
    for name, version in view.tools:
        creation.createdUsing.append(add(spdx3.Tool(
            _id=f"{base}/tool/{_uuid('tool', name)}", name=f"{name} {version}".strip(),
            creationInfo=creation)))

    list_version = _semver(LICENSE_LIST_VERSION)
    text_ids = {}
    for ref, text in view.license_refs:
        text_ids[ref] = add(spdx3.simplelicensing_SimpleLicensingText(
            _id=f"{base}/license-text/{ref}", name=ref, creationInfo=creation,
            simplelicensing_licenseText=text))._id
    expressions: dict[str, Any] = {}

    def license_target(value: str | Sentinel) -> Any:
        if value == Sentinel.NOASSERTION:
            return spdx3.expandedlicensing_IndividualLicensingInfo.NoAssertionLicense
        if value == Sentinel.NONE:
            return spdx3.expandedlicensing_IndividualLicensingInfo.NoneLicense
        if value not in expressions:
            expr = spdx3.simplelicensing_LicenseExpression(
                _id=f"{base}/license/{_uuid('license', value)}", creationInfo=creation,
                simplelicensing_licenseExpression=value)
            if list_version:
                expr.simplelicensing_licenseListVersion = list_version
            for ref in sorted(set(_REF_RE.findall(value))):
                expr.simplelicensing_customIdToUri.append(
                    spdx3.DictionaryEntry(key=ref, value=text_ids[ref]))
            expressions[value] = expr
        return expressions[value]

    relationships: list[Any] = []

    def relate(kind: str, source: Any, targets: Sequence[Any]) -> None:
        if targets:
            ids = [t if isinstance(t, str) else t._id for t in targets]
            relationships.append(spdx3.Relationship(
                _id=f"{base}/relationship/{_uuid(source._id, kind, *ids)}",
                creationInfo=creation, from_=source, relationshipType=kind, to=list(targets)))

    def properties(props: Iterable[tuple[str, str]]) -> Any:
        return spdx3.extension_CdxPropertiesExtension(extension_cdxProperty=[
            spdx3.extension_CdxPropertyEntry(extension_cdxPropName=name,
                                             extension_cdxPropValue=value)
            for name, value in props])

    product = add(spdx3.software_Package(
        _id=f"{base}/product/{view.key}", name=view.name, creationInfo=creation,
        software_primaryPurpose=spdx3.software_SoftwarePurpose.operatingSystem,
        comment=PRODUCT_COMMENT))
    if view.image_file:
        product.software_sourceInfo = view.image_file_sentence
        product.extension.append(properties([(IMAGE_FILE_PROPERTY, view.image_file)]))
    containers = []
    for img in view.images:
        image = img.image
        container = add(spdx3.software_Package(
            _id=f"{base}/image/{img.key}", name=image.name, creationInfo=creation,
            software_primaryPurpose=spdx3.software_SoftwarePurpose.container,
            software_packageUrl=_image_purl(image),
            verifiedUsing=[spdx3.Hash(algorithm=spdx3.HashAlgorithm.sha256,
                                      hashValue=_digest_hex(image.config_digest))],
            extension=[properties(_image_properties(image))]))
        if img.stored_at_sentence:
            container.software_sourceInfo = img.stored_at_sentence
        containers.append(container)
        members = []
        for entry in img.packages:
            p = entry.pkg
            pkg = add(spdx3.software_Package(
                _id=f"{base}/package/{entry.key}", name=p.name, creationInfo=creation,
                extension=[properties(_package_properties(p)
                                      + _license_properties(entry, expressions=False))]))
            if p.version:
                pkg.software_packageVersion = p.version
            if p.purl:
                pkg.software_packageUrl = p.purl
            source = " ".join(x for x in (p.source_name, p.source_version) if x)
            if source:
                pkg.software_sourceInfo = f"built from source package {source}"
            for cpe in p.cpes:
                pkg.externalIdentifier.append(spdx3.ExternalIdentifier(
                    externalIdentifierType=(spdx3.ExternalIdentifierType.cpe23
                                            if cpe.startswith("cpe:2.3:")
                                            else spdx3.ExternalIdentifierType.cpe22),
                    identifier=cpe))
            members.append(pkg)
            relate(spdx3.RelationshipType.hasDeclaredLicense, pkg,
                   [license_target(entry.declared)])
            relate(spdx3.RelationshipType.hasConcludedLicense, pkg,
                   [license_target(entry.concluded)])
        relate(spdx3.RelationshipType.contains, container, members)
    relate(spdx3.RelationshipType.contains, product, containers)
    for obj in [*expressions.values(), *relationships]:
        add(obj)

    profiles = [spdx3.ProfileIdentifierType.core, spdx3.ProfileIdentifierType.software,
                spdx3.ProfileIdentifierType.simpleLicensing]
    sbom = spdx3.software_Sbom(
        _id=f"{base}/sbom", name=f"container-audit SBOM of {view.name}", creationInfo=creation,
        software_sbomType=[spdx3.software_SbomType.analyzed], profileConformance=profiles,
        rootElement=[product], element=sorted(elements, key=lambda e: e._id))
    data_license = spdx3.simplelicensing_LicenseExpression(
        _id=f"{base}/license/data-license", creationInfo=creation,
        simplelicensing_licenseExpression="CC0-1.0")
    document = spdx3.SpdxDocument(
        _id=f"{base}/document", name=f"container-audit SBOM of {view.name}",
        creationInfo=creation, dataLicense=data_license, profileConformance=profiles,
        rootElement=[sbom],
        element=sorted([*elements, sbom, data_license], key=lambda e: e._id))
    for obj in (sbom, data_license, document):
        objects.add(obj)

    stream = io.BytesIO()
    try:
        spdx3.JSONLDSerializer().write(objects, stream, indent=2)
    except (TypeError, ValueError) as exc:
        raise SbomError(f"{view.name}: the SPDX 3 document could not be serialised: {exc}") \
            from None
    return stream.getvalue() + b"\n"


# --------------------------------------------------------------------------- CycloneDX 1.6


def _cdx_licenses(entry: _Pkg) -> list[Any]:
    """One license statement: the concluded one when we concluded anything, else the declared.

    CycloneDX 1.6 takes one expression *or* a list of plain licenses per component (and
    cyclonedx-python-lib silently drops the rest of a mix), so declared and concluded cannot
    both be listed in general; both are always in the `container-audit:*-license` properties.
    """
    if entry.concluded != Sentinel.NOASSERTION:
        value, ack = entry.concluded, LicenseAcknowledgement.CONCLUDED
    else:
        value, ack = entry.declared, LicenseAcknowledgement.DECLARED
    if isinstance(value, Sentinel):  # NONE has no CycloneDX form; NOASSERTION is absence
        return []
    if " " in value:  # canonical rendering: only a compound expression has spaces
        return [LicenseExpression(value, acknowledgement=ack)]
    if is_supported_id(value):
        return [DisjunctiveLicense(id=value, acknowledgement=ack)]
    # a LicenseRef, or an id newer than the schema's SPDX enum
    return [DisjunctiveLicense(name=value, acknowledgement=ack)]


def write_cyclonedx(inv: Inventory, *, created: str) -> bytes:
    """CycloneDX 1.6 JSON: metadata.component is the product, each image a `container`
    component whose nested `components` are its packages; the dependency graph says the
    same (product → images → packages)."""
    view = _view(inv, created)

    def props(pairs: Iterable[tuple[str, str]]) -> list[Any]:
        return [Property(name=name, value=value) for name, value in pairs]

    containers = []
    for img in view.images:
        image = img.image
        children = []
        for entry in img.packages:
            p = entry.pkg
            paths = sorted({loc.path for loc in p.locations})
            children.append(Component(
                name=p.name, version=p.version or None, type=ComponentType.LIBRARY,
                bom_ref=f"package-{entry.key}",
                purl=PackageURL.from_string(p.purl) if p.purl else None,
                cpe=p.cpes[0] if p.cpes else None, licenses=_cdx_licenses(entry),
                # the library sorts occurrences by bom-ref first and makes up a random one
                # when none is given: number them so the order (and output) is stable
                evidence=(ComponentEvidence(occurrences=[
                    Occurrence(bom_ref=f"package-{entry.key}-location-{n}", location=x)
                    for n, x in enumerate(paths)]) if paths else None),
                properties=props(_package_properties(p)
                                 + _license_properties(entry, expressions=True))))
        containers.append(Component(
            name=image.name, type=ComponentType.CONTAINER, bom_ref=f"image-{img.key}",
            purl=PackageURL.from_string(_image_purl(image)),
            hashes=[HashType(alg=HashAlgorithm.SHA_256,
                             content=_digest_hex(image.config_digest))],
            properties=props(_image_properties(image)), components=children))

    product = Component(name=view.name, type=ComponentType.OPERATING_SYSTEM,
                        bom_ref=f"product-{view.key}", description=PRODUCT_COMMENT,
                        properties=props([(IMAGE_FILE_PROPERTY, view.image_file)]
                                         if view.image_file else []))
    tools = ToolRepository(components=[
        Component(name=name, version=version or None, type=ComponentType.APPLICATION,
                  bom_ref=f"tool-{_uuid('tool', name)}")
        for name, version in view.tools])
    bom = Bom(serial_number=uuid.UUID(view.doc_uuid), version=1,
              metadata=BomMetaData(timestamp=view.created, tools=tools, component=product),
              components=containers)
    bom.register_dependency(product, containers)
    for container in containers:
        bom.register_dependency(container, list(container.components))

    try:
        text = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string(
            indent=2)
    except Exception as exc:  # the library raises its own hierarchy and plain ValueErrors
        raise SbomError(f"{view.name}: the CycloneDX document could not be serialised: "
                        f"{exc}") from exc
    return text.encode("utf-8") + b"\n"


__all__ = ["write_cyclonedx", "write_spdx3", "write_spdx23"]
