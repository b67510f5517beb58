# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage: `normalize`, `is_valid`, `and_all` pinned on real license strings.

Every raw value below was seen in a real package database or copyright file of the shared
corpus (apk `L:`, opkg/Yocto `License:`/`LICENSE:`, rpm `%{LICENSE}`, DEP-5 `License:`), or
is named in the issue; SLE values come from SOURCES.md (the ndb database is not readable here).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from auditor.licenses.normalize import (
    LICENSE_LIST_VERSION,
    Normalized,
    and_all,
    is_valid,
    normalize,
)
from auditor.model import NOASSERTION, NONE

PINNED = [
    # --- the examples
    ("debian", "GPL-1+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0-Perl"),
    ("yocto", "GPLv2 & bzip2-1.0.4", "GPL-2.0-only AND bzip2-1.0.6"),
    ("yocto", "LGPL-2.1&GPL-3.0&GPL-3.0-with-GCC-exception&GPL-3.0",
     "LGPL-2.1-only AND GPL-3.0-only AND GPL-3.0-only WITH GCC-exception-3.1"),
    ("yocto", "GPLv2+ & LGPLv2+ & ( (GPLv2+ & LGPLv2.1+) | (GPLv3+ & LGPLv3+) )",
     ("GPL-2.0-or-later AND LGPL-2.0-or-later AND ((GPL-2.0-or-later AND LGPL-2.1-or-later) "
     "OR (GPL-3.0-or-later AND LGPL-3.0-or-later))")),
    ("yocto", "Artistic-1.0 | GPL-1.0+", "Artistic-1.0 OR GPL-1.0-or-later"),
    ("apk", "MIT BSD GPL2+", "MIT AND LicenseRef-BSD AND GPL-2.0-or-later"),
    ("apk", "MPL 2.0 GPL2+", "MPL-2.0 AND GPL-2.0-or-later"),
    ("rpm", "GPLv3+ AND (GPLv2+ OR LGPLv3+)",
     "GPL-3.0-or-later AND (GPL-2.0-or-later OR LGPL-3.0-or-later)"),
    ("rpm", "BSD AND Public Domain AND (ASL 2.0 OR CC0 1.0 OR OpenSSL)",
     "LicenseRef-BSD AND LicenseRef-public-domain AND (Apache-2.0 OR CC0-1.0 OR OpenSSL)"),
    # --- Debian short names and DEP-5 syntax
    ("debian", "LGPL-3+ or GPL-2+", "LGPL-3.0-or-later OR GPL-2.0-or-later"),
    ("debian", "GPL-2+", "GPL-2.0-or-later"),
    ("debian", "GPL-2", "GPL-2.0-only"),
    ("debian", "LGPL-2.1+", "LGPL-2.1-or-later"),
    ("debian", "LGPL-3+", "LGPL-3.0-or-later"),
    ("debian", "Expat", "MIT"),
    ("debian", "Artistic", "Artistic-1.0-Perl"),
    ("debian", "Artistic-2", "Artistic-2.0"),
    ("debian", "BSD-3-clause", "BSD-3-Clause"),
    ("debian", "  BSD-3-Clause", "BSD-3-Clause"),
    ("debian", "BSD-4-clause-UC", "BSD-4-Clause-UC"),
    ("debian", "BSD-1 and BSD-2", "BSD-1-Clause AND BSD-2-Clause"),
    ("debian", "public-domain", "LicenseRef-public-domain"),
    ("debian", "PD", "LicenseRef-public-domain"),
    ("debian", "GPL", "GPL-1.0-or-later"),
    ("debian", "LGPL", "LGPL-2.0-or-later"),
    ("debian", "Apache-2.0", "Apache-2.0"),
    ("debian", "MPL-2.0", "MPL-2.0"),
    ("debian", "Zlib", "Zlib"),
    ("debian", "zlib", "Zlib"),
    ("debian", "ISC", "ISC"),
    ("debian", "CC0-1.0", "CC0-1.0"),
    ("debian", "CC0", "CC0-1.0"),
    ("debian", "CC0 or Apache-2.0", "CC0-1.0 OR Apache-2.0"),
    ("debian", "GFDL-1.3", "GFDL-1.3-only"),
    ("debian", "GFDL-NIV-1.3", "GFDL-1.3-no-invariants-only"),
    ("debian", "GFDL-1.3+-no-invariant", "GFDL-1.3-no-invariants-or-later"),
    ("debian", "GPL-3+ with Bison exception", "GPL-3.0-or-later WITH Bison-exception-2.2"),
    ("debian", "GPL-3+-WITH-BISON-EXCEPTION", "GPL-3.0-or-later WITH Bison-exception-2.2"),
    ("debian", "GPL-2+-libtool-exception", "GPL-2.0-or-later WITH Libtool-exception"),
    ("debian", "GPL-3+ with Autoconf exception", "GPL-3.0-or-later WITH Autoconf-exception-3.0"),
    ("debian", "GPL-2+-autoconf-exception", "GPL-2.0-or-later WITH Autoconf-exception-2.0"),
    ("debian", "LGPL-2+ with Libtool exception", "LGPL-2.0-or-later WITH Libtool-exception"),
    ("debian", "GPL-2 with Linux-syscall-note exception", "GPL-2.0-only WITH Linux-syscall-note"),
    ("debian", "GPL-2 with OpenSSL exception", "LicenseRef-GPL-2-with-OpenSSL-exception"),
    ("debian", "LGPLv3+_or_GPLv2+", "LGPL-3.0-or-later OR GPL-2.0-or-later"),
    ("debian", "GPL-1+ or Artistic, and BSD-4-clause-POWERDOG",
     "(GPL-1.0-or-later OR Artistic-1.0-Perl) AND LicenseRef-BSD-4-clause-POWERDOG"),
    ("debian", "REGCOMP, and GPL-1+ or Artistic",
     "LicenseRef-REGCOMP AND (GPL-1.0-or-later OR Artistic-1.0-Perl)"),
    ("debian", "Expat or GPL-1+ or Artistic", "MIT OR GPL-1.0-or-later OR Artistic-1.0-Perl"),
    ("debian", "LGPL-2.1 or GPL-2-Asterisk", "LGPL-2.1-only OR LicenseRef-GPL-2-Asterisk"),
    ("debian", "Binary redistribution (Intel, narrower patent license)",
     "LicenseRef-Binary-redistribution-Intel-narrower-patent-license"),
    # --- Yocto / OE (license.manifest, opkg info/*.control)
    ("yocto", "GPL-2.0-only & bzip2-1.0.4", "GPL-2.0-only AND bzip2-1.0.6"),
    ("yocto", "( Apache-2.0 | BSD-3-Clause ) & PSF-2.0",
     "(Apache-2.0 OR BSD-3-Clause) AND PSF-2.0"),
    ("yocto", "MIT & MIT & PD", "MIT AND LicenseRef-public-domain"),
    ("yocto", "GPL-3.0-with-GCC-exception", "GPL-3.0-only WITH GCC-exception-3.1"),
    ("yocto", "GPL-3.0 & GPL-3.0-with-GCC-exception",
     "GPL-3.0-only AND GPL-3.0-only WITH GCC-exception-3.1"),
    ("yocto", "GPLv2+ & GPL-3.0-with-autoconf-exception & LGPLv2.1+ & PD",
     ("GPL-2.0-or-later AND GPL-3.0-only WITH Autoconf-exception-3.0 AND LGPL-2.1-or-later "
     "AND LicenseRef-public-domain")),
    ("yocto", ("GFDL-1.3 & BSD & ( GPL-3.0 & The-Qt-Company-GPL-Exception-1.0 | "
     "The-Qt-Company-Commercial ) & ( GPL-2.0+ | LGPL-3.0 | The-Qt-Company-Commercial )"),
     ("GFDL-1.3-only AND LicenseRef-BSD AND (GPL-3.0-only WITH Qt-GPL-exception-1.0 OR "
     "LicenseRef-The-Qt-Company-Commercial) AND (GPL-2.0-or-later OR LGPL-3.0-only OR "
     "LicenseRef-The-Qt-Company-Commercial)")),
    # `&` binds tighter than `|` (OE), parentheses or not
    ("yocto", ("GFDL-1.3 & BSD & (LGPL-2.1 & The-Qt-Company-Qt-LGPL-Exception-1.1 | LGPL-3.0) "
     "| GPL-2.0"),
     ("(GFDL-1.3-only AND LicenseRef-BSD AND (LGPL-2.1-only WITH Qt-LGPL-exception-1.1 OR "
     "LGPL-3.0-only)) OR GPL-2.0-only")),
    ("yocto", "BSD & LGPLv2+ | GPL-2.0", "(LicenseRef-BSD AND LGPL-2.0-or-later) OR GPL-2.0-only"),
    ("yocto", "(LGPLv2.1+ | LGPLv3) & GPLv3+",
     "(LGPL-2.1-or-later OR LGPL-3.0-only) AND GPL-3.0-or-later"),
    ("yocto", "(GPL-2+ & Elfutils-Exception)",
     "GPL-2.0-or-later AND LicenseRef-Elfutils-Exception"),
    ("yocto", "GPLv2 & GPL-2.0-with-lmbench-restriction",
     "GPL-2.0-only AND LicenseRef-GPL-2.0-with-lmbench-restriction"),
    ("yocto", "PSFv2", "PSF-2.0"),
    ("yocto", "openssl", "OpenSSL"),
    ("yocto", "MIT-X", "MIT"),
    ("yocto", "MIT-style & MIT & PD", "MIT AND LicenseRef-public-domain"),
    ("yocto", "FreeType | GPLv2+", "FTL OR GPL-2.0-or-later"),
    ("yocto", "Proprietary & LICENCE.nxp-v14-june-2016",
     "LicenseRef-Proprietary AND LicenseRef-LICENCE.nxp-v14-june-2016"),
    ("yocto", "CLOSED", "LicenseRef-CLOSED"),
    ("yocto", "GPL-2.0-or-later  XFree86-1.0", "GPL-2.0-or-later AND LicenseRef-XFree86-1.0"),
    ("yocto", "GPL-2.0 BSD-3-Clause", "GPL-2.0-only AND BSD-3-Clause"),
    # --- rpm: CBL-Mariner (Fedora legacy names), SLE 15 (SOURCES.md)
    ("rpm", "BSD or GPLv2", "LicenseRef-BSD OR GPL-2.0-only"),
    ("rpm", "(LGPLv3+ or GPLv2+) and GPLv3+",
     "(LGPL-3.0-or-later OR GPL-2.0-or-later) AND GPL-3.0-or-later"),
    ("rpm", "GPLv2+ WITH exceptions", "LicenseRef-GPLv2-plus-WITH-exceptions"),
    ("rpm", "ASL 2.0", "Apache-2.0"),
    ("rpm", "MPLv2.0", "MPL-2.0"),
    ("rpm", "PSF", "PSF-2.0"),
    ("rpm", "OpenLDAP", "OLDAP-2.8"),
    ("rpm", "GNU General Public License", "GPL-1.0-or-later"),
    ("rpm", "BSD 2-Clause and GPLv2", "BSD-2-Clause AND GPL-2.0-only"),
    ("rpm", "GPL+ AND MIT", "GPL-1.0-or-later AND MIT"),
    ("rpm", "BSD AND GPLv2+ AND Inner-Net AND ISC AND LGPLv2+ AND MIT",
     ("LicenseRef-BSD AND GPL-2.0-or-later AND Inner-Net-2.0 AND ISC AND LGPL-2.0-or-later "
     "AND MIT")),
    ("rpm", "SUSE-Public-Domain", "LicenseRef-SUSE-Public-Domain"),
    ("rpm", "SUSE-GPL-2.0-with-OSI-exception", "LicenseRef-SUSE-GPL-2.0-with-OSI-exception"),
    ("rpm", "GPL-3.0-or-later WITH GCC-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"),
    ("rpm", "BSD-3-Clause or GPL-2.0", "BSD-3-Clause OR GPL-2.0-only"),
    ("rpm", "Artistic-1.0 or GPL-2.0+", "Artistic-1.0 OR GPL-2.0-or-later"),
    ("rpm", "GPL-2.0+ and LGPL-2.1+", "GPL-2.0-or-later AND LGPL-2.1-or-later"),
    # --- apk `L:`
    ("apk", "GPL2", "GPL-2.0-only"),
    ("apk", "LGPL2.1", "LGPL-2.1-only"),
    ("apk", "Public-Domain", "LicenseRef-public-domain"),
    ("apk", "( Apache-2.0 OR MIT ) AND MPL-2.0", "(Apache-2.0 OR MIT) AND MPL-2.0"),
    ("apk", "custom", "LicenseRef-custom"),
    ("apk", "Custom", "LicenseRef-custom"),
    ("apk", "custom:multiple", "LicenseRef-custom-multiple"),
    ("apk", "custom ISC", "LicenseRef-custom AND ISC"),
    ("apk", "GPL LGPL", "GPL-1.0-or-later AND LGPL-2.0-or-later"),
    ("apk", "GPL2 GPL3+ LGPL2 BSD",
     "GPL-2.0-only AND GPL-3.0-or-later AND LGPL-2.0-only AND LicenseRef-BSD"),
    ("apk", "GPL-2.0 GPL-2.0-or-later LGPL-2.0-or-later BSD Public-Domain",
     ("GPL-2.0-only AND GPL-2.0-or-later AND LGPL-2.0-or-later AND LicenseRef-BSD AND "
     "LicenseRef-public-domain")),
    ("apk", "BSD-3-Clause IJG Zlib", "BSD-3-Clause AND IJG AND Zlib"),
    ("apk", "2-clause BSD-like license", "LicenseRef-2-clause-BSD-like-license"),
    ("apk", "GPL-2.0-or-later with OpenSSL exception",
     "LicenseRef-GPL-2.0-or-later-with-OpenSSL-exception"),
    ("apk", "BSD and LGPLv2+", "LicenseRef-BSD AND LGPL-2.0-or-later"),
    ("apk", "AFL-2.1 OR GPL-2.0+", "AFL-2.1 OR GPL-2.0-or-later"),
    ("apk", "Artistic GPL-2.0", "Artistic-1.0-Perl AND GPL-2.0-only"),
    ("apk", "Artistic-Perl OR GPL-1.0-or-later", "Artistic-1.0-Perl OR GPL-1.0-or-later"),
    ("apk", "BSD-0", "0BSD"),
    ("apk", "AGPL-3.0", "AGPL-3.0-only"),
    ("apk", "GPL-3.0-or-later AND GPL-2.0-or-later AND GPL-2.0-only AND",
     "GPL-3.0-or-later AND GPL-2.0-or-later AND GPL-2.0-only"),
    # --- SPDX: deprecated ids upgraded
    ("spdx", "GPL-2.0+", "GPL-2.0-or-later"),
    ("spdx", "GPL-2.0", "GPL-2.0-only"),
    ("spdx", "LGPL-2.1+", "LGPL-2.1-or-later"),
    ("spdx", "GPL-2.0-with-GCC-exception", "GPL-2.0-only WITH GCC-exception-2.0"),
    ("spdx", "GPL-2.0-with-classpath-exception", "GPL-2.0-only WITH Classpath-exception-2.0"),
    ("spdx", "eCos-2.0", "GPL-2.0-or-later WITH eCos-exception-2.0"),
    ("spdx", "StandardML-NJ", "SMLNJ"),
    ("spdx", "LGPL-2.1-only WITH Nokia-Qt-exception-1.1",
     "LGPL-2.1-only WITH Qt-LGPL-exception-1.1"),
    ("spdx", "mit and apache-2.0", "MIT AND Apache-2.0"),
]


