"""Time, cost and the budget check (rule 9): FLOPs over the device's stated throughput, with
generation bounded by memory bandwidth; over the budget is an error, near it a warning."""

from __future__ import annotations

import math
from typing import Any

from ftc.compiler.lang.recipe import Span
from ftc.compiler.lang.thresholds import NEAR_BUDGET
from ftc.compiler.plan import costs, memory
from ftc.compiler.plan.render import duration
from ftc.compiler.plan.state import TEMPLATE_TOKENS, Decisions, Facts, response_tokens, times_latency, train_rows
from ftc.compiler.plan.steps import LATENCY_REQUESTS
from ftc.shared import hparams
from ftc.shared.decode_batch import decode_rows, kv_bytes_per_token

EMBEDDER_PARAMS = 22_700_000  # all-MiniLM-L6-v2
# Resident bytes the loaded embedder adds to a step (weights, tokenizer, sentence-transformers):
# the index step's peak RSS less the runtime's own, measured on the reference CPU (~185 MB).
EMBEDDER_BYTES = 200 * 10**6
# Seconds to load sentence-transformers and the embedder before the first passage (measured: the
# index step of handbook-qa took 8.1 s for a few KB of passages).
EMBEDDER_LOAD_S = 7.0
# The data steps (load, clean, dedup, split) and the gate and export, measured: ~2 s for a few
# hundred rows, then ~140 us a row (`ftc data check` on 1M chat rows: 139 s on a 2-core machine).
DATA_FIXED_S = 2.0
DATA_ROW_S = 140e-6
SEARCH_MIN_ROWS = 8  # the smallest validation slice a prompt search or lr probe is scored on
BATCH = 8  # generation batch of the baseline and eval steps
# The perplexity checks (ftc.runtime.perplexity): the general text (runtime/assets/general.txt) is
# 767 tokens of the embedded model's tokenizer, read in windows of up to 1,024 tokens that score
# 768 each (ftc.runtime.perplexity.MAX_LENGTH, STRIDE).
GENERAL_TEXT_TOKENS = 767
PERPLEXITY_WINDOW, PERPLEXITY_STRIDE = 1024, 768
JUDGE_PROMPT = 80  # tokens of the judge's fixed prompt around the rubric and the row (ftc.runtime.judge)
JUDGE_REPLY = 8  # ftc.runtime.judge.REPLY_TOKENS


