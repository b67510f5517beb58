# nooelint: oelint.file.underscores,oelint.var.bbclassextend,oelint.var.mandatoryvar.HOMEPAGE,oelint.var.suggestedvar.AUTHOR,oelint.var.suggestedvar.BUGTRACKER,oelint.var.suggestedvar.CVE_PRODUCT
# SPDX-License-Identifier: Apache-2.0
# (oelint-adv, file-level findings, suppressed in the first line: a reference recipe of
# this layer, with no upstream and so no version in its file name, home page, author, bug
# tracker or CVE product (the software inside the images is what container-audit
# inventories); target-only, as a store of target images has no native or nativesdk use.)
#
# container-store-example: reference recipe for container images embedded as a prebuilt
# Docker image store ("approach 3"): the images are loaded at build time into a Docker
# data root with the vfs storage driver, which is installed as ${localstatedir}/lib/docker,
# so the target's dockerd has them at first boot without `docker load`.
#
# - The image archives (docker-archive or OCI archive tars: docker save, podman save,
#   skopeo copy) come from SRC_URI: local files, or https with a sha256sum, fetched by
#   do_fetch like any source (DL_DIR, mirrors, BB_NO_NETWORK). No task pulls from a
#   registry.
# - do_compile runs `container-audit store build --data-root ${B}/docker <archives>`: a
#   private dockerd (own data root, exec root, socket and configuration; never the host's
#   daemon) loads them, is stopped, and the store is trimmed to image/ and vfs/ with
#   SOURCE_DATE_EPOCH applied (reproducible). This needs a build host where dockerd can
#   run: BitBake as root (container-audit refuses otherwise; a rootless dockerd would
#   shift every file owner in the store). OE-core refuses to run as root, so most builds
#   use the alternative:
# - CONTAINER_STORE_PREBUILT: a store tarball made outside BitBake, as root, with the same
#   command (see bbclass/README.md); do_install unpacks it under pseudo, so the owners in
#   the store are recorded like any other file's, and no dockerd runs in the build.
# - do_container_image_audit (container-image-audit) checks ${D} after do_install: a
#   license violation inside the store fails this recipe before it is packaged.
#
# The target's dockerd must use the vfs driver (it never picks vfs by itself from an
# existing data root): CONTAINER_STORE_DAEMON_CONFIG installs a daemon.json saying so.
#
# Copy this recipe into your layer, or set its variables from a bbappend, e.g.
#
#   SRC_URI = "\
#       file://app.tar;unpack=0 \
#       https://downloads.example.com/images/redis-7.2.4-amd64.tar;unpack=0;sha256sum=<sha256> \
#   "
#   CONTAINER_STORE_TAGS = "localhost/app:1.0=registry.example.com/app:1.0"
#   CONTAINER_AUDIT_POLICY = "gplv3-free"
SUMMARY = "Container images embedded as a prebuilt Docker image store (reference recipe)"
DESCRIPTION = "Loads image archives from SRC_URI into a Docker data root with the vfs driver at build time, installs it as the target's /var/lib/docker and audits the licenses inside."
SECTION = "containers"
# The recipe's own license; the software inside the images carries its own licenses, which
# container-image-audit inventories and judges (the verdicts stay in CONTAINER_AUDIT_DIR).
LICENSE = "MIT"
# no source tree of its own to take a license file from
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# Every entry with unpack=0 is an image archive (see CONTAINER_STORE_ARCHIVES); empty in
# the reference, see the example above.
SRC_URI = ""

inherit container-image-audit

CONTAINER_STORE_ARCHIVES ??= "${@container_store_src_uri_archives(d)}"
CONTAINER_STORE_ARCHIVES[doc] = "Image archives loaded into the store, in this order: absolute paths, or paths relative to the unpack directory. Default: every SRC_URI entry with unpack=0, where do_unpack puts it."

CONTAINER_STORE_TAGS ??= ""
CONTAINER_STORE_TAGS[doc] = "SRC=DEST pairs: also name the loaded image SRC (a reference or an image id) DEST, as docker tag does."

