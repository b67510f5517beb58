# SPDX-License-Identifier: Apache-2.0
"""Properties of the evaluator: monotone under added waivers, deterministic, and the
concluded license is one of the expression's alternatives."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.policy import Policy, Scope, Waiver
from auditor.policy.evaluate import Verdicts

from .values import TODAY, image, inventory, pkg, preset, run

LEAVES = ["MIT", "Apache-2.0", "GPL-3.0-only", "GPL-3.0-or-later", "LGPL-3.0-or-later",
          "GPL-2.0-or-later", "AGPL-3.0-only", "MPL-2.0", "LicenseRef-foo",
          "LicenseRef-public-domain", "GPL-3.0-or-later WITH GCC-exception-3.1"]
NAMES = ["a", "b", "c", "d"]
IMAGES = ["localhost/app", "localhost/db"]
POLICIES = {name: preset(name) for name in ("gplv3-free", "permissive-only", "report-only")}

expressions = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map(
        lambda t: f"({t[0]}{t[1]}{t[2]})"),
    max_leaves=6)
declared = st.one_of(expressions, st.just("NOASSERTION"))
images = st.lists(
    st.tuples(st.sampled_from(IMAGES),
              st.lists(st.tuples(st.sampled_from(NAMES), declared), max_size=4,
                       unique_by=lambda t: t[0])),
    min_size=1, max_size=2, unique_by=lambda t: t[0]).map(
    lambda imgs: inventory(*(image(n, *(pkg(p, lic) for p, lic in ps)) for n, ps in imgs)))


def waivers(expires: st.SearchStrategy[datetime.date | None]) -> st.SearchStrategy[Waiver]:
    return st.builds(
        Waiver,
        package=st.sampled_from(NAMES + ["*", "pkg:deb/debian/c", "pkg:deb/debian/*@1.0*"]),
        license=st.sampled_from(LEAVES + ["NOASSERTION"]),
        reason=st.just("accepted"),
        expires=expires,
        scope=st.sampled_from([Scope(), Scope(images=("localhost/app*",))]))


valid = waivers(st.one_of(st.none(), st.dates(min_value=TODAY + datetime.timedelta(days=1))))
expired = waivers(st.dates(max_value=TODAY))


def errors_by_package(v: Verdicts) -> Counter[tuple[str, str]]:
    return Counter((f.image, f.package) for f in v.findings
                   if f.severity == "error" and f.rule != "waiver-expired")


def with_waivers(policy: Policy, ws: list[Waiver]) -> Policy:
    return replace(policy, waivers=tuple(ws))


@settings(max_examples=300, deadline=None)
@given(inv=images, name=st.sampled_from(sorted(POLICIES)), base=st.lists(valid, max_size=3),
       extra=valid)
def test_adding_a_waiver_never_adds_an_error(inv, name, base, extra):
    policy = POLICIES[name]
    before = run(inv, with_waivers(policy, base))
    after = run(inv, with_waivers(policy, base + [extra]))
    b, a = errors_by_package(before), errors_by_package(after)
    # no package gains an error, none has more errors than before
    assert all(a[k] <= b[k] for k in a), (b, a)
    assert sum(a.values()) <= sum(b.values())
    assert not after.fails() or before.fails()


@settings(max_examples=150, deadline=None)
@given(inv=images, name=st.sampled_from(sorted(POLICIES)), base=st.lists(valid, max_size=2),
       extra=expired)
def test_an_expired_waiver_waives_nothing_and_is_itself_reported(inv, name, base, extra):
    policy = POLICIES[name]
    before = run(inv, with_waivers(policy, base))
    after = run(inv, with_waivers(policy, base + [extra]))
    assert errors_by_package(after) == errors_by_package(before)
    assert after.concluded == before.concluded
    gone = [f for f in after.findings if f.rule == "waiver-expired"]
    assert len(gone) == 1 and "waiver expired" in gone[0].message
    assert gone[0].severity == policy.waiver_expired


@settings(max_examples=150, deadline=None)
@given(inv=images, name=st.sampled_from(sorted(POLICIES)))
def test_evaluation_is_deterministic_and_concludes_an_alternative(inv, name):
    v = run(inv, POLICIES[name])
    assert v == run(inv, POLICIES[name])
    assert list(v.findings) == sorted(v.findings, key=lambda f: (f.image, f.package, f.version,
                                                                f.purl, f.rule, f.license,
                                                                f.severity, f.message,
                                                                f.evidence, f.layer or "",
                                                                f.waived_by))
    for img in inv.images:
        for p in img.packages:
            concluded = v.concluded[(img.config_digest, p.purl)]
            assert " OR " not in str(concluded)
            if str(p.declared_license) != "NOASSERTION" and "NOASSERTION" != str(concluded):
                for part in str(concluded).split(" AND "):
                    assert part in str(p.declared_license)
