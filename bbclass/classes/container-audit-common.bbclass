# SPDX-License-Identifier: Apache-2.0
#
# container-audit-common: the variables and the glue shared by container-audit (images)
# and container-image-audit (recipes that install container images). Inherited by those
# two classes; not meant to be inherited on its own. Everything here runs the
# `container-audit` CLI and turns its exit code and verdicts JSON into build messages;
# the auditing itself lives in the Python package `auditor`.
#
# Exit codes of the CLI: 0 pass, 1 policy violations, 2 could not audit.
# Variables are documented in bbclass/README.md (and by their [doc] flags below).

CONTAINER_AUDIT_BIN ??= ""
CONTAINER_AUDIT_BIN[doc] = "Host-tool mode: absolute path, or command name looked up in PATH, of the container-audit executable. Empty (default): container-audit from the native sysroot, built by CONTAINER_AUDIT_NATIVE."

CONTAINER_AUDIT_NATIVE ??= "container-audit-native"
CONTAINER_AUDIT_NATIVE[doc] = "Recipe that provides container-audit in the native sysroot when CONTAINER_AUDIT_BIN is empty."

CONTAINER_AUDIT_DEPENDS ??= "${@'' if d.getVar('CONTAINER_AUDIT_BIN') else d.getVar('CONTAINER_AUDIT_NATIVE') + ':do_populate_sysroot'}"
CONTAINER_AUDIT_DEPENDS[doc] = "Task dependencies of every task running container-audit: the native tool, or nothing in host-tool mode."

CONTAINER_AUDIT_POLICY ??= "${@'' if (d.getVar('CONTAINER_AUDIT_INCOMPATIBLE_LICENSE') or '').strip() else 'report-only'}"
CONTAINER_AUDIT_POLICY[doc] = "Policy file: an absolute path, or a name searched in BBPATH as NAME, policies/NAME and policies/NAME.yaml (presets: gplv3-free, permissive-only, report-only). Empty: CONTAINER_AUDIT_INCOMPATIBLE_LICENSE alone decides. Default: report-only when that is empty too."

CONTAINER_AUDIT_CURATIONS ??= ""
CONTAINER_AUDIT_CURATIONS[doc] = "Space-separated curation files (YAML), each an absolute path or searched in BBPATH like CONTAINER_AUDIT_POLICY; they come before the built-in curations."

CONTAINER_AUDIT_FAIL_ON ??= "error"
CONTAINER_AUDIT_FAIL_ON[doc] = "Lowest finding severity that is a violation: error, warning or never. Violations are reported through the container-license QA key (ERROR_QA fails the task, WARN_QA warns); never: every finding is a warning and the build goes on."

CONTAINER_AUDIT_INCOMPATIBLE_LICENSE ??= "${@d.getVar('INCOMPATIBLE_LICENSE') or ''}"
CONTAINER_AUDIT_INCOMPATIBLE_LICENSE[doc] = "Licenses no package inside a container may have, with BitBake's INCOMPATIBLE_LICENSE syntax and meaning (e.g. 'GPL-3.0* LGPL-3.0*'). Added to the policy's incompatible licenses. Default: INCOMPATIBLE_LICENSE."

CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS ??= "${@d.getVar('INCOMPATIBLE_LICENSE_EXCEPTIONS') or ''}"
CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS[doc] = "Exceptions to CONTAINER_AUDIT_INCOMPATIBLE_LICENSE, with INCOMPATIBLE_LICENSE_EXCEPTIONS syntax ('package:license ...', package = a package inside a container). Default: INCOMPATIBLE_LICENSE_EXCEPTIONS."

CONTAINER_AUDIT_EXTRA_ARGS ??= ""
CONTAINER_AUDIT_EXTRA_ARGS[doc] = "Extra arguments for container-audit audit/check (shell words), e.g. '--arch arm64 --license-exception-severity error'."

CONTAINER_AUDIT_SKIP ??= "0"
CONTAINER_AUDIT_SKIP[doc] = "1: do not audit (the audit and check tasks do nothing; SBOMs are left as OE wrote them)."

CONTAINER_AUDIT_DIR ??= "${WORKDIR}/container-audit"
CONTAINER_AUDIT_DIR[doc] = "Where container-audit writes its results (inventory, verdicts, report, SBOMs) for this recipe."

CONTAINER_AUDIT_WORKDIR ??= "${WORKDIR}/container-audit-work"
CONTAINER_AUDIT_WORKDIR[doc] = "Scratch space for unpacking container images (and TMPDIR of the tool); emptied after each run."

CONTAINER_AUDIT_CACHE_DIR ??= "${@d.getVar('PERSISTENT_DIR') + '/container-audit' if d.getVar('PERSISTENT_DIR') else ''}"
CONTAINER_AUDIT_CACHE_DIR[doc] = "Inventory cache of container-audit (content-addressed: re-auditing unchanged images unpacks nothing), passed as the CONTAINER_AUDIT_CACHE_DIR environment variable. Default: PERSISTENT_DIR/container-audit; empty: the tool's own default (~/.cache/container-audit). Not part of the task signature."

