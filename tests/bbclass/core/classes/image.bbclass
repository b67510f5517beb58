# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's image.bbclass (our own code): a fake image pipeline
# with OE's task names, order and variables. do_rootfs copies TEST_ROOTFS_SOURCE into
# IMAGE_ROOTFS and runs the ROOTFS_POSTPROCESS/POSTUNINSTALL commands; do_image tars it
# into IMGDEPLOYDIR; do_image_complete stages IMGDEPLOYDIR into DEPLOY_DIR_IMAGE.

IMAGE_ROOTFS = "${WORKDIR}/rootfs"
IMAGE_BASENAME ?= "${PN}"
IMAGE_NAME_SUFFIX ?= ".rootfs"
IMAGE_LINK_NAME ?= "${IMAGE_BASENAME}-${MACHINE}${IMAGE_NAME_SUFFIX}"
IMAGE_VERSION_SUFFIX ?= "-20250101000000"
IMAGE_NAME ?= "${IMAGE_LINK_NAME}${IMAGE_VERSION_SUFFIX}"
IMGDEPLOYDIR = "${WORKDIR}/deploy-${PN}-image-complete"

TEST_ROOTFS_SOURCE ?= ""
ROOTFS_POSTPROCESS_COMMAND ?= ""
ROOTFS_POSTUNINSTALL_COMMAND ?= ""
IMAGE_CLASSES ?= ""

inherit ${IMAGE_CLASSES}

python do_rootfs () {
    import shutil
    rootfs = d.getVar("IMAGE_ROOTFS")
    bb.utils.remove(rootfs, True)
    shutil.copytree(d.getVar("TEST_ROOTFS_SOURCE"), rootfs, symlinks=True)
    for var in ("ROOTFS_POSTPROCESS_COMMAND", "ROOTFS_POSTUNINSTALL_COMMAND"):
        for func in (d.getVar(var) or "").replace(";", " ").split():
            bb.build.exec_func(func, d)
}
do_rootfs[cleandirs] = "${IMGDEPLOYDIR}"
do_rootfs[vardeps] += "ROOTFS_POSTPROCESS_COMMAND ROOTFS_POSTUNINSTALL_COMMAND"
addtask rootfs before do_build

do_image() {
	tar -C "${IMAGE_ROOTFS}" -cf "${IMGDEPLOYDIR}/${IMAGE_NAME}.tar" .
	if [ -n "${IMAGE_LINK_NAME}" ]; then
		ln -sf "${IMAGE_NAME}.tar" "${IMGDEPLOYDIR}/${IMAGE_LINK_NAME}.tar"
	fi
	bbnote "image ${IMAGE_NAME}.tar written"
}
addtask image after do_rootfs before do_build

python do_image_complete () {
    bb.note("image complete")
}
addtask image_complete after do_image before do_build
SSTATETASKS += "do_image_complete"
do_image_complete[sstate-inputdirs] = "${IMGDEPLOYDIR}"
do_image_complete[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
