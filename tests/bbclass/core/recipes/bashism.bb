# SPDX-License-Identifier: Apache-2.0
# Must FAIL: a bashism in a shell task. Tasks run under /bin/sh (dash) with `set -e`, so
# `[[` is "not found" (status 127) and the task fails; proves the harness would catch a
# bashism in our classes.
SUMMARY = "Negative fixture: bash-only syntax in a shell task"
LICENSE = "MIT"

do_install() {
	[[ "${PN}" == bashism ]]
	echo "only bash gets here"
}
