# SPDX-License-Identifier: Apache-2.0
"""INCOMPATIBLE_LICENSE / INCOMPATIBLE_LICENSE_EXCEPTIONS give OE-core's verdicts.

The expectations follow OE-core's meta/lib/oe/license.py (`expand_wildcard_licenses`,
`license_allowed`, `filter_pkg_license_list`), meta/classes-recipe/license_image.bbclass
and its selftests meta/lib/oeqa/selftest/cases/incompatible_lic.py (IncompatibleLicense-
PerImageTests: bash under "GPL-3.0* LGPL-3.0*", with and without "bash:GPL-3.0-or-later").
"""

from __future__ import annotations

import textwrap

import pytest

from auditor.errors import PolicyError
from auditor.policy import merge_yocto, parse_policy, policy_from_yocto

from .values import errors, image, inventory, of, pkg, preset, run

NO_GPL3 = "GPL-3.0* LGPL-3.0*"


def verdict(expr: str, incompatible: str = NO_GPL3, exceptions: str = "", name: str = "bash",
            **kw: str) -> list[tuple[str, str, str]]:
    pol = policy_from_yocto(incompatible, exceptions, **kw)
    return of(run(inventory(image("core-image-minimal", pkg(name, expr))), pol), name)


def test_wildcards_expand_to_only_and_or_later():
    p = policy_from_yocto("GPL-3.0* LGPL-3.0* AGPL-3.0*", "")
    [rule] = p.rules
    assert rule.licenses == ("AGPL-3.0-only", "AGPL-3.0-or-later", "GPL-3.0-only",
                             "GPL-3.0-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later")
    assert rule.raw == ("GPL-3.0*", "LGPL-3.0*", "AGPL-3.0*")


def test_bash_default():
    # OE: "Some packages cannot be installed ... incompatible licenses: bash (GPL-3.0-or-later)"
    assert verdict("GPL-3.0-or-later") == [
        ("GPL-3.0-or-later", "incompatible_licenses", "error")]


def test_bash_and_license():
    assert verdict("GPL-3.0-or-later AND LicenseRef-SomeLicense") == [
        ("GPL-3.0-or-later", "incompatible_licenses", "error")]


def test_bash_or_license():
    pol = policy_from_yocto(NO_GPL3, "")
    v = run(inventory(image("i", pkg("bash", "GPL-3.0-or-later OR LicenseRef-SomeLicense"))), pol)
    assert v.findings == ()
    assert list(v.concluded.values()) == ["LicenseRef-SomeLicense"]


def test_bash_license_exceptions():
    # OE lets bash in and raises QA "license-exception", which is in ERROR_QA by default ...
    assert verdict("GPL-3.0-or-later", exceptions="bash:GPL-3.0-or-later") == [
        ("GPL-3.0-or-later", "license-exception", "error")]
    # ... the selftest moves it out of ERROR_QA and the image builds
    assert verdict("GPL-3.0-or-later", exceptions="bash:GPL-3.0-or-later",
                   exception_severity="ignore") == []
    assert verdict("GPL-3.0-or-later", exceptions="bash:GPL-3.0-or-later",
                   exception_severity="warning") == [
        ("GPL-3.0-or-later", "license-exception", "warning")]


def test_exception_is_for_the_named_package_only():
    assert verdict("GPL-3.0-or-later", exceptions="bash:GPL-3.0-or-later", name="coreutils",
                   exception_severity="ignore") == [
        ("GPL-3.0-or-later", "incompatible_licenses", "error")]
    # ... and for the named license only
    assert verdict("GPL-3.0-only", exceptions="bash:GPL-3.0-or-later",
                   exception_severity="ignore") == [
        ("GPL-3.0-only", "incompatible_licenses", "error")]


def test_exception_without_package_applies_to_every_package():
    assert verdict("GPL-3.0-or-later", exceptions="GPL-3.0-or-later", name="coreutils",
                   exception_severity="ignore") == []


def test_no_exception_needed_when_another_branch_passes():
    # OE raises license-exception only when the package fails without the exceptions
    assert verdict("MIT OR GPL-3.0-or-later", exceptions="bash:GPL-3.0-or-later") == []


def test_spdx_exception():
    # a banned license also matches `L WITH E`; an exception id in the exceptions list
    # allows any license WITH that exception (OE-core selftest test_spdx_exception)
    expr = "GPL-3.0-or-later WITH GCC-exception-3.1"
    assert verdict(expr) == [(expr, "incompatible_licenses", "error")]
    assert verdict(expr, exceptions="GCC-exception-3.1", exception_severity="ignore") == []
    assert verdict("GPL-3.0-or-later", exceptions="GCC-exception-3.1",
                   exception_severity="ignore") == [
        ("GPL-3.0-or-later", "incompatible_licenses", "error")]


