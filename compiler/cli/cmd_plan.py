"""`ftc plan`, `ftc rules`, and the rule/FTR3xx half of `ftc explain`.

Only click is imported at module level: the CLI imports every ``cmd_*`` module at start-up, and
`ftc plan` must never import torch (nothing on this path does).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftc.shared.errors import FtcError


def explain_rule(rule_id: str) -> str | None:
    """`ftc explain R-...` (a decision rule) or `ftc explain FTR3xx` (a plan-time diagnostic)."""
    from ftc.compiler.plan import rules

    key = rule_id.strip().upper()
    return rules.explain_code(key) if key.startswith("FTR3") else rules.explain(key)


def make_plan(recipe_path: str, out: str | None = None, allow_outside: bool = False, color: bool = False) -> tuple[dict, str]:
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
@click.option("--diff", "diff_path", type=click.Path(dir_okay=False), help="Show what changed against an earlier plan file.")
@click.option("--allow-outside", is_flag=True, help="Allow data paths outside the recipe's project.")
@click.option("--color/--no-color", default=None, help="Colour the text view (default: when stdout is a terminal).")
def plan(recipe: str, as_json: bool, out: str | None, diff_path: str | None, allow_outside: bool, color: bool | None) -> None:
    """Preview every decision for RECIPE (strategy, method, hyper-parameters, cost) and emit the plan."""
    from ftc.compiler.plan.io import dumps, read_plan, write_plan

    use_color = sys.stdout.isatty() if color is None else color
    old = read_plan(diff_path) if diff_path else None
    the_plan, warnings = make_plan(recipe, out, allow_outside, use_color and not as_json)
    if warnings:
        click.echo(warnings, err=True, nl=False)
    if out:
        write_plan(the_plan, out)
    if old is not None:
        from ftc.compiler.plan.diff import render_diff

        # With --json the JSON owns stdout (for tools) and the diff goes to stderr (for people).
        click.echo(render_diff(old, the_plan, diff_path), nl=False, err=as_json)
    if as_json:
        click.echo(dumps(the_plan), nl=False)
    elif old is None:
        from ftc.compiler.plan.render import render_plan

        click.echo(render_plan(the_plan, color=use_color), nl=False)
    if out:
        click.echo(f"wrote {out}", err=True)


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
def rules_cmd(as_json: bool) -> None:
    """List every decision rule (`ftc explain R-...` prints one in full)."""
    from ftc.compiler.plan import rules

    if as_json:
        import json

        click.echo(json.dumps([r.__dict__ for r in rules.RULES], indent=2, sort_keys=True))
        return
    width = max(len(r.id) for r in rules.RULES)
    for r in rules.RULES:
        click.echo(f"{r.id.ljust(width)}  {r.title}")
    click.echo(f"\n{len(rules.RULES)} rules; `ftc explain RULE` for the statement, evidence and source. "
               f"Plan-time diagnostics: {', '.join(sorted(rules.CODES))} (`ftc explain FTR3xx`).")


rules_cmd.name = "rules"

COMMANDS = [plan, rules_cmd]
