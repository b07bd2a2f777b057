"""Completion items, from the key table (``compiler.lang.keys``): block names, a block's keys, a
key's values (enum names, true/false, goal and model calls, source names), metric names after
`expect`, and the files and folders a path string can name."""

from __future__ import annotations

from lsprotocol import types

from ftc.compiler.lang.keys import BLOCKS, CHILDREN, KINDS, METRIC_ARGS, REQUIRED_ARGS, BlockSpec, Key
from ftc.compiler.lsp import paths
from ftc.compiler.lsp.hover import block_markdown, key_markdown
from ftc.compiler.lsp.positions import TextIndex
from ftc.compiler.lsp.scan import Cursor, Scan

K = types.CompletionItemKind
_SNIPPET, _PLAIN = types.InsertTextFormat.Snippet, types.InsertTextFormat.PlainText
_GOALS = {
    "behavior": ('behavior("$1")', "a behaviour to learn: format, tone, a task"),
    "knowledge": ('knowledge("$1")', "facts to answer from: retrieval over documents"),
    "both": ('both(behavior = "$1", knowledge = "$2")', "a behaviour and the knowledge it needs"),
}
_GOAL_ARGS = ("behavior", "knowledge")


def items(
    scan: Scan, index: TextIndex, offset: int, recipe_path: str | None, snippets: bool, allow_outside: bool = False
) -> list[types.CompletionItem]:
    """What may be typed at ``offset``. ``snippets``: the client takes snippet syntax."""
    cursor = scan.cursor(offset)
    if cursor.where == "top":
        return [_block_item("recipe", snippets)]
    if cursor.where == "key":
        return _keys(scan, cursor, snippets)
    if cursor.where == "metric":
        return [_metric_item(m, snippets) for m in METRIC_ARGS]
    if cursor.where == "arg":
        return [types.CompletionItem(label=a, kind=K.Property, insert_text=f"{a} = ") for a in _arguments(cursor.call)]
    if cursor.where == "value":
        return _values(scan, cursor, snippets)
    if cursor.where == "string" and paths.names_a_file(cursor.block, cursor.key, cursor.call):
        return _files(index, cursor, offset, recipe_path, allow_outside) if recipe_path else []
    if cursor.where == "string":
        return _sources_in_string(scan, index, cursor, offset)
    return []


# --- keys and blocks -------------------------------------------------------------------------
def _keys(scan: Scan, cursor: Cursor, snippets: bool) -> list[types.CompletionItem]:
    spec = BLOCKS.get(cursor.block)
    if spec is None:
        return []
    keys, blocks = scan.members(cursor.block_open, skip=cursor.start)
    out = [_key_item(spec, k, snippets) for k in spec.keys if k.name not in keys]
    if spec.name == "recipe":  # a second `train` block is an error; a second `data` block is not
        out += [_block_item(c, snippets) for c in CHILDREN if not (BLOCKS[c].singleton and c in blocks)]
    if spec.statements:
        out += [_statement("expect", "expect ${1:json_valid} >= ${2:0.9}", snippets),
                _statement("beat baseline by", "beat baseline by ${1:10}%", snippets)]  # fmt: skip
    return out


def _key_item(spec: BlockSpec, key: Key, snippets: bool) -> types.CompletionItem:
    kind = KINDS[key.kind]
    return types.CompletionItem(
        label=key.name,
        kind=K.Property,
        detail=f"{kind.type}, {kind.unit}" if kind.unit else kind.type,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=key_markdown(spec, key)),
        insert_text=f"{key.name} = $0" if snippets else f"{key.name} = ",
        insert_text_format=_SNIPPET if snippets else _PLAIN,
    )


def _block_item(name: str, snippets: bool) -> types.CompletionItem:
    spec = BLOCKS[name]
    label = ' "${1:name}"' if spec.label else ""
    body = f"{name}{label} {{\n\t$0\n}}"
    return types.CompletionItem(
        label=name,
        kind=K.Module,
        detail=f"{name} block",
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=block_markdown(spec)),
        insert_text=body if snippets else name,
        insert_text_format=_SNIPPET if snippets else _PLAIN,
    )


