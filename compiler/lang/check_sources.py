"""Data sources (FTR107, FTR108, FTR116): names unique, documents folders not empty, column maps
that name the format's fields (and, for message lists, role/content); each checked block becomes
a ``DataSource``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

from ftc.compiler.lang.check_base import Checked, Context
from ftc.compiler.lang.keys import FIELDS
from ftc.compiler.lang.recipe import DataFormat, DataSource
from ftc.compiler.lang.suggest import did_you_mean, suggest
from ftc.shared.files import DEFAULT_DOC_GLOBS, DOC_SUFFIXES, DataError, document_files
from ftc.shared.hub import SPLIT_FORMS, hub_dataset, is_hub_path, split_problem
from ftc.shared.paths import LEAVES_FOLDER
from ftc.shared.shapes import NESTED


def check_sources(ctx: Context, recipe: Checked) -> list[tuple[Checked, DataSource | None]]:
    out: list[tuple[Checked, DataSource | None]] = []
    names: dict[str, int] = {}
    for child in recipe.children:
        if child.spec.name not in ("data", "documents") or child.node.label is None:
            continue
        name = child.node.label.value
        if name in names:
            ctx.err(
                "FTR107",
                f"two data sources named `{name}`",
                child.node.label.span,
                f"the first is on line {names[name]}",
            )
            continue
        names[name] = child.node.label.span.line
        out.append((child, _build_source(ctx, child)))
    return out


def _build_source(ctx: Context, child: Checked) -> DataSource | None:
    v = child.values
    fmt = "documents" if child.spec.name == "documents" else v.get("format")
    columns = _check_columns(ctx, fmt, v.get("columns"))
    if "glob" in v and fmt != "documents":
        ctx.err(
            "FTR102",
            "`glob` applies to documents only",
            child.nodes["glob"].key_span,
            "use format = documents or a documents block",
        )
        return None
    if isinstance(v.get("glob"), str) and glob_escapes(v["glob"]):
        ctx.err(
            "FTR109",
            f"the glob `{v['glob']}` leaves the documents folder",
            child.nodes["glob"].value.span,
            'a glob matches files under the source\'s folder: no leading `/` or `~`, no `..`, e.g. "**/*.md"',
        )
        return None
    failed = any(v.get(k.name) is None for k in child.spec.keys if k.name in child.nodes)
    if failed or "path" not in v or fmt is None or columns is None:
        return None
    path, rel = v["path"]
    hub = hub_dataset(path) if is_hub_path(path) else None
    if not _hub_keys_fit(ctx, child, fmt, hub):
        return None
    if fmt == "documents" and not _has_documents(path, child.get("glob")):
        where = child.nodes.get("glob", child.nodes["path"]).value.span
        message, hint = _no_documents(rel, child.get("glob"))
        ctx.err("FTR108", message, where, hint)
        return None
    return DataSource(
        name=child.node.label.value,  # type: ignore[union-attr]
        path=path,
        rel_path=rel,
        format=cast(DataFormat, fmt),  # one of DATA_FORMATS: the key table's choices checked it
        columns=columns,
        on_bad_rows=child.get("on_bad_rows"),
        glob=child.get("glob"),
        redact_pii=child.get("redact_pii"),
        max_tokens=v.get("max_tokens"),
        overlong=child.get("overlong"),
        span=child.node.span,
        hub=hub,
        config=v.get("config"),
        split=v.get("split") or "train",
        max_rows=v.get("max_rows"),
        weight=v.get("weight"),
    )


def _hub_keys_fit(ctx: Context, child: Checked, fmt: str, hub: str | None) -> bool:
    """`config` and `split` name parts of a hub dataset: on a file they would be ignored silently."""
    if hub is not None and fmt == "documents":
        ctx.err(
            "FTR102",
            "a hub dataset cannot be a documents source",
            child.nodes["path"].value.span,
            "documents are files in the project; use a data block with a row format for a hub dataset",
        )
        return False
    for key in ("config", "split"):
        if key in child.values and hub is None:
            ctx.err(
                "FTR102",
                f"`{key}` applies to hub datasets only",
                child.nodes[key].key_span,
                'set path = "hf://owner/name", or drop the key for a file in the project',
            )
            return False
    split = child.values.get("split")
    problem = split_problem(split) if isinstance(split, str) else None
    if problem:
        ctx.err("FTR105", problem, child.nodes["split"].value.span, f"write {SPLIT_FORMS}")
        return False
    return True


def check_weights(ctx: Context, sources: list[tuple[Checked, DataSource]], eval_data: str | None) -> None:
    """`weight` mixes the sources one training stage reads: set on all of them or on none, never on
    a source that is not mixed (documents, the eval source) or on the only source of its stage."""
    where = {src.name: child.nodes["weight"].key_span for child, src in sources if "weight" in child.nodes}
    stages: dict[str, list[DataSource]] = {"sft": [], "preference": []}
    for _child, src in sources:
        if src.format == "documents" or src.name == eval_data:
            if src.weight is not None:
                why = (
                    "documents are retrieved, not trained on" if src.format == "documents" else "it is the eval source"
                )
                ctx.err("FTR102", f"`weight` on '{src.name}', which is not mixed into training: {why}", where[src.name])
            continue
        stages["preference" if src.format == "preference" else "sft"].append(src)
    for group in stages.values():
        weighted = [s for s in group if s.weight is not None]
        if not weighted:
            continue
        if len(group) == 1:
            ctx.err(
                "FTR102",
                f"`weight` on '{group[0].name}', the only source of its training stage: there is nothing to mix",
                where[group[0].name],
                "drop the weight; `max_rows` caps a single source",
            )
        elif len(weighted) < len(group):
            unset = [s for s in group if s.weight is None]
            names = ", ".join(f"'{s.name}'" for s in unset)
            ctx.err(
                "FTR106",
                f"`weight` is set on '{weighted[0].name}' but not on {names}: a mixture needs every share",
                unset[0].span,
                "give every source of the mixture a weight, e.g. weight = 1",
            )


_GLOB_ESCAPE = re.compile(LEAVES_FOLDER)


def glob_escapes(pattern: str) -> bool:
    """An absolute pattern or one with a `..` component names files outside the source's folder
    (the plan schema refuses the same patterns in a plan file)."""
    return _GLOB_ESCAPE.search(pattern) is not None


def _no_documents(rel: str, pattern: str) -> tuple[str, str]:
    """FTR108's message and hint for a documents folder the load step would read nothing from."""
    if pattern in DEFAULT_DOC_GLOBS:
        kinds = ", ".join(DOC_SUFFIXES)
        return (
            f"no text documents under `{rel}`: the default glob reads {kinds} files, hidden ones left out",
            'name the files to read with a glob, e.g. glob = "**/*.html"',
        )
    return f"no files under `{rel}` match `{pattern}` (hidden ones left out)", "check the folder and the glob pattern"


