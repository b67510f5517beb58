# SPDX-License-Identifier: Apache-2.0
"""Stand-in for BitBake's prserv package (not in the bitbake-setup wheel): import only."""
