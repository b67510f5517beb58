# SPDX-License-Identifier: Apache-2.0
"""Policy stage: the frozen values a policy file (or a BitBake configuration) becomes.

loader.py builds them, evaluate.py reads them; nothing here does I/O. A policy is an
ordered tuple of `Rule`s, one section each (`incompatible_licenses`, `allowed`, ...), each
with the images it applies to; for a given image and section the last matching rule wins,
so scoped sections written after the global ones override them. docs/policy.md is the
reference for the file format.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

POLICY_FORMAT_VERSION = 1

# section key in the file -> the `rule` a finding of that section carries
RULE_IDS: dict[str, str] = {
    "incompatible_licenses": "incompatible_licenses",
    "exceptions": "license-exception",  # OE-core's QA key for "allowed by exception list"
    "allowed": "not-allowed",
    "review": "review",
    "unknown": "unknown",
    "noassertion": "noassertion",
    "missing_image": "missing-image",
    "undeclared_image": "undeclared-image",
}
KINDS: tuple[str, ...] = tuple(RULE_IDS)
WAIVER_EXPIRED = "waiver-expired"

SEVERITIES: tuple[str, ...] = ("error", "warning")
# sections that may also be switched off without deleting them
LEVELS: tuple[str, ...] = ("error", "warning", "ignore")
IGNORE = "ignore"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Which images something applies to: every image when `images` is empty."""

    images: tuple[str, ...] = ()  # globs over the image name, its tags and its config digest
    exclude_images: tuple[str, ...] = ()

    def matches(self, names: Iterable[str]) -> bool:
        names = tuple(names)

        def hit(globs: tuple[str, ...]) -> bool:
            return any(fnmatchcase(n, g) for g in globs for n in names)

        return (not self.images or hit(self.images)) and not hit(self.exclude_images)

    def canonical(self) -> dict[str, Any]:
        return {"images": list(self.images), "exclude_images": list(self.exclude_images)}


EVERY_IMAGE = Scope()


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseException:
    """One `INCOMPATIBLE_LICENSE_EXCEPTIONS` word: `pkg:license`, or a bare license/exception.

    `license` is an SPDX license id or `LicenseRef-…` (allows that license for `package`),
    or an SPDX exception id (allows any `X WITH exception`), as OE-core matches them.
    """

    package: str  # "" = every package (a word without "pkg:")
    license: str
    raw: str = ""  # the word as written

    def applies_to(self, package_name: str) -> bool:
        return not self.package or self.package == package_name


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One section of a policy, scoped to some images.

    `licenses` holds canonical SPDX ids (`incompatible_licenses`, wildcards already
    expanded), or ids and `L WITH E` expressions (`allowed`, `review`); `raw` keeps the
    entries as written. `exceptions` is only used by the `exceptions` section.
    """

    kind: str  # one of KINDS
    severity: str  # error | warning, or ignore where LEVELS allow it
    licenses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exceptions: tuple[LicenseException, ...] = ()
    scope: Scope = EVERY_IMAGE
    raw: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # "file:line" (or the BitBake variable)

    @property
    def rule_id(self) -> str:
        return RULE_IDS[self.kind]

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "severity": self.severity, "licenses": list(self.licenses),
            "categories": list(self.categories),
            "exceptions": [[e.package, e.license] for e in self.exceptions],
            "scope": self.scope.canonical(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiver:
    """An accepted finding: a package (purl or name glob) with a license, until `expires`."""

    package: str  # glob; a purl glob when it starts with "pkg:", else a package-name glob
    license: str  # canonical SPDX expression, or NOASSERTION
    reason: str
    expires: datetime.date | None = None  # valid while today < expires
    scope: Scope = EVERY_IMAGE
    source: str = field(default="", compare=False)

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and today >= self.expires

    def canonical(self) -> dict[str, Any]:
        return {
            "package": self.package, "license": self.license, "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
            "scope": self.scope.canonical(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    name: str = ""
    description: str = ""
    version: int = POLICY_FORMAT_VERSION
    other_licenses: bool = False  # also judge DEP-5 paragraphs other than `Files: *`
    waiver_expired: str = "error"  # severity of the finding an expired waiver produces
    rules: tuple[Rule, ...] = ()  # in file order: global sections first, then each scope's
    waivers: tuple[Waiver, ...] = ()
    source: str = field(default="", compare=False)  # the file it was loaded from

    def effective(self, kind: str, names: Iterable[str]) -> Rule | None:
        """The rule of section `kind` for an image known by `names` (last match wins)."""
        names = tuple(names)
        found = None
        for rule in self.rules:
            if rule.kind == kind and rule.scope.matches(names):
                found = rule
        return found

    def canonical(self) -> str:
        """Canonical JSON of everything that changes a verdict (not where it came from)."""
        obj = {
            "version": self.version, "name": self.name, "description": self.description,
            "other_licenses": self.other_licenses, "waiver_expired": self.waiver_expired,
            "rules": [r.canonical() for r in self.rules],
            "waivers": [w.canonical() for w in self.waivers],
        }
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def digest(self) -> str:
        """`sha256:` of the canonical form: recorded with every result of an evaluation."""
        return "sha256:" + hashlib.sha256(self.canonical().encode()).hexdigest()
