# SPDX-License-Identifier: Apache-2.0
"""Policy stage: the pure evaluator, `Inventory` + `Policy` -> `Verdicts` (sorted `Finding`s).

OR-aware: a package's expression is expanded into its alternatives (disjunctive normal
form: each alternative is the set of licenses you must all accept); every license of an
alternative is judged once against the sections in force for the image, and the package
takes the best alternative: fewest errors, then fewest warnings, then fewest waived
findings, then the most permissive category, then the alphabetically first. That
alternative is the concluded license. OE-core's rules for INCOMPATIBLE_LICENSE are kept
exactly (see docs/policy.md, "Yocto semantics").

Waived findings are kept, with severity "info" and `waived_by` set to the waiver's reason:
they show in reports and never fail a build. Because a waiver only ever turns an error or
warning into info, and the choice above minimises errors, adding a waiver never increases
the number of errors of any package (the choice may move to another alternative).
Time comes in as `today`; nothing here reads the clock, files or the environment.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from types import MappingProxyType

from ..model import NOASSERTION, NONE, Finding, Image, Inventory, Package, Sentinel
from . import expressions as ex
from .categories import UNKNOWN, category, rank
from .expressions import Expr, Leaf
from .schema import IGNORE, KINDS, WAIVER_EXPIRED, Policy, Rule, Waiver

log = logging.getLogger(__name__)

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
# errors, warnings, waived, worst category rank, the licenses (the last resort tie-break)
_Cost = tuple[int, int, int, int, tuple[str, ...]]
# beyond this many alternatives (pathological expressions) each OR is chosen on its own
MAX_ALTERNATIVES = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdicts:
    """The result of one evaluation: sorted findings and the concluded licenses."""

    findings: tuple[Finding, ...]
    # (image config digest, package key) -> concluded license (see `package_key`)
    concluded: Mapping[tuple[str, str], str | Sentinel]
    policy_digest: str = ""

    def fails(self, fail_on: str = "error") -> bool:
        """True when a finding is at or above `fail_on` (error|warning); info never fails."""
        threshold = SEVERITY_RANK[fail_on]
        return any(SEVERITY_RANK[f.severity] >= threshold > 0 for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


def package_key(pkg: Package) -> str:
    """How `Verdicts.concluded` names a package within an image: purl, else name@version."""
    return pkg.purl or f"{pkg.name}@{pkg.version}"


def image_names(image: Image) -> tuple[str, ...]:
    """What `images:` globs are matched against: name, tags and config digest."""
    return (image.name, *image.tags, image.config_digest)


@dataclass(frozen=True, slots=True)
class _Issue:
    rule: str
    severity: str
    message: str
    license: str
    waived_by: str = ""


def _severity_counts(issues: tuple[_Issue, ...]) -> tuple[int, int, int]:
    e = sum(1 for i in issues if i.severity == "error")
    w = sum(1 for i in issues if i.severity == "warning")
    return e, w, len(issues) - e - w


class _Judge:
    """Judges the licenses of the packages of one image."""

    def __init__(self, policy: Policy, image: Image, today: datetime.date) -> None:
        names = image_names(image)
        self.rules: dict[str, Rule | None] = {k: policy.effective(k, names) for k in KINDS}
        self.listed = {k: frozenset(l.casefold() for l in r.licenses)
                       for k, r in self.rules.items() if r is not None}
        waivers = [w for w in policy.waivers if w.scope.matches(names)]
        self.waivers = tuple(w for w in waivers if not w.expired(today))
        self.expired = tuple(w for w in waivers if w.expired(today))

    # one license of an alternative
    def _matches(self, kind: str, leaf: Leaf, cat: str) -> str | None:
        """The entry of section `kind` naming `leaf`, matched as OE-core matches them."""
        rule = self.rules[kind]
        if rule is None:
            return None
        if kind == "incompatible_licenses":
            # a license id matches the license side of `L WITH E`, an exception id the other
            for entry in rule.licenses:
                if ex.known(entry) == "exception":
                    if leaf.exception and leaf.exception.casefold() == entry.casefold():
                        return entry
                elif leaf.license.casefold() == entry.casefold():
                    return entry
        else:
            listed = self.listed[kind]
            # listing `L` accepts `L WITH E` too: an exception only adds permissions
            if leaf.text.casefold() in listed:
                return leaf.text
            if leaf.license.casefold() in listed:
                return leaf.license
        if cat in rule.categories:
            return f"category {cat}"
        return None

    def _exception(self, leaf: Leaf, package: str) -> str | None:
        rule = self.rules["exceptions"]
        if rule is None:
            return None
        for e in rule.exceptions:
            if not e.applies_to(package):
                continue
            if ex.known(e.license) == "exception":
                if leaf.exception and leaf.exception.casefold() == e.license.casefold():
                    return e.raw or e.license
            elif leaf.license.casefold() == e.license.casefold():
                return e.raw or f"{e.package}:{e.license}"
        return None

    def leaf(self, pkg: Package, leaf: Leaf, whole: str) -> tuple[_Issue, ...]:
        """Every finding about one license of one package, before waivers."""
        text = leaf.text
        ctx = f" in '{whole}'" if whole != text else ""
        issues: list[_Issue] = []

        def add(kind: str, message: str) -> None:
            rule = self.rules[kind]
            if rule is not None and rule.severity != IGNORE:
                issues.append(_Issue(rule.rule_id, rule.severity, message, text))

        if leaf.license in ex.SENTINELS:
            add("noassertion", f"no license is known for {pkg.name} ({leaf.license}{ctx})")
            return tuple(issues)
        cat = category(leaf.license, leaf.exception)
        banned = self._matches("incompatible_licenses", leaf, cat)
        if banned:
            word = self._exception(leaf, pkg.name)
            if word:
                add("exceptions", f"{text}{ctx} is incompatible ({banned}) but allowed for "
                                  f"{pkg.name} by the exception '{word}'")
            else:
                detail = "" if banned == text else f" ({banned})"
                add("incompatible_licenses", f"{text}{ctx} is an incompatible license{detail}")
        allowed = self._matches("allowed", leaf, cat)
        review = self._matches("review", leaf, cat)
        if cat == UNKNOWN and not (banned or allowed or review):
            what = ("an unknown license reference" if ex.is_license_ref(leaf.license)
                    else "a license without a category")
            add("unknown", f"{text}{ctx} is {what}")
            return tuple(issues)
        if review:
            add("review", f"{text}{ctx} needs review ({review if review != text else cat})")
        elif self.rules["allowed"] is not None and not allowed:
            add("allowed", f"{text}{ctx} is not in the allow-list (category {cat})")
        return tuple(issues)

    # waivers
    @staticmethod
    def _covers(w: Waiver, pkg: Package, license: str, whole: str) -> bool:
        if w.package.startswith("pkg:"):
            base = pkg.purl.split("?", 1)[0].split("#", 1)[0]
            targets: tuple[str, ...] = (pkg.purl, base, base.rsplit("@", 1)[0]) \
                if pkg.purl else ()
        else:
            targets = (pkg.name,)
        if not any(fnmatchcase(t, w.package) for t in targets):
            return False
        lic = w.license.casefold()
        return lic == license.casefold() or lic == whole.casefold()

    def waive(self, pkg: Package, issues: tuple[_Issue, ...], whole: str
              ) -> tuple[_Issue, ...]:
        out = []
        for issue in issues:
            w = next((w for w in self.waivers if self._covers(w, pkg, issue.license, whole)),
                     None)
            if w is not None:
                until = f" until {w.expires.isoformat()}" if w.expires else ""
                issue = replace(issue, severity="info", waived_by=w.reason,
                                message=f"{issue.message} [waived {issue.severity}{until}: "
                                        f"{w.reason}]")
            else:
                gone = next((w for w in self.expired
                             if self._covers(w, pkg, issue.license, whole)), None)
                if gone is not None and gone.expires is not None:
                    issue = replace(issue, message=f"{issue.message} [waiver expired on "
                                                   f"{gone.expires.isoformat()}]")
            out.append(issue)
        return tuple(out)

    # a whole expression
    def expression(self, pkg: Package, value: str | Sentinel
                   ) -> tuple[str | Sentinel, tuple[_Issue, ...]]:
        text = value.value if isinstance(value, Sentinel) else (value or "").strip()
        expr: Expr | None
        if not text or text in ex.SENTINELS:
            expr = Leaf(text or "NOASSERTION")
        else:
            expr = ex.parse(text)
        if expr is None:
            log.warning("%s: cannot parse license expression %r", pkg.name, text)
            rule = self.rules["unknown"]
            issues: tuple[_Issue, ...] = ()
            if rule is not None and rule.severity != IGNORE:
                issues = (_Issue(rule.rule_id, rule.severity,
                                 f"'{text}' is not a valid SPDX license expression", text),)
            return NOASSERTION, self.waive(pkg, issues, text)
        whole = ex.render(expr)
        judged: dict[Leaf, tuple[_Issue, ...]] = {}

        def issues_of(leaf: Leaf) -> tuple[_Issue, ...]:
            if leaf not in judged:
                judged[leaf] = self.waive(pkg, self.leaf(pkg, leaf, whole), whole)
            return judged[leaf]

        def cost(alt: tuple[Leaf, ...]) -> _Cost:
            e, w, i = _severity_counts(tuple(x for leaf in alt for x in issues_of(leaf)))
            worst = max(rank(category(l.license, l.exception)) for l in alt)
            return e, w, i, worst, tuple(sorted(l.text for l in alt))

        if _count(expr) <= MAX_ALTERNATIVES:
            chosen = min(_alternatives(expr), key=cost)
        else:
            chosen = _greedy(expr, cost)
        issues = tuple(x for leaf in chosen for x in issues_of(leaf))
        if all(l.license == "NONE" for l in chosen):
            return NONE, issues
        if any(l.license in ex.SENTINELS for l in chosen):
            return NOASSERTION, issues
        return " AND ".join(l.text for l in chosen), issues


def _uniq(leaves: tuple[Leaf, ...]) -> tuple[Leaf, ...]:
    return tuple(dict.fromkeys(leaves))


def _count(expr: Expr) -> int:
    if isinstance(expr, Leaf):
        return 1
    counts = [_count(p) for p in expr.parts]
    if isinstance(expr, ex.Any_):
        return sum(counts)
    total = 1
    for c in counts:
        total = min(total * c, MAX_ALTERNATIVES + 1)
    return total


def _alternatives(expr: Expr) -> list[tuple[Leaf, ...]]:
    """The expression as OR of ANDs: every set of licenses that satisfies it."""
    if isinstance(expr, Leaf):
        return [(expr,)]
    if isinstance(expr, ex.Any_):
        alts = [a for p in expr.parts for a in _alternatives(p)]
    else:
        alts = [()]
        for part in expr.parts:
            alts = [_uniq(a + b) for a in alts for b in _alternatives(part)]
    seen: dict[frozenset[Leaf], tuple[Leaf, ...]] = {}
    for a in alts:
        seen.setdefault(frozenset(a), a)
    return list(seen.values())


def _greedy(expr: Expr, cost: Callable[[tuple[Leaf, ...]], _Cost]) -> tuple[Leaf, ...]:
    if isinstance(expr, Leaf):
        return (expr,)
    if isinstance(expr, ex.Any_):
        return min((_greedy(p, cost) for p in expr.parts), key=cost)
    return _uniq(tuple(l for p in expr.parts for l in _greedy(p, cost)))


def _evidence(pkg: Package) -> str:
    for lic in pkg.licenses:
        if lic.evidence:
            return lic.evidence[0].path
    return pkg.locations[0].path if pkg.locations else ""


def _package_findings(judge: _Judge, image: Image, pkg: Package, policy: Policy
                      ) -> tuple[str | Sentinel, list[Finding]]:
    # a curation decided the license: judge its conclusion, not what the package says
    judged = pkg.concluded_license if pkg.curation else pkg.declared_license
    concluded, issues = judge.expression(pkg, judged)

    def finding(issue: _Issue, evidence: str, prefix: str = "") -> Finding:
        return Finding(image=image.name, package=pkg.name, version=pkg.version, purl=pkg.purl,
                       license=issue.license, rule=issue.rule, severity=issue.severity,
                       message=prefix + issue.message, evidence=evidence, layer=pkg.layer,
                       waived_by=issue.waived_by)

    evidence = _evidence(pkg)
    findings = [finding(i, evidence) for i in issues]
    if policy.other_licenses:
        for other in pkg.other_licenses:
            _, other_issues = judge.expression(pkg, other.expression)
            where = other.evidence.path if other.evidence else evidence
            prefix = f"files {' '.join(other.files)}: "
            findings += [finding(i, where, prefix) for i in other_issues]
    return concluded, findings


def _consistency(inv: Inventory, policy: Policy) -> list[Finding]:
    out = []
    for d in inv.declared:
        if d.found:
            continue
        names = tuple(n for n in (d.reference, d.name, f"{d.name}:{d.tag}" if d.tag else "")
                      if n)
        rule = policy.effective("missing_image", names)
        if rule is None or rule.severity == IGNORE:
            continue
        service = f" service {d.service}" if d.service else ""
        out.append(Finding(
            image=d.reference, package="", version=d.version, purl="", license="",
            rule=rule.rule_id, severity=rule.severity, evidence=d.file,
            message=f"{d.file}: declared image {d.reference} ({d.kind}{service}) is not in "
                    f"the root filesystem"))
    for source in inv.undeclared:
        image = next((i for i in inv.images
                      if i.source == source or source in i.also_found_at), None)
        names = image_names(image) if image else (source,)
        rule = policy.effective("undeclared_image", names)
        if rule is None or rule.severity == IGNORE:
            continue
        name = image.name if image else source
        out.append(Finding(
            image=name, package="", version="", purl="", license="", rule=rule.rule_id,
            severity=rule.severity, evidence=source,
            message=f"image {name} at {source} is not declared in any images.manifest or "
                    f"compose file"))
    return out


def _expired(policy: Policy, today: datetime.date) -> list[Finding]:
    out = []
    for w in policy.waivers:
        if not w.expired(today) or w.expires is None:
            continue
        images = f" (images {' '.join(w.scope.images)})" if w.scope.images else ""
        out.append(Finding(
            image="", package=w.package, version="",
            purl=w.package if w.package.startswith("pkg:") else "", license=w.license,
            rule=WAIVER_EXPIRED, severity=policy.waiver_expired, evidence=w.source,
            message=f"waiver expired on {w.expires.isoformat()}: {w.package} {w.license}"
                    f"{images} ({w.reason}); renew it or fix the finding"))
    return out


def _sort_key(f: Finding) -> tuple[str, ...]:
    return (f.image, f.package, f.version, f.purl, f.rule, f.license, f.severity, f.message,
            f.evidence, f.layer or "", f.waived_by)


def evaluate(inv: Inventory, policy: Policy, *, today: datetime.date) -> Verdicts:
    """Judge every package of every image of `inv`, and the image declarations."""
    findings: set[Finding] = set()
    concluded: dict[tuple[str, str], str | Sentinel] = {}
    for image in inv.images:
        judge = _Judge(policy, image, today)
        for pkg in image.packages:
            lic, found = _package_findings(judge, image, pkg, policy)
            concluded.setdefault((image.config_digest, package_key(pkg)), lic)
            findings.update(found)
    findings.update(_consistency(inv, policy))
    findings.update(_expired(policy, today))
    return Verdicts(findings=tuple(sorted(findings, key=_sort_key)),
                    concluded=MappingProxyType(dict(sorted(concluded.items()))),
                    policy_digest=policy.digest)


def apply_concluded(inv: Inventory, verdicts: Verdicts) -> Inventory:
    """`inv` with every package's `concluded_license` set to the policy's choice."""
    images = []
    for image in inv.images:
        packages = tuple(
            replace(p, concluded_license=verdicts.concluded[(image.config_digest,
                                                             package_key(p))])
            if (image.config_digest, package_key(p)) in verdicts.concluded else p
            for p in image.packages)
        images.append(replace(image, packages=packages))
    return replace(inv, images=tuple(images))
