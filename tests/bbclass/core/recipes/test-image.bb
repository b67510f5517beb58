# SPDX-License-Identifier: Apache-2.0
SUMMARY = "Test image: a tiny rootfs embedding container images (TEST_ROOTFS_SOURCE)"
LICENSE = "MIT"

inherit image
