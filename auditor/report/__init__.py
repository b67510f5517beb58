# SPDX-License-Identifier: Apache-2.0
"""Report stage: renderers from model values to text (no I/O, no click)."""
