# nooelint: oelint.var.mandatoryvar.HOMEPAGE,oelint.var.suggestedvar.AUTHOR,oelint.var.suggestedvar.BUGTRACKER,oelint.var.suggestedvar.CVE_PRODUCT,oelint.var.bbclassextend
# SPDX-License-Identifier: Apache-2.0
# (oelint-adv file-level findings, suppressed in the first line: a reference recipe for
# images you provide has no upstream home page, author, bug tracker or CVE product, and
# target images have no native or nativesdk variant to BBCLASSEXTEND.)
#
# Reference recipe: container images shipped as `podman save` archives (docker-archive
# format) in ${datadir}/container-images/<tag>-<version>.tar, listed in images.manifest,
# one `name version tag` per line (the layout of meta-embedded-containers). Copy it into
# your layer, or keep it and set CONTAINER_IMAGES_EXAMPLE_URI and the checksums in a
# bbappend.
#
# The archives are build inputs like any source: BitBake's fetcher downloads them in
# do_fetch from where your CI publishes them, never a registry pull inside a task, and
# checks each against its sha256sum (so BB_NO_NETWORK builds work from DL_DIR or a
# PREMIRROR). Make one with
#     podman pull docker.io/library/busybox:1.35
#     podman tag docker.io/library/busybox:1.35 localhost/busybox:1.35
#     podman save -o busybox-1.35.tar localhost/busybox:1.35
#     sha256sum busybox-1.35.tar
# and pick the images of the target's architecture.
#
# container-image-audit audits what do_install put in ${D} before it is packaged, against
# CONTAINER_AUDIT_POLICY and CONTAINER_AUDIT_INCOMPATIBLE_LICENSE (default: the distro's
# INCOMPATIBLE_LICENSE): a violation fails this recipe, not every image that installs it.
#
# At boot (not part of this recipe): a service reads images.manifest and, for each line,
# runs `podman load -i /usr/share/container-images/<tag>-<version>.tar` (the image is
# then localhost/<tag>:<version>) and starts it; such a service RDEPENDS on podman
# (meta-virtualization).
SUMMARY = "Example: container images as podman save archives, with images.manifest"
DESCRIPTION = "Reference recipe installing saved container images and their manifest, audited by container-image-audit."
SECTION = "containers"

# LICENSE covers what this recipe writes itself (images.manifest). The packages inside the
# images keep their own licenses: the audit reads them from the images, and
# container-audit.bbclass adds them to the image SBOM.
LICENSE = "Apache-2.0"
# images.manifest has no room for a license header (its readers take every line as an
# image), so the license text is OE's copy (oelint-adv wants a file from SRC_URI).
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# Where the archives are, ending in "/": your artifact store (https://host/path/), or
# "file://" for files beside this recipe (files/) or in a bbappend's FILESEXTRAPATHS.
# BitBake checks the sha256sum of every download; file:// entries it never checks (their
# content is part of the task signature instead). Until this is set the recipe is skipped.
CONTAINER_IMAGES_EXAMPLE_URI ??= ""

SRC_URI = "\
    ${CONTAINER_IMAGES_EXAMPLE_URI}busybox-1.35.tar;unpack=0;name=busybox \
    ${CONTAINER_IMAGES_EXAMPLE_URI}alpine-3.16.tar;unpack=0;name=alpine \
    file://images.manifest \
"
# The sha256sum of your archives: these placeholders fail every download until replaced.
SRC_URI[busybox.sha256sum] = "0000000000000000000000000000000000000000000000000000000000000000"
SRC_URI[alpine.sha256sum] = "0000000000000000000000000000000000000000000000000000000000000000"

# kirkstone to scarthgap unpack into WORKDIR, later releases into UNPACKDIR
S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"

inherit container-image-audit

# Skipping the recipe until CONTAINER_IMAGES_EXAMPLE_URI is set takes anonymous python
# (a layer that merely includes this reference must still parse).
# nooelint: oelint.task.noanonpython
python () {
    if not d.getVar("CONTAINER_IMAGES_EXAMPLE_URI"):
        raise bb.parse.SkipRecipe("set CONTAINER_IMAGES_EXAMPLE_URI to where the image "
                                  "archives are (see the recipe)")
}

INHIBIT_DEFAULT_DEPS = "1"
do_configure[noexec] = "1"
do_compile[noexec] = "1"

# One archive per manifest line, <tag>-<version>.tar, so the manifest is the one list of
# what the image gets (SRC_URI must fetch each).
do_install() {
    install -d ${D}${datadir}/container-images
    install -m 0644 ${S}/images.manifest ${D}${datadir}/container-images/
    while read -r name version tag rest; do
        case "$name" in
        ''|'#'*) continue ;;
        esac
        [ -n "$tag" ] || tag="$name"
        install -m 0644 "${S}/$tag-$version.tar" ${D}${datadir}/container-images/
    done < ${S}/images.manifest
}

FILES:${PN} += "${datadir}/container-images"
