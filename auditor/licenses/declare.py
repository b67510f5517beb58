# SPDX-License-Identifier: Apache-2.0
"""Licenses stage: the declared license of each package, from the image's own files.

Runs while the unpacked image root exists (inside the scan), so it can read Debian
copyright files itself (python-debian, links resolved inside the image). Each package
gets a normalised `declared_license`, the method that produced it, the other DEP-5
paragraphs' licenses, and a `License` entry with evidence path and layer. syft's raw
values stay as they were: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..model import NOASSERTION, License, Location, OtherLicense, Package
from ..rootpath import ImageFiles
from .debian import parse_copyright
from .normalize import Normalized, and_all, is_valid, normalize

_FLAVOR = {"rpm": "rpm", "apk": "apk", "opkg": "yocto"}


def _declared_deb(pkg: Package, img: ImageFiles, layer_of: Callable[[str], str | None]
                  ) -> Package:
    path = f"/usr/share/doc/{pkg.name.split(':', 1)[0]}/copyright"
    data = img.read_bytes(path, limit=8 << 20)
    hints = [l.value for l in pkg.licenses]
    if data is None:
        return _from_values(pkg, "debian")
    # the layer of the file itself, after following links inside the image
    real = img.real_path(path)
    evidence = Location(path=real, layer=layer_of(real))
    parsed = parse_copyright(data, common_licenses_hint=hints)
    declared = parsed.declared
    other = tuple(OtherLicense(files=files, expression=n.expression, raw=n.raw, evidence=evidence)
                  for files, n in parsed.other)
    lic = License(value=declared.raw, spdx_expression=declared.expression, kind="declared",
                  method=f"{parsed.format}:{declared.method}", evidence=(evidence,))
    return replace(pkg, declared_license=declared.expression,
                   declared_method=f"copyright-{parsed.format}", other_licenses=other,
                   licenses=(*pkg.licenses, lic),
                   license_notes=_notes([declared], parsed.problems))


def _from_values(pkg: Package, flavor: str) -> Package:
    """AND of the package's own raw license statements, each normalised."""
    exprs = []
    results = []
    for lic in pkg.licenses:
        if lic.method not in ("syft", "opkg-control"):
            continue
        if isinstance(lic.spdx_expression, str) and is_valid(lic.spdx_expression) and flavor in (
                "spdx", "debian"):
            results.append(normalize(lic.spdx_expression, flavor="spdx"))
        else:
            results.append(normalize(lic.value, flavor=flavor))
        exprs.append(results[-1].expression)
    exprs = [e for e in exprs if isinstance(e, str)]
    if not exprs:
        return replace(pkg, declared_license=NOASSERTION, declared_method="none")
    return replace(pkg, declared_license=and_all(exprs), declared_method=f"values-{flavor}",
                   license_notes=_notes(results, ()))


def _notes(results: list[Normalized], extra: tuple[str, ...]) -> tuple[str, ...]:
    notes = [f"not on the SPDX list, kept as LicenseRef: {name}"
             for r in results for name in r.unmapped]
    notes += [p for r in results for p in r.problems]
    return tuple(dict.fromkeys([*notes, *extra]))


def declare(pkgs: list[Package], root: ImageFiles, layer_of: Callable[[str], str | None]
            ) -> list[Package]:
    out = []
    for pkg in pkgs:
        if pkg.type == "deb":
            out.append(_declared_deb(pkg, root, layer_of))
        elif pkg.type == "binary":
            out.append(replace(pkg, declared_license=NOASSERTION, declared_method="none"))
        else:
            out.append(_from_values(pkg, _FLAVOR.get(pkg.type, "spdx")))
    return out