def estimate(f: Facts, d: Decisions, new_tokens: int) -> dict[str, Any]:
    hp = d.hp
    p = f.trained.params  # training FLOPs are the trained model's (a student cut from the base is smaller)
    max_len = int(hp["max_length"]["value"])
    overhead = f.system_tokens + TEMPLATE_TOKENS + _context(f, d)
    per_row = min(max_len, int((f.tokens.mean if hp["packing"]["value"] else f.tokens.p90) + overhead))
    n = f.rows(d.train_names)
    n_train = train_rows(f, n) + d.synthetic_rows
    epochs = float(hp["epochs"]["value"] or 1)  # a recipe may ask for a fraction of an epoch
    rows_seen = math.ceil(n_train * epochs)
    if hp["max_steps"]["value"]:
        rows_seen = min(
            rows_seen, int(hp["max_steps"]["value"]) * int(hp["batch"]["value"]) * int(hp["grad_accum"]["value"])
        )
    one_stage = d.trains and "finetune" not in d.strategy and "distill" not in d.strategy  # orpo or kto alone
    # ORPO and KTO forward two sequences a row (chosen and rejected; a completion and its KL
    # mismatch), KTO's reference forwards them once more; one stage or after SFT, one epoch after it.
    extra = 0
    if one_stage:
        rows_seen *= 2
    train_tokens = rows_seen * per_row if d.trains else 0
    flops = {"train": costs.train_flops(p, train_tokens, d.method) if d.trains else 0}
    if "kto" in d.strategy or "orpo" in d.strategy:
        extra = 2 * train_rows(f, f.rows(d.objective_names)) * per_row
        if not one_stage:
            flops["train"] += costs.train_flops(p, extra, d.method)
            train_tokens += extra
        if "kto" in d.strategy:
            flops["train"] += costs.inference_flops(p, extra if not one_stage else train_tokens)
    if "dpo" in d.strategy:
        pairs = train_rows(f, f.rows(s.name for s in f.recipe.preference_sources))
        dpo_tokens = 2 * pairs * per_row  # chosen and rejected, one epoch
        flops["train"] += costs.train_flops(p, dpo_tokens, d.method) + costs.inference_flops(p, dpo_tokens)
        train_tokens += dpo_tokens
    if "distill" in d.strategy and f.teacher is not None and d.distill_kind == "logits":
        # The teacher forwards every training batch (no generation): its logits are the target.
        flops["teacher"] = costs.inference_flops(f.teacher.params, rows_seen * per_row)
    elif "distill" in d.strategy and f.teacher is not None:
        flops["teacher"] = costs.inference_flops(f.teacher.params, n_train * (per_row + response_tokens(f)))
    if d.synthesize:
        flops["synthesize"] = costs.inference_flops(int(d.synthesize["teacher_params"]), _synth_tokens(f, d, per_row))
    flops["inference"] = _inference_flops(f, d, per_row, new_tokens)
    p = f.base.params  # generation: the baseline's base model (the larger, when a student is cut from it)
    if f.judges:
        flops["judge"] = _judge_flops(f, d, per_row, new_tokens)
    flops["prompt_search"] = _search_flops(f, d, per_row, new_tokens)
    flops["lr_probe"] = _probe_flops(f, d, per_row)
    if "rag" in d.strategy:
        doc_bytes = sum(f.sources[s.name].bytes for s in f.recipe.documents)
        flops["index"] = costs.inference_flops(EMBEDDER_PARAMS, doc_bytes // 4)
    secs = {k: costs.seconds(v, f.device) for k, v in flops.items()}
    if "index" in secs:
        secs["index"] += EMBEDDER_LOAD_S
    secs["train"] /= _train_speedup(d)  # only training is launched over several processes
    # Generation: each prompt's prefill (FLOPs) and a batch's decoding steps (reading the weights).
    secs["inference"], secs["eval"] = _inference_seconds(f, d, new_tokens)
    secs["prompt_search"] = _search_seconds(f, d, new_tokens)
    secs["data"] = DATA_FIXED_S + DATA_ROW_S * f.rows(f.sources)
    secs = {k: v for k, v in secs.items() if v or k not in ("prompt_search", "lr_probe", "eval")}
    flops = {k: v for k, v in flops.items() if v or k not in ("prompt_search", "lr_probe")}
    if "teacher" in secs and f.teacher is not None and d.distill_kind != "logits":  # the teacher answers each row
        secs["teacher"] = costs.generation_seconds(
            f.teacher.params, n_train, per_row, response_tokens(f), BATCH, f.device
        )
    if f.judges:  # a short reply per row and judge expect, for the baseline and the tune
        judged = _eval_rows(f) * (2 if d.trains else 1) * _judge_count(f)
        params = max(m.params for m in f.judges.values())
        prompt = per_row + new_tokens + JUDGE_PROMPT
        secs["judge"] = costs.generation_seconds(params, judged, prompt, JUDGE_REPLY, BATCH, f.device)
    if d.synthesize:  # two generations per row (the input, then its answer)
        shots = int(d.synthesize["shots"])
        secs["synthesize"] = 2 * costs.generation_seconds(
            int(d.synthesize["teacher_params"]),
            d.synthetic_rows,
            (1 + shots) * per_row,
            response_tokens(f),
            BATCH,
            f.device,
        )
    secs = {k: round(v, 1) for k, v in secs.items()}
    total = round(sum(secs.values()), 1)
    mem = d.mem
    embedder = EMBEDDER_BYTES if _embeds(d) else 0
    generation_peak = _generation_peak(f, d, per_row, new_tokens, embedder)
    if mem is None:
        peak = generation_peak
        # the embedder's weights count as weights; the KV cache and the transients as activations
        weights = memory.inference_bytes(f.base.spec, f.device.kind) - memory.OVERHEAD[f.device.kind] + embedder
        breakdown = {
            "weights": weights,
            "gradients": 0,
            "optimizer": 0,
            "adapters": 0,
            "activations": peak - weights - memory.OVERHEAD[f.device.kind],
            "overhead": memory.OVERHEAD[f.device.kind],
        }
    else:
        peak, breakdown = mem.peak, mem.breakdown()
    usd = round(costs.usd(total, f.device), 2)
    return {
        "peak_memory_bytes": peak,
        "generation_peak_bytes": generation_peak,  # the baseline's and eval's peak (the whole run's without a tune)
        "memory_breakdown": breakdown,
        "alternatives": d.alternatives,
        "train_tokens": train_tokens,
        "train_flops": flops["train"],
        "flops": flops,
        "seconds": total,
        "seconds_breakdown": secs,
        "cost": {
            "usd": usd,
            "basis": "local CPU: no cost counted"
            if f.device.kind == "cpu"
            else f"{f.device.gpus} x ${f.device.usd_per_hour:.2f}/GPU-hour ({f.device.name}-class, on demand)",
        },
        "token_lengths": f.tokens.to_json(),
        "answer_lengths": f.answers.to_json(),
        "assumptions": f.device.assumption
        + (
            f"; {per_row} tokens per training row " + ("(mean, packed)" if hp["packing"]["value"] else "(p90, padded)")
            if d.trains
            else "; generation only"
        ),
    }


def _judge_count(f: Facts) -> int:
    return sum(1 for e in f.recipe.eval.expects if e.metric == "judge")


def _judge_flops(f: Facts, d: Decisions, per_row: int, new_tokens: int) -> int:
    """Each judge expect reads the question, reference and answer plus the rubric for every holdout
    row of the baseline and the tune, and writes a score."""
    runs = 2 if d.trains else 1
    total = 0
    for e in f.recipe.eval.expects:
        model = f.judges.get(str(e.args.get("teacher") or ""))
        if e.metric == "judge" and model is not None:
            tokens = per_row + new_tokens + JUDGE_PROMPT + len(str(e.args.get("rubric", ""))) // 4 + JUDGE_REPLY
            total += costs.inference_flops(model.params, runs * _eval_rows(f) * tokens)
    return total


def _synth_tokens(f: Facts, d: Decisions, per_row: int) -> int:
    """Tokens the teacher reads and writes for the synthesize step: per row, one request for a new
    input (the goal and the seed examples' inputs) and one for its answer (the seed examples as
    shots), each with a response."""
    shots = int(d.synthesize["shots"]) if d.synthesize else 0
    per_synthetic = 2 * (1 + shots) * per_row + 2 * response_tokens(f)
    return d.synthetic_rows * per_synthetic


def _train_speedup(d: Decisions) -> float:
    """The distributed section's speed-up: the processes that really run, less communication
    (``distributed.COMM_OVERHEAD``); 1 before it is decided or for one process."""
    return float((d.distributed or {}).get("speedup") or 1.0)


def _context(f: Facts, d: Decisions) -> int:
    """Tokens retrieval adds to each prompt: the documents' longest chunks (Facts.context_tokens)."""
    return f.context_tokens if "rag" in d.strategy else 0


def _kv_token_bytes(spec: Any, f: Facts) -> int:
    return kv_bytes_per_token(spec.layers, spec.kv_heads, spec.dim_head, memory.dtype_bytes(f.device.kind))


def _generation_peak(f: Facts, d: Decisions, per_row: int, new_tokens: int, embedder: int) -> int:
    """The larger peak of the generation steps' prompt shapes: the most random shots (a prefix
    every row shares) and the most nearest shots (each row's own), each about a training row, plus
    retrieved context (``per_row`` includes it; shots come without passages). A CPU decodes more
    rows than it prefills at once (decode_batch)."""
    context = _context(f, d)
    shapes = {("random", int(d.hp["few_shot"]["value"] or 0))}
    shapes |= {(c["selection"], int(c["shots"])) for c in (d.prompt_search or {}).get("candidates", [])}
    # A batch holds no more rows than its step answers: the holdout, or the search's validation rows.
    answered = max(_eval_rows(f), int((d.prompt_search or {}).get("validation_rows") or 0), 1)
    peaks = []
    for selection, shots in shapes:
        prompt = (1 + shots) * (per_row - context) + context
        shared = f.system_tokens + (shots * (per_row - context) if selection == "random" else 0)
        rows = decode_rows(BATCH, prompt + new_tokens, _kv_token_bytes(f.base.spec, f), f.device.kind)
        rows = min(rows, answered)
        peaks.append(
            memory.generation_bytes(f.base.spec, f.device.kind, prompt, new_tokens, rows, embedder, shared, BATCH)
        )
    return max(peaks)


def _embeds(d: Decisions) -> bool:
    """Whether a generation step loads the embedder: retrieval, or a search with nearest shots."""
    search = d.prompt_search or {}
    return "rag" in d.strategy or any(c["selection"] == "nearest" for c in search.get("candidates", []))


def _eval_rows(f: Facts) -> int:
    r = f.recipe
    if r.eval.eval_data:
        return f.rows([r.eval.eval_data])
    return math.ceil(f.rows(s.name for s in r.scored_sources) * r.eval.holdout_fraction)


def _inference_flops(f: Facts, d: Decisions, per_row: int, new_tokens: int) -> int:
    rows = _eval_rows(f)
    shots = int(d.hp["few_shot"]["value"] or 0)
    context = _context(f, d)
    prompt = (per_row - context) * (1 + shots) + context  # few-shot examples come without passages
    flops = (2 if d.trains else 1) * costs.inference_flops(f.base.params, rows * (prompt + new_tokens))
    if "rag" in d.strategy:  # the baseline also answers without retrieval (what retrieval adds)
        flops += costs.inference_flops(f.base.params, rows * (prompt - context + new_tokens))
    return flops


def _inference_seconds(f: Facts, d: Decisions, new_tokens: int) -> tuple[float, float]:
    """The baseline's and the eval's seconds. The baseline answers the holdout with its few-shot
    prompt (with retrieval, once more without it); a tuned model answers with the plain prompt.
    Each step loads its model and scores the general text and the holdout answers for perplexity
    (a forward pass of each window)."""
    p, rows, row = f.base.params, _eval_rows(f), _row_tokens(f)
    shots = int(d.hp["few_shot"]["value"] or 0)
    context = _context(f, d)
    prompt = f.system_tokens + (1 + shots) * row + context  # few-shot examples come without passages
    scored = perplexity_tokens(GENERAL_TEXT_TOKENS) + perplexity_tokens(rows * max(1, round(f.answers.mean)))
    fixed = costs.prefill_ms(p, scored, f.device) / 1000 + f.device.model_load_s
    steps = _answer_steps(f, shots, new_tokens)
    # The system prompt begins every prompt: one prefill (kv_cache); random shots do too, but a
    # search with nearest-shot candidates often picks one (the quickstart's does), so its holdout
    # is priced with each row's own shots.
    nearest = any(c["selection"] == "nearest" for c in (d.prompt_search or {}).get("candidates", []))
    shared = f.system_tokens + (0 if nearest else shots * row)
    kv = _kv_token_bytes(f.base.spec, f)
    # the baseline is the run's first step to load a model: it also imports the libraries
    baseline = fixed + f.device.import_s + costs.generation_seconds(p, rows, prompt, steps, BATCH, f.device, shared, kv)
    baseline += _latency_seconds(f, p, prompt, new_tokens)
    if "rag" in d.strategy:
        baseline += costs.generation_seconds(p, rows, prompt - context, steps, BATCH, f.device, shared, kv)
    if not d.trains:
        return baseline, 0.0
    plain = f.system_tokens + row + context
    tuned_steps = _answer_steps(f, 1, new_tokens)
    tuned = costs.generation_seconds(
        f.trained.params, rows, plain, tuned_steps, BATCH, f.device, f.system_tokens, _kv_token_bytes(f.trained.spec, f)
    )
    return baseline, fixed + tuned + _latency_seconds(f, f.trained.params, plain, new_tokens)


def _latency_seconds(f: Facts, params: int, prompt: int, new_tokens: int) -> float:
    """A step that times latency (R-LATENCY-MEASURED) answers one untimed warm-up request and
    LATENCY_REQUESTS timed ones, each alone (batch 1) with its whole prompt (ftc.runtime.latency).
    One answer stops at its own end, a typical response (the plan's latency estimate), where a
    batch lasts its longest."""
    if not times_latency(f.recipe):
        return 0.0
    steps = min(new_tokens, response_tokens(f))
    return (LATENCY_REQUESTS + 1) * costs.generation_seconds(params, 1, prompt, steps, 1, f.device)


def perplexity_tokens(total: int) -> int:
    """Tokens the windowed perplexity forwards for a text of ``total`` tokens: each window scores
    the next PERPLEXITY_STRIDE tokens after up to PERPLEXITY_WINDOW - PERPLEXITY_STRIDE tokens of
    context (ftc.runtime.perplexity.windows)."""
    context = PERPLEXITY_WINDOW - PERPLEXITY_STRIDE
    return sum(
        min(start + PERPLEXITY_STRIDE, total) - max(0, start - context) for start in range(0, total, PERPLEXITY_STRIDE)
    )


def _answer_steps(f: Facts, shots: int, new_tokens: int) -> int:
    """Decoding steps a batch takes: with examples in the prompt (or after tuning) a model answers
    in their shape and stops, so a batch lasts about its longest answer (the answers' p99); with
    none, a prompted model often writes to the token budget."""
    if shots == 0 or not f.answers.p99:
        return new_tokens
    return max(1, min(new_tokens, f.answers.p99))


def _search_seconds(f: Facts, d: Decisions, new_tokens: int) -> float:
    """Each candidate prompt answers the validation rows; random shots are the same for every row
    (a prefix computed once), nearest shots differ per row."""
    search = d.prompt_search
    if not search:
        return 0.0
    row = _row_tokens(f)
    nearest = any(c["selection"] == "nearest" for c in search["candidates"])
    secs = EMBEDDER_LOAD_S if nearest else 0.0  # nearest shots: the train rows are embedded first
    kv = _kv_token_bytes(f.base.spec, f)
    for c in search["candidates"]:
        k = int(c["shots"])
        shared = f.system_tokens + (k * row if c["selection"] == "random" else 0)
        prompt = f.system_tokens + (1 + k) * row
        steps = _answer_steps(f, k, new_tokens)
        secs += costs.generation_seconds(
            f.base.params, int(search["validation_rows"]), prompt, steps, BATCH, f.device, shared, kv
        )
    return secs


def _row_tokens(f: Facts) -> int:
    """Tokens a shot or a validation row adds to a prompt: a typical row with its turn markers."""
    return int(round(f.tokens.mean)) + TEMPLATE_TOKENS


def _search_rows(d: Decisions) -> list[list[int]]:
    """Per candidate prompt of the search, its shot count once per validation row."""
    search = d.prompt_search
    if not search:
        return []
    return [[int(c["shots"])] * int(search["validation_rows"]) for c in search["candidates"]]


def _search_flops(f: Facts, d: Decisions, per_row: int, new_tokens: int) -> int:
    tokens = sum((1 + k) * per_row + new_tokens for rows in _search_rows(d) for k in rows)
    return costs.inference_flops(f.base.params, tokens)


def _probe_flops(f: Facts, d: Decisions, per_row: int) -> int:
    probe = d.lr_probe
    if not probe:
        return 0
    runs = 1  # the rule's lr, stable in the common case; a step down adds a run each (the plan says so)
    trained = runs * int(probe["steps"]) * int(d.hp["batch"]["value"]) * per_row
    scored = (runs + 1) * int(probe["validation_rows"]) * per_row  # + the untrained model's loss
    return costs.train_flops(f.trained.params, trained, d.method) + costs.inference_flops(f.trained.params, scored)


# --- what the baseline searches and what the probe tries (R-PROMPT-SEARCH, R-LR-PROBE) -------------
def plan_searches(f: Facts, d: Decisions, new_tokens: int) -> None:
    """Plan the prompt search and the lr probe, then trim them to the budget: the 8-shot
    candidates first (the costliest prompts), then the probe, then the search itself."""
    d.prompt_search, search_why = _prompt_search(f, d, new_tokens)
    d.lr_probe, probe_why = _lr_probe(f, d)
    budget = f.recipe.constraints.budget_seconds
    trimmed: list[str] = []
    while budget is not None and estimate(f, d, new_tokens)["seconds"] > budget:
        step = _trim(d)
        if step is None:
            break
        trimmed.append(step)
    if trimmed:
        assert budget is not None, "steps are trimmed only against a budget"
        cut = f"left out to fit the budget of {duration(budget)}: " + ", ".join(trimmed)
        search_why = f"{search_why}; {cut}" if d.prompt_search else cut
        if "the probe" in trimmed:
            probe_why = f"{cut}; the rule's lr {hparams.short(float(d.hp['lr']['value']))} is used"
    few = d.hp["few_shot"]
    if d.prompt_search and few["set_by"] == "rule":
        few["reason"] = (
            f"the baseline's prompt is chosen by the search (R-PROMPT-SEARCH); {few['value']} random "
            "shots from the train split is the prompt a search-less plan would use"
        )
    d.fire("R-PROMPT-SEARCH", search_why)
    if d.trains:
        d.fire("R-LR-PROBE", probe_why)


def _trim(d: Decisions) -> str | None:
    search = d.prompt_search
    if search and any(c["shots"] == max(hparams.SEARCH_SHOTS) for c in search["candidates"]):
        search["candidates"] = [c for c in search["candidates"] if c["shots"] != max(hparams.SEARCH_SHOTS)]
        return f"the {max(hparams.SEARCH_SHOTS)}-shot candidates"
    if d.lr_probe:
        d.lr_probe = None
        return "the probe"
    if search:
        d.prompt_search = None
        return "the search"
    return None


def _prompt_search(f: Facts, d: Decisions, new_tokens: int) -> tuple[dict[str, Any] | None, str]:
    hp = d.hp
    # Shots come from the train split's examples; labelled (kto) rows are not examples.
    n_train = train_rows(f, f.rows(s.name for s in f.recipe.train_sources if f.sources[s.name].format != "kto"))
    if hp["few_shot"]["set_by"] == "recipe":
        return None, f"few_shot = {hp['few_shot']['value']} set by recipe: that prompt (random shots), no search"
    val = min(hparams.SEARCH_VAL_ROWS, n_train // 4)
    if val < SEARCH_MIN_ROWS:
        return None, (
            f"{n_train} train rows: too few for a validation slice of {SEARCH_MIN_ROWS}; "
            f"{hp['few_shot']['value']} random shots"
        )
    row = int(min(f.tokens.p90, f.base.spec.max_positions) + f.system_tokens + TEMPLATE_TOKENS)
    context = min(f.base.spec.max_positions, 8192) - _context(f, d)
    pool = n_train - val
    fits = [k for k in hparams.SEARCH_SHOTS if k <= pool and (1 + k) * row + new_tokens <= context]
    left = [k for k in hparams.SEARCH_SHOTS if k not in fits]
    candidates = [
        {"shots": k, "selection": sel} for k in fits for sel in (hparams.SEARCH_SELECTIONS if k else ("none",))
    ]
    why = (
        f"{len(candidates)} candidate prompts ("
        + ", ".join(_candidate(c) for c in candidates)
        + f") on {val} validation rows of train"
    )
    if left:
        why += f"; {'/'.join(map(str, left))} shots left out (p90 row {row} tokens, context {context}, {pool} rows to draw from)"
    return {"candidates": candidates, "validation_rows": val}, why


def _candidate(c: dict[str, Any]) -> str:
    return "0-shot" if not c["shots"] else f"{c['shots']} {c['selection']}"


def _lr_probe(f: Facts, d: Decisions) -> tuple[dict[str, Any] | None, str]:
    hp = d.hp
    if not d.trains or "finetune" not in d.strategy:
        return None, "no supervised fine-tune to probe"
    if hp["lr"]["set_by"] == "recipe":
        return None, f"lr {hparams.short(float(hp['lr']['value']))} set by recipe: no probe"
    n_train = train_rows(f, f.rows(d.train_names))
    val = min(hparams.PROBE_VAL_ROWS, n_train // 5)
    if val < SEARCH_MIN_ROWS:
        return None, f"{n_train} train rows: too few for a validation slice of {SEARCH_MIN_ROWS}; the rule's lr"
    rule = float(hp["lr"]["value"])
    lrs = [hparams.round_lr(rule * x) for x in hparams.PROBE_FACTORS]
    probe = {
        "rule_lr": rule,
        "candidates": lrs,
        "steps": hparams.PROBE_STEPS,
        "validation_rows": val,
        "min_gain": hparams.PROBE_MIN_GAIN,
    }
    why = (
        f"a run of {hparams.PROBE_STEPS} updates at the rule's lr {hparams.short(lrs[0])} on {n_train - val} train "
        f"rows, validation loss on the last {val} train rows; if it is not stable, down to "
        + ", ".join(hparams.short(x) for x in lrs[1:])
        + " (the estimate counts one run)"
    )
    return probe, why


def check_budget(f: Facts, d: Decisions, est: dict[str, Any]) -> None:
    c = f.recipe.constraints
    secs = est["seconds"]
    work = f"{est['train_flops']:.3g} training FLOPs" if d.trains else "no training"
    d.fire(
        "R-TIME-COST",
        f"{work}, ~{duration(secs)} in all on {f.device.name}"
        + (f", ${est['cost']['usd']:.2f}" if f.device.kind == "cuda" else ""),
    )
    hint = (
        "cap the run with train { max_steps = N } or fewer epochs, pick a smaller base, or run on cuda"
        if d.trains
        else "a smaller holdout or a smaller base"
    )
    if c.budget_seconds is not None:
        _against(
            d,
            secs,
            c.budget_seconds,
            "time",
            duration(secs),
            duration(c.budget_seconds),
            "FTR309",
            "FTR310",
            c.span,
            hint,
        )
    if c.budget_usd is not None:
        usd = est["cost"]["usd"]
        _against(
            d, usd, c.budget_usd, "cost", f"${usd:,.2f}", f"${c.budget_usd:,.2f}", "FTR311", "FTR312", c.span, hint
        )


def _against(
    d: Decisions,
    value: float,
    limit: float,
    what: str,
    shown: str,
    limit_shown: str,
    over: str,
    near: str,
    span: Span,
    hint: str,
) -> None:
    if value > limit:
        d.error(over, f"estimated {what} {shown} is over the budget of {limit_shown}", span, hint)
    elif value >= NEAR_BUDGET * limit:
        d.warn(
            near,
            f"estimated {what} {shown} is {value / limit:.0%} of the budget of {limit_shown}",
            span,
            "estimates are rough; leave headroom",
        )
