"""Recipe + facts -> plan. Every decision records the rule that made it and why (``rules.fired``).

``build_plan(recipe, out_dir)`` returns the plan (a JSON-ready dict, validated by
``compiler.plan``) and FTR3xx diagnostics; with any error diagnostic the plan is None. The
strategy (rules 1-6) is decided here; the method and hyper-parameters in ``plan_method``, the
estimates in ``plan_estimates``, the steps in ``plan_steps``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftc.compiler.lang.diagnostics import Diagnostic
from ftc.compiler.lang.lint_rules import knowledge_without_documents
from ftc.compiler.lang.recipe import Expect, Recipe, Span
from ftc.compiler.lang.thresholds import GAINS_CLEAR, MIN_EXAMPLES, SMALL_DATA
from ftc.compiler.plan import costs, distributed, facts, memory
from ftc.compiler.plan.estimates import check_budget, estimate, plan_searches
from ftc.compiler.plan.facts import ModelFacts
from ftc.compiler.plan.method import decide_method
from ftc.compiler.plan.power import check_power, check_scored_rows
from ftc.compiler.plan.state import (
    GB,
    TEMPLATE_TOKENS,
    Decisions,
    Facts,
    gather,
    human_count,
    request_tokens,
    response_tokens,
    retrieves,
    system_prompt,
    times_latency,
    train_rows,
    used_rows,
)
from ftc.compiler.plan.steps import LATENCY_REQUESTS, SYNTH_SHOTS, build_steps, max_new_tokens, score_by, synth_checks
from ftc.shared.contract import GGUF_ARCHITECTURES, LATENCY_METRICS, expect_label
from ftc.shared.hparams import DEFAULTS
from ftc.shared.templates import CHAT_TEMPLATES

if TYPE_CHECKING:
    from ftc.compiler.plan.io import Plan

PLAN_VERSION = 1


# --- strategy (rules 1-6) --------------------------------------------------------------------
def decide_strategy(f: Facts, d: Decisions) -> None:
    r = f.recipe
    d.strategy.append("prompt")
    d.fire("R-PROMPT-FIRST", "a prompted baseline is measured on the holdout before anything is trained")
    d.fire(
        "R-ONE-PROMPT",
        "system prompt " + ("set by the recipe" if r.system_prompt else f"derived from the {r.goal.kind} goal"),
    )
    if retrieves(r):
        _retrieval(f, d)
    if r.goal.kind in ("behavior", "both"):
        _tuning(f, d)
    _served_size(f, d)
    # An unused documents source under a behaviour goal is the linter's FTR205; not repeated here.
    d.fire(
        "R-DATA-HYGIENE",
        f"{len(r.data)} source(s): clean, near-dedup (Jaccard 0.85), split holdout "
        f"{r.eval.holdout_fraction:.0%} by seed {r.eval.seed} with a 13-gram overlap check",
    )


def _retrieval(f: Facts, d: Decisions) -> None:
    r = f.recipe
    docs = r.documents
    missing = knowledge_without_documents(r)  # the linter's FTR201, for recipes built without it
    if missing is not None:
        d.diagnostics.append(missing)
        return
    files = sum(f.sources[s.name].rows for s in docs)
    size = sum(f.sources[s.name].bytes for s in docs)
    d.strategy.append("rag")
    d.fire(
        "R-KNOWLEDGE-RETRIEVE",
        f"{r.goal.kind} goal; documents: {files} file(s), {size:,} bytes in " + ", ".join(repr(s.name) for s in docs),
    )


def _served_size(f: Facts, d: Decisions) -> None:
    """FTR316 without distillation: `max_params` is the largest model that may be served, and what
    is served is the base (prompted or tuned: a tune keeps its size). A plan that serves a larger one
    breaks a bound it knows exactly. (A latency bound is an estimate: R-LATENCY-MEASURED states it
    against the bound and the run measures it.)"""
    r, c = f.recipe, f.recipe.constraints
    if "distill" in d.strategy or c.max_params is None or f.trained.params <= c.max_params:
        return
    if any(x.code == "FTR316" for x in d.diagnostics):
        return  # the distillation path already said so
    teacher = (
        f"the teacher '{r.teacher.name}' is not distilled from, so " if r.teacher is not None and f.teacher else ""
    )
    d.error(
        "FTR316",
        f"{teacher}the base '{r.base.name}' is what will be served and breaks the bound: "
        f"{human_count(f.trained.params)} parameters > max_params {human_count(c.max_params)}",
        r.base.span,
        "pick a base within max_params (a tune keeps the base's size), or name the larger model as the teacher "
        "(`teacher = model(...)`) and distil into a smaller base, or relax the constraint",
    )


def _names(f: Facts, formats: tuple[str, ...]) -> tuple[str, ...]:
    """The sources read in one of ``formats`` (as the facts read them: a completion source with a
    label column is kto), the eval-only source left out."""
    r = f.recipe
    return tuple(s.name for s in r.data if f.sources[s.name].format in formats and s.name != r.eval.eval_data)


def _objective(f: Facts, d: Decisions, prefs: tuple[str, ...], kto: tuple[str, ...]) -> str | None:
    """R-OBJECTIVE: dpo, orpo or kto for the preference and labelled sources, None without any."""
    r = f.recipe
    asked = r.train.values.get("objective")
    if kto and asked in ("dpo", "orpo"):
        src = next(s for s in r.data if s.name == kto[0])
        d.error(
            "FTR321",
            f"data source '{src.name}' holds KTO rows (answers labelled desirable or not), and "
            f"objective = {asked} needs preference pairs; its labels would go unused",
            r.train.span,
            "leave objective out (labelled rows train with KTO), or set objective = kto",
        )
        return None
    if not prefs and not kto:
        if asked:
            d.fire("R-OBJECTIVE", f"objective = {asked} set, but no source holds preference pairs or labelled rows")
        return None
    objective = "kto" if kto else str(asked or "dpo")
    pairs = f"{f.rows(prefs)} preference pairs in " + ", ".join(repr(p) for p in prefs) if prefs else ""
    labelled = f"{f.rows(kto)} labelled rows in " + ", ".join(repr(k) for k in kto) if kto else ""
    data = "; ".join(x for x in (labelled, pairs) if x)
    if objective == "kto":
        how = "set by recipe" if asked else "rows labelled desirable or not train with KTO"
        extra = ", pairs unpaired (chosen desirable, rejected undesirable)" if prefs else ""
        d.fire("R-OBJECTIVE", f"kto: {how}; {data}{extra}")
    elif objective == "orpo":
        d.fire("R-OBJECTIVE", f"orpo set by recipe: one stage on {data}, no reference model")
    elif asked:  # the default (pairs: DPO after SFT) is R-DPO-AFTER-SFT's to state
        d.fire("R-OBJECTIVE", f"dpo set by recipe: {data}")
    return objective


def _tuning(f: Facts, d: Decisions) -> None:
    r = f.recipe
    train = _names(f, ("chat", "instruction", "completion", "text"))
    prefs = _names(f, ("preference",))
    kto = _names(f, ("kto",))
    objective = _objective(f, d, prefs, kto)
    if objective is None and (prefs or kto) and r.train.values.get("objective"):
        return  # an objective the data cannot train (FTR321)
    d.objective_names = (kto + prefs) if objective == "kto" else prefs if objective else ()
    # ORPO and KTO on their data alone are one stage, no SFT before them.
    one_stage = objective in ("orpo", "kto") and not train
    # Without instruction data the SFT stage learns the chosen side of the preference pairs.
    d.train_names = d.objective_names if one_stage else (train or prefs)
    if one_stage:
        what = (
            f"{'labelled rows' if objective == 'kto' else 'preference pairs'} ({str(objective).upper()}, no SFT stage)"
        )
    else:
        what = "training examples" if train else "preference pairs (SFT on the chosen responses)"
    n = f.rows(d.train_names) + _synthesis(f, d, f.rows(d.train_names), what)
    if n < MIN_EXAMPLES:
        d.fire("R-TOO-FEW-EXAMPLES", f"{n} {what}, fewer than {MIN_EXAMPLES}: prompt only")
        d.warn(
            "FTR306",
            f"only {n} {what}: no fine-tune is planned, the prompted baseline is the result",
            _first_span(r, d.train_names),
            f"a fine-tune needs at least {MIN_EXAMPLES} examples; {SMALL_DATA}-{GAINS_CLEAR} good ones is "
            "where it starts to help (`ftc explain R-TOO-FEW-EXAMPLES`)",
        )
        d.train_names = ()
        return
    if n < SMALL_DATA:
        d.warn(
            "FTR305",
            f"small data: {n} {what}; fine-tuning gains usually start around {SMALL_DATA}-{GAINS_CLEAR}",
            _first_span(r, d.train_names),
            "add examples, or check that the prompted baseline already meets the bar",
        )
    if one_stage:
        d.strategy.append(str(objective))
        return
    if _distills(f, d, n):
        d.strategy.append("distill")
    else:
        d.strategy.append("finetune")
        if r.goal.kind == "both" and "rag" in d.strategy:
            d.fire(
                "R-RAFT",
                f"behaviour and knowledge: the tune learns from {n} examples with retrieved context in the prompt",
            )
        else:
            d.fire("R-BEHAVIOR-FINETUNE", f"behaviour goal with {n} {what} (at least {MIN_EXAMPLES})")
    if objective == "dpo":
        d.strategy.append("dpo")
        d.fire("R-DPO-AFTER-SFT", f"{f.rows(prefs)} preference pairs in " + ", ".join(repr(p) for p in prefs))
    elif objective is not None:
        d.strategy.append(objective)


def _synthesis(f: Facts, d: Decisions, n: int, what: str) -> int:
    """R-SYNTHESIZE: with a synthesize block and fewer than SMALL_DATA real examples, a teacher
    writes the block's rows before training. Returns the rows asked for (0: none planned)."""
    r = f.recipe
    spec = r.synthesize
    if spec is None or not r.train_sources:
        return 0
    if n >= SMALL_DATA:
        d.fire("R-SYNTHESIZE", f"{n} {what}, at least {SMALL_DATA}: no synthesis needed, the block is not used")
        return 0
    teacher = f.synth_teacher or f.teacher or f.base
    name = spec.teacher.name if spec.teacher else (r.teacher.name if r.teacher else r.base.name)
    seed = spec.seed if spec.seed is not None else r.eval.seed
    d.synthesize = {
        "teacher": name,
        "teacher_params": teacher.params,
        "rows": spec.rows,
        "seed": seed,
        "shots": min(SYNTH_SHOTS, max(1, train_rows(f, n))),
    }
    d.fire(
        "R-SYNTHESIZE",
        f"{n} {what}, fewer than {SMALL_DATA}: teacher '{name}' writes {spec.rows} rows seeded by "
        f"{d.synthesize['shots']} real train examples each (seed {seed}); validated, deduplicated and leak-checked, "
        "train only",
    )
    return spec.rows


