# SPDX-License-Identifier: Apache-2.0
"""Stand-in for hashserv.client: imported by bb.siggen, never used (BB_HASHSERVE = "")."""
