# SPDX-License-Identifier: Apache-2.0
"""The evaluator on hand-built inventories: OR choice, waivers, scopes, unknown licenses,
declarations, curations, other licenses, finding contents."""

from __future__ import annotations

import datetime
import textwrap
from dataclasses import replace

import pytest

from auditor.model import NOASSERTION, Declaration, Location, OtherLicense
from auditor.policy import apply_concluded, package_key, parse_policy

from .values import errors, image, inventory, pkg, preset, run


def policy(text: str, name: str = "test.yaml"):
    return parse_policy(textwrap.dedent(text), name)


# --- OR / AND choice ----------------------------------------------------------------------

def test_or_passes_gplv3_free_and_concludes_the_passing_branch():
    p = pkg("a", "MIT OR GPL-3.0-only")
    inv = inventory(image("localhost/app", p))
    v = run(inv, preset("gplv3-free"))
    assert v.findings == ()
    assert not v.fails()
    assert v.concluded[("sha256:localhost-app", package_key(p))] == "MIT"
    filled = apply_concluded(inv, v)
    assert filled.images[0].packages[0].concluded_license == "MIT"
    assert filled.images[0].packages[0].declared_license == "MIT OR GPL-3.0-only"


def test_and_with_gplv3_fails_gplv3_free():
    inv = inventory(image("localhost/app", pkg("b", "GPL-3.0-or-later AND MIT")))
    v = run(inv, preset("gplv3-free"))
    assert errors(v) == [("b", "GPL-3.0-or-later", "incompatible_licenses")]
    assert v.fails()
    assert v.concluded[("sha256:localhost-app", "pkg:deb/debian/b@1.0?arch=amd64")] == \
        "GPL-3.0-or-later AND MIT"


@pytest.mark.parametrize("expr, concluded", [
    ("GPL-3.0-only OR MIT", "MIT"),
    ("(GPL-3.0-only AND MIT) OR (BSD-3-Clause AND Zlib)", "BSD-3-Clause AND Zlib"),
    ("MIT AND (GPL-3.0-or-later OR Apache-2.0)", "MIT AND Apache-2.0"),
    ("LGPL-3.0-or-later OR LGPL-2.1-or-later", "LGPL-2.1-or-later"),
    ("GPL-2.0-or-later OR MIT", "MIT"),  # no finding either way: the more permissive one
])
def test_or_choice(expr, concluded):
    v = run(inventory(image("i", pkg("x", expr))), preset("gplv3-free"))
    assert errors(v) == []
    assert list(v.concluded.values()) == [concluded]


def test_or_choice_does_not_depend_on_operand_order():
    a = run(inventory(image("i", pkg("x", "MIT OR BSD-2-Clause"))), preset("gplv3-free"))
    b = run(inventory(image("i", pkg("x", "BSD-2-Clause OR MIT"))), preset("gplv3-free"))
    assert a.concluded == b.concluded


def test_or_with_only_failing_branches_reports_the_least_bad_one():
    # both alternatives fail; the one with fewer errors is concluded and reported
    v = run(inventory(image("i", pkg("x", "(GPL-3.0-only AND LGPL-3.0-only) OR AGPL-3.0-only"))),
            preset("gplv3-free"))
    assert errors(v) == [("x", "AGPL-3.0-only", "incompatible_licenses")]


def test_with_expression_in_an_allow_list():
    pol = policy("""
        allowed:
          licenses: ["GPL-2.0-only WITH GCC-exception-2.0", MIT]
        """)
    v = run(inventory(image("i", pkg("gcc", "GPL-2.0-only WITH GCC-exception-2.0"),
                            pkg("plain", "GPL-2.0-only"),
                            pkg("either", "GPL-2.0-only OR GPL-2.0-only WITH GCC-exception-2.0"))),
            pol)
    assert errors(v) == [("plain", "GPL-2.0-only", "not-allowed")]
    assert v.concluded[("sha256:i", "pkg:deb/debian/either@1.0?arch=amd64")] == \
        "GPL-2.0-only WITH GCC-exception-2.0"


def test_listing_a_license_accepts_it_with_an_exception():
    pol = policy("allowed: [GPL-2.0-only]\n")
    v = run(inventory(image("i", pkg("k", "GPL-2.0-only WITH Linux-syscall-note"))), pol)
    assert v.findings == ()


