"""The plan contract's vocabulary: names the compiler writes into a plan and the runtime reads.

One place for each, so the two sides cannot drift apart: data formats and their canonical fields,
metric names, step kinds and the name of the guard on training steps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DATA_FORMATS: tuple[str, ...] = ("chat", "instruction", "completion", "preference", "kto", "text", "documents")

# Canonical fields per data format, in order: a recipe's column map renames file columns to these.
FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "chat": ("messages",),
    "instruction": ("instruction", "input", "output"),
    "completion": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion", "label"),  # unpaired preference: label true = a desirable answer
    "text": ("text",),
    "documents": ("text", "path"),
}


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the language: the arguments a recipe may give it and how its score reads.
    Adding a metric is one entry here plus its scorer (``ftc.runtime.metrics.SCORERS``, for a
    per-row metric) and its test; the checks, the docs and the plan schema read this table."""

    name: str
    args: tuple[str, ...] = ()  # argument names; the first may be written positionally
    required: str | None = None  # the argument that must be given
    per_row: bool = True  # scored on each holdout row from the predictions (else from perplexity)
    rate: bool = (
        True  # a rate in [0, 1], higher is better (else its own scale; the expect's comparison gives the direction)
    )
    doc: str = ""


METRIC_SPECS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("exact_match", ("field",), doc="the answer equals the reference, or one JSON field of it"),
        MetricSpec("contains", ("text",), required="text", doc="the answer contains a text"),
        MetricSpec("regex", ("pattern",), required="pattern", doc="a regular expression matches the answer"),
        MetricSpec("json_valid", doc="the answer is one JSON document"),
        MetricSpec(
            "json_schema", ("schema",), required="schema", doc="the answer validates against a JSON Schema file"
        ),
        MetricSpec("rouge_l", doc="ROUGE-L F1 of the answer against the reference"),
        # A judge model's mean score on 1..scale (not a rate): `expect judge("...") >= 4`.
        MetricSpec(
            "judge",
            ("rubric", "teacher", "scale"),
            required="rubric",
            rate=False,
            doc="a judge model scores each answer by a rubric (text or a .md/.txt file), 1 to scale (default 5): "
            'judge("rubric", teacher = model("..."), scale = 5)',
        ),
        MetricSpec("perplexity", per_row=False, rate=False, doc="perplexity of the model on the holdout's answers"),
        # The relative rise of general-text perplexity after tuning, in [0, inf): `expect forgetting <= 10%`.
        MetricSpec(
            "forgetting", per_row=False, rate=False, doc="relative rise of general-text perplexity after tuning"
        ),
        # Measured per request at batch 1 with the plan's max_new_tokens on the run's device, in
        # milliseconds: `expect latency_p95 <= 300ms`.
        MetricSpec("latency_p50", per_row=False, rate=False, doc="median time to answer one request, batch 1"),
        MetricSpec("latency_p95", per_row=False, rate=False, doc="95th-percentile time to answer one request, batch 1"),
    )
}
METRICS: tuple[str, ...] = tuple(METRIC_SPECS)
# Scored per row as a rate in [0, 1], higher is better; the others are lower-is-better and unbounded.
RATE_METRICS: frozenset[str] = frozenset(name for name, m in METRIC_SPECS.items() if m.rate)
UNBOUNDED_METRICS: frozenset[str] = frozenset(name for name, m in METRIC_SPECS.items() if not m.rate)
PER_ROW_METRICS: frozenset[str] = frozenset(name for name, m in METRIC_SPECS.items() if m.per_row)
# Thresholds are durations (300ms, 0.5s), held in milliseconds.
LATENCY_METRICS: frozenset[str] = frozenset({"latency_p50", "latency_p95"})

# `export { gguf = ... }`: the types gguf-py can write in Python (its k-quant classes only
# dequantise), and the architectures ftc's GGUF writer maps (config.json model_type).
GGUF_TYPES: tuple[str, ...] = ("f16", "q8_0", "q4_0")
GGUF_ARCHITECTURES: tuple[str, ...] = ("llama",)

STEP_KINDS: tuple[str, ...] = (
    "load",
    "clean",
    "dedup",
    "split",
    "index",
    "baseline",
    "synthesize",
    "lr_probe",
    "train",
    "dpo",
    "orpo",
    "kto",
    "distill",
    "eval",
    "gate",
    "export",
)

# The guard on training steps: they run only when the prompted baseline misses the bar.
GUARD = "baseline_misses_bar"


def expect_label(metric: str, args: Mapping[str, object]) -> str:
    """The faithful name of what an expect measures, the key of its score everywhere (plan,
    scores, gate, report): the metric with every argument in full, e.g.
    ``json_schema(schema="schemas/strict/ticket.json")``. Two expects share it only when they
    measure the same thing."""
    if not args:
        return metric
    inner = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in sorted(args.items()))
    return f"{metric}({inner})"


def expect_id(expect: Mapping[str, Any]) -> str:
    """An expect's identity: what it measures and the bar, e.g. ``json_valid >= 0.95``."""
    return f"{expect_label(expect['metric'], expect.get('args') or {})} {expect['op']} {float(expect['threshold']):g}"
