"""The plan for a person: rich tables that read the same in a terminal and in a CI log.

``render_plan(plan, color=False)`` returns text at a fixed width (100 columns) so golden files
and CI logs do not depend on the terminal; ASCII-safe box lines survive any log viewer.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when a plan is rendered, not with this module
    from rich.console import Console
    from rich.table import Table

    from ftc.compiler.plan.io import Plan

GB = 1e9


def gb(n: int | None) -> str:
    return "-" if n is None else f"{n / GB:.2f} GB"


def duration(secs: float) -> str:
    if secs < 90:
        return f"{secs:.0f} s"
    if secs < 5400:
        return f"{secs / 60:.1f} min"
    return f"{secs / 3600:.1f} h"


def _value(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def _console(color: bool, width: int) -> Console:
    from rich.console import Console

    return Console(
        file=io.StringIO(),
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def _table(title: str, *columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.ASCII2, show_lines=False, pad_edge=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _student_line(m: dict[str, Any]) -> str:
    from ftc.compiler.plan.student import describe

    kept = tuple(m["student_layers"])
    return (
        f"\n  student: layers {describe(kept)} of the base's {m['layers']} "
        f"({m['student_params']:,} parameters, cut from the base)"
    )


def render_plan(plan: Plan, color: bool = False, width: int = 100) -> str:
    console = _console(color, width)
    r = plan["recipe"]
    console.print(f'Plan for recipe "{r["name"]}" ({r["path"]})', style="bold")
    console.print(f"  strategy: {' -> '.join(plan['strategy'])}    method: {plan['method']}")
    m = plan["model"]
    console.print(
        f"  base: {m['base']} ({m['params']:,} parameters, from {m['source']})"
        + (f"\n  teacher: {m['teacher']} ({m['teacher_params']:,} parameters)" if m["teacher"] else "")
        + (_student_line(m) if m.get("student_layers") else "")
    )
    for line in textwrap.wrap(f"device: {plan['device']['assumption']}", width - 4, subsequent_indent="  "):
        console.print("  " + line)
    for table in (_rules(plan), _data(plan), _memory(plan), _hparams(plan), _estimates(plan), _steps(plan)):
        if table is not None:
            console.print()
            console.print(table)
        if table is not None and isinstance(table.title, str) and table.title.startswith("Memory"):
            for line in _memory_notes(plan):
                console.print(line)
    if plan.get("warnings"):
        console.print()
        for w in plan["warnings"]:
            console.print(f"warning[{w['code']}]: {w['message']} ({w['location']})", style="yellow")
    # Rich pads lines to the width; trailing blanks would only churn golden files and logs.
    out = console.file
    assert isinstance(out, io.StringIO)  # _console writes to one
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


def _rules(plan: Plan) -> Table:
    table = _table("Decisions (ftc explain RULE for the full rule)", "rule", "because")
    for rule in plan["rules"]:
        table.add_row(rule["id"], rule["because"])
    return table


def _data(plan: Plan) -> Table | None:
    """The data funnel per source: rows in the file (a hub split after its slice), after max_rows,
    after the weighted mixture. Shown when a source is capped, weighted or read from the hub."""
    inputs = plan.get("inputs", [])
    if not any("used_rows" in i or "revision" in i for i in inputs):
        return None
    totals: dict[bool, float] = {}  # weights mix within a stage: SFT sources, preference sources
    for i in inputs:
        stage = i["format"] == "preference"
        totals[stage] = totals.get(stage, 0.0) + (i.get("weight") or 0.0)
    table = _table("Data (rows per source)", "source", "from", "rows", "max_rows", "weight", "used")
    for i in inputs:
        where = i["path"] + (f" {i.get('config')}" if i.get("config") else "")
        where += f" [{i['split']}] @{i['revision'][:8]}" if i.get("revision") else ""
        weight = i.get("weight")
        share = f"{weight:g} ({weight / totals[i['format'] == 'preference']:.0%})" if weight is not None else "-"
        cap = f"{i['max_rows']:,}" if i.get("max_rows") is not None else "-"
        table.add_row(i["name"], where, f"{i['rows']:,}", cap, share, f"{i.get('used_rows', i['rows']):,}")
    return table


def _memory(plan: Plan) -> Table:
    est = plan["estimates"]
    table = _table("Memory per device", "method", "peak", "fits", "note")
    table.add_row(plan["method"] + " (chosen)", gb(est["peak_memory_bytes"]), "yes", "")
    for method, alt in sorted(est["alternatives"].items()):
        if method != plan["method"]:
            table.add_row(method, gb(alt["peak_memory_bytes"]), _value(alt["fits"]), alt.get("note", ""))
    return table


def _memory_notes(plan: Plan) -> list[str]:
    est = plan["estimates"]
    out = ["  breakdown: " + ", ".join(f"{k} {gb(v)}" for k, v in est["memory_breakdown"].items() if v)]
    dist = plan.get("distributed")
    if dist and dist.get("micro_batch"):
        how = (
            f"{dist['strategy']}"
            + (f" {dist['sharding']}" if dist.get("sharding") else "")
            + f", {dist['processes']} process(es) = {dist['nodes']} node(s) x {dist['per_node']}"
            + f", global batch {dist['global_batch']} = {dist['micro_batch']} x {dist['grad_accum']} x {dist['processes']}"
        )
        out.append(f"  processes: {how}")
        if dist.get("command"):
            out.append(f"  launch: {dist['command']}")
    if dist and dist.get("teacher"):
        out.append(f"  teacher: {dist['teacher']['load']} ({dist['teacher']['reason']})")
    return out


def _hparams(plan: Plan) -> Table | None:
    if plan["method"] == "none":
        return None
    table = _table("Hyper-parameters", "name", "value", "set by", "reason")
    for name, hp in sorted(plan["hyperparameters"].items()):
        if hp["value"] is None and hp["set_by"] == "rule" and name.startswith(("lora_", "target_")):
            continue  # LoRA settings of a full tune: noise
        table.add_row(name, _value(hp["value"]), hp["set_by"], hp["reason"])
    return table


def _estimates(plan: Plan) -> Table:
    est = plan["estimates"]
    tl = est["token_lengths"]
    table = _table("Estimates", "what", "value")
    table.add_row(
        "token lengths",
        f"p50 {tl['p50']}, p90 {tl['p90']}, p99 {tl['p99']}, max {tl['max']} "
        f"({tl['method']}, {tl['sampled']} rows sampled)",
    )
    table.add_row("train tokens", f"{est['train_tokens']:,}")
    table.add_row("train FLOPs", f"{est['train_flops']:.3g}")
    parts = ", ".join(f"{k} {duration(v)}" for k, v in sorted(est["seconds_breakdown"].items()))
    table.add_row("time", f"{duration(est['seconds'])} ({parts})")
    table.add_row("cost", f"${est['cost']['usd']:.2f} ({est['cost']['basis']})")
    table.add_row("assumptions", est["assumptions"])
    return table


def _steps(plan: Plan) -> Table:
    table = _table("Steps", "#", "step", "needs", "guard", "config")
    for i, step in enumerate(plan["steps"], 1):
        table.add_row(str(i), step["id"], ", ".join(step["needs"]) or "-", step["guard"] or "-", _config(step))
    return table


def _config(step: dict[str, Any]) -> str:
    cfg = step["config"]
    if step["kind"] == "load":
        return ", ".join(f"{s['name']} ({s['format']}) {s['path']}" for s in cfg["sources"])
    if step["kind"] in ("clean",):
        return ""
    return ", ".join(f"{k}={_value(v)}" for k, v in sorted(cfg.items()) if not isinstance(v, (dict, list)))
