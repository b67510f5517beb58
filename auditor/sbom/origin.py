# SPDX-License-Identifier: Apache-2.0
"""sbom/ stage: the words every SBOM uses for where the product and its containers were read
from, when the scan target was a disk image file (`Inventory.image_file`, `Image.stored_at`).

One place for the property names and sentences, so the standalone writers and the merges
into Yocto's SPDX 2.2 and 3.0 say the same thing. Both fields are "" for any other target;
then every function here returns "" and the outputs carry nothing about image files (they
stay byte-identical to what they were before these fields existed).
"""

from __future__ import annotations

from pathlib import PurePath

from ..model import Image, Inventory

# CycloneDX property taxonomy: `<namespace>:<name>`, lower-case namespace, no other colons
IMAGE_FILE_PROPERTY = "container-audit:image-file"
STORED_AT_PROPERTY = "container-audit:stored-at"


def image_file_sentence(inv: Inventory) -> str:
    """`Read from the disk image file disk.wic: gpt, ext4, rootfs on partition 2 (…).`"""
    return f"Read from the disk image file {inv.image_file}." if inv.image_file else ""


def stored_at_sentence(inv: Inventory, img: Image) -> str:
    """`Stored in disk.wic at partition 2: /var/lib/docker.`

    `image_file` starts with the file's name, which is the target's (`scan` describes the
    file it was given); the name is taken from the target rather than parsed out of that text.
    """
    if not img.stored_at:
        return ""
    where = f"the disk image file {PurePath(inv.target).name}" if inv.image_file else \
        "the disk image file"
    return f"Stored in {where} at {img.stored_at}."


__all__ = ["IMAGE_FILE_PROPERTY", "STORED_AT_PROPERTY", "image_file_sentence",
           "stored_at_sentence"]