CONTAINER_STORE_PLATFORM ??= ""
CONTAINER_STORE_PLATFORM[doc] = "OS/ARCH[/VARIANT] to load from multi-platform OCI archives, e.g. linux/arm64; without it such an archive is refused."

CONTAINER_STORE_DOCKERD ??= ""
CONTAINER_STORE_DOCKERD[doc] = "The build host's dockerd. Empty: dockerd in PATH or the usual system directories (the task PATH of OE has only HOSTTOOLS)."

CONTAINER_STORE_PREBUILT ??= ""
CONTAINER_STORE_PREBUILT[doc] = "A store tarball made outside BitBake by container-audit store build and tar: absolute path, or a path relative to the unpack directory (an SRC_URI entry with unpack=0). Set: no dockerd runs and CONTAINER_STORE_ARCHIVES is not used."

CONTAINER_STORE_DIR ??= "${localstatedir}/lib/docker"
CONTAINER_STORE_DIR[doc] = "Where the store is installed: the data root of the target's dockerd."

CONTAINER_STORE_DAEMON_CONFIG ??= "1"
CONTAINER_STORE_DAEMON_CONFIG[doc] = "1: install ${sysconfdir}/docker/daemon.json selecting the vfs storage driver the store needs. 0: the distro configures dockerd."

CONTAINER_STORE_ENGINE ??= "docker"
CONTAINER_STORE_ENGINE[doc] = "The package providing dockerd on the target (a runtime dependency)."

# Archives are files, not a source tree: S is where do_unpack puts them (UNPACKDIR from
# styhead on, WORKDIR before), and B is a directory of its own, cleaned before each build.
S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"
B = "${WORKDIR}/build"

def container_store_src_uri_archives(d):
    """Where do_unpack puts every SRC_URI entry with unpack=0 (relative to the unpack dir)."""
    import os
    out = []
    for url in (d.getVar("SRC_URI") or "").split():
        scheme, _, path, _, _, params = bb.fetch2.decodeurl(url)
        if bb.utils.to_boolean(params.get("unpack"), True):
            continue
        if params.get("downloadfilename"):
            name = params["downloadfilename"]
        elif scheme == "file":
            name = path.strip("/")
        else:
            name = os.path.basename(path)
        out.append(os.path.join(params.get("subdir", ""), name))
    return " ".join(out)

def container_store_path(d, name):
    import os
    if os.path.isabs(name):
        return name
    return os.path.join(d.getVar("UNPACKDIR") or d.getVar("WORKDIR"), name)

def container_store_file_checksums(d):
    """Archives and tarballs outside WORKDIR (do_fetch tracks those inside): content in the
    task signature."""
    import os
    names = (d.getVar("CONTAINER_STORE_ARCHIVES") or "").split()
    names.append(d.getVar("CONTAINER_STORE_PREBUILT") or "")
    workdir = d.getVar("WORKDIR")
    entries = []
    for name in names:
        if name and os.path.isabs(name) and not name.startswith(workdir + "/"):
            entries.append("%s:%s" % (name, os.path.exists(name)))
    return " ".join(entries)

def container_store_build(d):
    import os
    pn = d.getVar("PN")
    prebuilt = d.getVar("CONTAINER_STORE_PREBUILT")
    if prebuilt:
        bb.note("%s: using the prebuilt store %s" % (pn, container_store_path(d, prebuilt)))
        return
    archives = [container_store_path(d, a)
                for a in (d.getVar("CONTAINER_STORE_ARCHIVES") or "").split()]
    if not archives:
        bb.fatal("%s: cannot build the Docker store: no image archives (add them to SRC_URI "
                 "with unpack=0, or set CONTAINER_STORE_ARCHIVES or CONTAINER_STORE_PREBUILT)"
                 % pn)
    argv = [container_audit_tool(d, pn), "store", "build",
            "--data-root", os.path.join(d.getVar("B"), "docker")]
    for tag in (d.getVar("CONTAINER_STORE_TAGS") or "").split():
        argv += ["--tag", tag]
    if d.getVar("CONTAINER_STORE_PLATFORM"):
        argv += ["--platform", d.getVar("CONTAINER_STORE_PLATFORM")]
    if d.getVar("CONTAINER_STORE_DOCKERD"):
        argv += ["--dockerd", d.getVar("CONTAINER_STORE_DOCKERD")]
    # SOURCE_DATE_EPOCH reaches the tool through the task environment (OE exports it)
    proc = container_audit_run(d, argv + archives)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()
        bb.fatal("%s: cannot build the Docker store: %s"
                 % (pn, lines[-1] if lines else "container-audit exited with %d"
                    % proc.returncode))

