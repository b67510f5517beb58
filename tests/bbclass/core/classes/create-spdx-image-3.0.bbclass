# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's SPDX 3.0 image class (our own code): the task name,
# directories and sstate staging OE uses, writing a small SPDX 3.0.1 image SBOM with the
# shape container-audit merges into (SpdxDocument -> software_Sbom -> rootfs package).

SPDXDIR ?= "${WORKDIR}/spdx/3.0.1"
SPDXIMAGEDEPLOYDIR = "${SPDXDIR}/image-deploy"

python do_create_image_sbom_spdx () {
    import json
    import os
    ns = "http://spdx.org/spdxdocs/%s-00000000-0000-5000-8000-000000000000" % d.getVar("PN")
    name = d.getVar("IMAGE_NAME")
    info = "_:CreationInfo0"
    graph = [
        {"type": "CreationInfo", "@id": info, "created": "2025-01-01T00:00:00Z",
         "createdBy": [ns + "/agent/OpenEmbedded"], "specVersion": "3.0.1"},
        {"type": "Organization", "spdxId": ns + "/agent/OpenEmbedded",
         "creationInfo": info, "name": "OpenEmbedded"},
        {"type": "SpdxDocument", "spdxId": ns + "/document/" + name, "creationInfo": info,
         "name": name, "profileConformance": ["build", "core", "simpleLicensing", "software"],
         "rootElement": [ns + "/sbom/" + name]},
        {"type": "software_Sbom", "spdxId": ns + "/sbom/" + name, "creationInfo": info,
         "name": name, "rootElement": [ns + "/rootfs/" + d.getVar("IMAGE_BASENAME")],
         "software_sbomType": ["build"]},
        {"type": "software_Package", "spdxId": ns + "/rootfs/" + d.getVar("IMAGE_BASENAME"),
         "creationInfo": info, "name": d.getVar("IMAGE_BASENAME"),
         "software_primaryPurpose": "archive"},
    ]
    deploy = d.getVar("SPDXIMAGEDEPLOYDIR")
    with open(os.path.join(deploy, name + ".spdx.json"), "w") as f:
        json.dump({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
                   "@graph": graph}, f, indent=2)
    os.symlink(name + ".spdx.json",
               os.path.join(deploy, d.getVar("IMAGE_LINK_NAME") + ".spdx.json"))
}
addtask do_create_image_sbom_spdx after do_image_complete before do_build
SSTATETASKS += "do_create_image_sbom_spdx"
SSTATE_SKIP_CREATION:task-create-image-sbom-spdx = "1"
do_create_image_sbom_spdx[sstate-inputdirs] = "${SPDXIMAGEDEPLOYDIR}"
do_create_image_sbom_spdx[sstate-outputdirs] = "${DEPLOY_DIR_IMAGE}"
do_create_image_sbom_spdx[cleandirs] = "${SPDXIMAGEDEPLOYDIR}"
