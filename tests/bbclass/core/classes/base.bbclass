# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's base.bbclass (our own code, not derived from OE-core):
# shell log helpers, a minimal recipe pipeline (fetch and unpack with BitBake's own fetcher,
# configure, compile, install, package, populate_sysroot, build),
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

# The target paths recipes install to (OE's bitbake.conf; native.bbclass moves them)
prefix ?= "/usr"
exec_prefix ?= "${prefix}"
bindir ?= "${exec_prefix}/bin"
libdir ?= "${exec_prefix}/lib"
datadir ?= "${prefix}/share"

# Fetching as OE does it, with bb.fetch2 (BitBake's fetcher): downloads go to DL_DIR and
# are checked against the SRC_URI[name.sha256sum] flags; file:// entries are found in
# FILESPATH (FILESEXTRAPATHS first, then PN-version, PN and files/ beside the recipe; OE
# also searches the OVERRIDES subdirectories of each, not needed here). Sources are
# unpacked into UNPACKDIR (walnascar and later), or WORKDIR when it is empty (kirkstone to
# scarthgap): tests set UNPACKDIR = "" to build the older way.
DL_DIR ?= "${TOPDIR}/downloads"
BPN ?= "${@d.getVar('PN')[:-len('-native')] if d.getVar('PN').endswith('-native') else d.getVar('PN')}"
BP ?= "${BPN}-${PV}"
BUILD_ARCH ?= "${@os.uname()[4]}"
UNPACKDIR ??= "${WORKDIR}/sources"
FILE_DIRNAME = "${@os.path.dirname(d.getVar('FILE', False))}"
THISDIR = "${@os.path.dirname(d.getVar('FILE'))}"
FILESEXTRAPATHS ?= "__default:"
FILESPATH = "${@harness_filespath(d)}"
SRC_URI ?= ""

def harness_filespath(d):
    extra = [p for p in (d.getVar("FILESEXTRAPATHS") or "").split(":") if p and p != "__default"]
    base = [d.expand("${FILE_DIRNAME}/%s" % sub) for sub in ("${BP}", "${BPN}", "files")]
    return ":".join(extra + base)

def harness_unpackdir(d):
    return d.getVar("UNPACKDIR") or d.getVar("WORKDIR")

python do_fetch () {
    src_uri = (d.getVar("SRC_URI") or "").split()
    if not src_uri:
        return
    try:
        bb.fetch2.Fetch(src_uri, d).download()
    except bb.fetch2.BBFetchException as exc:
        bb.fatal("Bitbake Fetcher Error: " + repr(exc))
}
addtask fetch
do_fetch[dirs] = "${DL_DIR}"
do_fetch[file-checksums] = "${@bb.fetch.get_checksum_file_list(d)}"
do_fetch[network] = "1"

python do_unpack () {
    src_uri = (d.getVar("SRC_URI") or "").split()
    if not src_uri:
        return
    try:
        bb.fetch2.Fetch(src_uri, d).unpack(harness_unpackdir(d))
    except bb.fetch2.BBFetchException as exc:
        bb.fatal("Bitbake Fetcher Error: " + repr(exc))
}
addtask unpack after do_fetch
do_unpack[dirs] = "${WORKDIR}"
do_unpack[cleandirs] = "${@harness_unpack_cleandirs(d)}"

def harness_unpack_cleandirs(d):
    """UNPACKDIR; without one, S unless S is WORKDIR (then only S/patches), as OE does."""
    import os
    if d.getVar("UNPACKDIR"):
        return d.getVar("UNPACKDIR")
    s = os.path.normpath(d.getVar("S"))
    return os.path.join(s, "patches") if s == os.path.normpath(d.getVar("WORKDIR")) else s

do_configure() {
	:
}
addtask configure after do_unpack

do_compile() {
	:
}
addtask compile after do_configure

do_install() {
	:
}
do_install[dirs] = "${B}"
do_install[cleandirs] = "${D}"
addtask install after do_compile before do_build

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
