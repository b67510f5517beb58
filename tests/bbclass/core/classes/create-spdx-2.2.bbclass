# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's SPDX 2.2 image support (our own code): like OE
# (mickledore and later) the image SBOM archive ${IMAGE_NAME}.spdx.tar.zst is written into
# IMGDEPLOYDIR by a ROOTFS_POSTUNINSTALL_COMMAND inside do_rootfs; the content is a real
# OE 2.2 archive given by TEST_SPDX22_ARCHIVE.

TEST_SPDX22_ARCHIVE ?= ""
ROOTFS_POSTUNINSTALL_COMMAND =+ "image_combine_spdx; "

python image_combine_spdx () {
    import os
    import shutil
    deploy = d.getVar("IMGDEPLOYDIR")
    name = d.getVar("IMAGE_NAME") + ".spdx.tar.zst"
    shutil.copyfile(d.getVar("TEST_SPDX22_ARCHIVE"), os.path.join(deploy, name))
    os.symlink(name, os.path.join(deploy, d.getVar("IMAGE_LINK_NAME") + ".spdx.tar.zst"))
}
