"""Keys and values (FTR103-FTR105, FTR110): one converter per kind of value in the key table,
(ctx, key, value node) -> the Python value, or None after reporting what is wrong with it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ftc.compiler.lang import ast
from ftc.compiler.lang.check_base import Context, resolve_path
from ftc.compiler.lang.keys import ALL_UNITS, DURATION_UNITS, PARAM_UNITS, SIZE_UNITS, Key
from ftc.compiler.lang.recipe import Span
from ftc.compiler.lang.suggest import did_you_mean, suggest
from ftc.shared.hub import hub_dataset, is_hub_path


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
    if is_hub_path(text):  # a Hugging Face dataset, read from the local cache: no file to find here
        if hub_dataset(text) is None:
            ctx.err("FTR105", f"`{text}` is not a hub dataset id", v.span, 'write path = "hf://owner/name"')
            return None
        return (text, text)
    resolved = resolve_path(ctx, text, v.span)
    return (resolved, text) if resolved else None


def _choice(ctx: Context, key: Key, v: ast.Value) -> str | None:
    options = " | ".join(key.choices)
    if isinstance(v, ast.Ident):
        if v.name in key.choices:
            return v.name
        hint, fix = suggest(v.name, key.choices), did_you_mean(v.name, key.choices)
        ctx.err("FTR110", f"`{v.name}` is not a {key.name}; use one of {options}", v.span, hint, fix)
        return None
    hint = (
        f"write the name without quotes: {key.name} = {v.value}"
        if isinstance(v, ast.Str) and v.value in key.choices
        else None
    )
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


def _float_or_auto(ctx: Context, key: Key, v: ast.Value) -> float | str | None:
    """A number, or the name ``auto``: the planner decides (and may measure) the value."""
    if isinstance(v, ast.Ident) and v.name == "auto":
        return "auto"
    if isinstance(v, ast.Ident):
        hint, fix = suggest(v.name, ("auto",)), did_you_mean(v.name, ("auto",))
        ctx.err("FTR103", f"`{key.name}` takes a number or auto, not {describe(v)}", v.span, hint, fix)
        return None
    value = _plain_number(ctx, key, v, "a number or auto")
    if value is None:
        return None
    return float(value) if _in_range(ctx, key, float(value), v.span) else None


def _unit_value(
    ctx: Context, key: Key, v: ast.Value, units: dict[str, int] | dict[str, float], wanted: str, example: str
) -> float | None:
    if not isinstance(v, ast.Number):
        _type_error(ctx, key, v, f"{wanted} like {example}")
        return None
    if v.unit not in units:
        names = ", ".join(units)
        slip = next((u for u in units if u.lower() == v.unit.lower()), None)
        fix = f"{v.text}{slip}" if slip else None
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
            ctx.err("FTR104", f"`{v.unit}` is not a unit of {wanted} ({names})", v.span, hint, fix)
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
        return _int(ctx, Key(key.name, "int", "", lo=1), v)
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
        if (
            len(v.args) == 1
            and v.args[0].name is None
            and isinstance(v.args[0].value, ast.Str)
            and v.args[0].value.value.strip()
        ):
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
        hint = f"the goal is spelled `{spelled}`" if spelled else suggest(v.name, kinds)
        fix = spelled or did_you_mean(v.name, kinds)
        ctx.err("FTR110", f"`{v.name}` is not a goal; use behavior, knowledge or both", v.name_span, hint, fix)
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


def _warmup(ctx: Context, key: Key, v: ast.Value) -> float | int | None:
    """A share of the optimiser steps (0.03, 3%) or a whole number of steps (100)."""
    wanted = "a share like 0.03 or 3%, or a whole number of steps like 100"
    if not isinstance(v, ast.Number) or v.unit not in ("", "%"):
        if isinstance(v, ast.Number):
            ctx.err("FTR104", f"`{key.name}` takes {wanted}, not `{v.text}{v.unit}`", v.span)
        else:
            _type_error(ctx, key, v, wanted)
        return None
    if v.unit == "%":
        if not 0 <= v.value < 100:
            ctx.err("FTR105", f"`{key.name}` is {v.text}%; a share must be at least 0% and below 100%", v.span)
            return None
        return v.value / 100
    if isinstance(v.value, int):
        if not 0 <= v.value <= 10**9:
            ctx.err("FTR105", f"`{key.name}` is {v.value}; a step count must be between 0 and 1e9", v.span)
            return None
        return v.value
    if not 0 <= v.value < 1:
        ctx.err(
            "FTR105",
            f"`{key.name}` is {v.text}: a fraction must be below 1, a step count a whole number",
            v.span,
            f"write {key.name} = {round(v.value)} for {round(v.value)} steps" if v.value >= 1 else None,
        )
        return None
    return float(v.value)


def _cadence(ctx: Context, key: Key, v: ast.Value) -> tuple[str, float] | None:
    """("steps", N), or ("epoch", share of an epoch): ``50``, ``25%``, ``epoch``."""
    wanted = "a whole number of steps (50), a share of an epoch (25%) or epoch"
    if isinstance(v, ast.Ident):
        if v.name == "epoch":
            return ("epoch", 1.0)
        hint, fix = suggest(v.name, ("epoch",)), did_you_mean(v.name, ("epoch",))
        ctx.err("FTR103", f"`{key.name}` takes {wanted}, not {describe(v)}", v.span, hint, fix)
        return None
    if not isinstance(v, ast.Number) or v.unit not in ("", "%"):
        if isinstance(v, ast.Number):
            ctx.err("FTR104", f"`{key.name}` takes {wanted}, not `{v.text}{v.unit}`", v.span)
        else:
            _type_error(ctx, key, v, wanted)
        return None
    if v.unit == "%":
        if not 0 < v.value <= 100:
            ctx.err("FTR105", f"`{key.name}` is {v.text}%; a share of an epoch is above 0% and at most 100%", v.span)
            return None
        return ("epoch", v.value / 100)
    if isinstance(v.value, float):
        ctx.err("FTR103", f"`{key.name}` takes a whole number of steps, not {v.text}", v.span, "or a share: 25%")
        return None
    if not 1 <= v.value <= 10**9:
        ctx.err("FTR105", f"`{key.name}` is {v.value}; it must be between 1 and 1e9 steps", v.span)
        return None
    return ("steps", float(v.value))


def _modules(ctx: Context, key: Key, v: ast.Value) -> str | tuple[str, ...] | None:
    """``"all-linear"`` or a non-empty list of module names (checked against the model by the planner)."""
    if isinstance(v, ast.Str):
        if v.value == "all-linear":
            return "all-linear"
        hint, fix = suggest(v.value, ("all-linear",)), did_you_mean(v.value, ("all-linear",))
        ctx.err(
            "FTR110",
            f'`{v.value}` is not a set of modules; write "all-linear" or a list like ["q_proj", "v_proj"]',
            v.span,
            hint or f'a single module is a list: {key.name} = ["{v.value}"]',
            f'"{fix}"' if fix else None,
        )
        return None
    if isinstance(v, ast.Ident) and v.name in ("all_linear", "all"):
        _type_error(ctx, key, v, '"all-linear" or a list of module names', f'write {key.name} = "all-linear"')
        return None
    if not isinstance(v, ast.List) or not v.items:
        _type_error(ctx, key, v, '"all-linear" or a non-empty list of module names')
        return None
    names: list[str] = []
    for item in v.items:
        if not isinstance(item, ast.Str) or not item.value.strip():
            _type_error(ctx, key, item, "module names as strings", 'e.g. ["q_proj", "v_proj"]')
            return None
        if item.value in names:
            ctx.err("FTR107", f"module `{item.value}` is listed twice", item.span)
            return None
        names.append(item.value)
    return tuple(names)


def _layers(ctx: Context, key: Key, v: ast.Value) -> int | tuple[int, ...] | None:
    """How many decoder layers the student keeps (evenly spaced, first and last kept), or which ones
    by index from 0. Checked against the base's layer count by the planner (FTR327)."""
    if isinstance(v, ast.Number):
        return _int(ctx, key, v)
    if not isinstance(v, ast.List) or not v.items:
        _type_error(ctx, key, v, "a layer count or a non-empty list of layer indices", f"e.g. {key.name} = 15")
        return None
    seen: list[int] = []
    for item in v.items:
        if not isinstance(item, ast.Number) or item.unit or not float(item.value).is_integer() or item.value < 0:
            _type_error(ctx, key, item, "layer indices as whole numbers from 0", "e.g. [0, 2, 4]")
            return None
        if int(item.value) in seen:
            ctx.err("FTR107", f"layer {int(item.value)} is listed twice", item.span)
            return None
        seen.append(int(item.value))
    if seen != sorted(seen):
        ctx.err("FTR103", "list the kept layers in ascending order: they stay in the base's order", v.span)
        return None
    return tuple(seen)


