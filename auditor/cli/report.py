# SPDX-License-Identifier: Apache-2.0
"""`container-audit report` and `container-audit diff`: render what scan/check produced.

Both only wire: read the inventory (and verdicts), build the report values with
`auditor.report`, hand them to the renderers, write each output whole. They judge nothing,
so they exit 0 whenever every output was written (the verdicts' own result is shown, not
re-judged) and 2 when they could not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click

from ..errors import InputError
from ..fileio import atomic_write
from ..inventory import schema
from ..model import Inventory
from ..report import diff as diff_mod
from ..report import notice, render, sourceoffer, view
from ..report.licensetexts import LicenseTexts
from .main import EXIT_OK
from .outputs import parse_outputs

REPORT_FORMATS = ("md", "html", "json", "notice", "source-offer")
DIFF_FORMATS = ("md", "html", "json")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the {what} is not UTF-8 text") from None


def _inventory(path: Path) -> Inventory:
    return schema.loads(_read(path, "inventory"), str(path))


def _emit(path: str, text: str) -> None:
    if path == "-":
        click.echo(text, nl=False)
    else:
        atomic_write(Path(path), text)


def _write_bundle(target: Path, bundle: notice.Bundle) -> None:
    """Write the bundle as a whole: into a new directory beside `target`, then swap it in.
    An existing `target` is replaced only when it is an earlier bundle (has index.json)."""
    target = target.resolve()
    if target.exists():
        if not target.is_dir():
            raise InputError(f"{target}: exists and is not a directory (-o notice=DIR)")
        if any(target.iterdir()) and not (target / "index.json").is_file():
            raise InputError(f"{target}: not empty and not a NOTICE bundle; refusing to "
                             "replace it")
    if not target.parent.is_dir():
        raise InputError(f"{target}: directory {target.parent} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, text in bundle.files:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8", newline="\n")
            os.chmod(path, 0o644)
        for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            os.chmod(d, 0o755)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old)
        else:
            os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"{target}: cannot write the NOTICE bundle ({exc.strerror})") from None


@click.command()
@click.option("--inventory", "inventory_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Inventory JSON (`check -o inventory=` or `scan -o json=`).")
@click.option("--verdicts", "verdicts_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Verdicts JSON of that inventory (`check -o json=`).")
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help="md (default, stdout), html, json, notice=DIR (license texts and "
                   "attributions), source-offer=FILE.csv|.md (copyleft packages and their "
                   "sources). Comma-separated or repeated.")
@click.option("--template-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Templates that replace the shipped ones of the same name (reports/).")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path),
              help="An older inventory: show what changed since it.")
@click.option("--license-texts", "license_texts", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of SPDX license texts (<ID>.txt, or license-list-data "
                   "json/details) tried before the installed ones, for notice=.")
def report(inventory_file: Path, verdicts_file: Path, outputs: tuple[str, ...],
           template_dir: Path | None, baseline_file: Path | None,
           license_texts: Path | None) -> int:
    """Compliance reports people read: HTML, Markdown, JSON, NOTICE bundle, source offer."""
    plan = parse_outputs(outputs, REPORT_FORMATS, "md")
    for fmt, path in plan:
        if fmt in ("notice", "source-offer") and path == "-":
            raise click.BadParameter(f"{fmt} needs a path ({fmt}=PATH)", param_hint="-o")
        if fmt == "source-offer" and not path.endswith((".csv", ".md", ".markdown")):
            raise click.BadParameter("source-offer=FILE must end in .csv or .md",
                                     param_hint="-o")
    inv = _inventory(inventory_file)
    verdicts = view.parse_verdicts(_read(verdicts_file, "verdicts"), str(verdicts_file))
    changes = diff_mod.diff(_inventory(baseline_file), inv) if baseline_file else None
    rep = view.build(inv, verdicts, diff=changes, label=str(verdicts_file))
    env = (render.environment(template_dir)
           if any(f in ("md", "html") for f, _ in plan) else None)
    for fmt, path in plan:
        if fmt == "html":
            assert env is not None
            _emit(path, render.render_html(rep, env))
        elif fmt == "md":
            assert env is not None
            _emit(path, render.render_markdown(rep, env))
        elif fmt == "json":
            _emit(path, render.dumps(render.to_dict(rep)))
        elif fmt == "source-offer":
            text = (sourceoffer.render_csv(rep) if path.endswith(".csv")
                    else sourceoffer.render_markdown(rep))
            _emit(path, text)
        else:
            texts = LicenseTexts(license_texts)
            packages = {(i.config_digest, p.purl): p for i in inv.images for p in i.packages}
            _write_bundle(Path(path), notice.build(rep, packages, texts.get, texts.sources))
    return EXIT_OK


@click.command()
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "outputs", multiple=True, metavar="FORMAT[=PATH]",
              help="md (default, stdout), json, html. Comma-separated or repeated.")
@click.option("--template-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Templates that replace the shipped ones of the same name (reports/).")
def diff(old: Path, new: Path, outputs: tuple[str, ...], template_dir: Path | None) -> int:
    """What changed from inventory OLD to inventory NEW: images added, removed or changed,
    packages added, removed, upgraded, and license changes. Exit 0 either way."""
    plan = parse_outputs(outputs, DIFF_FORMATS, "md")
    changes = diff_mod.diff(_inventory(old), _inventory(new))
    env = render.environment(template_dir) if any(f != "json" for f, _ in plan) else None
    for fmt, path in plan:
        if fmt == "json":
            _emit(path, render.dumps(diff_mod.to_dict(changes)))
        elif fmt == "html":
            assert env is not None
            _emit(path, render.render_diff_html(changes, env))
        else:
            assert env is not None
            _emit(path, render.render_diff_markdown(changes, env))
    return EXIT_OK