def _distills(f: Facts, d: Decisions, n: int) -> bool:
    r, c = f.recipe, f.recipe.constraints
    if f.teacher is None or r.teacher is None:
        return False
    reasons = _bound_breaches(f, f.teacher, c.max_params, c.latency_ms)
    if not reasons:
        d.warn(
            "FTR315",
            f"teacher '{r.teacher.name}' is not used: no latency or size bound excludes it",
            r.teacher.span,
            "distillation is planned when `latency` or `max_params` rules the teacher out; "
            "otherwise serve the teacher, or drop it",
        )
        return False
    base_breaches = _bound_breaches(f, f.trained, c.max_params, c.latency_ms)
    if base_breaches:
        who = f"the student cut from '{r.base.name}'" if f.student else f"the base '{r.base.name}'"
        d.error(
            "FTR316",
            f"{who} breaks the bound it is meant to meet: {'; '.join(base_breaches)}",
            r.distill.at("student_layers") if f.student else r.base.span,
            "keep fewer layers (`student_layers`), or relax the constraint"
            if f.student
            else "pick a smaller base (the student), or cut one from it (`distill { student_layers = N }`), "
            "or relax the constraint",
        )
        return False
    limit = f.device.memory_bytes
    if limit is not None and distributed.teacher_placement(f) is None:  # R-TEACHER-PLACEMENT
        need = memory.inference_bytes(f.teacher.spec, f.device.kind)
        ways = (
            ""
            if f.device.kind != "cuda"
            else f", nor spread over {f.device.gpus} GPU(s), nor in 4-bit NF4 (~{distributed.nf4_bytes(f.teacher.spec) / GB:.1f} GB)"
        )
        d.error(
            "FTR317",
            f"the teacher '{r.teacher.name}' needs ~{need / GB:.1f} GB to generate, over the device's "
            f"{limit / GB:.1f} GB{ways}",
            r.teacher.span,
            "a smaller teacher, more GPUs (`gpus = N`), or a device with more memory",
        )
        return False
    decided = _distill_kind(f, d)
    if decided is None:
        return False
    kind, why = decided
    learns = (
        f"matches the teacher's next-token distributions on {n} answers"
        if kind == "logits"
        else f"learns the teacher's responses to {n} prompts"
    )
    who = (
        f"the student ({len(f.student_layers)} of the {f.base.spec.layers} layers of '{r.base.name}')"
        if f.student
        else f"the student '{r.base.name}'"
    )
    d.fire("R-DISTILL", f"teacher '{r.teacher.name}' excluded ({'; '.join(reasons)}); {who} {learns}")
    d.fire("R-DISTILL-KIND", f"{kind}: {why}")
    if f.student is not None:
        from ftc.compiler.plan.student import describe

        d.fire(
            "R-STUDENT-LAYERS",
            f"layers {describe(f.student_layers)} of {f.base.spec.layers} "
            f"({human_count(f.student.params)} of {human_count(f.base.params)} parameters), initialised from the base "
            f"and trained in full; {'; '.join(_bound_meets(f, f.student))}",
        )
    return True


