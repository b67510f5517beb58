# SPDX-License-Identifier: Apache-2.0
"""Producers of image stores for root filesystems (the `container-audit store` commands).

Not an audit stage: these modules *make* what the discovery stage later reads
(`sources/docker_store.py`), so a build and its audit agree on one layout.
"""
