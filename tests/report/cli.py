# SPDX-License-Identifier: Apache-2.0
"""`python -m tests.report.cli ARGS`: the real `container-audit` entry point, with the
`report` and `diff` commands added when `auditor/cli/main.py` does not register them yet.

Once main.py registers them this adds nothing (`setdefault`), and the tests can call
`tests.conftest.run_cli` directly.
"""

from __future__ import annotations

from auditor.cli import main as entry
from auditor.cli import report

_register = entry._register


def _with_report() -> None:
    _register()
    entry.cli.commands.setdefault("report", report.report)
    entry.cli.commands.setdefault("diff", report.diff)


entry._register = _with_report

if __name__ == "__main__":
    entry.main()
