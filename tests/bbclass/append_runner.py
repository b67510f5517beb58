# SPDX-License-Identifier: Apache-2.0
"""runner.py with .bbappend files: what a user's layer does to a recipe of ours.

Stage: tests (BitBake harness). Usage as runner.py, plus `--append FILE` (repeatable).
BitBake's cooker finds the appends of a recipe through BBFILES; the harness builds one
recipe without a cooker, so the appends are handed to the same real parser call
(`CookerDataBuilder.parseRecipeVariants(recipe, appends)`), which applies them as
BitBake does: parsed after the recipe, before anonymous python and finalisation.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import runner


def main() -> int:
    appends: list[str] = []
    argv = [sys.argv[0]]
    args = iter(sys.argv[1:])
    for arg in args:
        if arg == "--append":
            appends.append(next(args))
        elif arg.startswith("--append="):
            appends.append(arg.split("=", 1)[1])
        else:
            argv.append(arg)
    sys.argv = argv

    import bb.cookerdata

    parse = bb.cookerdata.CookerDataBuilder.parseRecipeVariants

    def with_appends(self: Any, bbfile: str, given: list[str], *args: Any, **kwargs: Any
                     ) -> Any:
        return parse(self, bbfile, [*given, *appends], *args, **kwargs)

    bb.cookerdata.CookerDataBuilder.parseRecipeVariants = with_appends
    return runner.main()


if __name__ == "__main__":
    sys.exit(main())