def _has_documents(path: str, pattern: str) -> bool:
    folder = Path(path)
    if not folder.is_dir():
        return True  # a single file is its own document
    try:
        return bool(document_files(folder, pattern))  # what the load step would read
    except (OSError, DataError):  # an invalid pattern such as "/abs" or "a/**b"
        return False


def mappable(fmt: str) -> tuple[str, ...]:
    """What a column map may rename: the format's fields, and inside message lists (chat,
    preference) the message keys too, e.g. ShareGPT's { role = "from", content = "value" }
    (the loader's own rule: ftc.shared.shapes.NESTED)."""
    nested = NESTED if fmt in ("chat", "preference") else ()
    return (*FIELDS[fmt], *nested)


def _check_columns(ctx: Context, fmt: str | None, columns: dict[str, Any] | None) -> dict[str, str] | None:
    if not columns:
        return {}
    if fmt is None:
        return None
    ok = True
    allowed = mappable(fmt)
    for canonical, (_column, entry) in columns.items():
        if canonical not in allowed:
            ctx.err(
                "FTR116",
                f"`{canonical}` is not a field of the {fmt} format ({', '.join(allowed)})",
                entry.key_span,
                suggest(canonical, allowed) or "the map is canonical field = column in your file",
                did_you_mean(canonical, allowed),
            )
            ok = False
    return {k: c for k, (c, _e) in columns.items()} if ok else None
