"""Semantic checks (FTR1xx): syntax tree -> ``compiler.recipe.Recipe``, reporting every error.

The grammar accepts any block, key and value; this module knows which exist (``BLOCKS``), what
type and unit each value has, which ranges are sane, what is required, and where files live. It
never stops at the first problem: every attribute is checked and every finding reported. The
recipe model is built only from a tree without errors.

Units, and the rule that keeps them unambiguous:
- Sizes always carry a byte unit: KB MB GB TB (decimal) or KiB MiB GiB TiB (binary).
- Parameter counts use K M B T alone: ``135M``, ``7B``. So ``1B`` is a billion parameters, never
  a byte, and ``1GB`` is never a parameter count. A plain integer is also a parameter count.
- Durations: ms s m h d, lower case (``m`` is minutes, ``M`` millions). Percent: ``20%``.
  Money: ``$20``, ``$1.50`` (US dollars).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ftc.compiler.lang import ast
from ftc.compiler.lang.diagnostics import Diagnostic, error
from ftc.compiler.lang.recipe import (
    DATA_FORMATS,
    FORMAT_FIELDS,
    METRICS,
    Constraints,
    DataSource,
    EvalSpec,
    Expect,
    ExportSpec,
    Goal,
    ModelRef,
    Recipe,
    Span,
    TrainOverrides,
)

# --- units -----------------------------------------------------------------------------------
SIZE_UNITS: dict[str, int] = {
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip
DURATION_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
PARAM_UNITS: dict[str, int] = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
ALL_UNITS: dict[str, str] = {
    **{u: "a size" for u in SIZE_UNITS},
    **{u: "a duration" for u in DURATION_UNITS},
    **{u: "a parameter count" for u in PARAM_UNITS},
    "%": "a percentage",
}

# Canonical fields per data format: one table for the checks and the runtime's data schemas.
FIELDS = FORMAT_FIELDS
RATE_METRICS = frozenset(m for m in METRICS if m != "perplexity")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


# --- the schema of the language --------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # a converter name in _CONVERTERS
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    lo: float | None = None  # inclusive bounds for numbers
    hi: float | None = None


@dataclass(frozen=True)
class BlockSpec:
    name: str
    doc: str
    keys: tuple[Key, ...]
    label: bool = False  # takes a name: data "tickets" { ... }
    statements: bool = False  # expect / beat allowed (eval)
    singleton: bool = True

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


_SOURCE_KEYS = (
    Key("path", "path", "a file or folder, relative to the recipe", required=True),
    Key("format", "choice", "the row format", required=True, choices=DATA_FORMATS),
    Key("columns", "columns", "canonical field = column in the file, e.g. { messages = \"conversation\" }"),
    Key("on_bad_rows", "choice", "what a row that fails its schema does to the run", choices=("fail", "skip")),
    Key("glob", "string", "documents only: which files under a folder (default **/*)"),
    Key("redact_pii", "bool", "redact e-mail addresses, phone numbers and the like while cleaning"),
    Key("max_tokens", "int", "rows longer than this many tokens are dropped or truncated", lo=1, hi=10**7),
    Key("overlong", "choice", "what happens to rows over max_tokens", choices=("drop", "truncate")),
)

BLOCKS: dict[str, BlockSpec] = {
    b.name: b
    for b in (
        BlockSpec(
            "recipe",
            "the whole recipe: goal, models, data, constraints, eval, train, export",
            (
                Key("goal", "goal", 'behavior("..."), knowledge("...") or both(behavior = "...", knowledge = "...")', required=True),
                Key("base", "model", 'the model to customise: model("smollm2-135m-instruct")', required=True),
                Key("teacher", "model", "a larger model to distil from"),
                Key("system_prompt", "string", "an explicit system prompt; otherwise derived from the goal"),
            ),
            label=True,
        ),
        BlockSpec("data", "a data source", _SOURCE_KEYS, label=True, singleton=False),
        BlockSpec(
            "documents",
            "a folder of documents for retrieval (a data source with format = documents)",
            tuple(k for k in _SOURCE_KEYS if k.name not in ("format", "columns")),
            label=True,
            singleton=False,
        ),
        BlockSpec(
            "constraints",
            "what the run may use and what the result must meet",
            (
                Key("device", "choice", "where training runs", choices=("cpu", "cuda")),
                Key("gpus", "int", "how many GPUs", lo=1, hi=4096),
                Key("gpu_memory", "size", "memory per GPU, e.g. 24GB"),
                Key("budget", "budget", "compute wall-clock (30m) or money ($20)"),
                Key("latency", "duration", "p95 per response when served, e.g. 300ms"),
                Key("max_params", "params", "the largest model that may be served, e.g. 1B"),
            ),
        ),
        BlockSpec(
            "eval",
            "how the result is measured: holdout split, expectations, the baseline margin",
            (
                Key("holdout", "fraction", "share of the data held out for evaluation, e.g. 20%"),
                Key("seed", "int", "seed of the split", lo=0, hi=2**32 - 1),
                Key("data", "source", "a data source used only as eval data"),
                Key("stratify", "string", "a field to stratify the split by"),
                Key("accept_leaks", "bool", "allow train/eval overlap (not recommended)"),
            ),
            statements=True,
        ),
        BlockSpec(
            "train",
            "overrides of what the decision rules choose",
            (
                Key("method", "choice", "the tuning method", choices=("lora", "qlora", "full", "dora")),
                Key("lora_r", "int", "LoRA rank", lo=1, hi=4096),
                Key("lora_alpha", "int", "LoRA alpha", lo=1, hi=65536),
                Key("lr", "float", "learning rate", lo=1e-9, hi=1.0),
                Key("epochs", "float", "passes over the training data", lo=0.01, hi=1000),
                Key("max_length", "int", "maximum tokens per training row", lo=8, hi=10**7),
                Key("batch", "int", "per-device batch size", lo=1, hi=65536),
                Key("grad_accum", "int", "gradient accumulation steps", lo=1, hi=65536),
                Key("max_steps", "int", "stop after this many optimiser steps", lo=1, hi=10**9),
                Key("few_shot", "int", "examples shown to the prompted baseline", lo=0, hi=64),
                Key("early_stopping", "bool", "stop when the validation loss stops improving"),
                Key("packing", "bool", "pack short rows into full-length sequences"),
                Key("dpo_beta", "float", "DPO beta", lo=1e-6, hi=100),
                Key("seed", "int", "training seed", lo=0, hi=2**32 - 1),
            ),
        ),
        BlockSpec("export", "what the run writes out", (Key("merged", "bool", "also write weights with the adapter merged"),)),
    )
}
CHILDREN = ("data", "documents", "constraints", "eval", "train", "export")
METRIC_ARGS: dict[str, tuple[str, ...]] = {  # allowed argument names; the first may be positional
    "exact_match": ("field",),
    "contains": ("text",),
    "regex": ("pattern",),
    "json_valid": (),
    "json_schema": ("schema",),
    "rouge_l": (),
    "perplexity": (),
}
REQUIRED_ARGS = {"contains": "text", "regex": "pattern", "json_schema": "schema"}


# --- did you mean ----------------------------------------------------------------------------
def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a transposition costs one), case-insensitive."""
    a, b = a.lower(), b.lower()
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    if len(word) > 64:
        return None
    best = min(options, key=lambda o: (edit_distance(word, o), o), default=None)
    if best is None:
        return None
    limit = max(1, min(len(word), len(best)) // 3)
    return best if edit_distance(word, best) <= limit else None


def _suggest(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    guess = did_you_mean(word, options)
    return f"did you mean `{guess}`?" if guess else None


def describe(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return "a string"
    if isinstance(v, ast.Number):
        return ALL_UNITS.get(v.unit, f"a number with unit `{v.unit}`") if v.unit else "a number"
    if isinstance(v, ast.Money):
        return "an amount of money"
    if isinstance(v, ast.Ident):
        return "true or false" if v.name in ("true", "false") else f"the name `{v.name}`"
    if isinstance(v, ast.Call):
        return f"a call `{v.name}(...)`"
    if isinstance(v, ast.List):
        return "a list"
    return "a map"


# --- context ---------------------------------------------------------------------------------
@dataclass
class Context:
    file: str
    recipe_dir: Path
    project_root: Path
    allow_outside: bool = False
    diags: list[Diagnostic] = field(default_factory=list)

    def err(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diags.append(error(code, message, span, hint))


def find_project_root(recipe_dir: Path) -> Path:
    """The nearest folder at or above the recipe that holds pyproject.toml or .git."""
    for folder in (recipe_dir, *recipe_dir.parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder
    return recipe_dir


def _resolve(ctx: Context, text: str, span: Span, must_exist: bool = True) -> str | None:
    if not text.strip():
        ctx.err("FTR105", "a path may not be empty", span)
        return None
    if "\x00" in text:
        ctx.err("FTR105", "a path may not contain a NUL character", span)
        return None
    try:
        os.fsencode(text)
    except UnicodeError:  # a lone surrogate from a \uD800 escape names no file on any system
        ctx.err("FTR105", "the path contains a character no file name can hold", span)
        return None
    path = Path(os.path.abspath(ctx.recipe_dir / os.path.expanduser(text)))
    if not ctx.allow_outside:
        real, root = os.path.realpath(path), os.path.realpath(ctx.project_root)
        if os.path.commonpath([real, root]) != root:
            ctx.err(
                "FTR109",
                f"`{text}` leaves the recipe's project ({ctx.project_root})",
                span,
                "keep data inside the project, or run ftc with --allow-outside",
            )
            return None
    if must_exist and not _exists(path):
        ctx.err("FTR108", f"`{text}` does not exist (looked for {path})", span, "paths are relative to the recipe's folder")
        return None
    return str(path)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, say: it cannot exist
        return False


# --- value converters: (ctx, key, value) -> python value, or None after reporting ------------
def _type_error(ctx: Context, key: Key, v: ast.Value, wanted: str, hint: str | None = None) -> None:
    ctx.err("FTR103", f"`{key.name}` takes {wanted}, not {describe(v)}", v.span, hint)


def _in_range(ctx: Context, key: Key, value: float, span: Span) -> bool:
    if (key.lo is not None and value < key.lo) or (key.hi is not None and value > key.hi) or math.isnan(value):
        bounds = f"between {key.lo:g} and {key.hi:g}" if key.hi is not None else f"at least {key.lo:g}"
        ctx.err("FTR105", f"`{key.name}` is {value:g}; it must be {bounds}", span)
        return False
    return True


def _string(ctx: Context, key: Key, v: ast.Value) -> str | None:
    if isinstance(v, ast.Str):
        return v.value
    hint = f'quote it: {key.name} = "{v.name}"' if isinstance(v, ast.Ident) else None
    _type_error(ctx, key, v, "a string", hint)
    return None


def _path(ctx: Context, key: Key, v: ast.Value) -> tuple[str, str] | None:
    text = _string(ctx, key, v)
    if text is None:
        return None
    resolved = _resolve(ctx, text, v.span)
    return (resolved, text) if resolved else None


def _choice(ctx: Context, key: Key, v: ast.Value) -> str | None:
    options = " | ".join(key.choices)
    if isinstance(v, ast.Ident):
        if v.name in key.choices:
            return v.name
        ctx.err("FTR110", f"`{v.name}` is not a {key.name}; use one of {options}", v.span, _suggest(v.name, key.choices))
        return None
    hint = f"write the name without quotes: {key.name} = {v.value}" if isinstance(v, ast.Str) and v.value in key.choices else None
    _type_error(ctx, key, v, f"one of {options}", hint)
    return None


def _bool(ctx: Context, key: Key, v: ast.Value) -> bool | None:
    if isinstance(v, ast.Ident) and v.name in ("true", "false"):
        return v.name == "true"
    _type_error(ctx, key, v, "true or false")
    return None


def _plain_number(ctx: Context, key: Key, v: ast.Value, wanted: str) -> float | int | None:
    if not isinstance(v, ast.Number):
        _type_error(ctx, key, v, wanted)
        return None
    if v.unit:
        ctx.err("FTR104", f"`{key.name}` takes {wanted} without a unit, not `{v.text}{v.unit}`", v.span)
        return None
    if isinstance(v.value, float) and math.isinf(v.value):
        ctx.err("FTR105", f"`{key.name}` is too large", v.span)
        return None
    return v.value


def _int(ctx: Context, key: Key, v: ast.Value) -> int | None:
    value = _plain_number(ctx, key, v, "a whole number")
    if value is None:
        return None
    if isinstance(value, float):
        ctx.err("FTR103", f"`{key.name}` takes a whole number, not {v.text}", v.span)  # type: ignore[union-attr]
        return None
    return value if _in_range(ctx, key, value, v.span) else None


def _float(ctx: Context, key: Key, v: ast.Value) -> float | None:
    value = _plain_number(ctx, key, v, "a number")
    if value is None:
        return None
    return float(value) if _in_range(ctx, key, float(value), v.span) else None


def _unit_value(ctx: Context, key: Key, v: ast.Value, units: dict, wanted: str, example: str) -> float | None:
    if not isinstance(v, ast.Number):
        _type_error(ctx, key, v, f"{wanted} like {example}")
        return None
    if v.unit not in units:
        names = ", ".join(units)
        slip = next((u for u in units if u.lower() == v.unit.lower()), None)
        if slip:
            hint = f"units are case-sensitive: did you mean `{v.text}{slip}`?"
        elif v.unit == "B" and "GB" in units:
            hint = "`B` alone is a billion (a parameter count); write a byte unit such as GB or GiB"
        elif v.unit in ALL_UNITS:
            hint = f"`{v.unit}` makes {ALL_UNITS[v.unit]}"
        else:
            hint = None
        if not v.unit:
            ctx.err("FTR104", f"`{key.name}` needs a unit ({names}), e.g. {example}", v.span, hint)
        else:
            ctx.err("FTR104", f"`{v.unit}` is not a unit of {wanted} ({names})", v.span, hint)
        return None
    value = float(v.value) * units[v.unit]
    if not value > 0 or math.isinf(value):
        ctx.err("FTR105", f"`{key.name}` must be greater than zero and finite", v.span)
        return None
    return value


def _size(ctx: Context, key: Key, v: ast.Value) -> int | None:
    value = _unit_value(ctx, key, v, SIZE_UNITS, "a size", "24GB")
    return int(value) if value is not None else None


def _duration(ctx: Context, key: Key, v: ast.Value) -> float | None:
    return _unit_value(ctx, key, v, DURATION_UNITS, "a duration", "300ms")


def _params(ctx: Context, key: Key, v: ast.Value) -> int | None:
    if isinstance(v, ast.Number) and not v.unit:
        value = _int(ctx, Key(key.name, "int", "", lo=1), v)
        return value
    value = _unit_value(ctx, key, v, PARAM_UNITS, "a parameter count", "1B")
    return int(value) if value is not None else None


def _budget(ctx: Context, key: Key, v: ast.Value) -> tuple[float | None, float | None] | None:
    if isinstance(v, ast.Money):
        if not v.amount > 0 or math.isinf(v.amount):
            ctx.err("FTR105", "`budget` must be more than $0", v.span)
            return None
        return None, v.amount
    seconds = _unit_value(ctx, key, v, DURATION_UNITS, "a duration or money", "30m or $20")
    return (seconds, None) if seconds is not None else None


def _fraction(ctx: Context, key: Key, v: ast.Value) -> float | None:
    if not isinstance(v, ast.Number):
        _type_error(ctx, key, v, "a percentage like 20%")
        return None
    if v.unit == "%":
        value = v.value / 100
    elif not v.unit and v.value <= 1:
        value = float(v.value)
    else:
        ctx.err("FTR104", f"`{key.name}` takes a percentage like 20% or a fraction like 0.2", v.span)
        return None
    if not 0 <= value < 1:
        ctx.err("FTR105", f"`{key.name}` must be at least 0% and below 100%", v.span)
        return None
    return value


def _source_ref(ctx: Context, key: Key, v: ast.Value) -> str | None:
    return _string(ctx, key, v)  # resolved against the sources once all are known


def _model(ctx: Context, key: Key, v: ast.Value) -> str | None:
    if isinstance(v, ast.Call) and v.name == "model":
        if len(v.args) == 1 and v.args[0].name is None and isinstance(v.args[0].value, ast.Str) and v.args[0].value.value.strip():
            return v.args[0].value.value
        ctx.err("FTR103", 'model(...) takes one non-empty string: model("smollm2-135m-instruct")', v.span)
        return None
    hint = f'write {key.name} = model("{v.value}")' if isinstance(v, ast.Str) else None
    _type_error(ctx, key, v, 'a model like model("smollm2-135m-instruct")', hint)
    return None


def _goal_text(ctx: Context, arg: ast.Arg) -> str | None:
    if isinstance(arg.value, ast.Str) and arg.value.value.strip():
        return arg.value.value
    ctx.err("FTR103", "a goal is described by a non-empty string", arg.value.span)
    return None


def _goal(ctx: Context, key: Key, v: ast.Value) -> tuple[str, str, str] | None:
    kinds = ("behavior", "knowledge", "both")
    if not isinstance(v, ast.Call):
        _type_error(ctx, key, v, 'behavior("..."), knowledge("...") or both(...)')
        return None
    if v.name not in kinds:
        spelled = {"behaviour": "behavior"}.get(v.name)
        hint = f"the goal is spelled `{spelled}`" if spelled else _suggest(v.name, kinds)
        ctx.err("FTR110", f"`{v.name}` is not a goal; use behavior, knowledge or both", v.name_span, hint)
        return None
    if v.name == "both":
        return _goal_both(ctx, v)
    if len(v.args) != 1 or v.args[0].name is not None:
        ctx.err("FTR103", f'{v.name}(...) takes one string: {v.name}("...")', v.span)
        return None
    text = _goal_text(ctx, v.args[0])
    return (v.name, text, "") if text is not None else None


def _goal_both(ctx: Context, v: ast.Call) -> tuple[str, str, str] | None:
    usage = 'both(behavior = "...", knowledge = "...")'
    names = [a.name for a in v.args]
    if names == [None, None]:
        parts = dict(zip(("behavior", "knowledge"), v.args))
    elif sorted(n or "" for n in names) == ["behavior", "knowledge"]:
        parts = {a.name: a for a in v.args}  # type: ignore[misc]
    else:
        ctx.err("FTR103", f"both(...) takes a behaviour and a knowledge description: {usage}", v.span)
        return None
    behavior, knowledge = _goal_text(ctx, parts["behavior"]), _goal_text(ctx, parts["knowledge"])
    if behavior is None or knowledge is None:
        return None
    return "both", behavior, knowledge


def _columns(ctx: Context, key: Key, v: ast.Value) -> dict[str, tuple[str, ast.Entry]] | None:
    if not isinstance(v, ast.Map):
        _type_error(ctx, key, v, 'a map like { messages = "conversation" }')
        return None
    out: dict[str, tuple[str, ast.Entry]] = {}
    for entry in v.entries:
        if entry.key in out:
            ctx.err("FTR107", f"column `{entry.key}` is mapped twice", entry.key_span)
        elif isinstance(entry.value, ast.Str) and entry.value.value.strip():
            out[entry.key] = (entry.value.value, entry)
        else:
            ctx.err("FTR103", f"column `{entry.key}` maps to a column name (a non-empty string)", entry.value.span)
    return out


_CONVERTERS: dict[str, Callable[[Context, Key, ast.Value], Any]] = {
    "string": _string,
    "path": _path,
    "choice": _choice,
    "bool": _bool,
    "int": _int,
    "float": _float,
    "size": _size,
    "duration": _duration,
    "params": _params,
    "budget": _budget,
    "fraction": _fraction,
    "source": _source_ref,
    "model": _model,
    "goal": _goal,
    "columns": _columns,
}


# --- blocks ----------------------------------------------------------------------------------
@dataclass
class Checked:
    """One block's converted attributes and statements; ``None`` values failed their check."""

    spec: BlockSpec
    node: ast.Block
    values: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, ast.Attribute] = field(default_factory=dict)
    expects: list[Expect] = field(default_factory=list)
    beats: list[tuple[float, ast.Beat]] = field(default_factory=list)
    children: list["Checked"] = field(default_factory=list)


def _check_label(ctx: Context, spec: BlockSpec, block: ast.Block) -> None:
    if spec.label and block.label is None:
        ctx.err("FTR114", f"a `{spec.name}` block needs a name: {spec.name} \"name\" {{ ... }}", block.kind_span)
    elif not spec.label and block.label is not None:
        ctx.err("FTR114", f"a `{spec.name}` block takes no name", block.label.span, f"write `{spec.name} {{ ... }}`")
    elif block.label is not None and not NAME_RE.fullmatch(block.label.value):
        ctx.err(
            "FTR114",
            f"`{block.label.value[:40]}` is not a valid {spec.name} name",
            block.label.span,
            "names use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit",
        )


def check_block(ctx: Context, spec: BlockSpec, block: ast.Block) -> Checked:
    _check_label(ctx, spec, block)
    out = Checked(spec, block)
    for item in block.items:
        if isinstance(item, ast.Attribute):
            _check_attribute(ctx, out, item)
        elif isinstance(item, ast.Block):
            _check_child(ctx, out, item)
        elif spec.statements:
            _check_statement(ctx, out, item)
        else:
            word = "expect" if isinstance(item, ast.Expect) else "beat"
            ctx.err("FTR115", f"`{word}` belongs in the eval block, not in `{spec.name}`", item.span)
    for key in spec.keys:
        if key.required and key.name not in out.nodes:
            ctx.err("FTR106", f"the `{spec.name}` block has no `{key.name}` ({key.doc})", block.kind_span)
    return out


def _check_attribute(ctx: Context, out: Checked, item: ast.Attribute) -> None:
    spec = out.spec
    key = spec.key(item.key)
    if key is None:
        if item.key in BLOCKS:
            hint = f"`{item.key}` is a block: write `{item.key} {{ ... }}`"
        elif spec.name == "documents" and item.key == "format":
            hint = "a documents block always has format = documents; use a data block for other formats"
        else:
            hint = _key_hint(spec, item.key)
        ctx.err("FTR102", f"unknown key `{item.key}` in `{spec.name}`", item.key_span, hint)
        return
    if item.key in out.nodes:
        first = out.nodes[item.key].key_span.line
        ctx.err("FTR107", f"`{item.key}` is set twice in `{spec.name}`", item.key_span, f"the first is on line {first}")
        return
    out.nodes[item.key] = item
    out.values[item.key] = _CONVERTERS[key.kind](ctx, key, item.value)


# Names other tools use (axolotl, LLaMA-Factory, TRL, torchtune) -> ftc's key. A typo or a foreign
# name is an error with a pointer, never a silently ignored key.
ALIASES = {
    "learning_rate": "lr", "num_epochs": "epochs", "num_train_epochs": "epochs", "batch_size": "batch",
    "micro_batch_size": "batch", "per_device_train_batch_size": "batch", "lora_rank": "lora_r", "r": "lora_r",
    "max_seq_length": "max_length", "sequence_len": "max_length", "cutoff_len": "max_length", "max_seq_len": "max_length",
    "gradient_accumulation_steps": "grad_accum", "model": "base", "base_model": "base", "model_name": "base",
    "beta": "dpo_beta", "val_set_size": "holdout", "test_size": "holdout", "eval_split": "holdout",
    "column_map": "columns", "file": "path", "data_path": "path", "type": "format", "finetuning_type": "method",
}  # fmt: skip


def _key_hint(spec: BlockSpec, key: str) -> str | None:
    known = [k.name for k in spec.keys]
    alias = ALIASES.get(key.lower())
    if alias in known:
        return f"ftc calls this `{alias}`"
    if key.lower() in known:
        return f"keys are case-sensitive: `{key.lower()}`"
    guess = _suggest(key, known)
    if guess:
        return guess
    home = [b.name for b in BLOCKS.values() if b.key(alias or key) and b.name != spec.name]
    if home:
        return f"`{alias or key}` belongs in the `{home[0]}` block"
    return f"`{spec.name}` takes {', '.join(known)}"


def _check_child(ctx: Context, out: Checked, child: ast.Block) -> None:
    spec = out.spec
    if spec.name != "recipe" or child.kind not in CHILDREN:
        where = "inside a recipe" if child.kind in CHILDREN or child.kind == "recipe" else None
        if where and spec.name != "recipe":
            ctx.err("FTR101", f"a `{child.kind}` block cannot go inside `{spec.name}`", child.kind_span, f"put it directly {where}")
        else:
            hint = _suggest(child.kind, CHILDREN) if spec.name == "recipe" else None
            if child.kind in (k.name for k in spec.keys):
                hint = f"`{child.kind}` is a key: write `{child.kind} = ...`"
            ctx.err("FTR101", f"unknown block `{child.kind}` in `{spec.name}`", child.kind_span, hint)
        return
    child_spec = BLOCKS[child.kind]
    if child_spec.singleton and any(c.spec.name == child.kind for c in out.children):
        ctx.err("FTR107", f"a second `{child.kind}` block", child.kind_span, "merge it into the first")
        return
    out.children.append(check_block(ctx, child_spec, child))


# --- eval statements -------------------------------------------------------------------------
def _check_statement(ctx: Context, out: Checked, item: ast.Expect | ast.Beat) -> None:
    if isinstance(item, ast.Beat):
        _check_beat(ctx, out, item)
    else:
        expect = _check_expect(ctx, item)
        if expect is not None:
            out.expects.append(expect)


def _check_beat(ctx: Context, out: Checked, item: ast.Beat) -> None:
    if item.target.name != "baseline":
        ctx.err("FTR111", f"`beat` compares with `baseline`, not `{item.target.name}`", item.target.span, "write `beat baseline by 10%`")
        return
    if item.word.name != "by":
        ctx.err("FTR111", f"expected `by`, found `{item.word.name}`", item.word.span, "write `beat baseline by 10%`")
        return
    v = item.amount
    if not (isinstance(v, ast.Number) and v.unit == "%"):
        ctx.err("FTR104", f"the margin is a percentage like 10%, not {describe(v)}", v.span)
        return
    if not 0 <= v.value <= 1000:
        ctx.err("FTR105", "the margin must be between 0% and 1000%", v.span)
        return
    if out.beats:
        ctx.err("FTR107", "a second `beat baseline` statement", item.span, f"the first is on line {out.beats[0][1].span.line}")
        return
    out.beats.append((float(v.value), item))


def _metric_args(ctx: Context, metric: ast.Ident | ast.Call) -> tuple[str, dict[str, object]] | None:
    name = metric.name
    if name not in METRICS:
        ctx.err("FTR111", f"unknown metric `{name}`", getattr(metric, "name_span", metric.span), _suggest(name, METRICS) or f"metrics: {', '.join(METRICS)}")
        return None
    allowed = METRIC_ARGS[name]
    args: dict[str, object] = {}
    for i, arg in enumerate(metric.args if isinstance(metric, ast.Call) else ()):
        arg_name = arg.name or (allowed[0] if i == 0 and allowed else None)
        if arg_name is None or arg_name not in allowed or arg_name in args:
            takes = f"takes {', '.join(allowed)}" if allowed else "takes no arguments"
            ctx.err("FTR111", f"`{name}` {takes}", arg.span, _suggest(arg.name, allowed) if arg.name and allowed else None)
            return None
        if not isinstance(arg.value, ast.Str) or not arg.value.value:
            ctx.err("FTR103", f"`{arg_name}` of `{name}` takes a non-empty string", arg.value.span)
            return None
        value = _metric_arg_value(ctx, arg_name, arg.value)
        if value is None:
            return None
        args[arg_name] = value
    need = REQUIRED_ARGS.get(name)
    if need and need not in args:
        ctx.err("FTR111", f"`{name}` needs its {need}: {name}(\"...\")", metric.span)
        return None
    return name, args


def _metric_arg_value(ctx: Context, arg_name: str, value: ast.Str) -> object | None:
    if arg_name == "pattern":
        try:
            re.compile(value.value)
        except (re.error, RecursionError, OverflowError) as exc:
            ctx.err("FTR111", f"the pattern is not a valid regular expression: {exc}", value.span)
            return None
    if arg_name == "schema":
        path = _resolve(ctx, value.value, value.span)
        if path is None:
            return None
        return path if _valid_json_file(ctx, path, value.span) else None
    return value.value


def _valid_json_file(ctx: Context, path: str, span: Span) -> bool:
    try:
        with open(path, "rb") as fh:
            json.loads(fh.read(5_000_000))
        return True
    except (OSError, ValueError, RecursionError) as exc:
        ctx.err("FTR111", f"the JSON Schema file cannot be read as JSON: {exc}", span)
        return False


def _check_expect(ctx: Context, item: ast.Expect) -> Expect | None:
    parsed = _metric_args(ctx, item.metric)
    threshold = _threshold(ctx, item)
    if parsed is None or threshold is None:
        return None
    name, args = parsed
    if name in RATE_METRICS and not 0 <= threshold <= 1:
        ctx.err("FTR112", f"`{name}` is a rate between 0 and 1 (or 0% and 100%); {threshold:g} is outside it", item.threshold.span)
        return None
    if name == "perplexity" and not threshold > 0:
        ctx.err("FTR112", "perplexity is positive; the threshold must be greater than 0", item.threshold.span)
        return None
    return Expect(name, args, item.op, threshold, item.span)  # type: ignore[arg-type]


def _threshold(ctx: Context, item: ast.Expect) -> float | None:
    v = item.threshold
    if not isinstance(v, ast.Number) or v.unit not in ("", "%"):
        ctx.err("FTR103", f"a threshold is a number like 0.9 or 90%, not {describe(v)}", v.span)
        return None
    if item.metric.name == "perplexity" and v.unit == "%":
        ctx.err("FTR104", "a perplexity threshold is a plain number, not a percentage", v.span)
        return None
    value = v.value / 100 if v.unit == "%" else float(v.value)
    if math.isinf(value) or math.isnan(value):
        ctx.err("FTR112", "the threshold must be a finite number", v.span)
        return None
    return value


# --- the whole file --------------------------------------------------------------------------
def check_file(ctx: Context, tree: ast.RecipeFile) -> Checked | None:
    """Find the one recipe block and check it; everything else at top level is an error."""
    recipe: Checked | None = None
    for item in tree.items:
        if isinstance(item, ast.Block) and item.kind == "recipe":
            if recipe is not None:
                ctx.err("FTR115", "a second recipe in one file", item.kind_span, "one recipe per .ftr file")
                continue
            recipe = check_block(ctx, BLOCKS["recipe"], item)
        else:
            _top_level_error(ctx, item)
    if recipe is None and not any(d.code in ("FTR115", "FTR101") for d in ctx.diags):
        ctx.err("FTR106", "no recipe in this file", Span(ctx.file, 1, 1, 1, 1), 'a recipe starts with `recipe "name" {`')
    return recipe


def _top_level_error(ctx: Context, item: ast.Item) -> None:
    if isinstance(item, ast.Block):
        guess = did_you_mean(item.kind, ["recipe"])
        if guess:
            ctx.err("FTR101", f"unknown block `{item.kind}`", item.kind_span, "did you mean `recipe`?")
            return
        hint = f"move it inside the recipe block" if item.kind in CHILDREN else 'everything lives inside one `recipe "name" { ... }` block'
        ctx.err("FTR115", f"`{item.kind}` outside the recipe block", item.kind_span, hint)
        return
    span = item.key_span if isinstance(item, ast.Attribute) else item.span
    ctx.err("FTR115", "a statement outside the recipe block", span, 'everything lives inside one `recipe "name" { ... }` block')


def _sources(ctx: Context, recipe: Checked) -> list[tuple[Checked, DataSource | None]]:
    out: list[tuple[Checked, DataSource | None]] = []
    names: dict[str, int] = {}
    for child in recipe.children:
        if child.spec.name not in ("data", "documents") or child.node.label is None:
            continue
        name = child.node.label.value
        if name in names:
            ctx.err("FTR107", f"two data sources named `{name}`", child.node.label.span, f"the first is on line {names[name]}")
            continue
        names[name] = child.node.label.span.line
        out.append((child, _build_source(ctx, child)))
    return out


def _build_source(ctx: Context, child: Checked) -> DataSource | None:
    v = child.values
    fmt = "documents" if child.spec.name == "documents" else v.get("format")
    columns = _check_columns(ctx, fmt, v.get("columns"))
    if "glob" in v and fmt != "documents":
        ctx.err("FTR102", "`glob` applies to documents only", child.nodes["glob"].key_span, "use format = documents or a documents block")
        return None
    failed = any(v.get(k.name) is None for k in child.spec.keys if k.name in child.nodes)
    if failed or "path" not in v or fmt is None or columns is None:
        return None
    path, rel = v["path"]
    if fmt == "documents" and not _has_documents(path, v.get("glob", "**/*")):
        where = child.nodes.get("glob", child.nodes["path"]).value.span
        ctx.err("FTR108", f"no files under `{rel}` match `{v.get('glob', '**/*')}`", where, "check the folder and the glob pattern")
        return None
    return DataSource(
        name=child.node.label.value,  # type: ignore[union-attr]
        path=path,
        rel_path=rel,
        format=fmt,
        columns=columns,
        on_bad_rows=v.get("on_bad_rows", "fail"),
        glob=v.get("glob", "**/*"),
        redact_pii=v.get("redact_pii", False),
        max_tokens=v.get("max_tokens"),
        overlong=v.get("overlong", "drop"),
        span=child.node.span,
    )


def _has_documents(path: str, pattern: str) -> bool:
    folder = Path(path)
    if not folder.is_dir():
        return True  # a single file is its own document
    try:
        return any(p.is_file() for p in folder.glob(pattern))
    except (OSError, ValueError, NotImplementedError):  # an invalid pattern such as "/abs" or "a/**b"
        return False


def _check_columns(ctx: Context, fmt: str | None, columns: dict | None) -> dict[str, str] | None:
    if not columns:
        return {}
    if fmt is None:
        return None
    ok = True
    for canonical, (_column, entry) in columns.items():
        if canonical not in FIELDS[fmt]:
            ctx.err(
                "FTR116",
                f"`{canonical}` is not a field of the {fmt} format ({', '.join(FIELDS[fmt])})",
                entry.key_span,
                _suggest(canonical, FIELDS[fmt]) or "the map is canonical field = column in your file",
            )
            ok = False
    return {k: c for k, (c, _e) in columns.items()} if ok else None


def _child(recipe: Checked, name: str) -> Checked | None:
    return next((c for c in recipe.children if c.spec.name == name), None)


def build_recipe(ctx: Context, recipe: Checked, path: str) -> Recipe | None:
    """Cross-block checks, then the recipe model (None when anything failed)."""
    sources = _sources(ctx, recipe)
    if not any(c.spec.name in ("data", "documents") for c in recipe.children):
        ctx.err("FTR106", "the recipe has no data source", recipe.node.kind_span, 'add a `data "name" { path = ..., format = ... }` or `documents` block')
    eval_block = _child(recipe, "eval")
    if eval_block is None:
        ctx.err("FTR106", "the recipe has no eval block", recipe.node.kind_span, "add `eval { holdout = 20%  expect ... }`: a tune must prove itself")
    names = {s.name for _c, s in sources if s is not None} | {c.node.label.value for c, _s in sources if c.node.label}
    eval_spec = _build_eval(ctx, eval_block, names) if eval_block else None
    if ctx.diags or eval_spec is None or any(s is None for _c, s in sources):
        return None
    v = recipe.values
    kind, text, knowledge = v["goal"]
    return Recipe(
        name=recipe.node.label.value,  # type: ignore[union-attr]
        path=path,
        project_root=str(ctx.project_root),
        goal=Goal(kind, text, knowledge, recipe.nodes["goal"].value.span),
        base=ModelRef(v["base"], recipe.nodes["base"].value.span),
        data=tuple(s for _c, s in sources if s is not None),
        constraints=_build_constraints(_child(recipe, "constraints")),
        eval=eval_spec,
        train=_build_train(_child(recipe, "train")),
        export=_build_export(_child(recipe, "export")),
        teacher=ModelRef(v["teacher"], recipe.nodes["teacher"].value.span) if "teacher" in v else None,
        system_prompt=v.get("system_prompt"),
    )


def _build_eval(ctx: Context, block: Checked, names: set[str]) -> EvalSpec | None:
    v = block.values
    eval_data = v.get("data")
    if eval_data is not None and eval_data not in names:
        hint = _suggest(eval_data, sorted(names)) or (f"sources: {', '.join(sorted(names))}" if names else None)
        ctx.err("FTR113", f"no data source named `{eval_data}`", block.nodes["data"].value.span, hint)
        return None
    if v.get("holdout") == 0 and eval_data is None:
        ctx.err("FTR105", "a 0% holdout leaves nothing to evaluate", block.nodes["holdout"].value.span, "set eval data = \"name\" or hold out some rows")
        return None
    if any(val is None for val in v.values()):
        return None
    return EvalSpec(
        holdout_fraction=v.get("holdout", 0.2),
        seed=v.get("seed", 0),
        eval_data=eval_data,
        stratify=v.get("stratify"),
        accept_leaks=v.get("accept_leaks", False),
        expects=tuple(block.expects),
        beat_baseline_pct=block.beats[0][0] if block.beats else None,
        span=block.node.span,
    )


def _build_constraints(block: Checked | None) -> Constraints:
    if block is None:
        return Constraints()
    v = block.values
    seconds, usd = v.get("budget") or (None, None)
    return Constraints(
        device=v.get("device", "cpu"),
        gpus=v.get("gpus", 1),
        gpu_memory_bytes=v.get("gpu_memory"),
        budget_seconds=seconds,
        budget_usd=usd,
        latency_ms=v["latency"] * 1000 if "latency" in v else None,
        max_params=v.get("max_params"),
        span=block.node.span,
    )


def _build_train(block: Checked | None) -> TrainOverrides:
    if block is None:
        return TrainOverrides()
    return TrainOverrides(dict(block.values), block.node.span)


def _build_export(block: Checked | None) -> ExportSpec:
    if block is None:
        return ExportSpec()
    return ExportSpec(merged=block.values.get("merged", False), span=block.node.span)