def _template(ctx: Context, key: Key, v: ast.Value) -> tuple[str, str] | None:
    """("name", standard template) or ("file", resolved path) of a Jinja file in the project."""
    from ftc.shared.templates import CHAT_TEMPLATES

    names = tuple(CHAT_TEMPLATES)
    if isinstance(v, ast.Ident):
        if v.name in names:
            return ("name", v.name)
        hint, fix = suggest(v.name, names), did_you_mean(v.name, names)
        ctx.err(
            "FTR110",
            f"`{v.name}` is not a standard chat template; use one of {' | '.join(names)} or a Jinja file (a string)",
            v.span,
            hint or "leave chat_template out to use the model's own",
            fix,
        )
        return None
    if not isinstance(v, ast.Str):
        _type_error(ctx, key, v, 'a template name (chatml) or a Jinja file ("chat.jinja")')
        return None
    if v.value in names:
        _type_error(ctx, key, v, "a template name without quotes", f"write {key.name} = {v.value}")
        return None
    resolved = resolve_path(ctx, v.value, v.span)
    if resolved is None:
        return None
    problem = _jinja_problem(resolved)
    if problem:
        ctx.err("FTR103", f"`{v.value}` is not a usable chat template: {problem}", v.span)
        return None
    return ("file", resolved)


