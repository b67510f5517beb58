# nooelint: oelint.var.mandatoryvar.HOMEPAGE,oelint.var.suggestedvar.AUTHOR,oelint.var.suggestedvar.BUGTRACKER,oelint.var.suggestedvar.CVE_PRODUCT,oelint.var.bbclassextend
# SPDX-License-Identifier: Apache-2.0
# (oelint-adv file-level findings, suppressed in the first line: a reference recipe for
# images you provide has no upstream home page, author, bug tracker or CVE product, and
# target images have no native or nativesdk variant to BBCLASSEXTEND.)
#
# Reference recipe: a compose application. The `podman save` archives of its images and
# the docker-compose.yml that runs them (services referring to localhost/<tag>:latest) go
# to ${datadir}/${BPN}/. Copy it into your layer, or keep it and set
# CONTAINER_COMPOSE_EXAMPLE_URI and the checksums in a bbappend.
#
# The archives come from SRC_URI like any source: fetched in do_fetch from where your CI
# publishes them (never pulled from a registry inside a task), each checked against its
# sha256sum; see container-images-example for how to make them. container-image-audit
# audits ${D} after do_install, so a license violation in any image fails this recipe;
# the compose file tells the audit which images the application declares (an image
# missing from the archives is a finding too).
#
# At boot (not part of this recipe): a service runs `podman load -i` on each archive,
# tags each image localhost/<tag>:latest, then `podman-compose -f
# /usr/share/container-compose-example/docker-compose.yml up -d` (or `docker compose`);
# it RDEPENDS on podman and podman-compose (meta-virtualization).
SUMMARY = "Example: a compose application with its container images as podman save archives"
DESCRIPTION = "Reference recipe installing a docker-compose.yml and the saved images it runs, audited by container-image-audit."
SECTION = "containers"

# LICENSE covers what this recipe writes itself (docker-compose.yml). The packages inside
# the images keep their own licenses: the audit reads them from the images, and
# container-audit.bbclass adds them to the image SBOM.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://docker-compose.yml;beginline=1;endline=1;md5=653b254f286b881bdce1d14afdede628"

# Where the archives are, ending in "/": your artifact store (https://host/path/), or
# "file://" for files beside this recipe (files/) or in a bbappend's FILESEXTRAPATHS.
# BitBake checks the sha256sum of every download; file:// entries it never checks (their
# content is part of the task signature instead). Until this is set the recipe is skipped.
CONTAINER_COMPOSE_EXAMPLE_URI ??= ""

SRC_URI = "\
    ${CONTAINER_COMPOSE_EXAMPLE_URI}alpine-3.16.tar;unpack=0;name=alpine \
    ${CONTAINER_COMPOSE_EXAMPLE_URI}busybox-1.35.tar;unpack=0;name=busybox \
    file://docker-compose.yml \
"
# The sha256sum of your archives: these placeholders fail every download until replaced.
SRC_URI[alpine.sha256sum] = "0000000000000000000000000000000000000000000000000000000000000000"
SRC_URI[busybox.sha256sum] = "0000000000000000000000000000000000000000000000000000000000000000"

# kirkstone to scarthgap unpack into WORKDIR, later releases into UNPACKDIR
S = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"

inherit container-image-audit

# Skipping the recipe until CONTAINER_COMPOSE_EXAMPLE_URI is set takes anonymous python
# (a layer that merely includes this reference must still parse).
# nooelint: oelint.task.noanonpython
python () {
    if not d.getVar("CONTAINER_COMPOSE_EXAMPLE_URI"):
        raise bb.parse.SkipRecipe("set CONTAINER_COMPOSE_EXAMPLE_URI to where the image "
                                  "archives are (see the recipe)")
}

INHIBIT_DEFAULT_DEPS = "1"
do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/${BPN}
    install -m 0644 ${S}/docker-compose.yml ${S}/alpine-3.16.tar ${S}/busybox-1.35.tar \
        ${D}${datadir}/${BPN}/
}

FILES:${PN} += "${datadir}/${BPN}"
