"""The eval block (FTR111, FTR112, FTR113): expectations, their metrics and thresholds, the
baseline margin, and the eval data source; the checked block becomes an ``EvalSpec``.

Thresholds are numbers or percentages: rates in [0, 1] (90% = 0.9), perplexity a plain positive
number, forgetting (the relative rise of general-text perplexity after tuning) 0 or more, usually
written as a percentage: `expect forgetting <= 10%` is 0.10. Latency thresholds are durations
(`expect latency_p95 <= 300ms`), held in milliseconds."""

from __future__ import annotations

import json
import math
import re

from ftc.compiler.lang import ast
from ftc.compiler.lang.check_base import Checked, Context, resolve_path
from ftc.compiler.lang.check_values import describe
from ftc.compiler.lang.keys import DURATION_UNITS, METRIC_ARGS, REQUIRED_ARGS
from ftc.compiler.lang.recipe import EvalSpec, Expect, Span
from ftc.compiler.lang.suggest import did_you_mean, suggest
from ftc.shared import files
from ftc.shared.contract import LATENCY_METRICS, METRICS, RATE_METRICS


def check_statement(ctx: Context, out: Checked, item: ast.Expect | ast.Beat) -> None:
    if isinstance(item, ast.Beat):
        _check_beat(ctx, out, item)
    else:
        expect = _check_expect(ctx, item)
        if expect is not None:
            out.expects.append(expect)


def _check_beat(ctx: Context, out: Checked, item: ast.Beat) -> None:
    if item.target.name != "baseline":
        ctx.err(
            "FTR111",
            f"`beat` compares with `baseline`, not `{item.target.name}`",
            item.target.span,
            "write `beat baseline by 10%`",
        )
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
        ctx.err(
            "FTR107",
            "a second `beat baseline` statement",
            item.span,
            f"the first is on line {out.beats[0][1].span.line}",
        )
        return
    out.beats.append((float(v.value), item))


def _metric_args(ctx: Context, metric: ast.Ident | ast.Call) -> tuple[str, dict[str, object]] | None:
    name = metric.name
    if name not in METRICS:
        hint = suggest(name, METRICS) or f"metrics: {', '.join(METRICS)}"
        ctx.err(
            "FTR111",
            f"unknown metric `{name}`",
            getattr(metric, "name_span", metric.span),
            hint,
            did_you_mean(name, METRICS),
        )
        return None
    allowed = METRIC_ARGS[name]
    args: dict[str, object] = {}
    for i, arg in enumerate(metric.args if isinstance(metric, ast.Call) else ()):
        arg_name = arg.name or (allowed[0] if i == 0 and allowed else None)
        if arg_name is None or arg_name not in allowed or arg_name in args:
            takes = f"takes {', '.join(allowed)}" if allowed else "takes no arguments"
            ctx.err(
                "FTR111", f"`{name}` {takes}", arg.span, suggest(arg.name, allowed) if arg.name and allowed else None
            )
            return None
        if name == "judge" and arg_name in ("teacher", "scale"):
            judged = _judge_arg(ctx, arg_name, arg.value)
            if judged is None:
                return None
            args[arg_name] = judged
            continue
        if not isinstance(arg.value, ast.Str) or not arg.value.value:
            ctx.err("FTR103", f"`{arg_name}` of `{name}` takes a non-empty string", arg.value.span)
            return None
        value = _metric_arg_value(ctx, arg_name, arg.value)
        if value is None:
            return None
        args[arg_name] = value
    need = REQUIRED_ARGS.get(name)
    if need and need not in args:
        ctx.err("FTR111", f'`{name}` needs its {need}: {name}("...")', metric.span)
        return None
    if name == "judge":  # every argument in full, so the label says which judge and scale
        args = {"teacher": JUDGE_DEFAULT_MODEL, "scale": JUDGE_DEFAULT_SCALE} | args
    return name, args


JUDGE_DEFAULT_MODEL = "smollm2-135m-instruct"  # the embedded model: a judge that exists offline
JUDGE_DEFAULT_SCALE = 5


def _judge_arg(ctx: Context, arg_name: str, value: ast.Value) -> object | None:
    """``teacher = model("...")`` and ``scale = N`` (scores 1 to N) of a judge."""
    if arg_name == "teacher":
        if (
            isinstance(value, ast.Call)
            and value.name == "model"
            and len(value.args) == 1
            and value.args[0].name is None
            and isinstance(value.args[0].value, ast.Str)
            and value.args[0].value.value.strip()
        ):
            return value.args[0].value.value
        ctx.err("FTR103", 'the judge\'s teacher is a model: teacher = model("smollm2-135m-instruct")', value.span)
        return None
    if isinstance(value, ast.Number) and not value.unit and isinstance(value.value, int) and 2 <= value.value <= 10:
        return int(value.value)
    ctx.err("FTR103", "the judge's scale is a whole number from 2 to 10: scale = 5 scores 1 to 5", value.span)
    return None