def _distill_kind(f: Facts, d: Decisions) -> tuple[str, str] | None:
    """R-DISTILL-KIND: (kind, why): logits when the tokenizers are the same and the teacher fits
    beside the training student, else sequence; None after an error (logits asked for and impossible)."""
    r = f.recipe
    assert f.teacher is not None and r.teacher is not None, "only called when distilling"
    asked = r.distill.values.get("kind")
    shared, evidence = facts.shared_vocab(f.base, f.teacher)
    limit = f.device.memory_bytes
    seq = max(64, f.tokens.p90 + f.system_tokens + TEMPLATE_TOKENS)
    need = (
        memory.inference_bytes(f.teacher.spec, f.device.kind)
        + memory.estimate(
            f.trained.spec, "full" if f.student else "lora", f.device.kind, seq, 1, checkpointing=True
        ).peak
    )
    fits = limit is None or need <= limit
    room = f"teacher and training student need ~{need / GB:.1f} GB" + (f" of {limit / GB:.1f} GB" if limit else "")
    if asked == "logits" and not shared:
        d.error(
            "FTR324",
            f"distill kind = logits needs teacher and student to share a tokenizer: {evidence}",
            r.distill.span,
            "leave kind out (the teacher's generated answers are learned instead), or pick a teacher of the "
            "student's family",
        )
        return None
    if asked == "logits" and not fits:
        d.error(
            "FTR324",
            f"distill kind = logits holds the teacher beside the training student: {room}",
            r.distill.span,
            "leave kind out (sequence-level distillation generates first, then trains), or a device with more memory",
        )
        return None
    if asked:
        kind, why = str(asked), f"set by recipe; {evidence}"
    elif shared and fits:
        kind, why = "logits", f"{evidence}; {room}"
    else:
        kind, why = "sequence", evidence if not shared else f"{room}: no room for logits"
    d.distill_kind = kind
    if kind == "logits":
        t = float(r.distill.values.get("temperature") or DEFAULTS["distill_temperature"])  # type: ignore[arg-type]
        a = r.distill.values.get("alpha")
        alpha = float(DEFAULTS["distill_alpha"] if a is None else a)  # type: ignore[arg-type]
        why += f"; forward KL at temperature {t:g}, weight {alpha:g} against the SFT loss {1 - alpha:g}"
    return kind, why