def _jinja_problem(path: str) -> str | None:
    """Why the file cannot be a chat template (unreadable, not Jinja, no `messages`), or None."""
    try:
        text = open(path, encoding="utf-8").read()  # noqa: PTH123 - a resolved path from the recipe
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read it as UTF-8 text ({type(exc).__name__})"
    try:
        import jinja2
    except ImportError:  # the runtime's dependency; without it the plan still records the text
        jinja2 = None  # type: ignore[assignment]
    if jinja2 is not None:
        try:
            jinja2.Environment().parse(text)
        except jinja2.TemplateSyntaxError as exc:
            return f"Jinja syntax error on line {exc.lineno}: {exc.message}"
    if "messages" not in text:
        return "it never reads `messages`"
    return None


CONVERTERS: dict[str, Callable[[Context, Key, ast.Value], Any]] = {
    "string": _string,
    "path": _path,
    "choice": _choice,
    "bool": _bool,
    "int": _int,
    "float": _float,
    "float_or_auto": _float_or_auto,
    "size": _size,
    "duration": _duration,
    "params": _params,
    "budget": _budget,
    "fraction": _fraction,
    "source": _source_ref,
    "model": _model,
    "goal": _goal,
    "columns": _columns,
    "warmup": _warmup,
    "cadence": _cadence,
    "modules": _modules,
    "layers": _layers,
    "template": _template,
}
