# SPDX-License-Identifier: Apache-2.0
"""Test-only stand-in for OE-core's oe.qa (our own code, written from its documented
behaviour): a QA key in ERROR_QA is an error that fails the task at exit_if_errors(), one
in WARN_QA a warning, any other a note."""

import bb


def handle_error(error_class, error_msg, d):
    text = f"QA Issue: {error_msg} [{error_class}]"
    if error_class in (d.getVar("ERROR_QA") or "").split():
        bb.error(text)
        d.setVar("QA_ERRORS_FOUND", "True")
        return False
    if error_class in (d.getVar("WARN_QA") or "").split():
        bb.warn(text)
    else:
        bb.note(text)
    return True


def exit_if_errors(d):
    if bb.utils.to_boolean(d.getVar("QA_ERRORS_FOUND"), False):
        bb.fatal("Fatal QA errors were found, failing task.")
