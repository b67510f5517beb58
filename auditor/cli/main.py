# SPDX-License-Identifier: Apache-2.0
"""CLI entry point: the only place that turns outcomes into exit codes.

0: the job completed and found nothing at or above --fail-on; 1: completed with policy
violations; 2: could not complete (usage error, bad input, tool failure, or a bug —
never 1, which CI would read as "violations").
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from .. import __version__
from ..errors import AuditorError

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2


# command name -> (module of auditor.cli, attribute): imported only when that command runs
# (or for --help), so `scan` with a warm cache does not pay for jinja2, spdx-tools, docker…
COMMANDS = {
    "scan": ("scan", "scan"), "check": ("check", "check"), "merge": ("sbomcmds", "merge"),
    "sbom": ("sbomcmds", "sbom"), "audit": ("sbomcmds", "audit"), "cache": ("cachecmd", "cache"),
    "report": ("report", "report"), "diff": ("report", "diff"), "store": ("storecmd", "store"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            import importlib

            module, attr = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attr),
                             name)
        return self.commands.get(name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="container-audit")
@click.option("--debug", is_flag=True, help="Verbose logging and tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """License and SBOM compliance for container images embedded in Linux images."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="container-audit: %(levelname)s: %(message)s")
    if not debug:
        # python-debian warns about every old-style Format: URL in copyright files
        logging.getLogger("debian").setLevel(logging.ERROR)


def _register() -> None:
    """Every command, imported now (tests and tools that want `cli.commands` filled)."""
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="container-audit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        click.echo("container-audit: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except AuditorError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"container-audit: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # a bug: report it, but never as "violations"
        if debug:
            traceback.print_exc()
        click.echo(f"container-audit: internal error: {type(exc).__name__}: {exc} "
                   "(run with --debug for a traceback)", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    main()