@pytest.mark.parametrize(("flavor", "raw", "expected"), PINNED,
                         ids=[f"{f}:{r[:40]}" for f, r, _ in PINNED])
def test_pinned(flavor: str, raw: str, expected: str) -> None:
    result = normalize(raw, flavor=flavor)
    assert result.expression == expected
    assert result.raw == raw
    assert is_valid(expected)


def test_perl_base_is_a_choice_parsed() -> None:
    result = normalize("GPL-1+ or Artistic", flavor="debian")
    assert result == Normalized(raw="GPL-1+ or Artistic",
                                expression="GPL-1.0-or-later OR Artistic-1.0-Perl",
                                method="parsed")


def test_methods() -> None:
    assert normalize("MIT", flavor="apk").method == "exact"
    assert normalize("( Apache-2.0 OR MIT ) AND MPL-2.0", flavor="apk").method == "exact"
    assert normalize("Expat", flavor="debian").method == "alias"
    assert normalize("GPLv2 & LGPLv2.1", flavor="yocto").method == "parsed"
    assert normalize("GPL-2-Asterisk", flavor="debian").method == "licenseref"
    assert normalize("", flavor="debian").method == "empty"
    assert normalize("   ", flavor="rpm").expression is NOASSERTION


def test_unmapped_names_are_reported_with_their_raw_text() -> None:
    result = normalize("LGPL-2.1-or-later & unRAR", flavor="yocto")
    assert result.expression == "LGPL-2.1-or-later AND LicenseRef-unRAR"
    assert result.unmapped == ("unRAR",)
    result = normalize("GPL-2+ with distribution exception", flavor="debian")
    assert result.expression == "LicenseRef-GPL-2-plus-with-distribution-exception"
    assert result.unmapped == ("GPL-2+ with distribution exception",)
    assert result.method == "licenseref"