def _statement(label: str, snippet: str, snippets: bool) -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=K.Keyword,
        insert_text=snippet if snippets else label,
        insert_text_format=_SNIPPET if snippets else _PLAIN,
    )


def _metric_item(metric: str, snippets: bool) -> types.CompletionItem:
    args = METRIC_ARGS[metric]
    return types.CompletionItem(
        label=metric,
        kind=K.Function if args else K.Constant,
        detail=_written(metric),
        insert_text=f'{metric}({args[0]} = "$1")' if args and snippets else metric,
        insert_text_format=_SNIPPET if snippets else _PLAIN,
    )


def _written(metric: str) -> str:
    """How a metric is written, as docs/language.md shows it: `contains(text = "...")`."""
    args = METRIC_ARGS[metric]
    if not args:
        return metric
    shown = ", ".join(f'{a} = "..."' if a == REQUIRED_ARGS.get(metric) else f'[{a} = "..."]' for a in args)
    return f"{metric}({shown})"


def _arguments(call: str) -> tuple[str, ...]:
    if call == "both":
        return _GOAL_ARGS
    return METRIC_ARGS.get(call, ())


# --- values ----------------------------------------------------------------------------------
def _values(scan: Scan, cursor: Cursor, snippets: bool) -> list[types.CompletionItem]:
    spec = BLOCKS.get(cursor.block)
    key = spec.key(cursor.key) if spec is not None and not cursor.call else None
    if key is None:
        return []
    if key.choices:
        return [_plain(c, K.EnumMember, key.doc) for c in key.choices]
    if key.kind == "bool":
        return [_plain(v, K.Value, key.doc) for v in ("true", "false")]
    if key.kind == "goal":
        return [_call(name, written, doc, snippets) for name, (written, doc) in _GOALS.items()]
    if key.kind == "model":
        return [_call("model", 'model("$1")', "a known name, a local folder or a hub id", snippets)]
    if key.kind == "source":
        return [_plain(f'"{name}"', K.Reference, "a data source of this recipe") for name in scan.labels("data")]
    return []


def _sources_in_string(scan: Scan, index: TextIndex, cursor: Cursor, offset: int) -> list[types.CompletionItem]:
    """`eval { data = "|" }`, as an editor that closes quotes leaves it: the source names."""
    spec = BLOCKS.get(cursor.block)
    key = spec.key(cursor.key) if spec is not None and not cursor.call else None
    if key is None or key.kind != "source":
        return []
    replace = types.Range(start=index.position(cursor.start), end=index.position(offset))
    return [
        types.CompletionItem(label=name, kind=K.Reference, text_edit=types.TextEdit(range=replace, new_text=name))
        for name in scan.labels("data")
    ]


def _plain(text: str, kind: types.CompletionItemKind, detail: str | None = None) -> types.CompletionItem:
    return types.CompletionItem(label=text, kind=kind, detail=detail)


def _call(name: str, snippet: str, doc: str, snippets: bool) -> types.CompletionItem:
    return types.CompletionItem(
        label=name,
        kind=K.Function,
        detail=doc,
        insert_text=snippet if snippets else name,
        insert_text_format=_SNIPPET if snippets else _PLAIN,
    )


# --- files -----------------------------------------------------------------------------------
def _files(
    index: TextIndex, cursor: Cursor, offset: int, recipe_path: str, allow_outside: bool
) -> list[types.CompletionItem]:
    """Entries of the folder typed so far; each replaces the part after the last `/`."""
    typed = index.text[cursor.start : offset]
    if "\\" in typed:  # an escape in the string: the typed text is not the path itself
        return []
    start = index.position(cursor.start + typed.rfind("/") + 1)
    replace = types.Range(start=start, end=index.position(offset))
    out = []
    for entry in paths.complete(recipe_path, typed, allow_outside):
        if '"' in entry.name or "\\" in entry.name or not entry.name.isprintable():
            continue  # a name a string cannot hold without escapes: rare, and never a data file
        name = entry.name + ("/" if entry.is_dir else "")
        out.append(
            types.CompletionItem(
                label=name,
                kind=K.Folder if entry.is_dir else K.File,
                text_edit=types.TextEdit(range=replace, new_text=name),
            )
        )
    return out
