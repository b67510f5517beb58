# SPDX-License-Identifier: Apache-2.0
"""Stand-in for prserv.serv: imported by bb.cooker; no PR service in the test harness."""


class PRServiceConfigError(Exception):
    pass


def auto_start(_d):
    return None


def auto_shutdown():
    return None
