# SPDX-License-Identifier: Apache-2.0
"""Inventory stage: syft runner, syft-json → packages, the inventory JSON format."""
