# SPDX-License-Identifier: Apache-2.0
"""container-audit: license and SBOM compliance for containers embedded in Linux images."""

__version__ = "0.1.0"
