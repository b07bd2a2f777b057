"""The plan contract's vocabulary: names the compiler writes into a plan and the runtime reads.

One place for each, so the two sides cannot drift apart: data formats and their canonical fields,
metric names, step kinds and the name of the guard on training steps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

DATA_FORMATS: tuple[str, ...] = ("chat", "instruction", "completion", "preference", "text", "documents")

# Canonical fields per data format, in order: a recipe's column map renames file columns to these.
FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "chat": ("messages",),
    "instruction": ("instruction", "input", "output"),
    "completion": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "text": ("text",),
    "documents": ("text", "path"),
}

METRICS: tuple[str, ...] = (
    "exact_match",
    "contains",
    "regex",
    "json_valid",
    "json_schema",
    "rouge_l",
    "perplexity",
)
# Metrics scored as a rate in [0, 1] (higher is better); perplexity is lower-is-better.
RATE_METRICS: frozenset[str] = frozenset(m for m in METRICS if m != "perplexity")

STEP_KINDS: tuple[str, ...] = (
    "load", "clean", "dedup", "split", "index", "baseline", "train", "dpo", "distill", "eval", "gate", "export",
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
