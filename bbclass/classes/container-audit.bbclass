# SPDX-License-Identifier: Apache-2.0
#
# container-audit: audit the container images embedded in an image's root filesystem.
#
#   IMAGE_CLASSES += "container-audit"      (or INHERIT += "container-audit", or
#   CONTAINER_AUDIT_POLICY = "gplv3-free"     `inherit container-audit` in an image recipe)
#
# do_container_audit runs `container-audit audit ${IMAGE_ROOTFS}` after do_rootfs (so every
# ROOTFS_POSTPROCESS/POSTUNINSTALL command that drops images into the rootfs has run) and
# before do_image and do_create_image_sbom_spdx. Its results are deployed next to the image
# as ${IMAGE_NAME}.container-audit.* with ${IMAGE_LINK_NAME}.container-audit.* links,
# through sstate, so an image built from a cached rootfs keeps its audit. Violations fail
# the build through the container-license QA key. When OE writes an image SBOM, the
# containers are merged into it: SPDX 3.0 in a postfunc of do_create_image_sbom_spdx,
# SPDX 2.2 in a postfunc of do_image_complete, both before sstate stages the file.

inherit container-audit-common

CONTAINER_AUDIT_DEPLOYDIR ??= "${WORKDIR}/deploy-container-audit"
CONTAINER_AUDIT_DEPLOYDIR[doc] = "Staging directory of do_container_audit, deployed to DEPLOY_DIR_IMAGE by sstate."

CONTAINER_AUDIT_MERGE_SBOM ??= "1"
CONTAINER_AUDIT_MERGE_SBOM[doc] = "1: merge the containers into the image SBOM OE writes (SPDX 3.0 or 2.2; nothing happens when SPDX generation is off). 0: leave OE's SBOM alone (the standalone SBOMs are deployed anyway)."

# INHERIT (local.conf, a distro) brings the class to every recipe: only images keep the task.
# nooelint: oelint.task.noanonpython
python () {
    if not bb.data.inherits_class("image", d):
        bb.build.deltask("do_container_audit", d)
        bb.build.deltask("do_container_audit_setscene", d)
        d.setVar("SSTATETASKS", " ".join(t for t in (d.getVar("SSTATETASKS") or "").split()
                                         if t != "do_container_audit"))
}

python do_container_audit () {
    container_audit_image(d)
}
addtask container_audit after do_rootfs before do_image do_create_image_sbom_spdx
do_container_audit[doc] = "Audits the licenses of the container images embedded in IMAGE_ROOTFS"
do_container_audit[dirs] = "${CONTAINER_AUDIT_DIR}"
do_container_audit[cleandirs] = "${CONTAINER_AUDIT_DIR} ${CONTAINER_AUDIT_WORKDIR} ${CONTAINER_AUDIT_DEPLOYDIR}"
do_container_audit[depends] += "${CONTAINER_AUDIT_DEPENDS}"
do_container_audit[vardeps] += "${CONTAINER_AUDIT_VARDEPS}"
do_container_audit[file-checksums] += "${@container_audit_file_checksums(d)}"
do_container_audit[stamp-extra-info] = "${MACHINE_ARCH}"

