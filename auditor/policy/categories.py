# SPDX-License-Identifier: Apache-2.0
"""Policy stage: the license category table (data) and the lookups the evaluator uses.

A policy may name categories instead of listing every license id (`allowed: [permissive]`).
The table below covers the SPDX ids common in Linux distributions and container images;
anything not in it is `unknown`, which the policy's `unknown` rule judges. Lookups are
case-insensitive, as SPDX ids are. `LicenseRef-public-domain` is public domain; any other
`LicenseRef-` without an entry here is unknown.

An SPDX exception can lower the category of the license it qualifies (the GCC runtime
library exception makes `GPL-3.0-or-later WITH GCC-exception-3.1` behave like a weak
copyleft for the programs linked with it); it never raises it.
"""

from __future__ import annotations

# Most permissive first: the evaluator prefers the lower rank when an OR leaves a choice.
CATEGORIES: tuple[str, ...] = (
    "public-domain",
    "permissive",
    "weak-copyleft",
    "strong-copyleft",
    "network-copyleft",
    "proprietary",
    "unknown",
)
UNKNOWN = "unknown"

_TABLE: dict[str, tuple[str, ...]] = {
    "public-domain": (
        "CC0-1.0", "Unlicense", "PDDL-1.0", "blessing", "SAX-PD", "NIST-PD", "libselinux-1.0",
        "LicenseRef-public-domain", "LicenseRef-PD", "LicenseRef-Public-Domain-Disclaimer",
    ),
    "permissive": (
        "0BSD", "AFL-1.1", "AFL-1.2", "AFL-2.0", "AFL-2.1", "AFL-3.0", "AML", "AMPAS",
        "ANTLR-PD", "Apache-1.0", "Apache-1.1", "Apache-2.0", "APAFML", "Beerware",
        "BlueOak-1.0.0", "Boehm-GC", "BSD-1-Clause", "BSD-2-Clause", "BSD-2-Clause-Patent",
        "BSD-2-Clause-Views", "BSD-3-Clause", "BSD-3-Clause-Attribution",
        "BSD-3-Clause-Clear", "BSD-3-Clause-LBNL", "BSD-3-Clause-Modification",
        "BSD-3-Clause-No-Nuclear-License", "BSD-3-Clause-No-Nuclear-Warranty",
        "BSD-3-Clause-Open-MPI", "BSD-4-Clause", "BSD-4-Clause-UC", "BSD-4.3TAHOE",
        "BSD-Source-Code", "BSL-1.0", "bzip2-1.0.6", "CC-BY-1.0", "CC-BY-2.0", "CC-BY-2.5",
        "CC-BY-3.0", "CC-BY-4.0", "CECILL-B", "CNRI-Python", "curl", "ECL-2.0", "EFL-2.0",
        "Fair", "FSFAP", "FSFUL", "FSFULLR", "FSFULLRWD", "FTL", "HPND",
        "HPND-sell-variant", "ICU", "IJG", "ImageMagick", "Info-ZIP", "Intel", "ISC",
        "Libpng", "libpng-2.0", "libtiff", "Linux-OpenIB", "MirOS", "MIT", "MIT-0",
        "MIT-advertising", "MIT-CMU", "MIT-enna", "MIT-feh", "MIT-Modern-Variant",
        "MIT-open-group", "MITNFA", "MS-PL", "MulanPSL-2.0", "Naumen", "NCSA", "NTP",
        "OLDAP-2.8", "OpenSSL", "OpenSSL-standalone", "PHP-3.0", "PHP-3.01", "PostgreSQL",
        "PSF-2.0", "Python-2.0", "Python-2.0.1", "SGI-B-2.0", "SGI-OpenGL", "SMLNJ",
        "Spencer-86", "Spencer-94", "Spencer-99", "SSLeay-standalone", "TCL",
        "TCP-wrappers", "Unicode-3.0", "Unicode-DFS-2015", "Unicode-DFS-2016", "UPL-1.0",
        "W3C", "W3C-19980720", "W3C-20150513", "WTFPL", "X11",
        "X11-distribute-modifications-variant", "XFree86-1.1", "xinetd", "Xnet", "Zlib",
        "zlib-acknowledgement", "ZPL-2.0", "ZPL-2.1",
    ),
    "weak-copyleft": (
        "APSL-2.0", "Artistic-1.0", "Artistic-1.0-cl8", "Artistic-1.0-Perl", "Artistic-2.0",
        "CDDL-1.0", "CDDL-1.1", "CECILL-C", "ClArtistic", "CPAL-1.0", "CPL-1.0", "EPL-1.0",
        "EPL-2.0", "ErlPL-1.1", "GFDL-1.1-only", "GFDL-1.1-or-later", "GFDL-1.2-only",
        "GFDL-1.2-or-later", "GFDL-1.3-only", "GFDL-1.3-or-later", "IPL-1.0",
        "LGPL-2.0-only", "LGPL-2.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later",
        "LGPL-3.0-only", "LGPL-3.0-or-later", "LGPLLR", "LPL-1.02", "MPL-1.0", "MPL-1.1",
        "MPL-2.0", "MPL-2.0-no-copyleft-exception", "MS-RL", "NPL-1.0", "NPL-1.1",
        "OFL-1.0", "OFL-1.1", "OFL-1.1-no-RFN", "OFL-1.1-RFN", "Ruby", "SPL-1.0", "Vim",
    ),
    "strong-copyleft": (
        "CC-BY-SA-1.0", "CC-BY-SA-2.0", "CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
        "CECILL-1.0", "CECILL-1.1", "CECILL-2.0", "CECILL-2.1", "copyleft-next-0.3.1",
        "EUPL-1.0", "EUPL-1.1", "EUPL-1.2", "GPL-1.0-only", "GPL-1.0-or-later",
        "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "OSL-1.0",
        "OSL-1.1", "QPL-1.0", "Sleepycat",
    ),
    "network-copyleft": (
        "AGPL-1.0-only", "AGPL-1.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later",
        "OSL-2.0", "OSL-2.1", "OSL-3.0", "RPL-1.1", "RPL-1.5", "RPSL-1.0", "SSPL-1.0",
    ),
    "proprietary": (
        "BUSL-1.1", "CC-BY-NC-1.0", "CC-BY-NC-2.0", "CC-BY-NC-2.5", "CC-BY-NC-3.0",
        "CC-BY-NC-4.0", "CC-BY-NC-ND-1.0", "CC-BY-NC-ND-2.0", "CC-BY-NC-ND-2.5",
        "CC-BY-NC-ND-3.0", "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-1.0", "CC-BY-NC-SA-2.0",
        "CC-BY-NC-SA-2.5", "CC-BY-NC-SA-3.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-1.0",
        "CC-BY-ND-2.0", "CC-BY-ND-2.5", "CC-BY-ND-3.0", "CC-BY-ND-4.0", "Elastic-2.0",
        "PolyForm-Noncommercial-1.0.0", "PolyForm-Small-Business-1.0.0",
        "LicenseRef-proprietary", "LicenseRef-commercial", "LicenseRef-CLOSED",
    ),
}