def test_curated_references_are_not_unmapped() -> None:
    for raw, flavor in (("BSD", "rpm"), ("Public Domain", "rpm"), ("PD", "yocto"),
                        ("Proprietary", "yocto"), ("custom", "apk"),
                        ("SUSE-Public-Domain", "rpm")):
        result = normalize(raw, flavor=flavor)
        assert result.unmapped == (), raw
        assert str(result.expression).startswith("LicenseRef-"), raw


def test_ambiguities_are_reported() -> None:
    assert any("BSD" in p for p in normalize("BSD", flavor="yocto").problems)
    assert any("unversioned" in p for p in normalize("GPL", flavor="apk").problems)
    assert normalize("GPL+", flavor="rpm").problems == ()  # `+`: any version, said explicitly
    assert any("no operator" in p for p in normalize("MIT BSD GPL2+", flavor="apk").problems)


def test_junk_tokens_are_flagged() -> None:
    result = normalize("The", flavor="debian")  # syft splits DEP-5 prose on spaces
    assert result.expression is NOASSERTION
    assert result.method == "empty"
    assert result.problems == ("junk token 'The'",)
    result = normalize("REGCOMP,", flavor="debian")
    assert result.expression == "LicenseRef-REGCOMP"
    assert "stray ','" in result.problems
    result = normalize("...", flavor="debian")
    assert result.expression is NOASSERTION
    assert result.problems == ("junk token '...'",)
    result = normalize("The main library is licensed under GNU Lesser", flavor="debian")
    assert any(p.startswith("prose") for p in result.problems)


