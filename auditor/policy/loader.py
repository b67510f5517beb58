# SPDX-License-Identifier: Apache-2.0
"""Policy stage: policy files (YAML) and BitBake variables become a `Policy`.

`load_policy` reads a YAML policy with line numbers (PyYAML's composed node tree), checks
every key and every license, collects all problems and raises one `PolicyError` whose lines
read `<file>:<line>: <problem>`. `policy_from_yocto` takes `INCOMPATIBLE_LICENSE` and
`INCOMPATIBLE_LICENSE_EXCEPTIONS` verbatim and applies OE-core's rules to them (wildcard
expansion, `pkg:license` words, unknown names as `LicenseRef-`); `merge_yocto` adds them to
a loaded policy. The format is documented in docs/policy.md.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import yaml

from ..errors import PolicyError
from . import expressions as ex
from .categories import CATEGORIES
from .schema import (
    EVERY_IMAGE,
    LEVELS,
    POLICY_FORMAT_VERSION,
    SEVERITIES,
    LicenseException,
    Policy,
    Rule,
    Scope,
    Waiver,
)

log = logging.getLogger(__name__)

# OE-core's expand_wildcard_licenses: the only wildcards INCOMPATIBLE_LICENSE accepts
WILDCARDS: dict[str, tuple[str, ...]] = {
    "AGPL-3.0*": ("AGPL-3.0-only", "AGPL-3.0-or-later"),
    "GPL-3.0*": ("GPL-3.0-only", "GPL-3.0-or-later"),
    "LGPL-3.0*": ("LGPL-3.0-only", "LGPL-3.0-or-later"),
}


def _legacy_names() -> dict[str, str]:
    """OE-core's pre-SPDX names (meta/conf/licenses.conf SPDXLICENSEMAP) -> SPDX ids."""
    names: dict[str, str] = {}
    for family, versions in (("GPL", "123"), ("AGPL", "3")):
        for v in versions:
            for spelling in (f"{family}-{v}", f"{family}v{v}", f"{family}v{v}.0",
                             f"{family}-{v}.0"):
                names[spelling] = f"{family}-{v}.0-only"
                names[spelling + "+"] = f"{family}-{v}.0-or-later"
    for spelling, (v, _) in {"LGPLv2": ("2.0", 0), "LGPLv2.0": ("2.0", 0),
                             "LGPL-2.0": ("2.0", 0), "LGPL2.1": ("2.1", 0),
                             "LGPLv2.1": ("2.1", 0), "LGPL-2.1": ("2.1", 0),
                             "LGPLv3": ("3.0", 0), "LGPL-3.0": ("3.0", 0)}.items():
        names[spelling] = f"LGPL-{v}-only"
        names[spelling + "+"] = f"LGPL-{v}-or-later"
    names.update({
        "BSD-0-Clause": "0BSD", "MPL-1": "MPL-1.0", "MPLv1": "MPL-1.0", "MPLv1.1": "MPL-1.1",
        "MPLv2": "MPL-2.0", "MIT-X": "MIT", "MIT-style": "MIT", "openssl": "OpenSSL",
        "PSF": "PSF-2.0", "PSFv2": "PSF-2.0", "Python-2": "Python-2.0",
        "Apachev2": "Apache-2.0", "Apache-2": "Apache-2.0", "Artisticv1": "Artistic-1.0",
        "Artistic-1": "Artistic-1.0", "AFL-2": "AFL-2.0", "AFL-1": "AFL-1.2",
        "AFLv2": "AFL-2.0", "AFLv1": "AFL-1.2", "CDDLv1": "CDDL-1.0", "CDDL-1": "CDDL-1.0",
        "EPLv1.0": "EPL-1.0", "FreeType": "FTL", "Nauman": "Naumen", "tcl": "TCL",
        "vim": "Vim", "SGIv1": "SGI-OpenGL",
    })
    return names


LEGACY_NAMES = _legacy_names()

_TOP_KEYS = ("version", "name", "description", "other_licenses", "waiver_expired",
             "incompatible_licenses", "exceptions", "allowed", "review", "unknown",
             "noassertion", "consistency", "waivers", "scopes")
_SECTION_KEYS = ("incompatible_licenses", "exceptions", "allowed", "review", "unknown",
                 "noassertion", "consistency")
