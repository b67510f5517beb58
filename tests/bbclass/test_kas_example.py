# SPDX-License-Identifier: Apache-2.0
"""docs/kas/container-audit.yml: valid against the JSON schema kas ships (and a file format
version kas 4.0 reads), its repos point at this layer, and its local.conf lines parse
under the real BitBake and switch the audit on with the policy they name."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.bbclass.harness import LAYER, REPO, Build
from tests.conftest import IN_CI

KAS_FILE = REPO / "docs" / "kas" / "container-audit.yml"
KAS_4_FORMAT = 14  # kas 4.0's file format version (its format-changelog)


def _kas() -> tuple[dict[str, Any], int]:
    """(kas's JSON schema, the newest file format version of the installed kas)."""
    try:
        import kas
        schema = (importlib.resources.files("kas") / "schema-kas.json").read_text()
    except ImportError:
        msg = "kas is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return json.loads(schema), int(kas.__file_version__)


def config() -> dict[str, Any]:
    doc = yaml.safe_load(KAS_FILE.read_text())
    assert isinstance(doc, dict)
    return doc


def test_kas_file_is_valid_for_kas_4_and_later() -> None:
    import jsonschema

    schema, newest = _kas()
    doc = config()
    jsonschema.validate(doc, schema)
    assert doc["header"]["version"] == KAS_4_FORMAT <= newest


def test_kas_repos_are_poky_and_this_layer() -> None:
    repos = config()["repos"]
    assert set(repos) == {"container-audit", "poky"}
    here = repos["container-audit"]
    # no url or path: kas takes the repository holding the file, i.e. this checkout
    assert "url" not in here and "path" not in here
    assert list(here["layers"]) == ["bbclass"]
    assert (REPO / "bbclass" / "conf" / "layer.conf").is_file()
    assert KAS_FILE.is_relative_to(REPO)
    poky = repos["poky"]
    assert poky["url"].startswith("https://") and poky["branch"] == "scarthgap"
    assert set(poky["layers"]) == {"meta", "meta-poky"}
    assert config()["distro"] == "poky" and config()["machine"]


def test_kas_local_conf_parses_and_enables_the_audit(tmp_path: Path, bitbake: str) -> None:
    """The local_conf_header lines, as kas writes them into local.conf, under BitBake."""
    lines: list[str] = []
    for text in config()["local_conf_header"].values():
        lines += text.splitlines()
    (tmp_path / "rootfs").mkdir()
    build = Build(tmp_path / "build", conf=[
        f'TEST_ROOTFS_SOURCE = "{tmp_path / "rootfs"}"', *lines])
    r = build.run(hashes_only=True, dump=(
        "IMAGE_CLASSES", "CONTAINER_AUDIT_POLICY", "CONTAINER_AUDIT_FAIL_ON",
        "CONTAINER_AUDIT_INCOMPATIBLE_LICENSE", "CONTAINER_AUDIT_BIN",
        "CONTAINER_AUDIT_DEPENDS", "ERROR_QA"))
    assert r.data["parsed"], str(r)
    dump = r.data["dump"]
    assert "container-audit" in dump["IMAGE_CLASSES"].split()
    assert "do_container_audit" in r.data["order"]
    policy = dump["CONTAINER_AUDIT_POLICY"]
    assert (LAYER / "policies" / f"{policy}.yaml").is_file(), policy
    assert dump["CONTAINER_AUDIT_FAIL_ON"] == "error"
    assert dump["CONTAINER_AUDIT_INCOMPATIBLE_LICENSE"] == "AGPL-3.0*"
    # native mode: the audit depends on the layer's container-audit-native
    assert not dump["CONTAINER_AUDIT_BIN"]
    assert dump["CONTAINER_AUDIT_DEPENDS"] == "container-audit-native:do_populate_sysroot"
    assert "container-license" in dump["ERROR_QA"].split()