@pytest.mark.parametrize("expr", ["GPL-2.0-or-later", "GPL-2.0-only", "LGPL-2.1-or-later",
                                  "AGPL-3.0-only", "MIT", "GPL-2.0-or-later WITH Classpath-exception-2.0"])
def test_or_later_of_older_versions_passes(expr):
    # OE compares ids after expansion: GPL-2.0-or-later is not GPL-3.0-only/-or-later, so a
    # "GPL-3.0*" ban lets it through (the licensee may take GPL-2.0). AGPL is not in NO_GPL3.
    assert verdict(expr) == []


@pytest.mark.parametrize("expr", ["GPL-3.0-only", "GPL-3.0-or-later", "LGPL-3.0-only",
                                  "LGPL-3.0-or-later"])
def test_version_3_ids_fail(expr):
    assert verdict(expr) == [(expr, "incompatible_licenses", "error")]


def test_legacy_names_are_mapped_like_spdxlicensemap():
    # GPLv3 -> GPL-3.0-only (not -or-later), GPLv3+ -> GPL-3.0-or-later
    assert verdict("GPL-3.0-only", incompatible="GPLv3") == [
        ("GPL-3.0-only", "incompatible_licenses", "error")]
    assert verdict("GPL-3.0-or-later", incompatible="GPLv3") == []
    assert verdict("GPL-3.0-or-later", incompatible="GPLv3+") == [
        ("GPL-3.0-or-later", "incompatible_licenses", "error")]
    assert verdict("LGPL-2.1-only", incompatible="LGPLv2.1") != []


def test_unknown_names_become_license_refs():
    # OE-core selftest test_incompatible_nonspdx_license
    assert verdict("LicenseRef-FooLicense", incompatible="FooLicense") == [
        ("LicenseRef-FooLicense", "incompatible_licenses", "error")]
    assert verdict("LicenseRef-FooLicense", incompatible="LicenseRef-FooLicense") != []


@pytest.mark.parametrize("word", ["*GPL-3.0*", "GPL-2.0*", "*", "*GPLv3"])
def test_other_wildcards_are_refused(word):
    with pytest.raises(PolicyError, match="invalid license wildcard entry"):
        policy_from_yocto(word, "")


def test_bad_exception_word():
    with pytest.raises(PolicyError, match="INCOMPATIBLE_LICENSE_EXCEPTIONS"):
        policy_from_yocto(NO_GPL3, "bash:")


def test_empty_variables_check_nothing():
    assert policy_from_yocto("", "").rules == ()
    assert verdict("GPL-3.0-only", incompatible="") == []


def test_yaml_and_bitbake_forms_agree():
    yaml_policy = parse_policy(textwrap.dedent("""
        incompatible_licenses: [GPL-3.0*, LGPL-3.0*]
        exceptions: ["bash:GPL-3.0-or-later"]
        """), "p.yaml")
    bb_policy = policy_from_yocto(NO_GPL3, "bash:GPL-3.0-or-later")
    assert yaml_policy.rules == bb_policy.rules
    inv = inventory(image("i", pkg("bash", "GPL-3.0-or-later"), pkg("tar", "GPL-3.0-or-later"),
                          pkg("zlib", "Zlib")))
    assert run(inv, yaml_policy).findings == run(inv, bb_policy).findings


def test_merge_into_a_loaded_policy():
    base = preset("permissive-only")
    merged = merge_yocto(base, NO_GPL3, "bash:GPL-3.0-or-later", exception_severity="warning")
    assert merged.digest != base.digest
    inv = inventory(image("i", pkg("bash", "GPL-3.0-or-later"), pkg("tar", "GPL-3.0-only")))
    v = run(inv, merged)
    assert sorted((f.package, f.rule, f.severity) for f in v.findings) == [
        ("bash", "license-exception", "warning"), ("bash", "not-allowed", "error"),
        ("tar", "incompatible_licenses", "error"), ("tar", "not-allowed", "error")]


def test_merge_joins_existing_sections_and_keeps_scopes():
    base = parse_policy(textwrap.dedent("""
        incompatible_licenses: [AGPL-3.0*]
        scopes:
          - images: ["localhost/app*"]
            incompatible_licenses: [MPL-2.0]
        """), "p.yaml")
    merged = merge_yocto(base, "GPL-3.0*", "")
    inc = [r for r in merged.rules if r.kind == "incompatible_licenses"]
    assert [r.licenses for r in inc] == [
        ("AGPL-3.0-only", "AGPL-3.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later"),
        ("GPL-3.0-only", "GPL-3.0-or-later", "MPL-2.0")]
    v = run(inventory(image("localhost/app", pkg("g", "GPL-3.0-only"), pkg("m", "MPL-2.0"))),
            merged)
    assert sorted(p for p, _, _ in errors(v)) == ["g", "m"]