def test_dangling_operator_is_dropped_and_flagged() -> None:
    # Alpine libuuid: a multi-line APKBUILD license cut after the first line
    result = normalize("GPL-3.0-or-later AND GPL-2.0-or-later AND GPL-2.0-only AND", flavor="apk")
    assert result.problems == ("dangling operator 'AND'",)
    for raw in ("AND MIT", "MIT OR", "MIT AND AND BSD-2-Clause", "(MIT AND)", "()"):
        result = normalize(raw, flavor="spdx")
        assert result.expression is NOASSERTION or is_valid(result.expression), raw
        assert result.problems, raw


def test_unbalanced_parentheses_are_repaired() -> None:
    result = normalize("(MIT OR Apache-2.0", flavor="spdx")
    assert result.expression == "MIT OR Apache-2.0"
    assert "unbalanced '('" in result.problems
    result = normalize("MIT) AND BSD-2-Clause", flavor="spdx")
    assert result.expression == "MIT AND BSD-2-Clause"
    assert "unbalanced ')'" in result.problems


def test_exception_as_and_operand() -> None:
    result = normalize("(GPL-2+ & Elfutils-Exception)", flavor="yocto")
    assert result.unmapped == ("Elfutils-Exception",)
    assert any("Elfutils-Exception" in p for p in result.problems)
    # an SPDX exception written as an operand attaches to its license
    result = normalize("Classpath-exception-2.0 & GPL-2.0-only", flavor="yocto")
    assert result.expression == "GPL-2.0-only WITH Classpath-exception-2.0"
    # ... and without a license it cannot stand as one
    result = normalize("Classpath-exception-2.0", flavor="spdx")
    assert result.expression == "LicenseRef-Classpath-exception-2.0"
    assert result.problems