def test_categories_and_review():
    pol = policy("""
        allowed: [permissive, public-domain]
        review:
          licenses: [MPL-2.0]
          categories: [weak-copyleft]
        """)
    v = run(inventory(image("i", pkg("a", "MIT"), pkg("b", "LicenseRef-public-domain"),
                            pkg("c", "MPL-2.0"), pkg("d", "LGPL-2.1-only"),
                            pkg("e", "GPL-2.0-only"))), pol)
    assert [(f.package, f.rule, f.severity) for f in v.findings] == [
        ("c", "review", "warning"), ("d", "review", "warning"), ("e", "not-allowed", "error")]


def test_curated_concluded_license_is_judged_instead_of_declared():
    curated = pkg("c", "GPL-3.0-only", concluded="MIT", curation="upstream relicensed, #42")
    stale = pkg("s", "MIT", concluded="GPL-3.0-only")  # no curation: declared is judged
    v = run(inventory(image("i", curated, stale)), preset("gplv3-free"))
    assert v.findings == ()
    assert v.concluded[("sha256:i", package_key(curated))] == "MIT"
    assert v.concluded[("sha256:i", package_key(stale))] == "MIT"


def test_other_licenses_switch():
    other = OtherLicense(files=("tests/*",), expression="GPL-3.0-only", raw="GPL-3",
                         evidence=Location(path="/usr/share/doc/lib/copyright"))
    inv = inventory(image("i", pkg("lib", "LGPL-2.1-or-later", other=(other,))))
    off = preset("gplv3-free")
    assert run(inv, off).findings == ()
    v = run(inv, replace(off, other_licenses=True))
    [f] = v.findings
    assert (f.license, f.rule, f.severity) == ("GPL-3.0-only", "incompatible_licenses", "error")
    assert f.message.startswith("files tests/*: ")
    assert f.evidence == "/usr/share/doc/lib/copyright"
    # the package's own concluded license is unaffected
    assert list(v.concluded.values()) == ["LGPL-2.1-or-later"]


def test_finding_fields():
    v = run(inventory(image("localhost/app", pkg("b", "GPL-3.0-only", version="2.1"))),
            preset("gplv3-free"))
    [f] = v.findings
    assert f.image == "localhost/app"
    assert (f.package, f.version, f.purl) == ("b", "2.1", "pkg:deb/debian/b@2.1?arch=amd64")
    assert f.evidence == "/usr/share/doc/b/copyright"
    assert f.layer == "sha256:layer-b"
    assert f.waived_by == ""


def test_evidence_falls_back_to_the_first_location():
    p = replace(pkg("b", "GPL-3.0-only"), licenses=())
    [f] = run(inventory(image("i", p)), preset("gplv3-free")).findings
    assert f.evidence == "/var/lib/dpkg/status"


def test_findings_are_sorted_and_deterministic():
    imgs = [image("z", pkg("b", "GPL-3.0-only"), pkg("a", "LGPL-3.0-only")),
            image("a", pkg("y", "AGPL-3.0-only"))]
    v1 = run(inventory(*imgs), preset("gplv3-free"))
    v2 = run(inventory(*reversed(imgs)), preset("gplv3-free"))
    assert v1 == v2
    assert [(f.image, f.package) for f in v1.findings] == [("a", "y"), ("z", "a"), ("z", "b")]
    assert v1.policy_digest == preset("gplv3-free").digest


# --- waivers ------------------------------------------------------------------------------

WAIVED = """
    incompatible_licenses: [GPL-3.0*]
    waivers:
      - package: bash
        license: GPL-3.0-or-later
        reason: "shell of the debug image, replaced by busybox in 2025.07"
        expires: 2025-07-01
    """


def test_waiver_passes_until_its_expiry_date():
    inv = inventory(image("i", pkg("bash", "GPL-3.0-or-later")))
    pol = policy(WAIVED)
    before = run(inv, pol, today=datetime.date(2025, 6, 30))
    [f] = before.findings
    assert (f.rule, f.severity) == ("incompatible_licenses", "info")
    assert f.waived_by == "shell of the debug image, replaced by busybox in 2025.07"
    assert "waived error until 2025-07-01" in f.message
    assert not before.fails() and not before.fails("warning")

    after = run(inv, pol, today=datetime.date(2025, 7, 1))
    assert after.fails()
    assert sorted((f.rule, f.severity) for f in after.findings) == [
        ("incompatible_licenses", "error"), ("waiver-expired", "error")]
    expired = next(f for f in after.findings if f.rule == "waiver-expired")
    assert "waiver expired" in expired.message
    assert expired.evidence == "test.yaml:4"
    original = next(f for f in after.findings if f.rule == "incompatible_licenses")
    assert original.waived_by == "" and "waiver expired on 2025-07-01" in original.message