# Which dockerd loads the archives is a property of the build host, like the version of the
# tool, not of the store. (oelint-adv takes a flag of a python function for an unknown
# variable.)
# nooelint: oelint.vars.mispell.unknown
container_store_build[vardepsexclude] = "CONTAINER_STORE_DOCKERD"

python do_compile () {
    container_store_build(d)
}
do_compile[cleandirs] = "${B}"
do_compile[depends] += "${CONTAINER_AUDIT_DEPENDS}"
do_compile[vardeps] += "CONTAINER_STORE_ARCHIVES CONTAINER_STORE_TAGS CONTAINER_STORE_PLATFORM CONTAINER_STORE_PREBUILT CONTAINER_AUDIT_BIN"
do_compile[file-checksums] += "${@container_store_file_checksums(d)}"
# BitBake >= 2.0 runs tasks without [network] in a new user namespace (to unshare the
# network), where dockerd is not the host's root and cannot give files their owners. The
# flag is for that, not for the network: dockerd only loads local archives (--bridge=none).
# nooelint: oelint.task.network
do_compile[network] = "1"

# The store is a tree with links, special modes and the owners of the images' files: only a
# copy that keeps all of them will do (cp -a), which install(1) is not.
# nooelint: oelint.task.nocopy
do_install() {
    if [ -n "${CONTAINER_STORE_PREBUILT}" ]; then
        install -d -m 0710 "${D}${CONTAINER_STORE_DIR}"
        tar -x -p --numeric-owner -C "${D}${CONTAINER_STORE_DIR}" \
            -f "${@container_store_path(d, d.getVar('CONTAINER_STORE_PREBUILT'))}"
    else
        install -d "$(dirname "${D}${CONTAINER_STORE_DIR}")"
        cp -a "${B}/docker" "${D}${CONTAINER_STORE_DIR}"
    fi
    if [ "${CONTAINER_STORE_DAEMON_CONFIG}" = "1" ]; then
        install -d "${D}${sysconfdir}/docker"
        printf '{\n    "storage-driver": "vfs"\n}\n' >"${D}${sysconfdir}/docker/daemon.json"
        chmod 0644 "${D}${sysconfdir}/docker/daemon.json"
    fi
}
do_install[vardeps] += "CONTAINER_STORE_DIR CONTAINER_STORE_PREBUILT CONTAINER_STORE_DAEMON_CONFIG"
do_install[file-checksums] += "${@container_store_file_checksums(d)}"

FILES:${PN} += "${CONTAINER_STORE_DIR} ${sysconfdir}/docker/daemon.json"
CONFFILES:${PN} += "${@'${sysconfdir}/docker/daemon.json' if d.getVar('CONTAINER_STORE_DAEMON_CONFIG') == '1' else ''}"
RDEPENDS:${PN} += "${CONTAINER_STORE_ENGINE}"

# The store holds whole container root filesystems: their binaries are not ours to strip
# or split (that would change the layers under docker's records), they need nothing from
# the target's package feed, and may be for any architecture the containers run.
INHIBIT_PACKAGE_STRIP = "1"
INHIBIT_PACKAGE_DEBUG_SPLIT = "1"
INHIBIT_SYSROOT_STRIP = "1"
EXCLUDE_FROM_SHLIBS = "1"
# package.bbclass's switch for per-file dependencies (unknown to oelint-adv's lists)
# nooelint: oelint.vars.mispell.unknown
SKIP_FILEDEPS:${PN} = "1"
# the QA checks below judge packaged software built by this recipe; the store holds none,
# and the audit of what it holds is do_container_image_audit's
# nooelint: oelint.vars.insaneskip
INSANE_SKIP:${PN} += "already-stripped arch buildpaths dev-elf dev-so file-rdeps ldflags libdir staticdev textrel"
