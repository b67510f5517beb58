# SPDX-License-Identifier: Apache-2.0
"""Name tables for the licenses/ stage: distribution license names → SPDX.

Pure data, no logic. Keys are compared case-insensitively, values are
SPDX expressions (ids on the SPDX list, `LicenseRef-…` for names we deliberately keep as our
own references). The GNU families (GPL/LGPL/AGPL/GFDL in all their spellings: `GPL-2+`,
`GPLv2+`, `GPL2+`, `GPL 2.0+`, `LGPLv2.1`, `GFDL-NIV-1.3` …) are not listed here: a pattern in
`normalize` reads them, because the spellings multiply (Debian, OE, Fedora, Alpine each have
their own) while the meaning does not.

Sources read to learn the names (tables written here, nothing copied): OE-core
`meta/conf/licenses.conf` SPDXLICENSEMAP and `oe.license.obsolete_license_list`, Debian's
copyright-format 1.0 short names and `/usr/share/common-licenses`, Fedora's legacy
abbreviations, Alpine's pre-SPDX `license=` values, SUSE's license list.
"""

from __future__ import annotations

# Curated references: names with a clear meaning but no SPDX id. They are *mapped* (not
# reported as unmapped); the policy decides what they are worth.
PUBLIC_DOMAIN = "LicenseRef-public-domain"
BSD_UNSPECIFIED = "LicenseRef-BSD"
PROPRIETARY = "LicenseRef-Proprietary"
CLOSED = "LicenseRef-CLOSED"
CUSTOM = "LicenseRef-custom"
CUSTOM_MULTIPLE = "LicenseRef-custom-multiple"

# Deprecated SPDX ids license-expression does not know as aliases, and the ids that carry an
# exception in their name: upgraded to the current form. A bare deprecated GPL id meant "only"
# (`GPL-2.0` = `GPL-2.0-only`), so the `-with-…-exception` ids get `-only` too.
DEPRECATED: dict[str, str] = {
    "GPL-2.0-with-GCC-exception": "GPL-2.0-only WITH GCC-exception-2.0",
    "GPL-3.0-with-GCC-exception": "GPL-3.0-only WITH GCC-exception-3.1",
    "GPL-2.0-with-autoconf-exception": "GPL-2.0-only WITH Autoconf-exception-2.0",
    "GPL-3.0-with-autoconf-exception": "GPL-3.0-only WITH Autoconf-exception-3.0",
    "GPL-2.0-with-bison-exception": "GPL-2.0-only WITH Bison-exception-2.2",
    "GPL-2.0-with-classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "GPL-2.0-with-font-exception": "GPL-2.0-only WITH Font-exception-2.0",
    "eCos-2.0": "GPL-2.0-or-later WITH eCos-exception-2.0",
    "wxWindows": "LGPL-2.0-or-later WITH WxWindows-exception-3.1",
    "StandardML-NJ": "SMLNJ",
    "Nunit": "zlib-acknowledgement",
    "BSD-2-Clause-FreeBSD": "BSD-2-Clause-Views",
    "BSD-2-Clause-NetBSD": "BSD-2-Clause",
    "bzip2-1.0.5": "bzip2-1.0.6",
}

# Deprecated exception ids.
DEPRECATED_EXCEPTIONS: dict[str, str] = {
    "Nokia-Qt-exception-1.1": "Qt-LGPL-exception-1.1",
}

