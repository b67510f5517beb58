# SPDX-License-Identifier: Apache-2.0
"""One exception hierarchy for the whole library; cli/main.py maps it to exit codes.

Every stage raises one of these with a one-sentence message that names the file (or
image, or layer) and the problem. Policy violations are values, never exceptions.
"""

from __future__ import annotations


class AuditorError(Exception):
    """Base class: the audit could not be completed (exit code 2)."""

    exit_code = 2


class InputError(AuditorError):
    """The input (rootfs, archive, store, manifest, SBOM) is malformed or unsafe."""


class UnsafeInputError(InputError):
    """The input tried to escape its root: `..`, absolute paths, escaping links, bombs."""


class DigestMismatchError(InputError):
    """A layer, blob or config does not hash to the digest its manifest promises."""


class LimitExceededError(UnsafeInputError):
    """A size, count or compression-ratio limit was exceeded (decompression bomb?)."""


class ToolError(AuditorError):
    """An external tool (syft, docker engine) failed or is missing."""


class PolicyError(AuditorError):
    """A policy or curation file is invalid."""


class SbomError(AuditorError):
    """An SBOM could not be read, merged or written."""
