# SPDX-License-Identifier: Apache-2.0
# Test-only stand-in for OE-core's python3native.bbclass (our own code): PYTHON, the
# interpreter tasks run Python tools with. OE builds python3-native; here it is the base
# interpreter of the harness's venv (sys._base_executable), which sees none of the venv's
# packages: what a task installs must bring its own.

inherit python3-dir

def harness_base_python(d):
    import sys
    return getattr(sys, "_base_executable", None) or sys.executable

PYTHON ?= "${@harness_base_python(d)}"
