"""Time, cost and the budget check (rule 9): FLOPs over the device's stated throughput, with
generation bounded by memory bandwidth; over the budget is an error, near it a warning."""

from __future__ import annotations

import math

from ftc.compiler.plan import costs, memory
from ftc.compiler.plan.render import duration
from ftc.compiler.plan.steps import CONTEXT_TOKENS
from ftc.compiler.plan.state import TEMPLATE_TOKENS, Decisions, Facts, response_tokens, train_rows
from ftc.compiler.lang.recipe import Span
from ftc.compiler.lang.thresholds import NEAR_BUDGET

EMBEDDER_PARAMS = 22_700_000  # all-MiniLM-L6-v2
BATCH = 8  # generation batch of the baseline and eval steps


def estimate(f: Facts, d: Decisions, new_tokens: int) -> dict:
    hp = d.hp
    p = f.base.params
    max_len = int(hp["max_length"]["value"])
    overhead = f.system_tokens + TEMPLATE_TOKENS + (CONTEXT_TOKENS if "rag" in d.strategy else 0)
    per_row = min(max_len, int((f.tokens.mean if hp["packing"]["value"] else f.tokens.p90) + overhead))
    n = f.rows(d.train_names)
    n_train = train_rows(f, n)
    epochs = float(hp["epochs"]["value"] or 1)  # a recipe may ask for a fraction of an epoch
    rows_seen = math.ceil(n_train * epochs)
    if hp["max_steps"]["value"]:
        rows_seen = min(rows_seen, int(hp["max_steps"]["value"]) * int(hp["batch"]["value"]) * int(hp["grad_accum"]["value"]))
    train_tokens = rows_seen * per_row if d.trains else 0
    flops = {"train": costs.train_flops(p, train_tokens, d.method) if d.trains else 0}
    if "dpo" in d.strategy:
        pairs = train_rows(f, f.rows(s.name for s in f.recipe.preference_sources))
        dpo_tokens = 2 * pairs * per_row  # chosen and rejected, one epoch
        flops["train"] += costs.train_flops(p, dpo_tokens, d.method) + costs.inference_flops(p, dpo_tokens)
        train_tokens += dpo_tokens
    if "distill" in d.strategy and f.teacher is not None:
        flops["teacher"] = costs.inference_flops(f.teacher.params, n_train * (per_row + response_tokens(f)))
    flops["inference"] = _inference_flops(f, d, per_row, new_tokens)
    if "rag" in d.strategy:
        doc_bytes = sum(f.sources[s.name].bytes for s in f.recipe.documents)
        flops["index"] = costs.inference_flops(EMBEDDER_PARAMS, doc_bytes // 4)
    secs = {k: costs.seconds(v, f.device) for k, v in flops.items()}
    # Generation at small batch is bound by reading the weights once per token, not by FLOPs.
    rows = _eval_rows(f)
    runs = 2 if d.trains else 1
    secs["inference"] = max(secs["inference"], runs * rows * costs.decode_ms(p, new_tokens, f.device) / 1000 / BATCH)
    if "teacher" in secs and f.teacher is not None:
        secs["teacher"] = max(secs["teacher"], n_train * costs.decode_ms(f.teacher.params, response_tokens(f), f.device) / 1000 / BATCH)
    secs = {k: round(v, 1) for k, v in secs.items()}
    total = round(sum(secs.values()), 1)
    mem = d.mem
    if mem is None:
        peak = memory.inference_bytes(f.base.spec, f.device.kind)
        breakdown = {"weights": peak - memory.OVERHEAD[f.device.kind], "gradients": 0, "optimizer": 0, "adapters": 0,
                     "activations": 0, "overhead": memory.OVERHEAD[f.device.kind]}
    else:
        peak, breakdown = mem.peak, mem.breakdown()
    usd = round(costs.usd(total, f.device), 2)
    return {
        "peak_memory_bytes": peak,
        "memory_breakdown": breakdown,
        "alternatives": d.alternatives,
        "train_tokens": train_tokens,
        "train_flops": flops["train"],
        "flops": flops,
        "seconds": total,
        "seconds_breakdown": secs,
        "cost": {"usd": usd, "basis": "local CPU: no cost counted" if f.device.kind == "cpu" else
                 f"{f.device.gpus} x ${f.device.usd_per_hour:.2f}/GPU-hour ({f.device.name}-class, on demand)"},
        "token_lengths": f.tokens.to_json(),
        "answer_lengths": f.answers.to_json(),
        "assumptions": f.device.assumption + (f"; {per_row} tokens per training row "
                                              + ("(mean, packed)" if hp["packing"]["value"] else "(p90, padded)")
                                              if d.trains else "; generation only"),
    }


def _eval_rows(f: Facts) -> int:
    r = f.recipe
    if r.eval.eval_data:
        return f.rows([r.eval.eval_data])
    return math.ceil(f.rows(s.name for s in r.train_sources) * r.eval.holdout_fraction)


def _inference_flops(f: Facts, d: Decisions, per_row: int, new_tokens: int) -> int:
    r = f.recipe
    rows = _eval_rows(f)
    shots = int(d.hp["few_shot"]["value"] or 0)
    context = CONTEXT_TOKENS if "rag" in d.strategy else 0
    prompt = (per_row - context) * (1 + shots) + context  # few-shot examples come without passages
    runs = 2 if d.trains else 1  # the baseline, and the tuned model's eval
    return runs * costs.inference_flops(f.base.params, rows * (prompt + new_tokens))


def check_budget(f: Facts, d: Decisions, est: dict) -> None:
    c = f.recipe.constraints
    secs = est["seconds"]
    work = f"{est['train_flops']:.3g} training FLOPs" if d.trains else "no training"
    d.fire("R-TIME-COST", f"{work}, ~{duration(secs)} in all on {f.device.name}"
           + (f", ${est['cost']['usd']:.2f}" if f.device.kind == "cuda" else ""))
    hint = ("cap the run with train { max_steps = N } or fewer epochs, pick a smaller base, or run on cuda"
            if d.trains else "a smaller holdout or a smaller base")
    if c.budget_seconds is not None:
        _against(d, secs, c.budget_seconds, "time", duration(secs), duration(c.budget_seconds), "FTR309", "FTR310", c.span, hint)
    if c.budget_usd is not None:
        usd = est["cost"]["usd"]
        _against(d, usd, c.budget_usd, "cost", f"${usd:,.2f}", f"${c.budget_usd:,.2f}", "FTR311", "FTR312", c.span, hint)


def _against(d: Decisions, value: float, limit: float, what: str, shown: str, limit_shown: str,
             over: str, near: str, span: Span, hint: str) -> None:
    if value > limit:
        d.error(over, f"estimated {what} {shown} is over the budget of {limit_shown}", span, hint)
    elif value >= NEAR_BUDGET * limit:
        d.warn(near, f"estimated {what} {shown} is {value / limit:.0%} of the budget of {limit_shown}", span,
               "estimates are rough; leave headroom")
