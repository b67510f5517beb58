# SPDX-License-Identifier: Apache-2.0
#
# container-image-audit: for recipes that install container images (docker/podman
# archives, OCI layouts, stores). do_container_image_audit runs `container-audit check ${D}`
# after do_install, so a violation fails this recipe before it is packaged, instead of
# failing every image that installs it. Same variables and QA key (container-license) as
# container-audit.bbclass; the verdicts and report stay in ${CONTAINER_AUDIT_DIR}.
#
#   inherit container-image-audit
#   CONTAINER_AUDIT_POLICY = "gplv3-free"

inherit container-audit-common

python do_container_image_audit () {
    container_audit_recipe(d)
}
addtask container_image_audit after do_install before do_package do_populate_sysroot
do_container_image_audit[doc] = "Audits the licenses of the container images this recipe installs into D"
do_container_image_audit[dirs] = "${CONTAINER_AUDIT_DIR}"
do_container_image_audit[cleandirs] = "${CONTAINER_AUDIT_DIR} ${CONTAINER_AUDIT_WORKDIR}"
do_container_image_audit[depends] += "${CONTAINER_AUDIT_DEPENDS}"
do_container_image_audit[vardeps] += "${CONTAINER_AUDIT_VARDEPS}"
do_container_image_audit[file-checksums] += "${@container_audit_file_checksums(d)}"

def container_audit_recipe(d):
    import os
    subject = d.getVar("PN")
    if bb.utils.to_boolean(d.getVar("CONTAINER_AUDIT_SKIP")):
        bb.note("%s: container-audit skipped (CONTAINER_AUDIT_SKIP)" % subject)
        return
    outdir = d.getVar("CONTAINER_AUDIT_DIR")
    argv = [container_audit_tool(d, subject), "check", d.getVar("D"),
            "-o", "json=" + os.path.join(outdir, "container-audit.verdicts.json"),
            "-o", "table=" + os.path.join(outdir, "container-audit.txt"),
            "--work-dir", d.getVar("CONTAINER_AUDIT_WORKDIR")]
    proc = container_audit_run(d, argv + container_audit_policy_args(d, subject))
    container_audit_report(d, subject, proc, outdir)