def _bound_breaches(f: Facts, model: ModelFacts, max_params: int | None, latency_ms: float | None) -> list[str]:
    out = []
    if max_params is not None and model.params > max_params:
        out.append(f"{human_count(model.params)} parameters > max_params {human_count(max_params)}")
    if latency_ms is not None:
        ms = _response_ms(f, model.params)
        if ms > latency_ms:
            out.append(f"~{ms:,.0f} ms per {response_tokens(f)}-token response > latency {latency_ms:,.0f} ms")
    return out


def _bound_meets(f: Facts, model: ModelFacts) -> list[str]:
    """What the student's size and estimated latency are against the bounds it meets."""
    c = f.recipe.constraints
    out = []
    if c.max_params is not None:
        out.append(f"{human_count(model.params)} parameters <= max_params {human_count(c.max_params)}")
    if c.latency_ms is not None:
        ms = _response_ms(f, model.params)
        out.append(f"~{ms:,.0f} ms per {response_tokens(f)}-token response <= latency {c.latency_ms:,.0f} ms")
    return out


def _first_span(r: Recipe, names: tuple[str, ...]) -> Span:
    for s in r.data:
        if s.name in names:
            return s.span
    return r.goal.span


# --- the plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanResult:
    plan: Plan | None
    diagnostics: tuple[Diagnostic, ...]


