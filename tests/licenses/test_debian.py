# SPDX-License-Identifier: Apache-2.0
"""licenses/ stage: `parse_copyright` on small hand-made inputs and on real copyright files.

The hand-made inputs cover the shapes (empty, malformed, not UTF-8, no `Files: *`); the real
files of the shared corpus pin what the auditor says about actual Debian packages.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from auditor.licenses.debian import DebianCopyright, parse_copyright
from auditor.licenses.normalize import is_valid
from auditor.model import NOASSERTION
from tests.licenses.conftest import require

DEP5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"


def dep5(*paragraphs: str) -> bytes:
    return "\n".join([DEP5, *paragraphs]).encode()


# --------------------------------------------------------------------------- shapes

def test_empty_file() -> None:
    for data in (b"", b"  \n\n\t\n"):
        result = parse_copyright(data)
        assert result.format == "empty"
        assert result.declared.expression is NOASSERTION
        assert result.other == ()


def test_files_star_is_declared_and_the_rest_is_other() -> None:
    result = parse_copyright(dep5(
        "Files: *\nCopyright: 2020 A\nLicense: GPL-2+\n text\n",
        "Files: lib/*.c\n       lib/*.h\nCopyright: 2020 B\nLicense: LGPL-2.1+ or BSD-3-clause\n",
        "License: GPL-2+\n The text of the license, not a file.\n",
    ))
    assert result.format == "dep5"
    assert result.declared.expression == "GPL-2.0-or-later"
    assert result.declared.raw == "GPL-2+"
    assert [(f, n.expression) for f, n in result.other] == [
        (("lib/*.c", "lib/*.h"), "LGPL-2.1-or-later OR BSD-3-Clause")]
    assert result.problems == ()


def test_last_files_star_paragraph_wins() -> None:
    result = parse_copyright(dep5("Files: *\nCopyright: A\nLicense: MIT\n",
                                  "Files: * debian/*\nCopyright: B\nLicense: ISC\n"))
    assert result.declared.expression == "ISC"
    assert [n.expression for _, n in result.other] == ["MIT"]
    assert result.problems


def test_without_files_star_the_header_license_is_declared() -> None:
    result = parse_copyright(
        (DEP5 + "License: BSD-3\n\nFiles: a.c\nCopyright: A\nLicense: BSD-3\n").encode())
    assert result.declared.expression == "BSD-3-Clause"
    assert "header" in result.problems[0]


def test_without_files_star_nor_header_the_paragraphs_are_anded() -> None:
    result = parse_copyright(dep5("Files: debian/*\nCopyright: A\nLicense: GPL-2+\n",
                                  "Files: certdata.txt\nCopyright: B\nLicense: MPL-2.0\n",
                                  "Files: more/*\nCopyright: C\nLicense: GPL-2+\n"))
    assert result.declared.expression == "GPL-2.0-or-later AND MPL-2.0"
    assert len(result.other) == 3
    assert "AND of all paragraphs" in result.problems[0]


def test_empty_license_synopsis() -> None:
    result = parse_copyright(dep5("Files: *\nCopyright: A\nLicense:\n Some text only.\n"))
    assert result.declared.expression is NOASSERTION
    assert result.declared.method == "empty"
    assert any("empty License" in p for p in result.problems)


def test_malformed_dep5_is_read_leniently() -> None:
    # python-debian refuses a Files paragraph without Copyright when strict; a duplicated
    # field and a continuation line before any field are worse
    data = dep5("Files: *\nLicense: Expat\nLicense: Expat\n", " stray continuation\n",
                "Files: x\n y\nLicense: Zlib")
    result = parse_copyright(data)
    assert result.format == "dep5"
    assert result.declared.expression == "MIT"
    assert [(f, n.expression) for f, n in result.other] == [(("x", "y"), "Zlib")]
    assert "read leniently" in result.problems[0]


def test_dep5_layout_without_format_header() -> None:
    result = parse_copyright(b"Files: src/*\nCopyright: A\nLicense: MPL-1.1 or GPL-2\n\n"
                             b"License: MPL-1.1\n [text]\n")
    assert result.format == "dep5"
    assert result.declared.expression == "MPL-1.1 OR GPL-2.0-only"
    assert "without a Format: header" in result.problems[0]


def test_not_utf8() -> None:
    result = parse_copyright(DEP5.encode() + b"\nFiles: *\nCopyright: 2001 J\xf6rg\nLicense: ISC\n")
    assert result.declared.expression == "ISC"
    assert "not UTF-8; read as Latin-1" in result.problems


def test_free_text_common_licenses_with_or_later() -> None:
    text = (b"This program is free software; you can redistribute it under the terms of the\n"
            b"GNU General Public License as published by the Free Software Foundation;\n"
            b"either version 2 of the License, or (at your option) any later version.\n\n"
            b"On Debian systems the full text is in `/usr/share/common-licenses/GPL'.\n")
    result = parse_copyright(text)
    assert result.format == "free-text"
    assert result.declared.expression == "GPL-2.0-or-later"
    assert result.declared.raw == "/usr/share/common-licenses/GPL"


def test_free_text_unversioned_reference_is_not_guessed() -> None:
    result = parse_copyright(b"Distributed under the GPL, see /usr/share/common-licenses/GPL.\n")
    assert result.declared.expression is NOASSERTION
    assert any("without a version" in p for p in result.problems)


def test_free_text_falls_back_to_the_hint() -> None:
    text = b"This package is in the public domain.\n"
    assert parse_copyright(text).declared.expression is NOASSERTION
    result = parse_copyright(text, common_licenses_hint=["public-domain", "The"])
    assert result.declared.expression == "LicenseRef-public-domain"
    assert any("cataloguer" in p for p in result.problems)


@pytest.mark.parametrize("data", [
    b"\x00\xff\xfe" * 1000, b"Format: x\n\n\n\x00", b"Format:\nFiles: *\nLicense: (((\n",
    DEP5.encode() * 50, b"License:" * 5000, "Files: *\nLicense: \u2603\n".encode(),
])
def test_never_raises(data: bytes) -> None:
    result = parse_copyright(data, common_licenses_hint=iter(["MIT"]))
    assert isinstance(result, DebianCopyright)
    for norm in (result.declared, *(n for _, n in result.other)):
        assert norm.expression is NOASSERTION or is_valid(norm.expression)


def test_debian_copyright_is_a_frozen_value() -> None:
    result = parse_copyright(b"")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.format = "dep5"  # type: ignore[misc]


# --------------------------------------------------------------------------- real files

SLIM = "debian/aboutcode-org+scancode-toolkit/debian-slim-2021-04-07/usr/share/doc"
BUSTER = "debian/aboutcode-org+scancode-toolkit/debian-2019-11-15"
NGINX = "debian/jasonwsuk+viking_nginx/usr/share/doc"
SYFT = "debian/anchore+syft/copyright"

# (path under package-dbs, format, declared expression, number of other paragraphs)
REAL = [
    (f"{SLIM}/libnettle8/copyright", "dep5", "LGPL-3.0-or-later OR GPL-2.0-or-later", 66),
    (f"{SLIM}/perl-base/copyright", "dep5", "GPL-1.0-or-later OR Artistic-1.0-Perl", 199),
    (f"{BUSTER}/main/x/xymon/stable_copyright", "dep5",
     "LicenseRef-GPL-2-with-OpenSSL-exception", 9),
    (f"{BUSTER}/main/c/cryptsetup/stable_copyright", "dep5",
     "LicenseRef-GPL-2-plus-with-OpenSSL-exception", 14),
    (f"{NGINX}/ca-certificates/copyright", "dep5", "GPL-2.0-or-later AND MPL-2.0", 2),
    (f"{BUSTER}/main/d/dma/stable_copyright", "dep5", "BSD-3-Clause", 7),
    (f"{BUSTER}/non-free/mongodb-org/copyright", "free-text", NOASSERTION, 0),
    (f"{BUSTER}/main/a/asterisk/stable_copyright", "dep5", "LicenseRef-GPL-2-Asterisk", 35),
    (f"{BUSTER}/main/m/mariadb-10.3/stable_copyright", "dep5", "GPL-2.0-only", 79),
    (f"{BUSTER}/main/s/sendmail/stable_copyright", "dep5", "LicenseRef-other-Sendmail", 1),
    (f"{NGINX}/libudev1/copyright", "dep5", "LGPL-2.1-or-later", 8),
    (f"{SYFT}/trilicense", "dep5", "MPL-1.1 OR GPL-2.0-only OR LGPL-2.1-only", 1),
    (f"{SLIM}/libc6/copyright", "free-text", "GPL-2.0-or-later AND LGPL-2.1-or-later", 0),
    (f"{NGINX}/hostname/copyright", "free-text", "GPL-2.0-only", 0),
    (f"{NGINX}/bash/copyright", "free-text", "GPL-3.0-or-later", 0),
    (f"{NGINX}/libgcrypt20/copyright", "free-text", "GPL-2.0-only AND LGPL-2.1-or-later", 0),
    (f"{NGINX}/e2fsprogs/copyright", "free-text", "GPL-2.0-only AND LGPL-2.0-only", 0),
    (f"{BUSTER}/main/t/tzdata/stable_copyright", "free-text", NOASSERTION, 0),
    (f"{NGINX}/nginx/copyright", "free-text", NOASSERTION, 0),
    (f"{SYFT}/cuda", "free-text", NOASSERTION, 0),
]


@pytest.mark.parametrize(("rel", "fmt", "declared", "others"), REAL,
                         ids=[r.split("/", 2)[-1][-50:] for r, *_ in REAL])
def test_real_copyright(package_dbs: Path, rel: str, fmt: str, declared: object,
                        others: int) -> None:
    result = parse_copyright(require(package_dbs / rel).read_bytes())
    assert result.format == fmt
    assert result.declared.expression == declared
    assert len(result.other) == others


def test_real_other_paragraphs(package_dbs: Path) -> None:
    perl = parse_copyright(require(package_dbs / f"{SLIM}/perl-base/copyright").read_bytes())
    other = dict(perl.other)
    assert other[("regcomp.c", "regexec.c")].expression \
        == "LicenseRef-REGCOMP AND (GPL-1.0-or-later OR Artistic-1.0-Perl)"
    assert other[("regcomp.c", "regexec.c")].unmapped == ("REGCOMP",)

    udev = dict(parse_copyright(require(package_dbs / f"{NGINX}/libudev1/copyright")
                                .read_bytes()).other)
    assert udev[("src/shared/linux/*", "src/basic/linux/*")].expression \
        == "GPL-2.0-only WITH Linux-syscall-note"

    crypt = dict(parse_copyright(require(package_dbs / f"{BUSTER}/main/c/cryptsetup/"
                                         "stable_copyright").read_bytes()).other)
    assert crypt[("lib/crypto_backend/crypto_openssl.c",)].unmapped \
        == ("LGPL-2.1+ with OpenSSL exception",)
    assert crypt[("lib/crypto_backend/argon2/*",)].expression == "CC0-1.0 OR Apache-2.0"


def test_real_no_files_star(package_dbs: Path) -> None:
    ca = parse_copyright(require(package_dbs / f"{NGINX}/ca-certificates/copyright").read_bytes())
    assert [f for f, _ in ca.other] == [
        ("debian/*", "examples/*", "Makefile", "mozilla/*", "sbin/*"),
        ("mozilla/certdata.txt", "mozilla/nssckbi.h")]
    assert "no 'Files: *' paragraph" in ca.problems[0]
    firmware = parse_copyright(require(
        package_dbs / f"{BUSTER}/non-free/f/firmware-nonfree/"
        "stable_firmware-misc-nonfree.copyright").read_bytes())
    assert "LicenseRef-Binary-redistribution-Intel-narrower-patent-license" \
        in str(firmware.declared.expression)
    assert "Binary redistribution (Intel, narrower patent license)" in firmware.declared.unmapped


def test_real_free_text_with_hint(package_dbs: Path) -> None:
    tz = require(package_dbs / f"{BUSTER}/main/t/tzdata/stable_copyright").read_bytes()
    result = parse_copyright(tz, common_licenses_hint=["public-domain"])
    assert result.declared.expression == "LicenseRef-public-domain"


def test_parses_are_remembered_by_content_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images on one base share copyright files: a text is parsed once, the memory of
    parses is bounded, and the hints are part of what is remembered."""
    from auditor.licenses import debian

    monkeypatch.setattr(debian, "_MEMO", type(debian._MEMO)())
    monkeypatch.setattr(debian, "_MEMO_SIZE", 2)
    texts = [f"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
             f"Files: *\nCopyright: {n}\nLicense: MIT\n".encode() for n in range(3)]
    first = parse_copyright(texts[0])
    assert parse_copyright(bytes(bytearray(texts[0]))) is first  # equal bytes, another object
    assert parse_copyright(bytearray(texts[0])) is first
    assert first == debian._parse(texts[0], ())  # what a fresh parse gives
    assert parse_copyright(texts[0], common_licenses_hint=["GPL-2"]) is not first
    for t in texts:
        parse_copyright(t)
    assert len(debian._MEMO) == 2
