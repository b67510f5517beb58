# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's native.bbclass (our own code): a native recipe installs
# below its native sysroot path, so ${D}${bindir} is ${D}<sysroot>/usr/bin as in OE. The
# harness builds one recipe, so the sysroot itself is never populated.

STAGING_DIR_NATIVE = "${WORKDIR}/recipe-sysroot-native"
prefix_native = "/usr"
prefix = "${STAGING_DIR_NATIVE}${prefix_native}"
exec_prefix = "${prefix}"
bindir = "${prefix}/bin"
libdir = "${prefix}/lib"
datadir = "${prefix}/share"
STAGING_BINDIR_NATIVE = "${bindir}"
