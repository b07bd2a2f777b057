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
}