def test_apk_none_is_spdx_none() -> None:
    assert normalize("none", flavor="apk").expression is NONE
    assert normalize("NOASSERTION", flavor="spdx").expression is NOASSERTION


@pytest.mark.parametrize("raw", [
    None, 42, "(((", ")))", "AND OR WITH", "WITH", "with exception", "&|&|", ",,,", "\x00MIT\x00",
    "(" * 3000 + "MIT" + ")" * 3000, " & ".join(f"Firmware-{i}" for i in range(3000)),
    "x" * 20000, "LicenseRef-", "LicenseRef-a b", "DocumentRef-x:LicenseRef-y", "GPL-2.0+ WITH",
    "MIT WITH GPL-2.0-only", "(MIT) (Apache-2.0)", "\u00e9t\u00e9 \u2603",
])
@pytest.mark.parametrize("flavor", ["spdx", "debian", "yocto", "rpm", "apk", "bogus"])
def test_never_raises_and_output_is_valid(raw: object, flavor: str) -> None:
    result = normalize(raw, flavor=flavor)  # type: ignore[arg-type]
    assert isinstance(result, Normalized)
    assert result.expression in (NOASSERTION, NONE) or is_valid(result.expression)
    for ref in re.findall(r"LicenseRef-(\S+)", str(result.expression)):
        assert re.fullmatch(r"[A-Za-z0-9.-]+", ref.rstrip(")"))