# Everything else that is not an SPDX id (after a case-insensitive match against the list).
# One table for all flavors: no name here means different things in different distributions.
ALIASES: dict[str, str] = {
    # --- OE-core SPDXLICENSEMAP and obsolete names (the GNU ones are read by the pattern)
    "MPL-1": "MPL-1.0",
    "MPLv1": "MPL-1.0",
    "MPLv1.0": "MPL-1.0",
    "MPLv1.1": "MPL-1.1",
    "MPLv2": "MPL-2.0",
    "MPLv2.0": "MPL-2.0",
    "MPL 2.0": "MPL-2.0",
    "MIT-X": "MIT",
    "MIT-style": "MIT",
    "PSF": "PSF-2.0",
    "PSFv2": "PSF-2.0",
    "PSF-2": "PSF-2.0",
    "Python-2": "Python-2.0",
    "Apachev2": "Apache-2.0",
    "Apache-2": "Apache-2.0",
    "Apache 2": "Apache-2.0",
    "Apache 2.0": "Apache-2.0",
    "Artisticv1": "Artistic-1.0",
    "Artistic-1": "Artistic-1.0",
    "AFL-1": "AFL-1.2",
    "AFLv1": "AFL-1.2",
    "AFL-2": "AFL-2.0",
    "AFLv2": "AFL-2.0",
    "CDDLv1": "CDDL-1.0",
    "CDDL-1": "CDDL-1.0",
    "EPLv1.0": "EPL-1.0",
    "FreeType": "FTL",
    "Nauman": "Naumen",
    "BSD-0-Clause": "0BSD",
    # OE's bzip2-1.0.4 text differs from SPDX's bzip2-1.0.6 only in the version and years
    # (SPDX retired bzip2-1.0.5 for the same reason); the bare name is the same license.
    "bzip2-1.0.4": "bzip2-1.0.6",
    "bzip2": "bzip2-1.0.6",
    "PD": PUBLIC_DOMAIN,
    "Proprietary": PROPRIETARY,
    "CLOSED": CLOSED,
    "The-Qt-Company-GPL-Exception-1.0": "Qt-GPL-exception-1.0",
    "The-Qt-Company-Qt-LGPL-Exception-1.1": "Qt-LGPL-exception-1.1",
    # --- Debian copyright-format short names and common-licenses
    "Expat": "MIT",
    # Debian's /usr/share/common-licenses/Artistic is Perl's Artistic License ("Artistic
    # License 1.0 (Perl)" says base-files); Alpine and Fedora use the bare name for perl too.
    "Artistic": "Artistic-1.0-Perl",
    "Artistic-Perl": "Artistic-1.0-Perl",
    "Artistic-2": "Artistic-2.0",
    "Artistic 2.0": "Artistic-2.0",
    "Artistic clarified": "ClArtistic",
    "Perl": "GPL-1.0-or-later OR Artistic-1.0-Perl",
    "public-domain": PUBLIC_DOMAIN,
    "Public-Domain": PUBLIC_DOMAIN,
    "Public Domain": PUBLIC_DOMAIN,
    "PublicDomain": PUBLIC_DOMAIN,
    "CC0": "CC0-1.0",
    "CC0 1.0": "CC0-1.0",
    "BSD-1": "BSD-1-Clause",
    "BSD-2": "BSD-2-Clause",
    "BSD2": "BSD-2-Clause",
    "BSD-3": "BSD-3-Clause",
    "BSD3": "BSD-3-Clause",
    "BSD-4": "BSD-4-Clause",
    "BSD4": "BSD-4-Clause",
    "BSD 2-clause": "BSD-2-Clause",
    "BSD 3-clause": "BSD-3-Clause",
    "BSD 4-clause": "BSD-4-Clause",
    "BSD-0": "0BSD",
    "SIL-OFL-1.1": "OFL-1.1",
    "Zope-2.1": "ZPL-2.1",
    "Zope-2.0": "ZPL-2.0",
    "Zope-1.1": "ZPL-1.1",
    "Apache-1": "Apache-1.0",
    # --- Fedora / RHEL / CBL-Mariner legacy abbreviations
    "ASL 1.0": "Apache-1.0",
    "ASL 1.1": "Apache-1.1",
    "ASL 2.0": "Apache-2.0",
    "ASL-2.0": "Apache-2.0",
    "Boost": "BSL-1.0",
    "OpenLDAP": "OLDAP-2.8",
    "Inner-Net": "Inner-Net-2.0",
    "GNU General Public License": "GPL-1.0-or-later",
    "GNU Lesser General Public License": "LGPL-2.0-or-later",
    "GNU Library General Public License": "LGPL-2.0-or-later",
    "MIT/X11": "MIT",
    # --- Alpine pre-SPDX values
    "custom": CUSTOM,
    "custom:multiple": CUSTOM_MULTIPLE,
    # --- the one that is ambiguous everywhere: a BSD license, clause count unknown
    "BSD": BSD_UNSPECIFIED,
}