_SCOPE_KEYS = ("images", "exclude_images") + _SECTION_KEYS
_WAIVER_KEYS = ("package", "license", "reason", "expires", "images", "exclude_images")
_DEFAULT_SEVERITY = {
    "incompatible_licenses": "error", "exceptions": "error", "allowed": "error",
    "review": "warning", "unknown": "warning", "noassertion": "warning",
    "missing_image": "error", "undeclared_image": "warning",
}
# sections that accept `ignore` besides error|warning
_IGNORABLE = ("exceptions", "unknown", "noassertion", "missing_image", "undeclared_image")
_GLOB_CHARS = re.compile(r"[*?\[]")

Report = Callable[[str], None]


# --- license entries, shared by the YAML and the BitBake readers --------------------------

def _oe_license_ref(word: str) -> str:
    # OE-core turns an unknown name into a LicenseRef (lib/oe/license.py)
    return "LicenseRef-" + re.sub(r"[^a-zA-Z0-9.\-]", "-", word)


def _single_id(word: str, report: Report, *, yocto: bool, what: str) -> str | None:
    """One license or exception id as OE-core accepts it in its license variables."""
    if word in LEGACY_NAMES:
        mapped = LEGACY_NAMES[word]
        log.warning("%s: '%s' is an obsolete OE-core license name, read as %s "
                    "(current OE-core refuses it: use the SPDX id)", what, word, mapped)
        return mapped
    canonical = ex.canonical_id(word)
    if canonical is not None:
        return canonical
    if yocto:
        return _oe_license_ref(word)
    report(f"{what}: '{word}' is not an SPDX license or exception id "
           f"(write LicenseRef-{word} for a license of your own)")
    return None


def _incompatible_entry(word: str, report: Report, *, yocto: bool,
                        what: str = "incompatible_licenses") -> tuple[str, ...]:
    word = word.strip()
    if word in WILDCARDS:
        return WILDCARDS[word]
    if _GLOB_CHARS.search(word):
        report(f"{what}: '{word}' is an invalid license wildcard entry (OE-core only "
               f"expands {', '.join(sorted(WILDCARDS))}; use categories for families)")
        return ()
    lic = _single_id(word, report, yocto=yocto, what=what)
    return (lic,) if lic else ()


def _exception_entry(word: str, report: Report, *, yocto: bool,
                     what: str = "exceptions") -> LicenseException | None:
    word = word.strip()
    package, sep, lic_word = word.partition(":")
    if not sep:
        package, lic_word = "", word
    elif not package or not lic_word:
        report(f"{what}: '{word}' should be 'package:license' or a license/exception id")
        return None
    if _GLOB_CHARS.search(lic_word):
        report(f"{what}: '{word}' has a wildcard; exceptions name one license or exception")
        return None
    lic = _single_id(lic_word, report, yocto=yocto, what=what)
    return LicenseException(package=package, license=lic, raw=word) if lic else None


def _listed_entry(word: str, report: Report, what: str) -> tuple[str | None, str | None]:
    """(license, None) or (None, category) for one `allowed`/`review` list entry."""
    if word in CATEGORIES:
        return None, word
    lic, problem = ex.check(word, single=True)
    if problem:
        report(f"{what}: {problem}")
    return lic, None


