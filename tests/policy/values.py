# SPDX-License-Identifier: Apache-2.0
"""Small model values for the policy tests: the evaluator is pure, so tests build the
inventory it reads directly instead of scanning images."""

from __future__ import annotations

import datetime
from pathlib import Path

from auditor.model import (
    Declaration,
    Embedding,
    Image,
    Inventory,
    License,
    Location,
    OtherLicense,
    Package,
    Sentinel,
)
from auditor.policy import Policy, Verdicts, evaluate, load_policy

PRESETS = Path(__file__).resolve().parents[2] / "policies"
TODAY = datetime.date(2025, 6, 1)


def preset(name: str) -> Policy:
    return load_policy(PRESETS / f"{name}.yaml")


def pkg(name: str, lic: str | Sentinel, *, version: str = "1.0", curation: str = "",
        concluded: str | Sentinel = "NOASSERTION",
        other: tuple[OtherLicense, ...] = ()) -> Package:
    return Package(
        name=name, version=version, type="deb",
        purl=f"pkg:deb/debian/{name}@{version}?arch=amd64", layer=f"sha256:layer-{name}",
        declared_license=lic, concluded_license=concluded, curation=curation,
        other_licenses=other,
        licenses=(License(value=str(lic), spdx_expression=lic, evidence=(
            Location(path=f"/usr/share/doc/{name}/copyright", layer=f"sha256:layer-{name}"),)),),
        locations=(Location(path="/var/lib/dpkg/status", layer=f"sha256:layer-{name}"),))


def image(name: str, *packages: Package, source: str = "") -> Image:
    return Image(name=name, tags=(name,), config_digest=f"sha256:{name.replace('/', '-')}",
                 manifest_digest="", architecture="amd64", os="linux",
                 source=source or f"/usr/share/containers/{name.replace('/', '_')}.tar",
                 embedding=Embedding.ARCHIVE, layers=(), packages=packages)


def inventory(*images: Image, declared: tuple[Declaration, ...] = (),
              undeclared: tuple[str, ...] = ()) -> Inventory:
    return Inventory(target="rootfs", images=images, declared=declared,
                     undeclared=undeclared)


def run(inv: Inventory, policy: Policy, today: datetime.date = TODAY) -> Verdicts:
    return evaluate(inv, policy, today=today)


def errors(v: Verdicts) -> list[tuple[str, str, str]]:
    return [(f.package, f.license, f.rule) for f in v.findings if f.severity == "error"]


def of(v: Verdicts, package: str) -> list[tuple[str, str, str]]:
    return [(f.license, f.rule, f.severity) for f in v.findings if f.package == package]
