"""The front end's public API: recipe file -> checked ``Recipe`` plus diagnostics. Never raises
for bad input: every problem is a located ``Diagnostic`` (``file:1:1`` when nothing better).

    load_recipe(path, allow_outside=False) -> (Recipe | None, [Diagnostic])
    parse_text(text, file) -> (ast.RecipeFile | None, [Diagnostic])
    render(diagnostics, color=False) -> str
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ftc.compiler.lang import ast
from ftc.compiler.lang.diagnostics import Diagnostic, error, has_errors, register_source, render, sort_key
from ftc.compiler.lang.recipe import Recipe, Span
from ftc.compiler.lang.thresholds import MAX_DIAGNOSTICS

__all__ = ["load_recipe", "parse_text", "check_text", "render", "Diagnostic"]


def parse_text(text: str, file: str = "<recipe>") -> tuple[ast.RecipeFile | None, list[Diagnostic]]:
    """Syntax only: the tree, or FTR0xx diagnostics."""
    from ftc.compiler.lang import parser

    text = parser.normalize_newlines(text)
    register_source(file, text.lstrip("\ufeff"))
    return parser.parse(text, file)


def check_text(
    text: str,
    file: str = "<recipe>",
    *,
    recipe_dir: str | Path | None = None,
    recipe_path: str | None = None,
    allow_outside: bool = False,
) -> tuple[Recipe | None, list[Diagnostic]]:
    """Parse, run every semantic check and lint rule; the recipe only when nothing is an error."""
    from ftc.compiler.lang import checks, lint_rules, parser

    text = parser.normalize_newlines(text)  # the lint rules see the lines the parser saw
    tree, diags = parse_text(text, file)
    if tree is None:
        return None, sorted(diags, key=sort_key)
    folder = Path(os.path.abspath(recipe_dir or os.getcwd()))
    ctx = checks.Context(file, folder, checks.find_project_root(folder), allow_outside)
    checked = checks.check_file(ctx, tree)
    recipe = checks.build_recipe(ctx, checked, recipe_path or str(folder / "<recipe>.ftr")) if checked else None
    diags += ctx.diags
    diags += lint_rules.run_rules(recipe, tree, text)
    diags = _cap(sorted(set(diags), key=sort_key))
    return (None if has_errors(diags) else recipe), diags


def _cap(diags: list[Diagnostic]) -> list[Diagnostic]:
    if len(diags) <= MAX_DIAGNOSTICS:
        return diags
    rest = diags[MAX_DIAGNOSTICS:]
    errors = sum(d.severity == "error" for d in rest)
    note = Diagnostic(
        "FTR011",
        "error" if errors else "note",
        f"{len(rest)} more findings not shown ({errors} errors)",
        rest[0].span,
        "fix the ones above and run ftc lint again",
    )
    return diags[:MAX_DIAGNOSTICS] + [note]


def read_source(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """The text of a recipe file, or FTR001 (cannot read) / FTR002 (not UTF-8 text) / FTR010."""
    from ftc.compiler.lang import parser

    file = str(path)
    where = Span(file, 1, 1, 1, 1)
    try:
        if os.path.isdir(file):
            return None, [
                error("FTR001", "this is a directory, not a recipe file", where, "lint a folder with `ftc lint DIR`")
            ]
        if os.path.exists(file) and not stat.S_ISREG(os.stat(file).st_mode):
            # Opening a FIFO blocks until a writer comes, and a device never ends: refuse before open.
            return None, [error("FTR001", "not a regular file (a FIFO, device or socket cannot be a recipe)", where)]
        with open(file, "rb") as fh:
            data = fh.read(parser.MAX_BYTES + 1)
    except FileNotFoundError:
        return None, [error("FTR001", "no such file", where)]
    except PermissionError:
        return None, [error("FTR001", "permission denied", where)]
    except OSError as exc:
        return None, [error("FTR001", f"cannot read the file: {exc.strerror or exc}", where)]
    return parser.decode(data, file)


def load_recipe(path: str | Path, *, allow_outside: bool = False) -> tuple[Recipe | None, list[Diagnostic]]:
    """Read, parse and check a recipe file. Diagnostics are sorted by position."""
    text, diags = read_source(path)
    if text is None:
        return None, diags
    file = str(path)
    absolute = os.path.abspath(file)
    return check_text(
        text, file, recipe_dir=os.path.dirname(absolute), recipe_path=absolute, allow_outside=allow_outside
    )
