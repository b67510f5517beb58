# SPDX-License-Identifier: Apache-2.0
"""CLI: thin click commands over the library; main.py maps outcomes to exit codes."""
