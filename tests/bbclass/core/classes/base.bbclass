# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's base.bbclass (our own code, not derived from OE-core):
# shell log helpers, a minimal recipe pipeline (install, package, populate_sysroot, build),
# a stand-in for sstate (stage [sstate-inputdirs] into [sstate-outputdirs] after the task,
# keep a copy per task hash unless SSTATE_SKIP_CREATION, restore it in setscene) and, with
# TEST_OE_QA = "1", a stand-in oe.qa module on sys.path (OE-core's is absent otherwise, so
# the classes' fallback runs).

BB_DEFAULT_TASK ?= "build"

# OE's logging.bbclass writes to BitBake's log FIFO; the task log is enough here.
bbnote() {
	echo "NOTE: $*"
}

bbwarn() {
	echo "WARNING: $*"
}

bbfatal() {
	echo "ERROR: $*"
	exit 1
}

do_install() {
	:
}
do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"
addtask install before do_build

do_package[noexec] = "1"
addtask package after do_install before do_build

do_populate_sysroot[noexec] = "1"
addtask populate_sysroot after do_install before do_build

do_build[noexec] = "1"
addtask build

TEST_OE_QA ?= "0"

SSTATETASKS ?= ""
SSTATE_AVAILABLE_FUNCTION = "harness_sstate_available"

python () {
    import os
    import sys
    if d.getVar("TEST_OE_QA") == "1":
        lib = os.path.join(d.getVar("COREBASE"), "lib-oe")
        if lib not in sys.path:
            sys.path.insert(0, lib)
    # like OE's sstate: staging runs after every other postfunc of the task
    for task in sorted(set((d.getVar("SSTATETASKS") or "").split())):
        postfuncs = (d.getVarFlag(task, "postfuncs") or "").split()
        d.setVarFlag(task, "postfuncs", " ".join(postfuncs + ["harness_sstate_postfunc"]))
}

def harness_sstate_object(d, task):
    import os
    return os.path.join(d.getVar("SSTATE_DIR"), d.getVar("PN"),
                        "%s.%s" % (task, d.getVar("BB_UNIHASH")))

def harness_sstate_available(d, task):
    import os
    return os.path.isdir(harness_sstate_object(d, task))

def harness_sstate_dirs(d, task):
    inputs = (d.getVarFlag(task, "sstate-inputdirs") or "").split()
    outputs = (d.getVarFlag(task, "sstate-outputdirs") or "").split()
    if len(inputs) != len(outputs):
        bb.fatal("%s: [sstate-inputdirs] and [sstate-outputdirs] differ in length" % task)
    return list(zip(inputs, outputs))

def harness_sstate_install(src, dst):
    """Copy src into dst, replacing what an earlier run of the task installed there (OE's
    sstate removes it through the task's manifest)."""
    import os
    import shutil
    for top, dirs, files in os.walk(src):
        out = os.path.join(dst, os.path.relpath(top, src))
        bb.utils.mkdirhier(out)
        for name in files + [x for x in dirs if os.path.islink(os.path.join(top, x))]:
            target = os.path.join(out, name)
            if os.path.lexists(target):
                bb.utils.remove(target, True)
            shutil.copy2(os.path.join(top, name), target, follow_symlinks=False)

python harness_sstate_postfunc () {
    import os
    import shutil
    task = "do_" + d.getVar("BB_CURRENTTASK")
    obj = harness_sstate_object(d, task)
    bb.utils.remove(obj, True)
    keep = d.getVar("SSTATE_SKIP_CREATION") != "1"
    for i, (src, dst) in enumerate(harness_sstate_dirs(d, task)):
        bb.utils.mkdirhier(src)
        if keep:
            shutil.copytree(src, os.path.join(obj, str(i)), symlinks=True)
        harness_sstate_install(src, dst)
    bb.note("sstate: staged %s%s" % (task, " into " + obj if keep else " (no sstate object)"))
}

def sstate_setscene(d):
    import os
    import shutil
    task = "do_" + d.getVar("BB_CURRENTTASK")[:-len("_setscene")]
    obj = harness_sstate_object(d, task)
    if not os.path.isdir(obj):
        raise bb.BBHandledException("no sstate object for %s" % task)
    for i, (_, dst) in enumerate(harness_sstate_dirs(d, task)):
        harness_sstate_install(os.path.join(obj, str(i)), dst)
    bb.note("sstate: restored %s from %s" % (task, obj))
