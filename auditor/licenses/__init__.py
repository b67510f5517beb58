# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage: raw license statements (Debian, Yocto/OE, rpm, apk) → SPDX expressions.

`normalize` turns one raw value into a `Normalized` (SPDX expression plus what could not be
mapped and what looked wrong); `debian.parse_copyright` reads a `/usr/share/doc/*/copyright`
file (DEP-5 or free text) into declared and per-file licenses.
"""
