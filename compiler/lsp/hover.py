"""Hover text for keys and blocks, as Markdown, from the same key table `ftc explain` prints
(``compiler.lang.keys``) and the decision rules it names (``compiler.plan.rules``)."""

from __future__ import annotations

from ftc.compiler.lang.keys import BLOCKS, CHILDREN, KINDS, BlockSpec, Key
from ftc.compiler.lsp.scan import Symbol
from ftc.compiler.plan.rules import BY_ID


def key_markdown(spec: BlockSpec, key: Key) -> str:
    """`train.lr`: its doc, type, unit, range, what happens when it is absent and the deciding rule."""
    kind = KINDS[key.kind]
    lines = [
        f"**`{spec.name}.{key.name}`**: {key.doc}",
        "",
        f"- type: {kind.type}",
        f"- unit: {kind.unit or 'none'}",
        f"- range: {key.range or 'any'}",
        f"- when absent: {key.when_absent}",
    ]
    rule = BY_ID.get(key.decided_by)
    if rule is not None:
        lines += ["", f"**{rule.id}** ({rule.title}): {rule.statement}", "",
                  "A value in the recipe overrides the rule, and the plan says so."]  # fmt: skip
    return "\n".join(lines)


def block_markdown(spec: BlockSpec) -> str:
    """A block: what it is for, how it is written, and its keys."""
    label = ' "NAME"' if spec.label else ""
    count = "one per recipe" if spec.singleton else "any number"
    lines = [f"**`{spec.name}`**: {spec.doc}", "", f"`{spec.name}{label} {{ ... }}` ({count})", ""]
    lines += [f"- `{k.name}`: {k.doc} ({KINDS[k.kind].type}; {k.when_absent})" for k in spec.keys]
    if spec.name == "recipe":
        lines += ["", "Blocks: " + ", ".join(f"`{c}`" for c in CHILDREN)]
    if spec.statements:
        lines += ["", "Statements: `expect METRIC OP THRESHOLD`, `beat baseline by PERCENT`"]
    return "\n".join(lines)


def markdown(symbol: Symbol) -> str | None:
    """The hover for a key (or its value, which shows the key) or a block's kind; None for the rest."""
    name, cursor = symbol.token.text, symbol.cursor
    if symbol.role == "block":
        spec = BLOCKS.get(name)
        return block_markdown(spec) if spec is not None else None
    if symbol.role == "key" and cursor.where == "key":
        block = BLOCKS.get(cursor.block)
        key = block.key(name) if block is not None else None
    elif symbol.role in ("value", "string") and cursor.key and not cursor.call:
        block = BLOCKS.get(cursor.block)
        key = block.key(cursor.key) if block is not None else None
    else:
        return None
    return key_markdown(block, key) if block is not None and key is not None else None