def _uniq_sorted(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _sorted_categories(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(c for c in CATEGORIES if c in set(values))


# --- the YAML reader --------------------------------------------------------------------

class _Reader:
    """Walks PyYAML's node tree, so that every problem can name its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[int, str]] = []

    def where(self, node: yaml.Node) -> str:
        return f"{self.source}:{node.start_mark.line + 1}"

    def error(self, node: yaml.Node, problem: str) -> None:
        self.problems.append((node.start_mark.line + 1, problem))

    def reporter(self, node: yaml.Node) -> Report:
        return lambda problem: self.error(node, problem)

    # scalars and collections
    def mapping(self, node: yaml.Node, what: str, keys: tuple[str, ...]
                ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} should be a mapping")
            return None
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{what}: keys must be plain words")
            elif key in out:
                self.error(key_node, f"{what}: duplicate key '{key}'")
            elif key not in keys:
                self.error(key_node, f"{what}: unknown key '{key}' "
                                     f"(expected one of: {', '.join(keys)})")
            else:
                out[key] = value_node
        return out

    def string(self, node: yaml.Node, what: str, *, empty: bool = False) -> str | None:
        if (not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str"):
            self.error(node, f"{what} should be a string")
            return None
        if not empty and not node.value.strip():
            self.error(node, f"{what} must not be empty")
            return None
        return str(node.value)

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} should be a list")
            return []
        out = []
        for item in node.value:
            s = self.string(item, f"{what} entry")
            if s is not None:
                out.append((s.strip(), item))
        return out

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            self.error(node, f"{what} should be true or false")
            return False
        return node.value.lower() in ("true", "yes", "on", "y")

    def level(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> str | None:
        value = self.string(node, what)
        if value is not None and value not in allowed:
            self.error(node, f"{what} should be one of {', '.join(allowed)}, not '{value}'")
            return None
        return value

    def date(self, node: yaml.Node, what: str) -> datetime.date | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
                "tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            self.error(node, f"{what} should be a date (YYYY-MM-DD)")
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", node.value.strip()):
                raise ValueError
            return datetime.date.fromisoformat(node.value.strip())
        except ValueError:
            self.error(node, f"{what}: '{node.value}' is not a valid date (YYYY-MM-DD)")
            return None

    def scope(self, m: dict[str, yaml.Node], what: str) -> Scope:
        images = [s for s, _ in self.strings(m["images"], f"{what} images")] \
            if "images" in m else []
        exclude = [s for s, _ in self.strings(m["exclude_images"], f"{what} exclude_images")] \
            if "exclude_images" in m else []
        if "images" in m and not images and not exclude:
            self.error(m["images"], f"{what}: images is empty (leave it out for every image)")
        return Scope(images=_uniq_sorted(images), exclude_images=_uniq_sorted(exclude))

    # sections
    def section(self, kind: str, node: yaml.Node, scope: Scope | None) -> Rule | None:
        """One section; `scope` is the enclosing scope's, None at top level."""
        what = kind
        levels = LEVELS if kind in _IGNORABLE else SEVERITIES
        list_key = {"incompatible_licenses": "licenses", "exceptions": "entries",
                    "allowed": "licenses", "review": "licenses"}.get(kind)
        keys: tuple[str, ...] = ("severity",)
        if list_key:
            keys += (list_key,)
        if kind in ("incompatible_licenses", "allowed", "review"):
            keys += ("categories",)
        if scope is None:
            keys += ("images", "exclude_images")
        severity = _DEFAULT_SEVERITY[kind]
        entries: list[tuple[str, yaml.Node]] = []
        categories: list[tuple[str, yaml.Node]] = []
        rule_scope = scope or EVERY_IMAGE
        if isinstance(node, yaml.ScalarNode) and not list_key:
            severity = self.level(node, what, levels) or severity
        elif isinstance(node, yaml.SequenceNode) and list_key:
            entries = self.strings(node, what)
        elif isinstance(node, yaml.MappingNode):
            m = self.mapping(node, what, keys)
            if m is None:
                return None
            if "severity" in m:
                severity = self.level(m["severity"], f"{what} severity", levels) or severity
            if list_key and list_key in m:
                entries = self.strings(m[list_key], f"{what} {list_key}")
            if "categories" in m:
                categories = self.strings(m["categories"], f"{what} categories")
            if scope is None:
                rule_scope = self.scope(m, what)
        else:
            shape = "a list or a mapping" if list_key else \
                f"one of {', '.join(levels)} or a mapping"
            self.error(node, f"{what} should be {shape}")
            return None

        for cat, cat_node in categories:
            if cat not in CATEGORIES:
                self.error(cat_node, f"{what}: unknown category '{cat}' "
                                     f"(expected one of: {', '.join(CATEGORIES)})")
        cats = [c for c, _ in categories if c in CATEGORIES]
        licenses: list[str] = []
        exceptions: list[LicenseException] = []
        for word, word_node in entries:
            report = self.reporter(word_node)
            if kind == "incompatible_licenses":
                licenses += _incompatible_entry(word, report, yocto=False)
            elif kind == "exceptions":
                e = _exception_entry(word, report, yocto=False)
                if e:
                    exceptions.append(e)
            else:
                lic, listed_cat = _listed_entry(word, report, what)
                if lic:
                    licenses.append(lic)
                if listed_cat:
                    cats.append(listed_cat)
        return Rule(kind=kind, severity=severity, licenses=_uniq_sorted(licenses),
                    categories=_sorted_categories(cats),
                    exceptions=tuple(sorted(set(exceptions),
                                            key=lambda e: (e.package, e.license, e.raw))),
                    scope=rule_scope, raw=tuple(w for w, _ in entries),
                    source=self.where(node))

    def sections(self, m: dict[str, yaml.Node], scope: Scope | None) -> list[Rule]:
        rules = []
        for kind in _SECTION_KEYS:
            if kind not in m:
                continue
            if kind == "consistency":
                c = self.mapping(m[kind], "consistency", ("missing_image", "undeclared_image"))
                for sub in ("missing_image", "undeclared_image"):
                    if c and sub in c:
                        rule = self.section(sub, c[sub], scope)
                        if rule:
                            rules.append(rule)
                continue
            rule = self.section(kind, m[kind], scope)
            if rule:
                rules.append(rule)
        return rules

    def waiver(self, node: yaml.Node) -> Waiver | None:
        m = self.mapping(node, "waiver", _WAIVER_KEYS)
        if m is None:
            return None
        for key in ("package", "license", "reason"):
            if key not in m:
                self.error(node, f"waiver: missing '{key}'"
                           + (" (say why the finding is accepted)" if key == "reason" else ""))
        package = self.string(m["package"], "waiver package") if "package" in m else None
        reason = self.string(m["reason"], "waiver reason") if "reason" in m else None
        lic = None
        if "license" in m:
            text = self.string(m["license"], "waiver license")
            if text is not None and text.strip() in ex.SENTINELS:
                lic = "NOASSERTION"
            elif text is not None:
                lic, problem = ex.check(text, single=False)
                if problem:
                    self.error(m["license"], f"waiver license: {problem}")
        expires = self.date(m["expires"], "waiver expires") if "expires" in m else None
        scope = self.scope(m, "waiver")
        if package is None or reason is None or lic is None:
            return None
        return Waiver(package=package.strip(), license=lic, reason=reason.strip(),
                      expires=expires, scope=scope, source=self.where(node))

    def policy(self, root: yaml.Node) -> Policy:
        m = self.mapping(root, "the policy", _TOP_KEYS)
        if m is None:
            return Policy(source=self.source)
        version = POLICY_FORMAT_VERSION
        if "version" in m:
            v = m["version"]
            if not (isinstance(v, yaml.ScalarNode) and v.tag == "tag:yaml.org,2002:int"
                    and int(v.value) == POLICY_FORMAT_VERSION):
                self.error(v, f"version should be {POLICY_FORMAT_VERSION}")
        name = (self.string(m["name"], "name") or "") if "name" in m else ""
        description = (self.string(m["description"], "description", empty=True)
                       if "description" in m else "")
        other = self.boolean(m["other_licenses"], "other_licenses") \
            if "other_licenses" in m else False
        expired = "error"
        if "waiver_expired" in m:
            expired = self.level(m["waiver_expired"], "waiver_expired", SEVERITIES) or expired
        rules = self.sections(m, None)
        if "scopes" in m:
            if not isinstance(m["scopes"], yaml.SequenceNode):
                self.error(m["scopes"], "scopes should be a list")
            else:
                for item in m["scopes"].value:
                    sm = self.mapping(item, "scope", _SCOPE_KEYS)
                    if sm is None:
                        continue
                    if "images" not in sm and "exclude_images" not in sm:
                        self.error(item, "scope: needs images (or exclude_images)")
                        continue
                    rules += self.sections(sm, self.scope(sm, "scope"))
        waivers = []
        if "waivers" in m:
            if not isinstance(m["waivers"], yaml.SequenceNode):
                self.error(m["waivers"], "waivers should be a list")
            else:
                waivers = [w for w in (self.waiver(n) for n in m["waivers"].value) if w]
        return Policy(name=(name or "").strip(), description=(description or "").strip(),
                      version=version, other_licenses=other, waiver_expired=expired,
                      rules=tuple(rules), waivers=tuple(waivers), source=self.source)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """The policy in YAML `text`; `source` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise PolicyError(f"{source}:{line}: invalid YAML: {exc.problem or exc.context}"
                          ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}:1: invalid YAML: {exc}") from None
    if root is None:
        raise PolicyError(f"{source}:1: the policy is empty (expected a mapping)")
    reader = _Reader(source)
    policy = reader.policy(root)
    if reader.problems:
        raise PolicyError("\n".join(f"{source}:{line}: {problem}"
                                    for line, problem in sorted(reader.problems,
                                                                key=lambda p: p[0])))
    return policy


def load_policy(path: str | Path) -> Policy:
    """Read and check the YAML policy at `path` (PolicyError on any problem)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: the policy is not UTF-8 ({exc.reason})") from None
    return parse_policy(text, str(path))


# --- BitBake variables ------------------------------------------------------------------

def _yocto_rules(incompatible: str, exceptions: str, exception_severity: str
                 ) -> tuple[Rule | None, Rule | None]:
    if exception_severity not in LEVELS:
        raise PolicyError(f"exception_severity should be one of {', '.join(LEVELS)}, "
                          f"not '{exception_severity}'")
    problems: list[str] = []
    licenses: list[str] = []
    words = incompatible.split()
    for word in words:
        licenses += _incompatible_entry(word, problems.append, yocto=True,
                                        what="INCOMPATIBLE_LICENSE")
    allowed: list[LicenseException] = []
    exc_words = exceptions.split()
    for word in exc_words:
        e = _exception_entry(word, problems.append, yocto=True,
                             what="INCOMPATIBLE_LICENSE_EXCEPTIONS")
        if e:
            allowed.append(e)
    if problems:
        raise PolicyError("\n".join(problems))
    inc_rule = Rule(kind="incompatible_licenses", severity="error",
                    licenses=_uniq_sorted(licenses), raw=tuple(words),
                    source="INCOMPATIBLE_LICENSE") if words else None
    exc_rule = Rule(kind="exceptions", severity=exception_severity,
                    exceptions=tuple(sorted(set(allowed), key=lambda e: (e.package, e.license,
                                                                          e.raw))),
                    raw=tuple(exc_words),
                    source="INCOMPATIBLE_LICENSE_EXCEPTIONS") if exc_words else None
    return inc_rule, exc_rule


def policy_from_yocto(incompatible: str, exceptions: str = "", *,
                      exception_severity: str = "error") -> Policy:
    """A policy doing what OE-core does with these two BitBake variable values.

    `exception_severity` is where your build has OE-core's `license-exception` QA key:
    "error" (its default, in ERROR_QA), "warning" (WARN_QA) or "ignore" (in neither).
    """
    inc_rule, exc_rule = _yocto_rules(incompatible, exceptions, exception_severity)
    return Policy(name="yocto", rules=tuple(r for r in (inc_rule, exc_rule) if r),
                  source="INCOMPATIBLE_LICENSE")


def merge_yocto(policy: Policy, incompatible: str, exceptions: str = "", *,
                exception_severity: str | None = None) -> Policy:
    """`policy` with the build's INCOMPATIBLE_LICENSE(_EXCEPTIONS) added to it.

    The licenses and exceptions join every `incompatible_licenses` and `exceptions` section
    (global and scoped); when the policy has no global one, one is added in front (so scoped
    sections still override it). `exception_severity` applies to an added section only.
    """
    inc_rule, exc_rule = _yocto_rules(incompatible, exceptions, exception_severity or "error")
    rules = list(policy.rules)
    for i, rule in enumerate(rules):
        if rule.kind == "incompatible_licenses" and inc_rule:
            rules[i] = replace(rule, licenses=_uniq_sorted(rule.licenses + inc_rule.licenses),
                               raw=rule.raw + inc_rule.raw)
        elif rule.kind == "exceptions" and exc_rule:
            merged = set(rule.exceptions) | set(exc_rule.exceptions)
            rules[i] = replace(rule, exceptions=tuple(sorted(
                merged, key=lambda e: (e.package, e.license, e.raw))),
                raw=rule.raw + exc_rule.raw)
    front = [r for r in (inc_rule, exc_rule) if r and not any(
        x.kind == r.kind and x.scope == EVERY_IMAGE for x in policy.rules)]
    return replace(policy, rules=tuple(front + rules))


__all__ = ["LEGACY_NAMES", "WILDCARDS", "load_policy", "merge_yocto",
           "parse_policy", "policy_from_yocto"]
