# SPDX-License-Identifier: Apache-2.0
"""Policy files: presets load, problems name file:line, the digest is canonical."""

from __future__ import annotations

import datetime
import shutil
import textwrap
from pathlib import Path

import pytest

from auditor.errors import PolicyError
from auditor.policy import load_policy, parse_policy

from .values import PRESETS, image, inventory, pkg, run

PRESET_NAMES = ("gplv3-free", "permissive-only", "report-only")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problem(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    return str(err.value).replace(str(path), "P")


def test_every_preset_is_shipped_and_loads():
    assert sorted(p.stem for p in PRESETS.glob("*.yaml")) == sorted(PRESET_NAMES)
    for name in PRESET_NAMES:
        policy = load_policy(PRESETS / f"{name}.yaml")
        assert policy.name == name
        assert policy.description
        assert policy.digest.startswith("sha256:") and len(policy.digest) == 71
        text = (PRESETS / f"{name}.yaml").read_text()
        assert text.startswith("# SPDX-License-Identifier: Apache-2.0\n")


def test_gplv3_free_preset_bans_the_three_families():
    policy = load_policy(PRESETS / "gplv3-free.yaml")
    [rule] = [r for r in policy.rules if r.kind == "incompatible_licenses"]
    assert rule.licenses == ("AGPL-3.0-only", "AGPL-3.0-or-later", "GPL-3.0-only",
                             "GPL-3.0-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later")


def test_report_only_never_fails():
    policy = load_policy(PRESETS / "report-only.yaml")
    inv = inventory(image("i", pkg("a", "GPL-3.0-only"), pkg("b", "NOASSERTION"),
                          pkg("c", "LicenseRef-x"), pkg("d", "SSPL-1.0")),
                    undeclared=("/x.tar",))
    v = run(inv, policy)
    assert len(v.findings) >= 5
    assert not v.fails()
    assert all(r.severity in ("warning", "ignore") for r in policy.rules)


def test_digest_depends_on_content_not_on_path_or_comments(tmp_path):
    a = load_policy(PRESETS / "gplv3-free.yaml")
    copy = tmp_path / "elsewhere.yaml"
    shutil.copy(PRESETS / "gplv3-free.yaml", copy)
    copy.write_text(copy.read_text() + "\n# another comment\n")
    assert load_policy(copy).digest == a.digest
    reordered = parse_policy("incompatible_licenses: [LGPL-3.0*, GPL-3.0*]\n", "x")
    same = parse_policy("incompatible_licenses: [GPL-3.0*, LGPL-3.0*]\n", "y")
    assert reordered.digest == same.digest
    assert parse_policy("incompatible_licenses: [GPL-3.0*]\n", "z").digest != same.digest


def test_waiver_values(tmp_path):
    policy = load_policy(write(tmp_path, """
        waivers:
          - package: "pkg:deb/debian/bash@*"
            license: gpl-3.0-or-later and mit
            reason: "  ticket 7 "
            expires: 2025-12-31
            images: [localhost/app]
        """))
    [w] = policy.waivers
    assert (w.package, w.license, w.reason) == ("pkg:deb/debian/bash@*",
                                                "GPL-3.0-or-later AND MIT", "ticket 7")
    assert w.expires == datetime.date(2025, 12, 31)
    assert w.scope.images == ("localhost/app",)
    assert w.source.endswith("policy.yaml:2")


@pytest.mark.parametrize("text, expected", [
    ("version: 1\nalowed: [MIT]\n",
     "P:2: the policy: unknown key 'alowed' (expected one of:"),
    ("allowed:\n  licenses: [MIT, 'MIT OR']\n",
     "P:2: allowed: 'MIT OR' is not a valid SPDX license expression"),
    ("allowed:\n  licenses:\n    - MIT\n    - Foo-1.0\n",
     "P:4: allowed: 'Foo-1.0' is not an SPDX license id (write LicenseRef-Foo-1.0"),
    ("review: [MIT AND BSD-3-Clause]\n",
     "P:1: review: 'MIT AND BSD-3-Clause' must be one license"),
    ("allowed: [GCC-exception-3.1]\n",
     "P:1: allowed: 'GCC-exception-3.1' is an SPDX exception, not a license"),
    ("incompatible_licenses:\n  - GPL-3.0*\n  - '*GPL*'\n",
     "P:3: incompatible_licenses: '*GPL*' is an invalid license wildcard entry"),
    ("incompatible_licenses: [NotALicense]\n",
     "P:1: incompatible_licenses: 'NotALicense' is not an SPDX license or exception id"),
    ("waivers:\n  - package: bash\n    license: GPL-3.0-only\n    reason: r\n"
     + "    expires: 2025-13-01\n",
     "P:5: waiver expires: '2025-13-01' is not a valid date (YYYY-MM-DD)"),
    ("waivers:\n  - package: bash\n    license: GPL-3.0-only\n    expires: next week\n"
     + "    reason: r\n",
     "P:4: waiver expires: 'next week' is not a valid date"),
    ("waivers:\n  - package: bash\n    license: GPL-3.0-only\n",
     "P:2: waiver: missing 'reason' (say why the finding is accepted)"),
    ("waivers:\n  - package: bash\n    license: GPL-3.0-only\n    reason: ''\n",
     "P:4: waiver reason must not be empty"),
    ("waivers:\n  - package: bash\n    license: GPL-3.0-only OR\n    reason: r\n",
     "P:3: waiver license: 'GPL-3.0-only OR' is not a valid SPDX license expression"),
    ("unknown: fatal\n",
     "P:1: unknown should be one of error, warning, ignore, not 'fatal'"),
    ("review:\n  licenses: [MPL-2.0]\n  severity: ignore\n",
     "P:3: review severity should be one of error, warning, not 'ignore'"),
    ("allowed:\n  categories: [permisive]\n",
     "P:2: allowed: unknown category 'permisive'"),
    ("other_licenses: maybe\n", "P:1: other_licenses should be true or false"),
    ("version: 2\n", "P:1: version should be 1"),
    ("scopes:\n  - incompatible_licenses: [GPL-3.0*]\n",
     "P:2: scope: needs images (or exclude_images)"),
    ("scopes:\n  - images: [a*]\n    allowed:\n      licenses: [MIT]\n      images: [b*]\n",
     "P:5: allowed: unknown key 'images'"),
    ("allowed: [MIT]\nallowed: [BSD-3-Clause]\n", "P:2: the policy: duplicate key 'allowed'"),
    ("allowed: [MIT\n", "P:2: invalid YAML"),
    ("- MIT\n", "P:1: the policy should be a mapping"),
    ("", "P:1: the policy is empty"),
    ("exceptions: ['bash:']\n", "P:1: exceptions: 'bash:' should be 'package:license'"),
])
def test_loader_errors_carry_file_and_line(tmp_path, text, expected):
    assert problem(tmp_path, text).startswith(expected)


def test_all_problems_are_reported_at_once(tmp_path):
    message = problem(tmp_path, """
        allowed: [Foo]
        review: [Bar]
        waivers:
          - {package: x, license: MIT}
        """)
    assert message.splitlines() == [
        "P:1: allowed: 'Foo' is not an SPDX license id (write LicenseRef-Foo for a license"
        + " of your own)",
        "P:2: review: 'Bar' is not an SPDX license id (write LicenseRef-Bar for a license"
        + " of your own)",
        "P:4: waiver: missing 'reason' (say why the finding is accepted)",
    ]


def test_missing_file():
    with pytest.raises(PolicyError, match="nope.yaml: cannot read the policy"):
        load_policy("/nonexistent/nope.yaml")


def test_license_refs_and_legacy_names_are_accepted(tmp_path):
    policy = load_policy(write(tmp_path, """
        incompatible_licenses: [GPLv3, LicenseRef-acme, GCC-exception-3.1]
        allowed: [LicenseRef-acme-eula, "GPL-2.0-only WITH Linux-syscall-note", mit]
        """))
    inc, allowed = policy.rules
    assert inc.licenses == ("GCC-exception-3.1", "GPL-3.0-only", "LicenseRef-acme")
    assert allowed.licenses == ("GPL-2.0-only WITH Linux-syscall-note", "LicenseRef-acme-eula",
                                "MIT")