def build_plan(recipe: Recipe, out_dir: str | Path | None = None) -> PlanResult:
    """Decide everything and assemble the plan. ``out_dir``: where the plan file will live (its
    ``project_root`` is written relative to it); default the current directory."""
    f, diags = gather(recipe)
    if f is None:
        return PlanResult(None, tuple(diags))
    d = Decisions(diagnostics=diags)
    if distributed.check_layout(f, d):
        decide_strategy(f, d)
        check_scored_rows(f, d)
    if not _has_errors(d):
        decide_method(f, d)
    if not _has_errors(d):
        distributed.finish(f, d)  # processes, strategy and batch split, before the time estimate
        _one_process(f, d)
    if _has_errors(d):
        return PlanResult(None, tuple(d.diagnostics))
    new_tokens = _new_tokens(f)
    plan_searches(f, d, new_tokens)
    est = estimate(f, d, new_tokens)
    if _measures_latency(f, d):
        est["latency"] = _latency_estimate(f)
    check_gguf(f, d)
    check_budget(f, d, est)
    d.fire("R-GATE", _gate_because(recipe))
    check_power(f, d)
    if _has_errors(d):
        return PlanResult(None, tuple(d.diagnostics))
    return PlanResult(assemble(f, d, est, new_tokens, Path(out_dir or Path.cwd())), tuple(d.diagnostics))


def _one_process(f: Facts, d: Decisions) -> None:
    """FTR325: the ORPO/KTO stages and logit distillation run in one process (the launcher runs
    SFT and DPO), so a plan that launches several cannot run them."""
    processes = int((d.distributed or {}).get("processes") or 1)
    stages = [k.upper() for k in ("orpo", "kto") if k in d.strategy]
    if d.distill_kind == "logits":
        stages.append("logit distillation")
    if processes > 1 and stages:
        d.error(
            "FTR325",
            f"{' and '.join(stages)} {'runs' if len(stages) == 1 else 'run'} in one process, and the plan "
            f"launches {processes} training processes",
            f.recipe.constraints.span,
            "train on one GPU (`processes = 1` in constraints)",
        )


def _measures_latency(f: Facts, d: Decisions) -> bool:
    """R-LATENCY-MEASURED: a latency bound or expect is timed on the run."""
    r = f.recipe
    if not times_latency(r):
        return False
    expects = [e for e in r.eval.expects if e.metric in LATENCY_METRICS]
    asked = [f"latency {r.constraints.latency_ms:g} ms"] if r.constraints.latency_ms is not None else []
    asked += [f"expect {e.metric} {e.op} {e.threshold:g} ms" for e in expects]
    d.fire(
        "R-LATENCY-MEASURED",
        f"{', '.join(asked)}: {LATENCY_REQUESTS} requests timed at batch 1 by the baseline"
        + (" and eval steps" if d.trains else " step")
        + _over_latency(f),
    )
    return True


def _over_latency(f: Facts) -> str:
    """The cost model's figure when it is over the latency bound: tuning keeps the served model's
    size, so the measured figure will likely break the bound too (said, not refused: an estimate)."""
    bound = f.recipe.constraints.latency_ms
    if bound is None:
        return ""
    ms = _response_ms(f, f.trained.params)
    if ms <= bound:
        return ""
    return (
        f"; the cost model estimates ~{ms:,.0f} ms per {response_tokens(f)}-token response of "
        f"'{f.trained.name}', over the {bound:,.0f} ms bound: prompted or tuned, the model keeps its size, so a smaller base or "
        "distillation from a teacher (R-DISTILL) is what would meet it"
    )


def _latency_estimate(f: Facts) -> dict[str, Any]:
    """The cost model's latency of the served model (the base: a tune has its architecture), per
    typical response, as the latency bound is checked; the report sets the measured figure beside it."""
    m = f.trained
    ms = round(_response_ms(f, m.params), 1)
    return {"model": m.name, "tokens": response_tokens(f), "prompt_tokens": request_tokens(f), "ms": ms}


def _response_ms(f: Facts, params: int) -> float:
    """The cost model's latency of a typical request (its prompt, then a typical response) at batch 1."""
    return costs.response_ms(params, request_tokens(f), response_tokens(f), f.device)


