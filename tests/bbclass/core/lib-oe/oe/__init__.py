# SPDX-License-Identifier: Apache-2.0
"""Test-only stand-in for OE-core's `oe` package: only `oe.qa`, enabled by TEST_OE_QA = "1"."""