def _metric_arg_value(ctx: Context, arg_name: str, value: ast.Str) -> object | None:
    if arg_name == "pattern":
        try:
            re.compile(value.value)
        except (re.error, RecursionError, OverflowError) as exc:
            ctx.err("FTR111", f"the pattern is not a valid regular expression: {exc}", value.span)
            return None
    if arg_name == "rubric" and _names_a_file(ctx, value.value):
        return resolve_path(ctx, value.value, value.span)  # read at scoring time: an edit re-judges
    if arg_name == "schema":
        path = resolve_path(ctx, value.value, value.span)
        if path is None:
            return None
        return path if _valid_json_file(ctx, path, value.span) else None
    return value.value


def _names_a_file(ctx: Context, text: str) -> bool:
    """A judge's rubric is a file when it is one line ending in .md or .txt that exists."""
    if "\n" in text or not text.endswith((".md", ".txt")):
        return False
    try:
        return (ctx.recipe_dir / text).is_file()
    except (OSError, ValueError):
        return False


def _valid_json_file(ctx: Context, path: str, span: Span) -> bool:
    try:
        json.loads(files.read_whole(path, limit=5_000_000, what="a JSON Schema"))
        return True
    except files.DataError as exc:  # a FIFO, a device or an oversized file, refused before reading
        ctx.err("FTR111", f"the JSON Schema file cannot be read: {exc.reason}", span)
        return False
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
        ctx.err(
            "FTR112",
            f"`{name}` is a rate between 0 and 1 (or 0% and 100%); {threshold:g} is outside it",
            item.threshold.span,
        )
        return None
    if name == "judge" and not 1 <= threshold <= int(args["scale"]):  # type: ignore[call-overload]
        ctx.err(
            "FTR112",
            f"`judge` scores from 1 to its scale ({args['scale']}); {threshold:g} is outside it",
            item.threshold.span,
        )
        return None
    if name == "perplexity" and not threshold > 0:
        ctx.err("FTR112", "perplexity is positive; the threshold must be greater than 0", item.threshold.span)
        return None
    if name == "forgetting" and not threshold >= 0:
        ctx.err(
            "FTR112",
            "forgetting is a rise of general-text perplexity, 0% or more; the threshold cannot be negative",
            item.threshold.span,
        )
        return None
    return Expect(name, args, item.op, threshold, item.span)  # type: ignore[arg-type]


def _threshold(ctx: Context, item: ast.Expect) -> float | None:
    v = item.threshold
    if item.metric.name in LATENCY_METRICS:
        return _latency_ms(ctx, v)
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


def _latency_ms(ctx: Context, v: ast.Value) -> float | None:
    """A latency threshold: a positive duration (300ms, 1.5s), in milliseconds."""
    if not isinstance(v, ast.Number) or v.unit not in DURATION_UNITS:
        ctx.err("FTR103", f"a latency threshold is a duration like 300ms or 1.5s, not {describe(v)}", v.span)
        return None
    value = float(v.value) * DURATION_UNITS[v.unit] * 1000
    if math.isinf(value) or math.isnan(value) or not value > 0:
        ctx.err("FTR112", "a latency threshold must be a positive, finite duration", v.span)
        return None
    return value


def build_eval(ctx: Context, block: Checked, names: set[str]) -> EvalSpec | None:
    v = block.values
    eval_data = v.get("data")
    if eval_data is not None and eval_data not in names:
        hint = suggest(eval_data, sorted(names)) or (f"sources: {', '.join(sorted(names))}" if names else None)
        guess = did_you_mean(eval_data, sorted(names))
        fix = f'"{guess}"' if guess else None  # the span is the quoted string; source names need no escapes
        ctx.err("FTR113", f"no data source named `{eval_data}`", block.nodes["data"].value.span, hint, fix)
        return None
    if v.get("holdout") == 0 and eval_data is None:
        ctx.err(
            "FTR105",
            "a 0% holdout leaves nothing to evaluate",
            block.nodes["holdout"].value.span,
            'set eval data = "name" or hold out some rows',
        )
        return None
    if any(val is None for val in v.values()):
        return None
    return EvalSpec(
        holdout_fraction=block.get("holdout"),
        seed=block.get("seed"),
        eval_data=eval_data,
        stratify=v.get("stratify"),
        accept_leaks=block.get("accept_leaks"),
        expects=tuple(block.expects),
        beat_baseline_pct=block.beats[0][0] if block.beats else None,
        span=block.node.span,
    )