CONTAINER_AUDIT_CACHE_MIRRORS ??= ""
CONTAINER_AUDIT_CACHE_MIRRORS[doc] = "Read-only inventory caches of other machines, like SSTATE_MIRRORS: space-separated directories or http(s)/file URL prefixes with the cache's layout (e.g. a CI machine's CONTAINER_AUDIT_CACHE_DIR, published by any web server), asked when the local cache has no entry; passed as the CONTAINER_AUDIT_CACHE_MIRRORS environment variable. Entries are checksummed and the layers still verified. Not part of the task signature."

# Violations are QA issues users can move between ERROR_QA and WARN_QA:
#   ERROR_QA:remove = "container-license"
#   WARN_QA:append = " container-license"
ERROR_QA:append = " container-license"

CONTAINER_AUDIT_VARDEPS ??= "\
    CONTAINER_AUDIT_BIN \
    CONTAINER_AUDIT_CURATIONS \
    CONTAINER_AUDIT_EXTRA_ARGS \
    CONTAINER_AUDIT_FAIL_ON \
    CONTAINER_AUDIT_INCOMPATIBLE_LICENSE \
    CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS \
    CONTAINER_AUDIT_POLICY \
    CONTAINER_AUDIT_SKIP \
"
CONTAINER_AUDIT_VARDEPS[doc] = "Variables in the [vardeps] of every auditing task: a change re-runs the audit. The policy and curation files are in [file-checksums]."

def container_audit_search(d, name):
    """(path or None, every path looked at) for a CONTAINER_AUDIT_POLICY/_CURATIONS entry."""
    import os
    if os.path.isabs(name):
        return (name if os.path.isfile(name) else None), [name]
    candidates = [name, os.path.join("policies", name)]
    if not name.endswith((".yaml", ".yml")):
        candidates.append(os.path.join("policies", name + ".yaml"))
    searched = []
    for candidate in candidates:
        for top in (d.getVar("BBPATH") or "").split(":"):
            if not top:
                continue
            path = os.path.join(top, candidate)
            searched.append(path)
            if os.path.isfile(path):
                return path, searched
    return None, searched

def container_audit_inputs(d):
    """(variable, name) of every policy and curation file the audit reads."""
    inputs = []
    policy = (d.getVar("CONTAINER_AUDIT_POLICY") or "").strip()
    if policy:
        inputs.append(("CONTAINER_AUDIT_POLICY", policy))
    for name in (d.getVar("CONTAINER_AUDIT_CURATIONS") or "").split():
        inputs.append(("CONTAINER_AUDIT_CURATIONS", name))
    return inputs

def container_audit_file_checksums(d):
    """[file-checksums]: the files found, and every place looked at before them (path:False),
    so that editing a policy, or adding one earlier in BBPATH, re-runs the task."""
    entries = []
    for _, name in container_audit_inputs(d):
        found, searched = container_audit_search(d, name)
        entries.extend("%s:%s" % (p, p == found) for p in searched)
    return " ".join(entries)

def container_audit_tool(d, subject):
    import os
    name = d.getVar("CONTAINER_AUDIT_BIN") or "container-audit"
    if os.sep in name:
        path = name if os.access(name, os.X_OK) else None
    else:
        path = bb.utils.which(d.getVar("PATH") or "", name, executable=True) or None
    if not path:
        bb.fatal("%s: cannot audit: %s is not an executable (CONTAINER_AUDIT_BIN = \"%s\"); "
                 "depend on %s or set CONTAINER_AUDIT_BIN to the container-audit of the host"
                 % (subject, name, d.getVar("CONTAINER_AUDIT_BIN") or "",
                    d.getVar("CONTAINER_AUDIT_NATIVE")))
    return path

def container_audit_policy_args(d, subject):
    import shlex
    args = []
    for var, name in container_audit_inputs(d):
        found, searched = container_audit_search(d, name)
        if not found:
            bb.fatal("%s: cannot audit: %s = \"%s\": no such file (looked in %s)"
                     % (subject, var, name, ", ".join(searched) or "BBPATH"))
        args += ["--policy" if var == "CONTAINER_AUDIT_POLICY" else "--curations", found]
    incompatible = (d.getVar("CONTAINER_AUDIT_INCOMPATIBLE_LICENSE") or "").strip()
    if incompatible:
        args += ["--incompatible-license", incompatible]
    exceptions = (d.getVar("CONTAINER_AUDIT_INCOMPATIBLE_LICENSE_EXCEPTIONS") or "").strip()
    if exceptions:
        args += ["--license-exception", exceptions]
    fail_on = (d.getVar("CONTAINER_AUDIT_FAIL_ON") or "").strip()
    if fail_on not in ("error", "warning", "never"):
        bb.fatal("%s: cannot audit: CONTAINER_AUDIT_FAIL_ON = \"%s\" (expected error, warning "
                 "or never)" % (subject, fail_on))
    args += ["--fail-on", fail_on]
    return args + shlex.split(d.getVar("CONTAINER_AUDIT_EXTRA_ARGS") or "")