SSTATETASKS += "do_container_audit"
do_container_audit[sstate-inputdirs] = "${CONTAINER_AUDIT_DEPLOYDIR}"
do_container_audit[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"

python do_container_audit_setscene () {
    sstate_setscene(d)
}
addtask do_container_audit_setscene
do_container_audit_setscene[doc] = "Restores the deployed container audit from sstate"

python container_audit_merge_spdx3 () {
    container_audit_merge(d, d.expand("${SPDXIMAGEDEPLOYDIR}/${IMAGE_NAME}.spdx.json"))
}
container_audit_merge_spdx3[doc] = "Postfunc of do_create_image_sbom_spdx: merges the containers into the SPDX 3.0 image SBOM before sstate stages it"
do_create_image_sbom_spdx[postfuncs] += "container_audit_merge_spdx3"
do_create_image_sbom_spdx[depends] += "${CONTAINER_AUDIT_DEPENDS}"

python container_audit_merge_spdx22 () {
    import os
    kirkstone = d.expand("${IMGDEPLOYDIR}/${IMAGE_NAME}.spdx.json")
    sbom = kirkstone if os.path.exists(kirkstone) else d.expand("${IMGDEPLOYDIR}/${IMAGE_NAME}.spdx.tar.zst")
    container_audit_merge(d, sbom)
}
container_audit_merge_spdx22[doc] = "Postfunc of do_image_complete: merges the containers into the SPDX 2.2 image SBOM (kirkstone .spdx.json, later .spdx.tar.zst) before sstate stages it"
do_image_complete[postfuncs] += "container_audit_merge_spdx22"
do_image_complete[depends] += "${CONTAINER_AUDIT_DEPENDS}"

def container_audit_image(d):
    subject = d.getVar("IMAGE_BASENAME") or d.getVar("PN")
    if bb.utils.to_boolean(d.getVar("CONTAINER_AUDIT_SKIP")):
        bb.note("%s: container-audit skipped (CONTAINER_AUDIT_SKIP)" % subject)
        return
    outdir = d.getVar("CONTAINER_AUDIT_DIR")
    argv = [container_audit_tool(d, subject), "audit", d.getVar("IMAGE_ROOTFS"),
            "--output-dir", outdir, "--work-dir", d.getVar("CONTAINER_AUDIT_WORKDIR")]
    proc = container_audit_run(d, argv + container_audit_policy_args(d, subject))
    container_audit_stage(d, outdir, d.getVar("CONTAINER_AUDIT_DEPLOYDIR"))
    container_audit_report(d, subject, proc, outdir)

def container_audit_stage(d, outdir, deploydir):
    """${IMAGE_NAME}.<result file>, and ${IMAGE_LINK_NAME}.<result file> links to them."""
    import os
    import shutil
    name, link = d.getVar("IMAGE_NAME"), d.getVar("IMAGE_LINK_NAME")
    for result in sorted(os.listdir(outdir)):
        if not os.path.isfile(os.path.join(outdir, result)):
            continue
        target = "%s.%s" % (name, result)
        shutil.copyfile(os.path.join(outdir, result), os.path.join(deploydir, target))
        if link and link != name:
            os.symlink(target, os.path.join(deploydir, "%s.%s" % (link, result)))

def container_audit_results(d):
    """Inventory and verdicts of this image: from do_container_audit's own output, else (the
    audit came from sstate) from the deployed copies."""
    import os
    found = []
    for result in ("container-audit.inventory.json", "container-audit.verdicts.json"):
        paths = [os.path.join(d.getVar("CONTAINER_AUDIT_DIR"), result),
                 d.expand("${DEPLOY_DIR_IMAGE}/${IMAGE_LINK_NAME}.") + result,
                 d.expand("${DEPLOY_DIR_IMAGE}/${IMAGE_NAME}.") + result]
        path = next((p for p in paths if os.path.isfile(p)), None)
        if not path:
            bb.fatal("%s: cannot merge the containers into the image SBOM: no %s (looked at %s)"
                     % (d.getVar("PN"), result, ", ".join(paths)))
        found.append(path)
    return found

def container_audit_merge(d, sbom):
    """Merge the audited containers into OE's image SBOM, in place, before sstate stages it."""
    import os
    if bb.utils.to_boolean(d.getVar("CONTAINER_AUDIT_SKIP")) or \
            not bb.utils.to_boolean(d.getVar("CONTAINER_AUDIT_MERGE_SBOM")):
        return
    if not os.path.exists(sbom):
        bb.debug(1, "container-audit: no image SBOM %s, nothing to merge" % sbom)
        return
    subject = d.getVar("IMAGE_BASENAME") or d.getVar("PN")
    inventory, verdicts = container_audit_results(d)
    proc = container_audit_run(d, [container_audit_tool(d, subject), "merge", "--sbom", sbom,
                                   "--inventory", inventory, "--verdicts", verdicts])
    if proc.returncode != 0:
        bb.fatal("%s: could not merge the containers into %s (container-audit exit %d): %s"
                 % (subject, sbom, proc.returncode, (proc.stderr or "").strip()[-2000:]))
