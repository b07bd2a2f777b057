"""`ftc import FILE.yaml`: an axolotl, LLaMA-Factory, torchtune or oumi config -> a recipe, and the
table of every key of the source (carried, decided by ftc, dropped, each with its reason).

Without -o the recipe goes to stdout and the table to stderr, so `ftc import x.yaml > x.ftr` works;
with -o the recipe is written atomically (never over an existing file without --force) and the
table goes to stdout. Exit 0 when the written recipe has no lint errors, 1 when some remain (they
are listed), 2 for usage errors (unreadable YAML, not a mapping, an unknown or mismatched --from).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

from ftc.shared.errors import FtcError

if TYPE_CHECKING:  # the importers load only when the command runs
    from ftc.compiler.importers import Imported

# The --from choices, spelled here so `ftc --help` does not load the importers (a test keeps them
# equal to ftc.compiler.importers.TOOLS).
SOURCES = ("axolotl", "llama-factory", "torchtune", "oumi")


@click.command("import")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--from", "tool", type=click.Choice(SOURCES), help="The tool that wrote CONFIG (detected when left out).")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write the recipe to FILE (default: stdout).")
@click.option("--force", is_flag=True, help="Overwrite FILE when it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the recipe, the key table and the diagnostics as JSON.")
@click.option("--color/--no-color", default=None, help="Colour the table (default: when it goes to a terminal).")
def import_cmd(config: str, tool: str | None, out: str | None, force: bool, as_json: bool, color: bool | None) -> None:
    """Translate CONFIG (axolotl, LLaMA-Factory, torchtune, oumi YAML) into a recipe."""
    from ftc.compiler.importers import import_config

    if out and os.path.exists(out) and not force:
        raise FtcError(f"error: {out} exists; pass --force to overwrite it", 2)
    result = import_config(config, tool, out)
    if out:
        from ftc.shared.atomic import write_text

        try:
            write_text(out, result.recipe)
        except OSError as exc:
            raise FtcError(f"error: cannot write {out}: {exc.strerror or exc}", 2) from None
    if as_json:
        click.echo(json.dumps(result.as_json() | {"out": out}, indent=2, ensure_ascii=False))
    else:
        _report(result, out, color)
    if result.errors:
        raise click.exceptions.Exit(1)


def _report(result: Imported, out: str | None, color: bool | None) -> None:
    from ftc.compiler.importers import TOOLS
    from ftc.compiler.importers.build import render_fetch, render_notes, render_table
    from ftc.compiler.lang.diagnostics import render

    to_err = out is None  # the recipe owns stdout when there is no -o
    stream = sys.stderr if to_err else sys.stdout
    use_color = stream.isatty() if color is None else color
    if to_err:
        click.echo(result.recipe, nl=False)
    table = render_table(result.rows, TOOLS[result.tool].label, os.path.basename(result.source), use_color)
    click.echo(table, nl=False, err=to_err)
    click.echo(f"\nEdit the recipe:\n{render_notes(result.notes)}", nl=False, err=to_err)
    click.echo(render_fetch(result.fetch, out), nl=False, err=to_err)
    if result.diagnostics:
        click.echo(
            "\nLint of the imported recipe:\n" + render(result.diagnostics, color=use_color), nl=False, err=to_err
        )
    then = f"`ftc plan {out or 'RECIPE'}" + (" --allow-download`" if result.fetch else "`")
    verdict = (
        f"{result.errors} lint error(s) remain: fix them, then {then}"
        if result.errors
        else f"the recipe lints without errors: {then}"
    )
    where = f"wrote {out}; " if out else ""
    click.echo(f"\n{where}{verdict}", err=to_err)


import_cmd.name = "import"

COMMANDS = [import_cmd]
