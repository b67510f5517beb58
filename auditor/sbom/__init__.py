# SPDX-License-Identifier: Apache-2.0
"""SBOM stage: merge into Yocto SPDX 2.2/3.0, standalone SPDX 2.3/3.0 and CycloneDX writers."""
