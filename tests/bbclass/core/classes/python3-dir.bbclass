# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's python3-dir.bbclass (our own code): the native Python's
# version. Here the "native" python is the base interpreter of the harness (see
# python3native.bbclass), so PYTHON_BASEVERSION is its version.

def harness_python_version(d):
    import sys
    return "%d.%d" % sys.version_info[:2]

PYTHON_BASEVERSION ?= "${@harness_python_version(d)}"
PYTHON_DIR = "python${PYTHON_BASEVERSION}"