def test_waiver_matches_purl_globs_images_and_only_its_license():
    pol = policy("""
        incompatible_licenses: [GPL-3.0*, LGPL-3.0*]
        waivers:
          - package: "pkg:deb/debian/bash"
            license: GPL-3.0-or-later
            images: ["localhost/debug*"]
            reason: debug image only
        """)
    bash = pkg("bash", "GPL-3.0-or-later AND LGPL-3.0-only")
    v = run(inventory(image("localhost/debug", bash), image("localhost/app", bash)), pol)
    assert [(f.image, f.license, f.severity) for f in v.findings] == [
        ("localhost/app", "GPL-3.0-or-later", "error"),
        ("localhost/app", "LGPL-3.0-only", "error"),
        ("localhost/debug", "GPL-3.0-or-later", "info"),
        ("localhost/debug", "LGPL-3.0-only", "error"),
    ]


def test_waiver_on_the_whole_expression_and_on_noassertion():
    pol = policy("""
        incompatible_licenses: [GPL-3.0*]
        noassertion: error
        waivers:
          - {package: "t*", license: "GPL-3.0-only AND MIT", reason: reviewed}
          - {package: blob, license: NOASSERTION, reason: "firmware blob, checked by legal"}
        """)
    v = run(inventory(image("i", pkg("tool", "GPL-3.0-only AND MIT"), pkg("blob", NOASSERTION))),
            pol)
    assert [(f.package, f.severity, f.waived_by) for f in v.findings] == [
        ("blob", "info", "firmware blob, checked by legal"), ("tool", "info", "reviewed")]


def test_a_waiver_steers_the_or_choice():
    pol = policy("""
        incompatible_licenses: [GPL-3.0*]
        unknown: error
        waivers:
          - {package: x, license: LicenseRef-vendor, reason: contract 2024-17}
        """)
    v = run(inventory(image("i", pkg("x", "GPL-3.0-only OR LicenseRef-vendor"))), pol)
    assert [(f.license, f.severity) for f in v.findings] == [("LicenseRef-vendor", "info")]
    assert list(v.concluded.values()) == ["LicenseRef-vendor"]


# --- scopes -------------------------------------------------------------------------------

def test_image_scoped_rule_touches_only_that_image():
    pol = policy("""
        scopes:
          - images: ["localhost/app*"]
            incompatible_licenses: [GPL-3.0*]
        """)
    gpl = pkg("g", "GPL-3.0-only")
    v = run(inventory(image("localhost/app:1", gpl), image("localhost/tools:1", gpl)), pol)
    assert [(f.image, f.rule) for f in v.findings] == [("localhost/app:1", "incompatible_licenses")]


def test_top_level_section_with_images_and_exclude_images():
    pol = policy("""
        incompatible_licenses:
          licenses: [GPL-3.0*]
          images: ["localhost/*"]
          exclude_images: ["localhost/tools*"]
        """)
    gpl = pkg("g", "GPL-3.0-only")
    v = run(inventory(image("localhost/app", gpl), image("localhost/tools", gpl),
                      image("docker.io/x", gpl)), pol)
    assert [f.image for f in v.findings] == ["localhost/app"]


def test_a_scoped_section_overrides_the_global_one_for_its_images():
    pol = policy("""
        allowed: [permissive]
        scopes:
          - images: ["localhost/ui*"]
            allowed: [permissive, weak-copyleft]
        """)
    qt = pkg("qt", "LGPL-3.0-only")
    v = run(inventory(image("localhost/ui", qt), image("localhost/api", qt)), pol)
    assert [(f.image, f.rule) for f in v.findings] == [("localhost/api", "not-allowed")]


