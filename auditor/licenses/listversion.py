# SPDX-License-Identifier: Apache-2.0
"""Licenses stage: which SPDX license list version our normalisation is built on.

Light on purpose (no license-expression import, no licensing index built): the scan
pipeline needs the version for its cache key and tool list even when every image comes
from the cache.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path


def _read_list_version() -> str:
    # license-expression ships the scancode index with an ABOUT file naming the SPDX list
    # version it was built from; there is no API for it.
    try:
        spec = importlib.util.find_spec("license_expression")
        assert spec is not None and spec.origin is not None
        about = Path(spec.origin).with_name("data") / "license_key_index.json.ABOUT"
        match = re.search(r"^spdx_license_list_version:\s*(\S+)", about.read_text("utf-8"),
                          re.MULTILINE)
        return match.group(1) if match else "unknown"
    except Exception:  # noqa: BLE001 - a missing data file must not break the import
        return "unknown"


LICENSE_LIST_VERSION: str = _read_list_version()