# exception id -> the category it lowers a more restrictive base license to. Exceptions
# that only cover generated output (Bison, Autoconf) or add linking permissions for one
# library (OpenSSL) leave the package's own category as it is, so they are not listed.
_EXCEPTIONS: dict[str, str] = {
    "Classpath-exception-2.0": "weak-copyleft",
    "eCos-exception-2.0": "weak-copyleft",
    "FLTK-exception": "weak-copyleft",
    "Font-exception-2.0": "weak-copyleft",
    "GCC-exception-2.0": "weak-copyleft",
    "GCC-exception-3.1": "weak-copyleft",
    "LGPL-3.0-linking-exception": "permissive",
    "Linux-syscall-note": "weak-copyleft",
    "LLVM-exception": "permissive",
    "Qt-LGPL-exception-1.1": "weak-copyleft",
    "Swift-exception": "permissive",
    "WxWindows-exception-3.1": "weak-copyleft",
}

_BY_ID: dict[str, str] = {lic.casefold(): cat for cat, ids in _TABLE.items() for lic in ids}
_EXCEPTION_BY_ID: dict[str, str] = {e.casefold(): cat for e, cat in _EXCEPTIONS.items()}
_RANK: dict[str, int] = {c: i for i, c in enumerate(CATEGORIES)}


def category(license_id: str, exception: str | None = None) -> str:
    """The category of `license_id` (optionally qualified `WITH exception`)."""
    base = _BY_ID.get(license_id.casefold(), UNKNOWN)
    if exception is None or base == UNKNOWN:
        return base
    lowered = _EXCEPTION_BY_ID.get(exception.casefold())
    if lowered is not None and _RANK[lowered] < _RANK[base]:
        return lowered
    return base


def rank(cat: str) -> int:
    """0 for the most permissive category, growing towards `unknown`."""
    return _RANK[cat]


def table() -> dict[str, tuple[str, ...]]:
    """The category table as shipped (for docs and reports): category -> license ids."""
    return {cat: _TABLE.get(cat, ()) for cat in CATEGORIES}
