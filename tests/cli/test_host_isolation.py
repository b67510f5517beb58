# SPDX-License-Identifier: Apache-2.0
"""Links inside an image never reach the host: a marker planted in a host file must not
appear in any output, whatever link form the image uses (absolute, `..` chains, a link to
the root followed by `..`, hard links), also when syft reads the unpacked tree."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.archive_tools import docker_archive, layer_tar
from tests.conftest import run_cli

STATUS = """Package: {name}
Status: install ok installed
Priority: optional
Section: misc
Maintainer: Test <t@example.org>
Architecture: amd64
Version: 1.0-1
Description: test package
"""


def test_host_marker_never_reaches_outputs(tmp_path: Path) -> None:
    marker = f"HOSTMARKER{uuid.uuid4().hex}"
    host = tmp_path / "host" / "secret"
    host.parent.mkdir()
    host.write_text("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                    f"Files: *\nCopyright: {marker}\nLicense: {marker}\n")
    hp = str(host).lstrip("/")
    links = {
        "p-abs": ("sym", "/" + hp),
        "p-dotdot": ("sym", "../../../../../../../../../../" + hp),
        "p-rootdotdot": ("sym", "/x/toroot/../../../../" + hp),
        "p-hostdir": ("sym", str(host.parent) + "/secret"),
    }
    names = sorted(links) + ["p-image"]
    entries = [("var/lib/dpkg/status", "file", "\n".join(STATUS.format(name=n) for n in names)),
               ("x/toroot", "sym", "/"),
               ("etc/secret", "file", "Files: *\nLicense: MIT\n"),
               ("usr/share/doc/p-image/copyright", "sym", "/etc/secret")]
    for name, (kind, target) in links.items():
        entries.append((f"usr/share/doc/{name}/copyright", kind, target))
    arch = docker_archive(tmp_path / "img.tar", [layer_tar(entries)])
    out = tmp_path / "inv.json"
    r = run_cli("scan", str(arch), "--work-dir", str(tmp_path / "work"), "--keep-work",
                "-o", f"json={out}", "-o", "table")
    assert r.rc == 0, r.err
    text = out.read_text()
    assert marker not in text and marker not in r.out and marker not in r.err
    inv = json.loads(text)
    pkgs = {p["name"]: p for p in inv["images"][0]["packages"]}
    assert set(pkgs) == set(names)  # every package read, none lost to the links
    # the image's own file behind an absolute link is read (inside the root)
    assert pkgs["p-image"]["declared_license"] == "MIT"
    assert {l["value"] for l in pkgs["p-image"]["licenses"]} == {"MIT"}
    # nothing of the unpacked tree points at or copied the host file
    for p in (tmp_path / "work").rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert marker.encode() not in p.read_bytes(), p