def test_unknown_flavor_is_reported() -> None:
    result = normalize("MIT", flavor="bogus")
    assert result.expression == "MIT"
    assert result.problems == ("unknown flavor 'bogus'; read as spdx",)


def test_normalized_is_a_frozen_keyword_only_slotted_value() -> None:
    result = normalize("MIT", flavor="spdx")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.expression = "BSD-2-Clause"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Normalized("MIT", "MIT", "exact")  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_license_list_version() -> None:
    assert re.fullmatch(r"\d+\.\d+", LICENSE_LIST_VERSION)


@pytest.mark.parametrize(("expr", "valid"), [
    ("MIT", True),
    ("GPL-2.0+", True),  # deprecated but still valid SPDX
    ("GPL-2.0-only WITH Classpath-exception-2.0", True),
    ("(MIT OR Apache-2.0) AND LicenseRef-foo.bar-1", True),
    ("LicenseRef-public-domain", True),
    ("mit", True),  # ids are case-insensitive
    ("MIT and Apache-2.0", False),  # operators are not
    ("MIT Apache-2.0", False),
    ("GPL 2.0", False),
    ("LicenseRef-foo bar", False),
    ("Foo", False),
    ("(MIT", False),
    ("MIT AND", False),
    ("MIT WITH GPL-2.0-only", False),
    ("LicenseRef-a WITH LicenseRef-b", False),
    ("", False),
    ("NOASSERTION", False),
])
def test_is_valid(expr: str, valid: bool) -> None:
    assert is_valid(expr) is valid


def test_is_valid_of_a_sentinel_is_false() -> None:
    assert is_valid(NOASSERTION) is False


def test_and_all() -> None:
    assert and_all([]) is NOASSERTION
    assert and_all([NOASSERTION, "", NONE]) is NOASSERTION
    assert and_all(["MIT"]) == "MIT"
    assert and_all(["MIT", "MIT", "Apache-2.0"]) == "Apache-2.0 AND MIT"
    assert and_all(["GPL-2.0-or-later AND MPL-2.0", "MPL-2.0", "MIT OR Apache-2.0"]) \
        == "GPL-2.0-or-later AND (MIT OR Apache-2.0) AND MPL-2.0"
    assert and_all(["MPL-2.0", "GPL-2.0-or-later"]) == and_all(["GPL-2.0-or-later", "MPL-2.0"])
    # inputs that are not valid expressions are normalised (spdx flavor) first
    assert and_all(["GPL-2.0+", "mit"]) == "GPL-2.0-or-later AND MIT"
