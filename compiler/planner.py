"""Recipe + facts -> plan. Every decision records the rule that made it and why (``rules.fired``).

``build_plan(recipe)`` returns the plan (a JSON-ready dict, validated by ``compiler.plan``) and
FTR3xx diagnostics; with any error diagnostic the plan is None. The strategy, the method, the
hyper-parameters, the estimates and the steps are each decided by one small function below.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from ftc.compiler import costs, facts, memory, model_table
from ftc.compiler.diagnostics import Diagnostic, error, warning
from ftc.compiler.facts import FactError, ModelFacts, SourceFacts, TokenStats
from ftc.compiler.recipe import Recipe, Span
from ftc.compiler.rules import (FULL_MIN_EXAMPLES, MIN_EXAMPLES, NEAR_BUDGET, NEAR_MEMORY, SMALL_DATA, fired)

PLAN_VERSION = 1
TEMPLATE_TOKENS = 16  # chat-template tokens around a short conversation (role headers, end markers)
GB = 1e9


@dataclass
class Facts:
    """What the rules see: gathered once, before any decision."""

    recipe: Recipe
    base: ModelFacts
    teacher: ModelFacts | None
    sources: dict[str, SourceFacts]
    tokens: TokenStats  # rows of every non-documents source
    answers: TokenStats  # the responses those rows teach
    system_tokens: int
    device: costs.DeviceFacts

    def rows(self, names) -> int:
        return sum(self.sources[n].rows for n in names)


@dataclass
class Decisions:
    strategy: list[str] = field(default_factory=list)
    method: str = "none"
    rules: list[dict] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    train_names: tuple[str, ...] = ()  # sources the SFT (or distill) stage learns from
    hp: dict = field(default_factory=dict)
    mem: memory.MemoryEstimate | None = None
    alternatives: dict = field(default_factory=dict)
    distributed: dict | None = None

    def fire(self, rule_id: str, because: str) -> None:
        self.rules.append(fired(rule_id, because))

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint))

    def warn(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(warning(code, message, span, hint))

    @property
    def trains(self) -> bool:
        return "finetune" in self.strategy or "distill" in self.strategy


# --- facts -----------------------------------------------------------------------------------
def gather(recipe: Recipe) -> tuple[Facts | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    dirs = facts.recipe_dirs(recipe)
    base = teacher = None
    try:
        base = facts.model_facts(recipe.base, dirs)
    except FactError as exc:
        diags.append(exc.diagnostic)
    if recipe.teacher is not None:
        try:
            teacher = facts.model_facts(recipe.teacher, dirs)
        except FactError as exc:
            diags.append(exc.diagnostic)
    sources: dict[str, SourceFacts] = {}
    for src in recipe.data:
        try:
            sources[src.name] = facts.source_facts(src, recipe.project_root)
        except FactError as exc:
            diags.append(exc.diagnostic)
    if diags or base is None:
        return None, diags
    tok_file = facts.tokenizer_for(base)
    # Every row-shaped source (the eval source too): its rows are what baseline and eval read.
    learn = [sources[s.name] for s in recipe.data if s.format != "documents"]
    texts = [t for s in learn for t in s.texts]
    answers = [a for s in learn for a in s.answers if a]
    c = recipe.constraints
    return Facts(
        recipe=recipe,
        base=base,
        teacher=teacher,
        sources=sources,
        tokens=facts.token_stats(texts, tok_file),
        answers=facts.token_stats(answers, tok_file),
        system_tokens=facts.token_stats([system_prompt(recipe)], tok_file).max,
        device=costs.device_facts(c.device, c.gpus, c.gpu_memory_bytes),
    ), diags


def system_prompt(recipe: Recipe) -> str:
    if recipe.system_prompt:
        return recipe.system_prompt
    goal = recipe.goal
    if goal.kind == "behavior":
        return goal.text
    grounding = "Answer from the provided context; if the context does not contain the answer, say so."
    parts = [goal.text, goal.knowledge_text, grounding] if goal.kind == "both" else [goal.text, grounding]
    return " ".join(p.strip() for p in parts if p and p.strip())


# --- strategy (rules 1-6) --------------------------------------------------------------------
def decide_strategy(f: Facts, d: Decisions) -> None:
    r = f.recipe
    d.strategy.append("prompt")
    d.fire("R-PROMPT-FIRST", "a prompted baseline is measured on the holdout before anything is trained")
    d.fire("R-ONE-PROMPT", "system prompt " + ("set by the recipe" if r.system_prompt else f"derived from the {r.goal.kind} goal"))
    if r.goal.kind in ("knowledge", "both"):
        _retrieval(f, d)
    if r.goal.kind in ("behavior", "both"):
        _tuning(f, d)
    d.fire("R-DATA-HYGIENE", f"{len(r.data)} source(s): clean, near-dedup (Jaccard 0.85), split holdout "
           f"{r.eval.holdout_fraction:.0%} by seed {r.eval.seed} with a 13-gram overlap check")


def _retrieval(f: Facts, d: Decisions) -> None:
    r = f.recipe
    docs = r.documents
    if not docs:
        d.error("FTR304", f"a {r.goal.kind} goal needs a documents source to retrieve from", r.goal.span,
                "add a data block with `format = documents` (a folder of Markdown or text files); facts belong in "
                "retrieval, not in a fine-tune (`ftc explain R-KNOWLEDGE-RETRIEVE`)")
        return
    files = sum(f.sources[s.name].rows for s in docs)
    size = sum(f.sources[s.name].bytes for s in docs)
    d.strategy.append("rag")
    d.fire("R-KNOWLEDGE-RETRIEVE", f"{r.goal.kind} goal; documents: {files} file(s), {size:,} bytes in "
           + ", ".join(repr(s.name) for s in docs))


def _tuning(f: Facts, d: Decisions) -> None:
    r = f.recipe
    train = tuple(s.name for s in r.train_sources)
    prefs = tuple(s.name for s in r.preference_sources)
    # Without instruction data the SFT stage learns the chosen side of the preference pairs.
    d.train_names = train or prefs
    n = f.rows(d.train_names)
    what = "training examples" if train else "preference pairs (SFT on the chosen responses)"
    if n < MIN_EXAMPLES:
        d.fire("R-TOO-FEW-EXAMPLES", f"{n} {what}, fewer than {MIN_EXAMPLES}: prompt only")
        d.warn("FTR306", f"only {n} {what}: no fine-tune is planned, the prompted baseline is the result",
               _first_span(r, d.train_names), f"a fine-tune needs at least {MIN_EXAMPLES} examples; 50-100 good ones is "
               "where it starts to help (`ftc explain R-TOO-FEW-EXAMPLES`)")
        d.train_names = ()
        return
    if n < SMALL_DATA:
        d.warn("FTR305", f"small data: {n} {what}; fine-tuning gains usually start around 50-100",
               _first_span(r, d.train_names), "add examples, or check that the prompted baseline already meets the bar")
    if _distills(f, d, n):
        d.strategy.append("distill")
    else:
        d.strategy.append("finetune")
        if r.goal.kind == "both" and "rag" in d.strategy:
            d.fire("R-RAFT", f"behaviour and knowledge: the tune learns from {n} examples with retrieved context in the prompt")
        else:
            d.fire("R-BEHAVIOR-FINETUNE", f"behaviour goal with {n} {what} (at least {MIN_EXAMPLES})")
    if prefs:
        d.strategy.append("dpo")
        d.fire("R-DPO-AFTER-SFT", f"{f.rows(prefs)} preference pairs in " + ", ".join(repr(p) for p in prefs))


def _distills(f: Facts, d: Decisions, n: int) -> bool:
    r, c = f.recipe, f.recipe.constraints
    if f.teacher is None or r.teacher is None:
        return False
    reasons = _bound_breaches(f, f.teacher, c.max_params, c.latency_ms)
    if not reasons:
        d.warn("FTR315", f"teacher '{r.teacher.name}' is not used: no latency or size bound excludes it",
               r.teacher.span, "distillation is planned when `latency` or `max_params` rules the teacher out; "
               "otherwise serve the teacher, or drop it")
        return False
    base_breaches = _bound_breaches(f, f.base, c.max_params, c.latency_ms)
    if base_breaches:
        d.error("FTR316", f"the base '{r.base.name}' breaks the bound it is meant to meet: {'; '.join(base_breaches)}",
                r.base.span, "pick a smaller base (the student), or relax the constraint")
        return False
    limit = f.device.memory_bytes
    need = memory.inference_bytes(f.teacher.spec, f.device.kind)
    if limit is not None and need > limit:
        d.error("FTR317", f"the teacher '{r.teacher.name}' needs ~{need / GB:.1f} GB to generate, over the device's "
                f"{limit / GB:.1f} GB", r.teacher.span, "a smaller teacher, or a device with more memory")
        return False
    d.fire("R-DISTILL", f"teacher '{r.teacher.name}' excluded ({'; '.join(reasons)}); the student "
           f"'{r.base.name}' learns the teacher's responses to {n} prompts")
    return True


def _bound_breaches(f: Facts, model: ModelFacts, max_params: int | None, latency_ms: float | None) -> list[str]:
    out = []
    if max_params is not None and model.params > max_params:
        out.append(f"{_count(model.params)} parameters > max_params {_count(max_params)}")
    if latency_ms is not None:
        ms = costs.decode_ms(model.params, _response_tokens(f), f.device)
        if ms > latency_ms:
            out.append(f"~{ms:,.0f} ms per {_response_tokens(f)}-token response > latency {latency_ms:,.0f} ms")
    return out


def _response_tokens(f: Facts) -> int:
    return max(16, f.answers.p90 or 128)


def _first_span(r: Recipe, names: tuple[str, ...]) -> Span:
    for s in r.data:
        if s.name in names:
            return s.span
    return r.goal.span


def _count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(int(n))


# --- hyper-parameters (rule 8) ---------------------------------------------------------------
def _hp(value, set_by: str, reason: str) -> dict:
    return {"value": value, "set_by": set_by, "reason": reason}


def decide_hparams(f: Facts, d: Decisions, method: str) -> dict:
    r = f.recipe
    o = dict(r.train.values)
    n = f.rows(d.train_names)
    n_train = _train_rows(f, n)
    small = n_train < 160
    full = method == "full"
    lora = method in ("lora", "qlora", "dora")
    max_len = _max_length(f)
    hp = {
        "lora_r": _hp(16 if lora else None, "rule", "LoRA rank 16: enough capacity for a narrow task" if lora else "not a LoRA method"),
        "lora_alpha": _hp(32 if lora else None, "rule", "alpha = 2r, the common scaling" if lora else "not a LoRA method"),
        "lora_dropout": _hp(0.05 if lora else None, "rule", "light regularisation for small data" if lora else "not a LoRA method"),
        "target_modules": _hp("all-linear" if lora else None, "rule",
                              "every linear layer: closer to full tuning than attention-only (QLoRA paper)" if lora else "not a LoRA method"),
        "lr": _hp(2e-5 if full else 2e-4, "rule", "full tuning: 10x lower than LoRA's 2e-4" if full else "2e-4, the LoRA/QLoRA default"),
        "lr_scheduler": _hp("cosine", "rule", "cosine decay after warmup"),
        "epochs": _hp(*_epochs(n)),
        "batch": _hp(4 if f.device.kind == "cpu" else 8, "rule", "micro-batch per device, lowered if memory requires"),
        "grad_accum": _hp(None, "rule", "set below from the effective batch"),
        "max_length": _hp(max_len[0], "rule", max_len[1]),
        "warmup_ratio": _hp(0.03, "rule", "3% warmup steadies the first updates"),
        "weight_decay": _hp(0.0, "rule", "no decay: adapters are small and runs are short"),
        "max_steps": _hp(None, "rule", "no cap: epochs decide the length"),
        "early_stopping": _hp(True, "rule", "stop when holdout loss stops improving (patience 2 evaluations)"),
        "packing": _hp(None, "rule", ""),
        "seed": _hp(r.eval.seed, "rule", "the recipe's eval seed, so the run is reproducible"),
        "few_shot": _hp(min(3, n_train), "rule", f"{min(3, n_train)} examples from the train split in the baseline prompt"),
        "gradient_checkpointing": _hp(False, "rule", "off: memory allows keeping activations"),
    }
    if "dpo" in d.strategy:
        hp["dpo_beta"] = _hp(0.1, "rule", "beta 0.1, the DPO paper's default")
        hp["dpo_lr"] = _hp(5e-6, "rule", "5e-6: DPO after SFT needs a small step")
    eff = 8 if small else 16
    hp["_effective"] = eff  # removed before the plan is written
    for key, value in o.items():
        if key == "method":
            continue
        target = {"dpo_beta": "dpo_beta"}.get(key, key)
        if target in hp:
            hp[target] = _hp(value, "recipe", "set by recipe")
    _packing(f, hp)
    return hp


def _train_rows(f: Facts, n: int) -> int:
    if f.recipe.eval.eval_data:
        return n
    return max(0, n - math.ceil(n * f.recipe.eval.holdout_fraction))


def _epochs(n: int) -> tuple[int, str, str]:
    if n < 1000:
        return 3, "rule", f"{n} examples (< 1,000): 3 epochs"
    if n < 10_000:
        return 2, "rule", f"{n:,} examples (< 10,000): 2 epochs"
    return 1, "rule", f"{n:,} examples: 1 epoch"


def _max_length(f: Facts) -> tuple[int, str]:
    need = f.tokens.p99 + f.system_tokens + TEMPLATE_TOKENS
    cap = min(f.base.spec.max_positions, 8192)
    value = min(cap, max(128, 64 * math.ceil(need / 64)))
    return value, (f"p99 {f.tokens.p99} tokens ({f.tokens.method}, {f.tokens.sampled} rows sampled) + system "
                   f"{f.system_tokens} + template {TEMPLATE_TOKENS}, rounded up to 64")


def _packing(f: Facts, hp: dict) -> None:
    if hp["packing"]["set_by"] == "recipe":
        return
    max_len = int(hp["max_length"]["value"])
    on = f.tokens.p50 * 2 < max_len
    hp["packing"] = _hp(on, "rule", f"median row {f.tokens.p50} tokens vs max_length {max_len}: "
                        + ("padding-free packing saves the padding" if on else "rows fill max_length; packing gains little"))


# --- method by memory (rule 7) ---------------------------------------------------------------
def decide_method(f: Facts, d: Decisions) -> None:
    r = f.recipe
    if not d.trains:
        d.method = "none"
        d.hp = decide_hparams(f, d, "none")
        _set_accum(d)
        return
    n = f.rows(d.train_names)
    asked = r.train.values.get("method")
    if f.device.kind == "cpu" and asked == "qlora":
        d.error("FTR308", "QLoRA needs CUDA (bitsandbytes 4-bit kernels); the recipe's device is cpu", r.train.span,
                "use `method = lora` on cpu, or `device = cuda`")
        return
    if asked:
        candidates = [str(asked)]
    elif n >= FULL_MIN_EXAMPLES:
        candidates = ["full", "lora", "qlora"]
    else:
        candidates = ["lora", "qlora"]
    if f.device.kind == "cpu":
        candidates = [m for m in candidates if m != "qlora"]
    d.hp = decide_hparams(f, d, candidates[0])
    choice = _first_fit(f, d, candidates, gpus=1)
    if choice is None and f.device.gpus > 1:
        choice = _first_fit(f, d, candidates, gpus=f.device.gpus)
        if choice is not None:
            _fsdp(f, d, choice)
    if choice is None:
        _nothing_fits(f, d, candidates, asked)
        return
    d.method, d.mem = choice.method, choice
    if d.method != candidates[0]:
        d.hp = decide_hparams(f, d, d.method) | {k: d.hp[k] for k in ("batch", "grad_accum", "gradient_checkpointing")}
    _method_rule(f, d, asked, n)
    _alternatives(f, d)
    _finish_batch(f, d)


def _first_fit(f: Facts, d: Decisions, candidates: list[str], gpus: int) -> memory.MemoryEstimate | None:
    """The first method (in preference order) that fits, lowering micro-batch and turning on checkpointing."""
    limit = f.device.memory_bytes
    hp = d.hp
    max_len = int(hp["max_length"]["value"])
    batch_fixed = hp["batch"]["set_by"] == "recipe"
    start = int(hp["batch"]["value"])
    batches = [start] if batch_fixed else [b for b in (8, 4, 2, 1) if b <= start]
    ckpts = [hp["gradient_checkpointing"]["value"]] if hp["gradient_checkpointing"]["set_by"] == "recipe" else [False, True]
    r = int(hp["lora_r"]["value"] or 16)
    # First look for a fit with 10% headroom (activations vary with the longest rows), then without.
    for room in ((NEAR_MEMORY, 1.0) if limit else (1.0,)):
        found = _fit(f, candidates, ckpts, batches, max_len, r, gpus, None if limit is None else limit * room)
        if found is not None:
            est, b, ckpt = found
            hp["batch"] = _hp(b, hp["batch"]["set_by"], hp["batch"]["reason"] if b == start else
                              f"micro-batch {b}: the largest that fits in {limit / GB:.1f} GB")
            if ckpt and hp["gradient_checkpointing"]["set_by"] == "rule":
                hp["gradient_checkpointing"] = _hp(True, "rule", "on: activations would not fit otherwise (~30% slower)")
            return est
    return None


def _fit(f: Facts, candidates, ckpts, batches, max_len: int, r: int, gpus: int, limit: float | None):
    for method in candidates:
        for ckpt in ckpts:
            for b in batches:
                est = memory.estimate(f.base.spec, method, f.device.kind, max_len, b, lora_r=r, checkpointing=ckpt, gpus=gpus)
                if limit is None or est.peak <= limit:
                    return est, b, ckpt
    return None


def _method_rule(f: Facts, d: Decisions, asked, n: int) -> None:
    peak = d.mem.peak / GB
    where = f"{f.device.memory_bytes / GB:.0f} GB" if f.device.memory_bytes else "unchecked memory"
    if asked:
        d.fire("R-METHOD-BY-MEMORY", f"{d.method} set by recipe; needs {peak:.1f} GB per device ({where})")
    else:
        d.fire("R-METHOD-BY-MEMORY", f"{d.method}: {_count(f.base.params)}-parameter base at max_length "
               f"{d.hp['max_length']['value']} needs {peak:.1f} GB per device ({where})")
    if d.method == "full":
        d.fire("R-FULL-NEEDS-REASON", "set by recipe" if asked else f"{n:,} training examples (at least {FULL_MIN_EXAMPLES:,})")
    limit = f.device.memory_bytes
    if limit and d.mem.peak >= NEAR_MEMORY * limit:
        d.warn("FTR314", f"peak memory {peak:.1f} GB is {d.mem.peak / limit:.0%} of the device's {limit / GB:.1f} GB",
               f.recipe.constraints.span, "long rows or a larger batch at run time may not fit; lower max_length or batch")


def _alternatives(f: Facts, d: Decisions) -> None:
    hp = d.hp
    args = dict(seq_len=int(hp["max_length"]["value"]), micro_batch=int(hp["batch"]["value"]))
    limit = f.device.memory_bytes
    for method in ("full", "lora", "qlora"):
        if method == "qlora" and f.device.kind != "cuda":
            d.alternatives[method] = {"peak_memory_bytes": None, "fits": False, "note": "CUDA only"}
            continue
        est = memory.estimate(f.base.spec, method, f.device.kind, lora_r=16,
                              checkpointing=bool(hp["gradient_checkpointing"]["value"]), gpus=d.mem.gpus, **args)
        d.alternatives[method] = {"peak_memory_bytes": est.peak, "fits": limit is None or est.peak <= limit,
                                  "note": "chosen" if method == d.method else ""}


def _fsdp(f: Facts, d: Decisions, est: memory.MemoryEstimate) -> None:
    n = f.device.gpus
    d.distributed = {
        "engine": "accelerate",
        "strategy": "fsdp",
        "processes": n,
        "sharding": "FULL_SHARD",
        "command": f"accelerate launch --num_processes {n} --use_fsdp --fsdp_sharding_strategy FULL_SHARD "
                   "--fsdp_auto_wrap_policy TRANSFORMER_BASED_WRAP",
    }
    d.fire("R-FSDP", f"no method fits one {f.device.memory_bytes / GB:.0f} GB device; {est.method} sharded over {n} GPUs "
           f"needs {est.peak / GB:.1f} GB each")


def _nothing_fits(f: Facts, d: Decisions, candidates: list[str], asked) -> None:
    r = f.recipe
    limit = f.device.memory_bytes or 0
    max_len = int(d.hp["max_length"]["value"])
    need = {m: memory.estimate(f.base.spec, m, f.device.kind, max_len, 1, checkpointing=True).peak
            for m in candidates}
    cheapest = min(need, key=need.get)
    options = []
    if f.device.kind == "cpu":
        options.append("QLoRA on cuda (`device = cuda`)")
    smaller = _smaller_bases(f, limit, max_len)
    if smaller:
        options.append("a smaller base (" + ", ".join(smaller) + ")")
    short = 128
    if memory.estimate(f.base.spec, cheapest, f.device.kind, short, 1, checkpointing=True).peak <= limit:
        options.append(f"a shorter max_length (e.g. train {{ max_length = {short} }})")
    options.append("more GPUs (`gpus = N`, sharded with FSDP)")
    needs = ", ".join(f"{m} {v / GB:.1f} GB" for m, v in need.items())
    code, span = ("FTR313", r.train.span) if asked else ("FTR307", r.constraints.span)
    d.error(code, f"nothing fits on one {limit / GB:.1f} GB device: {needs} at micro-batch 1 with gradient "
            f"checkpointing, max_length {max_len}", span, "options: " + "; ".join(options))


def _smaller_bases(f: Facts, limit: int, max_len: int) -> list[str]:
    fits = [m for m in model_table.TABLE if m.params < f.base.params and
            memory.estimate(m, "qlora" if f.device.kind == "cuda" else "lora", f.device.kind, max_len, 1,
                            checkpointing=True).peak <= limit]
    return [m.name for m in sorted(fits, key=lambda m: -m.params)[:3]]


def _set_accum(d: Decisions) -> None:
    hp = d.hp
    eff = hp.pop("_effective")
    b = int(hp["batch"]["value"])
    if hp["grad_accum"]["set_by"] != "recipe":
        accum = max(1, eff // b)
        hp["grad_accum"] = _hp(accum, "rule", f"effective batch {b} x {accum} = {b * accum}"
                               + (" (8 for under 160 examples: more updates)" if eff == 8 else ""))


def _finish_batch(f: Facts, d: Decisions) -> None:
    _set_accum(d)
    hp = d.hp
    b = int(hp["batch"]["value"])
    d.fire("R-HPARAM-DEFAULTS", f"{d.method}: lr {hp['lr']['value']}, micro-batch {b} x accumulation "
           f"{hp['grad_accum']['value']}" + (", rank 16 alpha 32 on all linear layers" if d.method != "full" else ""))
    d.fire("R-EPOCHS-BY-SIZE", hp["epochs"]["reason"] if hp["epochs"]["set_by"] == "rule" else "epochs set by recipe")
    d.fire("R-MAX-LENGTH-FROM-DATA", hp["max_length"]["reason"] if hp["max_length"]["set_by"] == "rule"
           else "max_length set by recipe")
    if hp["max_length"]["set_by"] == "recipe" and int(hp["max_length"]["value"]) < f.tokens.p90:
        d.warn("FTR319", f"max_length {hp['max_length']['value']} is below the data's p90 of {f.tokens.p90} tokens: "
               "more than 10% of rows are overlong", f.recipe.train.span,
               "rows over max_length are dropped or truncated per the source's `overlong` setting")


# --- time, cost and budget (rule 9) ----------------------------------------------------------
EMBEDDER_PARAMS = 22_700_000  # all-MiniLM-L6-v2
BATCH = 8  # generation batch of the baseline and eval steps


def estimate(f: Facts, d: Decisions, new_tokens: int) -> dict:
    hp = d.hp
    p = f.base.params
    max_len = int(hp["max_length"]["value"])
    overhead = f.system_tokens + TEMPLATE_TOKENS
    per_row = min(max_len, int((f.tokens.mean if hp["packing"]["value"] else f.tokens.p90) + overhead))
    n = f.rows(d.train_names)
    n_train = _train_rows(f, n)
    epochs = float(hp["epochs"]["value"] or 1)  # a recipe may ask for a fraction of an epoch
    rows_seen = math.ceil(n_train * epochs)
    if hp["max_steps"]["value"]:
        rows_seen = min(rows_seen, int(hp["max_steps"]["value"]) * int(hp["batch"]["value"]) * int(hp["grad_accum"]["value"]))
    train_tokens = rows_seen * per_row if d.trains else 0
    flops = {"train": costs.train_flops(p, train_tokens, d.method) if d.trains else 0}
    if "dpo" in d.strategy:
        pairs = _train_rows(f, f.rows(s.name for s in f.recipe.preference_sources))
        dpo_tokens = 2 * pairs * per_row  # chosen and rejected, one epoch
        flops["train"] += costs.train_flops(p, dpo_tokens, d.method) + costs.inference_flops(p, dpo_tokens)
        train_tokens += dpo_tokens
    if "distill" in d.strategy and f.teacher is not None:
        flops["teacher"] = costs.inference_flops(f.teacher.params, n_train * (per_row + _response_tokens(f)))
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
        secs["teacher"] = max(secs["teacher"], n_train * costs.decode_ms(f.teacher.params, _response_tokens(f), f.device) / 1000 / BATCH)
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
        "assumptions": f.device.assumption + f"; {per_row} tokens per training row "
                       + ("(mean, packed)" if hp["packing"]["value"] else "(p90, padded)"),
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
    context = 3 * 256 if "rag" in d.strategy else 0
    prompt = per_row * (1 + shots) + context
    runs = 2 if d.trains else 1  # the baseline, and the tuned model's eval
    return runs * costs.inference_flops(f.base.params, rows * (prompt + new_tokens))


def check_budget(f: Facts, d: Decisions, est: dict) -> None:
    c = f.recipe.constraints
    secs = est["seconds"]
    work = f"{est['train_flops']:.3g} training FLOPs" if d.trains else "no training"
    d.fire("R-TIME-COST", f"{work}, ~{_duration(secs)} in all on {f.device.name}"
           + (f", ${est['cost']['usd']:.2f}" if f.device.kind == "cuda" else ""))
    hint = ("cap the run with train { max_steps = N } or fewer epochs, pick a smaller base, or run on cuda"
            if d.trains else "a smaller holdout or a smaller base")
    if c.budget_seconds is not None:
        _against(d, secs, c.budget_seconds, "time", _duration(secs), _duration(c.budget_seconds), "FTR309", "FTR310", c.span, hint)
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


def _duration(secs: float) -> str:
    if secs < 90:
        return f"{secs:.0f}s"
    if secs < 5400:
        return f"{secs / 60:.0f}m"
    return f"{secs / 3600:.1f}h"


# --- the plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanResult:
    plan: dict | None
    diagnostics: tuple[Diagnostic, ...]


def build_plan(recipe: Recipe, out_dir: str | Path | None = None) -> PlanResult:
    """Decide everything and assemble the plan. ``out_dir``: where the plan file will live (its
    ``project_root`` is written relative to it); default the current directory."""
    f, diags = gather(recipe)
    if f is None:
        return PlanResult(None, tuple(diags))
    d = Decisions(diagnostics=diags)
    decide_strategy(f, d)
    if not _has_errors(d):
        decide_method(f, d)
    if _has_errors(d):
        return PlanResult(None, tuple(d.diagnostics))
    new_tokens = _new_tokens(f)
    est = estimate(f, d, new_tokens)
    check_budget(f, d, est)
    d.fire("R-GATE", _gate_because(recipe))
    if _has_errors(d):
        return PlanResult(None, tuple(d.diagnostics))
    return PlanResult(assemble(f, d, est, new_tokens, Path(out_dir or Path.cwd())), tuple(d.diagnostics))


def _has_errors(d: Decisions) -> bool:
    return any(x.severity == "error" for x in d.diagnostics)


def _new_tokens(f: Facts) -> int:
    from ftc.compiler.plan_steps import max_new_tokens

    return max_new_tokens(f.answers.p99)


def _gate_because(r: Recipe) -> str:
    n = len(r.eval.expects)
    margin = f" and beat the baseline by {r.eval.beat_baseline_pct:g}%" if r.eval.beat_baseline_pct is not None else ""
    return f"{n} expect(s){margin}"


def assemble(f: Facts, d: Decisions, est: dict, new_tokens: int, out_dir: Path) -> dict:
    from ftc.compiler.plan_steps import build_steps

    r = f.recipe
    root = r.project_root
    paths = {name: s.path for name, s in f.sources.items()}
    hp = d.hp
    steps = build_steps(r, d.strategy, d.method, d.train_names, paths, new_tokens,
                        int(hp["few_shot"]["value"] or 0), r.export.merged)
    for step in steps:
        if step["kind"] == "dpo":
            step["config"]["beta"] = hp["dpo_beta"]["value"]
            step["config"]["lr"] = hp["dpo_lr"]["value"]
    return {
        "plan_version": PLAN_VERSION,
        "recipe": {"name": r.name, "path": facts.rel_path(r.path, root), "sha256": _sha256(r.path)},
        "project_root": facts.rel_path(root, out_dir),
        "inputs": [{"name": s.name, "path": s.path, "sha256": s.sha256, "rows": s.rows, "bytes": s.bytes,
                    "format": s.format} for s in f.sources.values()],
        "goal": {"kind": r.goal.kind, "text": r.goal.text, "knowledge_text": r.goal.knowledge_text},
        "model": _model_json(f),
        "strategy": d.strategy,
        "method": d.method,
        "device": f.device.to_json(),
        "distributed": d.distributed,
        "prompt": {"system": system_prompt(r), "few_shot": int(hp["few_shot"]["value"] or 0)},
        "hyperparameters": hp,
        "estimates": est,
        "rules": d.rules,
        "steps": steps,
        "expects": [_expect_json(e, root) for e in r.eval.expects],
        "gate": {"beat_baseline_pct": r.eval.beat_baseline_pct, "require_all_expects": True},
        "warnings": [{"code": x.code, "message": x.message, "location": _location(x.span, root)}
                     for x in d.diagnostics if x.severity != "error"],
    }


def _model_json(f: Facts) -> dict:
    s = f.base.spec
    t = f.teacher
    return {"base": f.base.name, "teacher": t.name if t else None, "params": s.params, "layers": s.layers,
            "hidden": s.hidden, "intermediate": s.intermediate, "vocab": s.vocab, "heads": s.heads,
            "kv_heads": s.kv_heads, "tied_embeddings": s.tied, "arch": s.arch, "source": f.base.source,
            "teacher_params": t.params if t else None, "teacher_source": t.source if t else None}


def _expect_json(e, root: str) -> dict:
    args = {k: (facts.rel_path(v, root) if k == "schema" and isinstance(v, str) and Path(v).is_absolute() else v)
            for k, v in sorted(e.args.items())}
    return {"label": e.label, "metric": e.metric, "args": args, "op": e.op, "threshold": e.threshold}


def _location(span: Span, root: str) -> str:
    file = facts.rel_path(span.file, root) if Path(span.file).is_absolute() else span.file
    return f"{file}:{span.line}:{span.col}"


def _sha256(path: str) -> str:
    try:
        return facts.sha256_file(Path(path))
    except OSError:
        return hashlib.sha256(b"").hexdigest()
