"""The one way from a recipe file to a plan, used by `ftc plan` and `ftc run` alike.

Front end (parse, check, lint), then the planner, then the plan's JSON Schema: a plan that comes
out of here is exactly what `ftc plan --json` prints and what `ftc run` executes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftc.compiler.lang.diagnostics import Diagnostic, has_errors, render, summary
from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.lang.recipe import Recipe
from ftc.compiler.plan.io import Plan, validate
from ftc.compiler.plan.planner import build_plan
from ftc.shared.errors import FtcError


@dataclass(frozen=True)
class Compiled:
    plan: Plan
    root: Path  # the recipe's project root, absolute
    diagnostics: tuple[Diagnostic, ...]  # warnings and notes; errors never get this far


def compile_recipe(
    path: str | Path,
    *,
    out_dir: str | Path | None = None,
    allow_outside: bool = False,
    before_plan: Callable[[Recipe], None] | None = None,
    color: bool = False,
    command: str = "ftc plan",
) -> Compiled:
    """Recipe file -> validated plan. Every error (front end or planner) raises one FtcError (exit 1)
    holding all diagnostics, rendered. ``out_dir``: where the plan file will live (the plan's paths
    are relative to it; default: the project root). ``before_plan``: a hook that sees the checked
    recipe first (`ftc run` resolves the base model there, so the planner reads its tokenizer)."""
    recipe, diags = load_recipe(path, allow_outside=allow_outside)
    if recipe is None or has_errors(diags):
        raise FtcError(render(diags, color=color) + f"{command}: {summary(diags)}", 1)
    root = Path(recipe.project_root).resolve()
    if before_plan is not None:
        before_plan(recipe)
    result = build_plan(recipe, Path(out_dir) if out_dir is not None else root)
    diags = list(diags) + list(result.diagnostics)
    if result.plan is None or has_errors(diags):
        raise FtcError(render(diags, color=color) + f"{command}: {summary(diags)}", 1)
    validate(result.plan, "the generated plan")
    return Compiled(result.plan, root, tuple(diags))