def test_image_globs_match_tags_and_config_digest():
    pol = policy("""
        scopes:
          - images: ["sha256:localhost-app"]
            incompatible_licenses: [GPL-3.0*]
        """)
    v = run(inventory(image("localhost/app", pkg("g", "GPL-3.0-only"))), pol)
    assert len(v.findings) == 1


# --- unknown licenses ---------------------------------------------------------------------

@pytest.mark.parametrize("level", ["error", "warning", "ignore"])
def test_unknown_licenses_follow_their_rule(level):
    pol = policy(f"""
        incompatible_licenses: [GPL-3.0*]
        unknown: {level}
        noassertion: {level}
        """)
    v = run(inventory(image("i", pkg("n", NOASSERTION), pkg("r", "LicenseRef-acme-eula"),
                            pkg("pd", "LicenseRef-public-domain"), pkg("m", "MIT AND NOASSERTION"),
                            pkg("s", "0BSD"))), pol)
    got = [(f.package, f.license, f.rule, f.severity) for f in v.findings]
    if level == "ignore":
        assert got == []
    else:
        assert got == [("m", "NOASSERTION", "noassertion", level),
                       ("n", "NOASSERTION", "noassertion", level),
                       ("r", "LicenseRef-acme-eula", "unknown", level)]
    assert v.concluded[("sha256:i", "pkg:deb/debian/n@1.0?arch=amd64")] is NOASSERTION
    assert v.concluded[("sha256:i", "pkg:deb/debian/m@1.0?arch=amd64")] is NOASSERTION


def test_a_listed_license_ref_is_not_unknown():
    pol = policy("""
        unknown: error
        allowed: [permissive, LicenseRef-acme-eula]
        """)
    v = run(inventory(image("i", pkg("r", "LicenseRef-acme-eula"), pkg("o", "LicenseRef-other"))),
            pol)
    assert errors(v) == [("o", "LicenseRef-other", "unknown")]


def test_unknown_license_is_not_also_reported_as_not_allowed():
    v = run(inventory(image("i", pkg("r", "LicenseRef-x"))), preset("permissive-only"))
    assert [(f.rule, f.severity) for f in v.findings] == [("unknown", "error")]


def test_sections_absent_means_not_checked():
    v = run(inventory(image("i", pkg("n", NOASSERTION), pkg("g", "AGPL-3.0-only"))),
            policy("name: empty\n"))
    assert v.findings == ()


# --- declarations -------------------------------------------------------------------------

def test_missing_declared_and_undeclared_images():
    declared = (
        Declaration(file="/etc/containers/images.manifest", kind="images.manifest",
                    reference="redis 7.0 redis", name="redis", version="7.0", tag="redis",
                    found=False),
        Declaration(file="/etc/compose/app.yml", kind="docker-compose",
                    reference="localhost/app:latest", service="app", found=True,
                    matches=("sha256:localhost-app",)),
    )
    inv = inventory(image("localhost/app", pkg("a", "MIT")),
                    image("localhost/stray", pkg("b", "MIT"), source="/opt/stray.tar"),
                    declared=declared, undeclared=("/opt/stray.tar",))
    v = run(inv, preset("gplv3-free"))
    assert [(f.image, f.rule, f.severity, f.evidence) for f in v.findings] == [
        ("localhost/stray", "undeclared-image", "warning", "/opt/stray.tar"),
        ("redis 7.0 redis", "missing-image", "error", "/etc/containers/images.manifest"),
    ]
    assert "is not in the root filesystem" in v.findings[1].message
    quiet = policy("""
        consistency: {missing_image: ignore, undeclared_image: ignore}
        """)
    assert run(inv, quiet).findings == ()


def test_package_key_without_purl():
    p = replace(pkg("x", "MIT"), purl="")
    assert package_key(p) == "x@1.0"


def test_huge_expressions_fall_back_to_choosing_each_or_alone():
    # 2**11 alternatives: beyond MAX_ALTERNATIVES each OR is decided on its own
    expr = " AND ".join(f"(GPL-3.0-only OR LicenseRef-l{i})" for i in range(11))
    v = run(inventory(image("i", pkg("x", expr))),
            parse_policy("incompatible_licenses: [GPL-3.0*]\n", "p"))
    assert v.findings == ()
    assert list(v.concluded.values()) == [" AND ".join(f"LicenseRef-l{i}" for i in range(11))]
