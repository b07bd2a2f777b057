"""The language documents itself from its key table (``compiler.lang.keys``): docs/language.md,
`ftc explain BLOCK`, `ftc explain BLOCK.KEY` and `ftc explain KEY` (when one block has that key).
"""

from __future__ import annotations

from ftc.compiler.lang.keys import BLOCKS, CHILDREN, COMPARISONS, KINDS, METRIC_ARGS, REQUIRED_ARGS, BlockSpec, Key
from ftc.shared.errors import FtcError


def _how_written(spec: BlockSpec) -> str:
    label = ' "NAME"' if spec.label else ""
    count = "one per recipe" if spec.singleton else "any number"
    where = "the top level of the file" if spec.name == "recipe" else "inside the recipe block"
    return f"{spec.name}{label} {{ ... }}   ({count}, {where})"


def names() -> list[str]:
    """Every block and BLOCK.KEY, and every key name (for a did-you-mean)."""
    out = list(BLOCKS)
    for spec in BLOCKS.values():
        out += [f"{spec.name}.{k.name}" for k in spec.keys]
        out += [k.name for k in spec.keys]
    return sorted(set(out))


def _blocks_with(key: str) -> list[BlockSpec]:
    return [spec for spec in BLOCKS.values() if spec.key(key)]


def explain(name: str) -> str | None:
    """`ftc explain train`, `ftc explain train.lr`, `ftc explain lr`; None for an unknown name.
    A key name that more than one block has is a usage error naming the blocks."""
    target = name.strip().lower()
    if target in BLOCKS:
        return explain_block(BLOCKS[target])
    block, dot, key = target.partition(".")
    if dot:
        spec = BLOCKS.get(block)
        found = spec.key(key) if spec else None
        return explain_key(spec, found) if spec and found else None
    homes = _blocks_with(target)
    if len(homes) > 1:
        options = " or ".join(f"`ftc explain {s.name}.{target}`" for s in homes)
        raise FtcError(f"error: `{target}` is a key of more than one block; name one: {options}", 2)
    if not homes:
        return None
    found = homes[0].key(target)
    assert found is not None  # _blocks_with returns the blocks that have the key
    return explain_key(homes[0], found)


def explain_block(spec: BlockSpec) -> str:
    width = max(len(k.name) for k in spec.keys)
    lines = [f"{spec.name}: {spec.doc}", "", "    " + _how_written(spec), "", "Keys:"]
    lines += [f"  {k.name.ljust(width)}  {k.doc} ({_type(k)}; {k.when_absent})" for k in spec.keys]
    if spec.name == "recipe":
        lines += ["", "Blocks: " + ", ".join(CHILDREN)]
    if spec.statements:
        lines += [
            "",
            "Statements:",
            f"  expect METRIC {' | '.join(COMPARISONS)} THRESHOLD",
            "  beat baseline by PERCENT",
            "",
            "Metrics:",
        ]
        lines += [f"  {_metric(m)}" for m in METRIC_ARGS]
    lines += ["", f"`ftc explain {spec.name}.KEY` prints one key in full."]
    return "\n".join(lines) + "\n"


def explain_key(spec: BlockSpec, key: Key) -> str:
    kind = KINDS[key.kind]
    lines = [
        f"{spec.name}.{key.name}: {key.doc}",
        "",
        f"Type:    {kind.type}",
        f"Unit:    {kind.unit or 'none'}",
        f"Range:   {key.range or 'any'}",
        f"Absent:  {key.when_absent}",
    ]
    if key.decided_by:
        lines.append(
            f"\n`ftc explain {key.decided_by}` says how the rule decides it; a value in the recipe overrides the rule."
        )
    return "\n".join(lines) + "\n"


def _type(key: Key) -> str:
    kind = KINDS[key.kind]
    return f"{kind.type}, {kind.unit}" if kind.unit else kind.type


def _metric(metric: str) -> str:
    args = METRIC_ARGS[metric]
    if not args:
        return metric
    need = REQUIRED_ARGS.get(metric)
    forms = {a: _ARG_FORMS.get(a, '"..."') for a in args}
    shown = ", ".join(f"{a} = {forms[a]}" if a == need else f"[{a} = {forms[a]}]" for a in args)
    return f"{metric}({shown})"


# Metric arguments that are not strings: how each is written (the judge's model and scale).
_ARG_FORMS = {"teacher": 'model("...")', "scale": "5"}


# --- docs/language.md ------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def docs_page() -> str:
    """The whole of docs/language.md (a test checks that the checked-in file matches)."""
    out = [
        "# The ftc recipe language",
        "",
        "Generated from `compiler/lang/keys.py`, the one table of blocks and keys; regenerate with",
        "`FTC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/lang/test_registry.py`.",
        "`ftc explain BLOCK` and `ftc explain BLOCK.KEY` print the same entries.",
        "",
        'A recipe is one `recipe "name" { ... }` block of `key = value` attributes and nested blocks, with',
        "`#` comments. It evaluates nothing: no expressions, no imports, no code. A key the recipe leaves out",
        "takes its default, or is decided by the named decision rule (`ftc explain R-...`); a key the recipe",
        "sets overrides the rule, and the plan says so.",
        "",
        "## Units",
        "",
        "- Sizes always carry a byte unit: `KB MB GB TB` (decimal) or `KiB MiB GiB TiB` (binary).",
        "- Parameter counts use `K M B T` alone (`135M`, `7B`); a plain integer is a count too. So `1B` is",
        "  a billion parameters, never a byte, and `1GB` is never a parameter count.",
        "- Durations: `ms s m h d`, case-sensitive (`m` is minutes, `M` millions). Percentages: `20%`.",
        "  Money: `$20`, `$1.50`. A rate threshold is `0.95` or `95%`.",
    ]
    for spec in BLOCKS.values():
        out += [
            "",
            f"## {spec.name}",
            "",
            f"{spec.doc[0].upper()}{spec.doc[1:]}.",
            "",
            f"`{_how_written(spec)}`",
            "",
            "| key | type | unit | range | when absent | what it is |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| `{k.name}` | {_cell(KINDS[k.kind].type)} | {_cell(KINDS[k.kind].unit)} | {_cell(k.range)} | "
            f"{_cell(k.when_absent)} | {_cell(k.doc)} |"
            for k in spec.keys
        ]
        if spec.statements:
            out += [
                "",
                "Statements:",
                "",
                f"- `expect METRIC OP THRESHOLD`, OP one of `{' '.join(COMPARISONS)}`;",
                "  rates take `0.95` or `95%`, perplexity a positive number, forgetting (the rise of general-text",
                "  perplexity after tuning) a percentage like `10%`, latency_p50 and latency_p95 (measured per",
                "  request at batch 1 on the run's device; a bar, never a margin) a duration like `300ms`.",
                "- `beat baseline by PERCENT`.",
                "",
                "| metric | written |",
                "|---|---|",
            ]
            out += [f"| {m} | `{_cell(_metric(m))}` |" for m in METRIC_ARGS]
    return "\n".join(out) + "\n"