def check_gguf(f: Facts, d: Decisions) -> None:
    """FTR326: `export { gguf = ... }` for an architecture the GGUF writer does not map."""
    r = f.recipe
    if r.export.gguf is not None and f.base.spec.arch not in GGUF_ARCHITECTURES:
        d.error(
            "FTR326",
            f"the GGUF writer maps {', '.join(GGUF_ARCHITECTURES)} models; the base '{r.base.name}' is "
            f"'{f.base.spec.arch}'",
            r.export.span,
            "drop `gguf` and export the merged weights (`merged = true`), then convert them with llama.cpp's "
            "convert_hf_to_gguf.py",
        )


def _has_errors(d: Decisions) -> bool:
    return any(x.severity == "error" for x in d.diagnostics)


def _new_tokens(f: Facts) -> int:
    return max_new_tokens(f.answers.p99)


def _gate_because(r: Recipe) -> str:
    n = len(r.eval.expects)
    margin = f" and beat the baseline by {r.eval.beat_baseline_pct:g}%" if r.eval.beat_baseline_pct is not None else ""
    return f"{n} expect(s){margin}"


def assemble(f: Facts, d: Decisions, est: dict[str, Any], new_tokens: int, out_dir: Path) -> Plan:
    r = f.recipe
    root = r.project_root
    paths = {name: s.path for name, s in f.sources.items()}
    hp = d.hp
    steps = build_steps(
        r,
        d.strategy,
        d.method,
        d.train_names,
        paths,
        new_tokens,
        int(hp["few_shot"]["value"] or 0),
        r.export.merged,
        prompt_search=d.prompt_search,
        lr_probe=d.lr_probe,
        synthesize=_synth_config(d, new_tokens),
        objective_names=d.objective_names,
        formats={name: s.format for name, s in f.sources.items()},
        revisions={n: s.revision for n, s in f.sources.items() if s.revision is not None},
        latency_requests=LATENCY_REQUESTS if "latency" in est else 0,
        export_gguf=r.export.gguf,
    )
    expects = [_expect_json(e, root) for e in r.eval.expects]
    for step in steps:
        if step["kind"] == "baseline" and step["config"].get("prompt_search"):
            step["config"]["prompt_search"]["score_by"] = score_by(expects)
        if step["kind"] == "synthesize":
            step["config"]["checks"] = synth_checks(expects)
        if step["kind"] in ("dpo", "orpo", "kto"):
            step["config"]["beta"] = hp[f"{step['kind']}_beta"]["value"]
            step["config"]["lr"] = hp[f"{step['kind']}_lr"]["value"]
        if step["kind"] == "kto":
            step["config"].update(_kto_batch(d))
        if step["kind"] == "distill":
            step["config"].update(_distill_config(f, d))
    return {
        "plan_version": PLAN_VERSION,
        "recipe": {"name": r.name, "path": facts.rel_path(r.path, root), "sha256": _sha256(r.path)},
        "project_root": facts.rel_path(root, out_dir),
        "inputs": _inputs(f),
        "goal": {"kind": r.goal.kind, "text": r.goal.text, "knowledge_text": r.goal.knowledge_text},
        "model": _model_json(f),
        "strategy": d.strategy,
        "method": d.method,
        "device": f.device.to_json(),
        "distributed": d.distributed,
        "prompt": {
            "system": system_prompt(r),
            "few_shot": int(hp["few_shot"]["value"] or 0),
            "chat_template": chat_template_text(r),
        },
        "hyperparameters": hp,
        "estimates": est,
        "rules": d.rules,
        "steps": steps,
        "expects": expects,
        "gate": {"beat_baseline_pct": r.eval.beat_baseline_pct, "require_all_expects": True},
        "warnings": [
            {"code": x.code, "message": x.message, "location": _location(x.span, root)}
            for x in d.diagnostics
            if x.severity != "error"
        ],
    }


def _synth_config(d: Decisions, new_tokens: int) -> dict[str, Any] | None:
    """The synthesize step's config: only when something trains on its rows."""
    if not d.synthesize or not d.trains:
        return None
    cfg = {k: v for k, v in d.synthesize.items() if k != "teacher_params"}
    return cfg | {"max_new_tokens": new_tokens, "sources": list(d.train_names)}