def container_audit_run(d, argv):
    """Run container-audit; its output goes to the task log."""
    import os
    import shlex
    import subprocess
    env = dict(os.environ)
    env["TMPDIR"] = d.getVar("CONTAINER_AUDIT_WORKDIR")
    if d.getVar("CONTAINER_AUDIT_CACHE_DIR"):
        env["CONTAINER_AUDIT_CACHE_DIR"] = d.getVar("CONTAINER_AUDIT_CACHE_DIR")
    if (d.getVar("CONTAINER_AUDIT_CACHE_MIRRORS") or "").strip():
        env["CONTAINER_AUDIT_CACHE_MIRRORS"] = d.getVar("CONTAINER_AUDIT_CACHE_MIRRORS")
    bb.utils.mkdirhier(env["TMPDIR"])
    bb.note("Running: %s" % " ".join(shlex.quote(a) for a in argv))
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env)
    bb.utils.remove(env["TMPDIR"], True)
    for text in (proc.stdout, proc.stderr):
        if text.strip():
            bb.note(text.rstrip())
    return proc

# Where the cache and its mirrors are does not change a verdict. (oelint-adv takes a flag of a python
# function for an unknown variable.)
# nooelint: oelint.vars.mispell.unknown
container_audit_run[vardepsexclude] = "CONTAINER_AUDIT_CACHE_DIR CONTAINER_AUDIT_CACHE_MIRRORS"

def container_audit_line(subject, finding):
    """<image>: <container>: <package> <version>: <license> [<rule>]"""
    where = "%s: %s" % (subject, finding.get("image") or "-")
    if finding.get("package"):
        what = ("%s %s" % (finding["package"], finding.get("version") or "")).rstrip()
        return "%s: %s: %s [%s]" % (where, what, finding.get("license") or "-", finding.get("rule"))
    return "%s: %s [%s]" % (where, finding.get("message") or "-", finding.get("rule"))

def container_audit_violations(d, lines, summary):
    """Policy violations: QA issues (ERROR_QA fails, WARN_QA warns), or bb.fatal without oe.qa."""
    try:
        import oe.qa
    except ImportError:
        bb.fatal("\n".join("%s [container-license]" % l for l in lines + [summary]))
    for line in lines + [summary]:
        oe.qa.handle_error("container-license", line, d)
    oe.qa.exit_if_errors(d)

def container_audit_report(d, subject, proc, outdir):
    """Turn the CLI's exit code and verdicts JSON into build messages."""
    import json
    import os
    verdicts = os.path.join(outdir, "container-audit.verdicts.json")
    report = os.path.join(outdir, "container-audit.txt")
    if proc.returncode not in (0, 1):
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-20:])
        bb.fatal("%s: cannot audit: container-audit exited with %d: %s"
                 % (subject, proc.returncode, tail or "no message"))
    try:
        with open(verdicts) as f:
            doc = json.load(f)
        findings = doc["findings"]
        summary = doc["summary"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        bb.fatal("%s: cannot audit: %s: no readable verdicts (%s)" % (subject, verdicts, exc))
    fail_on = doc.get("fail_on") or d.getVar("CONTAINER_AUDIT_FAIL_ON")
    failing = {"error": ("error",), "warning": ("error", "warning")}.get(fail_on, ())
    violations, warnings = [], []
    for finding in findings:
        line = container_audit_line(subject, finding)
        if finding.get("severity") in failing:
            violations.append(line)
        elif finding.get("severity") in ("error", "warning"):
            warnings.append(line)
        else:
            bb.note(line)
    for line in warnings:
        bb.warn(line)
    bb.note("%s: container-audit: audited %s: %s images, %s packages, %s errors, %s warnings "
            "(policy %s, fail on %s): %s" % (
                subject, doc.get("target"), summary.get("images"), summary.get("packages"),
                summary.get("error"), summary.get("warning"),
                (doc.get("policy") or {}).get("name") or "-", fail_on,
                "FAIL" if violations else "PASS"))
    if violations:
        container_audit_violations(d, violations, "%s: %d container license violation(s); "
                                   "report: %s" % (subject, len(violations), report))
    elif proc.returncode == 1:
        bb.fatal("%s: container-audit reported violations but the verdicts list none at or "
                 "above %s; report: %s" % (subject, fail_on, report))
    elif fail_on == "never" and summary.get("error"):
        bb.warn("%s: %s container license violation(s) ignored (CONTAINER_AUDIT_FAIL_ON = "
                "\"never\"); report: %s" % (subject, summary.get("error"), report))
    elif warnings:
        bb.warn("%s: %d container license warning(s); report: %s"
                % (subject, len(warnings), report))
