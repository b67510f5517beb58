# SPDX-License-Identifier: Apache-2.0
"""Every YAML example in docs/policy.md is a valid policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.policy import parse_policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_example_loads(block):
    parse_policy(block, "docs/policy.md")