def chat_template_text(r: Recipe) -> str | None:
    """The Jinja text every step renders prompts with (R-ONE-PROMPT), None for the model's own:
    in the plan, so an edited template file changes what every model step's cache key reads."""
    chosen = r.train.values.get("chat_template")
    if not isinstance(chosen, tuple):
        return None
    kind, where = chosen
    if kind == "name":
        return CHAT_TEMPLATES[str(where)]
    return Path(str(where)).read_text(encoding="utf-8")


def _kto_batch(d: Decisions) -> dict[str, Any]:
    """KTO estimates its KL term from the other rows of a micro-batch, so TRL needs at least 2: a
    micro-batch of 1 becomes 2 for this stage, the accumulation halved to keep the effective batch."""
    batch, accum = int(d.hp["batch"]["value"]), int(d.hp["grad_accum"]["value"])
    if batch >= 2:
        return {"micro_batch": batch, "grad_accum": accum}
    d.fire(
        "R-OBJECTIVE",
        f"the KTO stage runs micro-batch 2 x accumulation {max(1, accum // 2)} (batch is 1): its KL term "
        "pairs each answer with another row of the micro-batch",
    )
    return {"micro_batch": 2, "grad_accum": max(1, accum // 2)}


def _distill_config(f: Facts, d: Decisions) -> dict[str, Any]:
    """The distill step's kind (R-DISTILL-KIND) and, for logits, its temperature and alpha; the
    student's kept layers when it is cut from the base (R-STUDENT-LAYERS)."""
    r = f.recipe
    cut = {"student_layers": list(f.student_layers)} if f.student_layers else {}
    if d.distill_kind != "logits":
        return {"kind": "sequence", **cut}
    a = r.distill.values.get("alpha")
    return {
        **cut,
        "kind": "logits",
        "temperature": float(r.distill.values.get("temperature") or DEFAULTS["distill_temperature"]),  # type: ignore[arg-type]
        "alpha": float(DEFAULTS["distill_alpha"] if a is None else a),  # type: ignore[arg-type]
    }


def _inputs(f: Facts) -> list[dict[str, Any]]:
    """The data lock, one entry per source; a hub source adds its revision, config and split, and
    a capped or weighted source the rows the run will use (the plan's data funnel)."""
    used = used_rows(f.recipe, f.sources)
    by_name = {s.name: s for s in f.recipe.data}
    out = []
    for s in f.sources.values():
        item: dict[str, Any] = {
            "name": s.name, "path": s.path, "sha256": s.sha256, "rows": s.rows, "bytes": s.bytes, "format": s.format
        }  # fmt: skip
        if s.revision is not None:
            src = by_name[s.name]
            item.update(revision=s.revision, config=src.config, split=src.split)
        if s.max_rows is not None or s.weight is not None:
            item.update(max_rows=s.max_rows, weight=s.weight, used_rows=used[s.name])
        out.append(item)
    return out


def _model_json(f: Facts) -> dict[str, Any]:
    s = f.base.spec
    t = f.teacher
    return {
        "base": f.base.name,
        "teacher": t.name if t else None,
        "params": s.params,
        "layers": s.layers,
        "hidden": s.hidden,
        "intermediate": s.intermediate,
        "vocab": s.vocab,
        "heads": s.heads,
        "kv_heads": s.kv_heads,
        "tied_embeddings": s.tied,
        "arch": s.arch,
        "source": f.base.source,
        "teacher_params": t.params if t else None,
        "teacher_source": t.source if t else None,
        **({"student_layers": list(f.student_layers), "student_params": f.trained.params} if f.student else {}),
    }


def _expect_json(e: Expect, root: str) -> dict[str, Any]:
    args = {
        k: (
            facts.rel_path(v, root) if k in ("schema", "rubric") and isinstance(v, str) and Path(v).is_absolute() else v
        )
        for k, v in sorted(e.args.items())
    }
    return {
        "label": expect_label(e.metric, args),
        "metric": e.metric,
        "args": args,
        "op": e.op,
        "threshold": e.threshold,
    }


def _location(span: Span, root: str) -> str:
    # Relative to the project root whatever the cwd of `ftc plan` was, so the plan stays portable.
    file = facts.rel_path(span.file, root) if Path(span.file).exists() else span.file
    return f"{file}:{span.line}:{span.col}"


def _sha256(path: str) -> str:
    try:
        return facts.sha256_file(Path(path))
    except OSError:
        return hashlib.sha256(b"").hexdigest()
