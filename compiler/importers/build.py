"""The recipe text and the key table of an import.

The recipe is assembled as text and then put through ``format_text``, so what `ftc import` writes
is already in the one canonical layout (`ftc fmt --check` passes on it). The table is a rich table
at a fixed width, like `ftc plan`'s, so golden files and CI logs do not depend on the terminal.
"""

from __future__ import annotations

import io

from ftc.compiler.importers.common import holdout_from_slices
from ftc.compiler.importers.core import Draft, Row, Source
from ftc.compiler.lang.formatter import format_text, quote
from ftc.compiler.lang.keys import BLOCKS
from ftc.shared.errors import FtcError

GOAL_PLACEHOLDER = "TODO: the behaviour to teach"
DEFAULT_HOLDOUT = "10%"  # ftc's own default is 20%; imported configs usually bring thousands of rows
BLOCK_ORDER = ("constraints", "eval", "train", "export")


def finish(draft: Draft) -> None:
    """What every import writes whatever the source said: the goal, a device, a holdout."""
    draft.note(
        "goal: ftc import cannot know it; replace the TODO text in `goal` (ftc derives the system prompt from it)"
    )
    holdout_from_slices(draft)
    if draft.base is None:
        draft.note('base: the source names no model; set `base = model("...")`')
    if "constraints.device" not in draft.values:
        draft.values["constraints.device"] = "cuda"
        draft.comment("constraints", f"{draft.tool} trains on CUDA GPUs")
    if "eval.holdout" not in draft.values and "eval.data" not in draft.values:
        draft.values["eval.holdout"] = DEFAULT_HOLDOUT
        draft.comment(
            "eval", f"The source holds out no evaluation split: ftc holds out {DEFAULT_HOLDOUT} (never trained on)."
        )
    draft.comment("eval", "The source states no bar: add `expect METRIC >= N` lines and `beat baseline by 10%`.")
    draft.note("eval: add the expectations a tune must meet (`expect ...`) and `beat baseline by N%`")


def recipe_text(draft: Draft, source_file: str) -> str:
    lines = [
        f"# Imported from the {draft.tool} config {source_file} by `ftc import`.",
        "# Run `ftc import` again with --json for the table of every source key: carried, decided, dropped.",
        f"recipe {quote(draft.name)} {{",
        "  # EDIT: the import cannot know the goal: describe the behaviour this tune must teach.",
        f"  goal = behavior({quote(GOAL_PLACEHOLDER)})",
        f"  base = model({quote(draft.base or 'TODO: the base model')})",
    ]
    if draft.teacher:
        lines.append(f"  teacher = model({quote(draft.teacher)})")
    lines += [f"  {k.split('.', 1)[1]} = {v}" for k, v in draft.values.items() if k.startswith("recipe.")]
    for src in draft.sources:
        lines += _source(src)
    for block in BLOCK_ORDER:
        lines += _block(draft, block)
    lines.append("}")
    text, diags = format_text("\n".join(lines) + "\n", "<import>")
    if text is None:  # every piece above is built from checked literals; this is a bug, not bad input
        raise FtcError(f"internal error: ftc import built a recipe that does not parse: {diags[0].message}", 2)
    return text


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in text.splitlines()]


def _source(src: Source) -> list[str]:
    out = [""] + _comment(src.comment, "  ") if src.comment else [""]
    out += [f"  data {quote(src.name)} {{", f"    path = {quote(src.path)}", f"    format = {src.format}"]
    if src.columns:
        entries = ", ".join(f"{k} = {quote(v)}" for k, v in src.columns.items())
        out.append(f"    columns = {{ {entries} }}")
    out += [f"    {key} = {quote(value)}" for key, value in (("config", src.config), ("split", src.split)) if value]
    if src.max_rows is not None:
        out.append(f"    max_rows = {src.max_rows}")
    if src.weight is not None:
        out.append(f"    weight = {repr(src.weight).removesuffix('.0')}")
    return out + ["  }"]


def _block(draft: Draft, block: str) -> list[str]:
    order = [k.name for k in BLOCKS[block].keys]  # the language's order, whatever the source's
    keys = sorted(
        ((k.split(".", 1)[1], v) for k, v in draft.values.items() if k.split(".", 1)[0] == block),
        key=lambda kv: order.index(kv[0]),
    )
    if not keys and not draft.comments.get(block):
        return []
    out = ["", f"  {block} {{"] + [c for text in draft.comments.get(block, []) for c in _comment(text, "    ")]
    return out + [f"    {k} = {v}" for k, v in keys] + ["  }"]


# --- the key table ---------------------------------------------------------------------------
def counts(rows: list[Row]) -> dict[str, int]:
    out = {"carried": 0, "decided": 0, "dropped": 0}
    for r in rows:
        out[r.status] += 1
    return out


def render_table(rows: list[Row], tool: str, source_file: str, color: bool = False, width: int = 120) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    table = Table(
        title=Text(f"{source_file} ({tool}): every key"), title_justify="left", box=box.ASCII2, pad_edge=False
    )
    table.add_column("key", overflow="fold", min_width=24, max_width=34)
    table.add_column("value", overflow="fold", max_width=22)
    table.add_column("status", no_wrap=True)
    table.add_column("recipe key / rule", overflow="fold", max_width=30)
    table.add_column("note", overflow="fold")
    style = {"carried": "green", "decided": "cyan", "dropped": "yellow"}
    for r in rows:
        status = r.status + (" !" if r.attention else "")
        # Text, not str: values such as "[INST] {x} [/INST]" are data, never rich markup
        cells = [Text(cell) for cell in (r.key, r.value, status, r.target, r.note)]
        table.add_row(*cells, style=style[r.status] if color else None)
    console.print(table)
    c = counts(rows)
    console.print(
        f"{len(rows)} keys: {c['carried']} carried, {c['decided']} decided by ftc, {c['dropped']} dropped"
        + ("  (! = needs your attention)" if any(r.attention for r in rows) else ""),
        markup=False,
    )
    text = buffer.getvalue()
    return "".join(line.rstrip() + "\n" for line in text.splitlines())  # rich pads lines to the width


def render_notes(notes: list[str]) -> str:
    return "".join(f"  - {n}\n" for n in notes)


def render_fetch(commands: list[str], recipe: str | None) -> str:
    """What to run before `ftc plan` when hub datasets are not cached (ftc plans offline)."""
    if not commands:
        return ""
    lines = "".join(f"  {cmd}\n" for cmd in commands)
    plan = f"ftc plan {recipe or 'RECIPE'} --allow-download"
    return (
        "\nFetch the hub datasets (`ftc plan` reads the local Hugging Face cache; until then it reports FTR301):\n"
        f"{lines}  or let ftc fetch them: {plan}\n"
    )
