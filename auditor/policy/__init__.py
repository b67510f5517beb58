# SPDX-License-Identifier: Apache-2.0
"""Policy stage: policy files and BitBake license variables, and the pure evaluator.

`load_policy` / `policy_from_yocto` / `merge_yocto` build a `Policy`; `evaluate` judges an
`Inventory` with it and returns `Verdicts` (sorted `Finding`s and concluded licenses);
`apply_concluded` writes the concluded licenses back into the inventory.
"""

from __future__ import annotations

from .evaluate import Verdicts, apply_concluded, evaluate, package_key
from .loader import load_policy, merge_yocto, parse_policy, policy_from_yocto
from .schema import LicenseException, Policy, Rule, Scope, Waiver

__all__ = ["LicenseException", "Policy", "Rule", "Scope", "Verdicts", "Waiver",
           "apply_concluded", "evaluate", "load_policy", "merge_yocto", "package_key",
           "parse_policy", "policy_from_yocto"]