# Problems worth telling the reviewer even though the name was mapped (key as in ALIASES or
# the GNU pattern's unversioned families).
NOTES: dict[str, str] = {
    "BSD": "ambiguous 'BSD' (clause count unknown) kept as LicenseRef-BSD",
    "MIT/X11": "'MIT/X11' read as MIT (Expat)",
    "GPL": "unversioned 'GPL' read as GPL-1.0-or-later (the GPL: any version)",
    "LGPL": "unversioned 'LGPL' read as LGPL-2.0-or-later (the LGPL: any version)",
    "GFDL": "unversioned 'GFDL' read as GFDL-1.1-or-later (the GFDL: any version)",
    "GNU General Public License": "unversioned GPL read as GPL-1.0-or-later (any version)",
    "GNU Lesser General Public License": "unversioned LGPL read as LGPL-2.0-or-later (any version)",
    "GNU Library General Public License":
        "unversioned LGPL read as LGPL-2.0-or-later (any version)",
}

# Exception names as written after `with` (Debian `GPL-2+ with Libtool exception`, Fedora
# `WITH exceptions`) or inside a single token (`GPL-3+-WITH-BISON-EXCEPTION`). A dict value is
# chosen by the major version of the license it modifies. Names absent here (and not SPDX
# exception ids) are unknown: the whole `<license> with <name>` becomes a LicenseRef.
EXCEPTIONS: dict[str, str | dict[int, str]] = {
    "autoconf": {2: "Autoconf-exception-2.0", 3: "Autoconf-exception-3.0"},
    "bison": "Bison-exception-2.2",
    "gcc": {2: "GCC-exception-2.0", 3: "GCC-exception-3.1"},
    "gcc runtime library": "GCC-exception-3.1",
    "libtool": "Libtool-exception",
    "linux-syscall-note": "Linux-syscall-note",
    "linux-syscall": "Linux-syscall-note",
    "syscall": "Linux-syscall-note",
    "classpath": "Classpath-exception-2.0",
    "font": "Font-exception-2.0",
    "ecos": "eCos-exception-2.0",
    "llvm": "LLVM-exception",
    "qt-gpl": "Qt-GPL-exception-1.0",
    "qt-lgpl": "Qt-LGPL-exception-1.1",
}

# Names OE uses for exceptions that are not on the SPDX exception list: kept as LicenseRefs,
# recognised as exceptions so a `&` in front of them is reported.
NON_SPDX_EXCEPTIONS: frozenset[str] = frozenset({"elfutils-exception"})

# Vendor namespaces whose ids are well defined in the vendor's own list: `SUSE-Foo` becomes
# `LicenseRef-SUSE-Foo` and counts as mapped.
VENDOR_PREFIXES: tuple[str, ...] = ("SUSE-",)

# Words that are never a license on their own (syft splits prose and DEP-5 lines on spaces).
JUNK_WORDS: frozenset[str] = frozenset({
    "the", "a", "an", "and", "or", "with", "see", "same", "as", "under", "license", "licence",
    "licensed", "licenses", "version", "of", "is", "are", "this", "that", "by", "for", "to", "in",
    "on", "at", "be", "any", "all", "file", "files", "text", "copyright", "exception",
    "exceptions", "terms", "its", "it",
})

# First words that mark a `License:` value as prose rather than a name.
PROSE_START: frozenset[str] = frozenset({
    "the", "see", "same", "this", "that", "under", "permission", "as", "all", "please", "it",
    "these", "some", "you", "distributed", "licensed", "copyright",
})
