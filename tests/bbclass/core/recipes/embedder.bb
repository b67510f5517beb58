# SPDX-License-Identifier: Apache-2.0
SUMMARY = "Test recipe installing a container image archive (TEST_EMBED_ARCHIVE)"
LICENSE = "MIT"

TEST_EMBED_ARCHIVE ?= ""

inherit container-image-audit

do_install() {
	install -d "${D}/usr/share/container-images"
	install -m 0644 "${TEST_EMBED_ARCHIVE}" "${D}/usr/share/container-images/app.tar"
}
