"""`ftc plan` and `ftc rules` (the decision rules; `ftc explain R-...` is wired in ``cli.main``).

Only click is imported at module level: the CLI imports every ``cmd_*`` module at start-up, and
`ftc plan` must never import torch (nothing on this path does).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ftc.compiler.plan.io import Plan


def make_plan(
    recipe_path: str, out: str | None = None, allow_outside: bool = False, color: bool = False
) -> tuple[Plan, str]:
    """Recipe file -> validated plan and the rendered warnings; FtcError (exit 1) with every error."""
    from ftc.compiler.lang.diagnostics import render
    from ftc.compiler.plan.compile import compile_recipe

    out_dir = Path(out).resolve().parent if out else Path.cwd()
    compiled = compile_recipe(recipe_path, out_dir=out_dir, allow_outside=allow_outside, color=color)
    return compiled.plan, render(list(compiled.diagnostics), color=color)


@click.command("plan")
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (the contract ftc run reads).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the plan JSON to FILE.")
@click.option(
    "--diff", "diff_path", type=click.Path(dir_okay=False), help="Show what changed against an earlier plan file."
)
@click.option("--allow-outside", is_flag=True, help="Allow data paths outside the recipe's project.")
@click.option(
    "--allow-download",
    is_flag=True,
    help="Fetch what planning needs and the Hugging Face cache lacks: a hub model's config and tokenizer "
    "(never its weights), a hub dataset (as FTC_ALLOW_DOWNLOAD=1).",
)
@click.option("--color/--no-color", default=None, help="Colour the text view (default: when stdout is a terminal).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="The view for people: text for a terminal, markdown for a pull-request comment (the diff with --diff).",
)
def plan(
    recipe: str,
    as_json: bool,
    out: str | None,
    diff_path: str | None,
    allow_outside: bool,
    allow_download: bool,
    color: bool | None,
    fmt: str,
) -> None:
    """Preview every decision for RECIPE (strategy, method, hyper-parameters, cost) and emit the plan."""
    from ftc.compiler.plan.facts import ALLOW_DOWNLOAD_ENV
    from ftc.compiler.plan.io import dumps, read_plan, write_plan

    if allow_download:  # the facts read the switch from the environment (the language server sets none)
        os.environ[ALLOW_DOWNLOAD_ENV] = "1"

    use_color = (sys.stdout.isatty() if color is None else color) and fmt == "text"
    if out:
        check_out(out, recipe)
    old = read_plan(diff_path) if diff_path else None
    the_plan, warnings = make_plan(recipe, out, allow_outside, use_color and not as_json)
    if warnings:
        click.echo(warnings, err=True, nl=False)
    from ftc.compiler.plan.distributed import machine_note

    note = machine_note(the_plan)  # planning for a bigger machine is allowed: a note, never a refusal
    if note:
        click.echo(note, err=True)
    if out:
        write_plan(the_plan, out)
    if old is not None:
        # With --json the JSON owns stdout (for tools) and the diff goes to stderr (for people).
        click.echo(_diff_view(old, the_plan, diff_path or "", fmt), nl=False, err=as_json)
    if as_json:
        click.echo(dumps(the_plan), nl=False)
    elif old is None:
        click.echo(_plan_view(the_plan, fmt, use_color), nl=False)
    if out:
        click.echo(f"wrote {out}", err=True)


def check_out(out: str, recipe: str) -> None:
    """``--out`` may only create a plan file or replace an earlier one: never the recipe, a data
    file or any other file (a typo must not destroy an input). Usage errors, exit 2."""
    from ftc.compiler.cli.outputs import check_output, is_plan
    from ftc.shared.errors import UsageError

    if os.path.exists(recipe) and os.path.exists(out) and os.path.samefile(out, recipe):
        raise UsageError(f"error: --out: {out} is the recipe itself; write the plan to another file")
    check_output("--out", out, ".json", "an ftc plan", is_plan)


def _diff_view(old: dict[str, Any], new: dict[str, Any], old_name: str, fmt: str) -> str:
    if fmt == "markdown":
        from ftc.compiler.plan.diff_markdown import render_diff_markdown

        return render_diff_markdown(old, new)
    from ftc.compiler.plan.diff import render_diff

    return render_diff(old, new, old_name)


def _plan_view(plan: dict[str, Any], fmt: str, color: bool) -> str:
    if fmt == "markdown":
        from ftc.compiler.plan.diff_markdown import render_new_markdown

        return render_new_markdown(plan)
    from ftc.compiler.plan.render import render_plan

    return render_plan(plan, color=color)


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules_cmd(as_json: bool) -> None:
    """List every decision rule (`ftc explain R-...` prints one in full)."""
    from ftc.compiler.lang.codes import CODES
    from ftc.compiler.plan.rules import DECISION_RULES

    if as_json:
        import json

        click.echo(json.dumps([r.__dict__ for r in DECISION_RULES], indent=2, sort_keys=True))
        return
    width = max(len(r.id) for r in DECISION_RULES)
    for r in DECISION_RULES:
        click.echo(f"{r.id.ljust(width)}  {r.title}")
    plan_codes = sorted(c.code for c in CODES.values() if c.phase == "plan")
    click.echo(
        f"\n{len(DECISION_RULES)} rules; `ftc explain RULE` for the statement, evidence and source. "
        f"Plan-time diagnostics: {', '.join(plan_codes)} (`ftc explain FTR3xx`)."
    )


rules_cmd.name = "rules"

COMMANDS = [plan, rules_cmd]
