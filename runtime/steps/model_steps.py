"""baseline, train, eval (and the guard on tuning steps): the steps that load a model. torch & co.
are imported inside them; the training itself is ``ftc.runtime.train.sft``."""

from __future__ import annotations

import json
from pathlib import Path

from ftc.runtime import launch
from ftc.runtime.gate import baseline_meets_bar
from ftc.runtime.steps import common, retrieval
from ftc.runtime.steps.spec import StepSpec, step
from ftc.shared import atomic
from ftc.shared.contract import GUARD as GUARD_NAME
from ftc.shared.errors import FtcError

TUNING_KINDS: tuple[str, ...] = ("train", "dpo", "orpo", "kto", "distill")


def _fixed_choice(ctx, train: list):  # noqa: ANN001 - the executor's Context
    """The prompt when no search is planned: the plan's few_shot, random shots from train."""
    from ftc.runtime.steps.prompt_search import Choice

    k = int(ctx.config.get("few_shot", ctx.plan.get("prompt.few_shot", 0)) or 0)
    return Choice(min(k, len(train)), "random" if k else "none")


def _augmenter(ctx):  # noqa: ANN001, ANN202
    """Retrieved context in front of each example when the plan retrieves; otherwise identity."""
    if ctx.config.get("retrieval"):
        return lambda examples: retrieval.augment(ctx, examples)
    return list


@step(
    "baseline",
    reads=("prompt", "model.base", "hyperparameters.seed"),
    needs_outputs_of=("split", "index"),
    version=2,
)
def baseline_step(ctx) -> dict:  # noqa: ANN001
    """The prompted base model on the holdout, with the best prompt of the planned search
    (R-PROMPT-SEARCH) or the plan's fixed few-shot prompt. The search scores by the metrics in its
    own config (no bars), so editing a threshold reuses the baseline; the gate re-scores it."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.steps import prompt_search

    # Few-shot examples come from train; a plan may have none (all rows are the eval source).
    train, holdout = common.examples(ctx, "train", required=False), common.examples(ctx, "holdout")
    rows = common.row_set(holdout)
    seed = int(common.hp_value(ctx.plan, "seed", 0))
    augment = _augmenter(ctx)
    loaded = load_model(common.model_dir(ctx), chat_template=common.chat_template(ctx.plan))
    config = ctx.config.get("prompt_search")
    choice, record = _fixed_choice(ctx, train), None
    if config and len(train) > 1:
        choice, record = prompt_search.search(ctx, loaded, train, config, seed, augment)
        atomic.write_json(ctx.dir / prompt_search.SEARCH_FILE, record)
    shots = prompt_search.ShotPicker(ctx, train, seed, augment).shots_for(choice, holdout)
    prompts = [baseline_prompt_of(e, s) for e, s in zip(augment(holdout), shots, strict=True)]
    refs = [e.completion for e in holdout]
    preds = common.generate_all(ctx, loaded, prompts, "baseline")
    ppl = common.perplexities(loaded, refs)
    latency = common.measure_latency(ctx, loaded, prompts)
    common.write_predictions(ctx.dir, prompts, refs, preds)
    if ctx.config.get("retrieval"):  # the same prompt without retrieval: what retrieval adds
        plain_shots = prompt_search.ShotPicker(ctx, train, seed).shots_for(choice, holdout)
        plain = [baseline_prompt_of(e, s) for e, s in zip(holdout, plain_shots, strict=True)]
        common.write_predictions(
            ctx.dir / "no_retrieval", plain, refs, common.generate_all(ctx, loaded, plain, "no retrieval")
        )
    atomic.write_text(ctx.dir / "prompt.txt", _prompt_file(ctx, choice, shots))
    common.write_scores(ctx.dir, rows, ppl, shots=choice.shots, prompt=choice.to_json(), latency=latency)
    return {
        "rows": len(holdout),
        "shots": choice.shots,
        "selection": choice.selection,
        "searched": len(record["candidates"]) if record else 0,
    }


def baseline_prompt_of(example, shots: list) -> list[dict]:  # noqa: ANN001 - a prompting.Example
    from ftc.runtime.prompting import baseline_prompt

    return baseline_prompt(example, shots)


def _prompt_file(ctx, choice, shots: list[list]) -> str:  # noqa: ANN001
    """prompt.txt: the system prompt and the shots; nearest shots differ per input, so the file
    says how they are picked instead of listing one row's."""
    from ftc.runtime.prompting import prompt_text

    system = common.system_prompt(ctx.plan)
    if choice.selection == "nearest":
        text = prompt_text(system, []) + (
            f"\n[few-shot]\nBefore each input, the {choice.shots} train examples nearest to it (cosine similarity of "
            "all-MiniLM-L6-v2 embeddings of the user turn), as user/assistant turns, the nearest last.\n"
        )
    else:
        text = prompt_text(system, shots[0] if shots else [])
    return text + ("\n" + retrieval.NOTE if ctx.config.get("retrieval") else "")


def baseline_meets_bar_guard(ctx) -> tuple[bool, str]:  # noqa: ANN001
    """The guard ``baseline_misses_bar``: skip a tune when the prompt already does the job.
    The cached predictions are re-scored against the current expects, so an edited bar counts."""
    baseline = ctx.by_kind("baseline")
    if baseline is None or baseline.dir is None:
        return False, ""
    if ctx.plan.get("model.student_layers"):  # R-STUDENT-LAYERS: the prompted base breaks the bound
        return False, ""
    values = common.scores_of(ctx.plan, ctx.project_root, baseline.dir)
    expects = ctx.plan.get("expects", [])
    if expects and baseline_meets_bar(expects, values):
        return True, "the prompted baseline already meets every expect: the prompt is the deliverable"
    return False, ""


# Not a step: it decides whether a guarded step runs, and is never cached, so its reads stay out
# of the guarded step's key (an edited bar re-decides; a tune that runs does not depend on the bar).
GUARD = StepSpec(
    GUARD_NAME, baseline_meets_bar_guard, reads=("expects", "model.student_layers"), needs_outputs_of=("baseline",)
)


def fine_tune(
    ctx, train: list, model: str | None = None, lr: float | None = None, trainer_class: type | None = None
) -> dict:  # noqa: ANN001
    """SFT of ``model`` (the plan's base by default) on ``train`` with the plan's hyper-parameters,
    resuming from the newest checkpoint in this step's folder; writes train.json and
    loss_history.json. Shared by the train step and the distill step (which trains a student;
    ``trainer_class``: logit distillation's SFTTrainer with the teacher's loss, one process)."""
    from ftc.runtime.train.common import hp_values, resume_point
    from ftc.runtime.train.sft import split_validation, train_sft

    if ctx.config.get("retrieval_context"):
        train = retrieval.augment(ctx, train)  # learn to answer over retrieved context, as evaluated
    # A validation slice for early stopping, or for the validation loss a recipe's eval_every asks for.
    wanted = (
        bool(common.hp_value(ctx.plan, "early_stopping", False)) or common.hp_value(ctx.plan, "eval_steps") is not None
    )
    train, val = split_validation(train, wanted)
    resumed_from = resume_point(ctx.dir)
    if resumed_from and ctx.progress is not None:
        ctx.progress.note(f"resuming training from checkpoint {resumed_from}")
    method = ctx.config.get("method") or ctx.plan.get("method") or "lora"
    hp = common.train_hparams(ctx.plan)
    if lr is not None:  # measured by the lr_probe step (R-LR-PROBE)
        hp["lr"] = {"value": lr, "set_by": "lr_probe"}
    base = common.model_dir(ctx, model)
    dist = ctx.plan.get("distributed") or {}
    with training_progress(ctx) as callback:
        if launch.processes(dist) > 1 and trainer_class is not None:
            raise FtcError(
                f"error: step '{ctx.step['id']}': logit distillation runs in one process; plan it for one device"
            )
        if launch.processes(dist) > 1:  # plan.distributed: accelerate launch (one process: as always)
            result = launch.train_sft(ctx.dir, dist, base, train, val, hp, method=method, callback=callback)
        else:
            result = train_sft(
                base,
                train,
                val,
                hp,
                ctx.dir,
                method=method,
                resume=True,
                callbacks=[callback] if callback is not None else [],
                trainer_class=trainer_class,
            )
    info = {
        "method": result.method,
        "global_step": result.global_step,
        "train_seconds": round(result.train_seconds, 3),
        "train_tokens": result.train_tokens,
        "tokens_per_second": round(result.train_tokens / result.train_seconds, 1) if result.train_seconds else None,
        "resumed_from_step": resumed_from,
        "output": str(Path(result.output_dir).relative_to(ctx.dir))
        if _inside(result.output_dir, ctx.dir)
        else str(result.output_dir),
        "train_rows": len(train),
        "val_rows": len(val or []),
        "lr": float(hp_values(hp)["lr"]),  # the lr this run trained with (the probe's when it ran)
    }
    atomic.write_json(ctx.dir / "train.json", info)
    atomic.write_json(ctx.dir / "loss_history.json", result.history)
    return info


def training_progress(ctx):  # noqa: ANN001, ANN202 - the executor's Context; a context manager
    """The progress bar's trainer callback, or None without a progress display."""
    from contextlib import nullcontext

    return nullcontext(None) if ctx.progress is None else ctx.progress.training(ctx.step["id"])


@step(
    "train",
    reads=("prompt", "hyperparameters", "method", "model.base", "distributed"),
    needs_outputs_of=("split", "index", "lr_probe", "synthesize"),
    guarded=True,
    scratch=("checkpoints", "launch"),
)
def train_step(ctx) -> dict:  # noqa: ANN001
    """SFT on the split's train rows (the named sources) plus the kept synthetic rows when the plan
    synthesised, with the plan's hyper-parameters and the lr the lr_probe step chose when the plan
    has one."""
    from ftc.runtime.steps.lr_probe import chosen_lr
    from ftc.runtime.steps.synthesize import synthetic_examples

    train = common.examples(ctx, "train", ctx.config.get("sources")) + synthetic_examples(ctx)
    return fine_tune(ctx, train, lr=chosen_lr(ctx))


def _inside(path: Path | str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def trained_kind(ctx) -> str | None:  # noqa: ANN001
    """The last tuning step that ran (dpo after train, or distill), or None when none ran."""
    last = ctx.last_of(TUNING_KINDS)
    return last.kind if last is not None else None


def trained_output(ctx, kind: str | None = None) -> Path:  # noqa: ANN001
    """The adapter (LoRA) or model (full) folder a tuning step produced: ``kind``'s, or by default
    the last tuning step's."""
    folder = ctx.need_dir(kind or trained_kind(ctx) or "train")
    info = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    out = Path(info["output"])
    return out if out.is_absolute() else folder / out


@step(
    "eval", reads=("prompt", "model.base"), needs_outputs_of=("split", "index", *TUNING_KINDS), guarded=True, version=2
)
def eval_step(ctx) -> dict:  # noqa: ANN001
    """The tuned model on the same holdout, prompted as it was trained (system prompt only).
    Not keyed by the expects: the gate re-scores these predictions against the current ones.

    For the stage ladder it also answers the same prompts with the stage before the tune, when
    there is one (``stages/<name>/predictions.jsonl``, same rows in the same order): the SFT
    adapter a DPO stage started from, and a distillation's teacher (only if it is available
    offline; otherwise ``stages/teacher/missing.json`` says why)."""
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import tuned_prompt

    holdout = common.examples(ctx, "holdout")
    rows = common.row_set(holdout)
    if ctx.config.get("retrieval"):
        holdout = retrieval.augment(ctx, holdout)
    prompts = [tuned_prompt(e) for e in holdout]
    refs = [e.completion for e in holdout]
    loaded = load_model(
        common.model_dir(ctx), adapter_dir=trained_output(ctx), chat_template=common.chat_template(ctx.plan)
    )
    preds = common.generate_all(ctx, loaded, prompts, "eval")
    ppl = common.perplexities(loaded, refs)
    latency = common.measure_latency(ctx, loaded, prompts)
    del loaded  # one model in memory at a time: the stages below load their own
    common.write_predictions(ctx.dir, prompts, refs, preds)
    stages = _stage_predictions(ctx, prompts, refs)
    common.write_scores(ctx.dir, rows, ppl, retrieval=bool(ctx.config.get("retrieval")), stages=stages, latency=latency)
    return {"rows": len(holdout), "stages": sorted(k for k in stages if k != "tuned")}


STAGES = "stages"


def _stage_predictions(ctx, prompts: list[list[dict]], refs: list[str]) -> dict:  # noqa: ANN001
    """The stage before the tune on the eval's prompts: ``{"tuned": kind, "sft"|"teacher": folder}``."""
    kind = trained_kind(ctx)
    stages: dict = {"tuned": kind}
    sft = ctx.by_kind("train")
    if kind in ("dpo", "orpo", "kto") and sft is not None and sft.status in ("ran", "cached"):
        stages["sft"] = _generate_stage(ctx, "sft", prompts, refs, common.model_dir(ctx), trained_output(ctx, "train"))
    elif kind in ("dpo", "orpo", "kto"):  # the step starts from the base model when no train step ran
        atomic.write_json(
            ctx.dir / STAGES / "sft" / "missing.json",
            {"why": f"{kind.upper()} started from the base model: no SFT stage ran"},
        )
        stages["sft"] = f"{STAGES}/sft"
    if kind == "distill":
        from ftc.runtime.steps.distill import student_dir

        cut = student_dir(ctx)
        if cut is not None:  # the student cut from the base, before it learned anything
            stages["student"] = _generate_stage(ctx, "student", prompts, refs, cut, None)
        stages["teacher"] = _teacher_stage(ctx, prompts, refs)
    return stages


def _generate_stage(
    ctx,
    name: str,
    prompts: list[list[dict]],
    refs: list[str],
    model: Path,  # noqa: ANN001
    adapter: Path | None,
) -> str:
    from ftc.runtime.generate import load_model

    folder = ctx.dir / STAGES / name
    # The teacher is another model: it answers in its own template; the SFT stage in the plan's.
    template = None if name == "teacher" else common.chat_template(ctx.plan)
    loaded = load_model(model, adapter_dir=adapter, chat_template=template)
    preds = common.generate_all(ctx, loaded, prompts, f"eval: {name}")
    common.write_predictions(folder, prompts, refs, preds)
    return f"{STAGES}/{name}"


def _teacher_stage(ctx, prompts: list[list[dict]], refs: list[str]) -> str:  # noqa: ANN001
    """The teacher's answers to the holdout (it answered only train rows while distilling), when its
    weights are on this machine: a run never downloads a model just to draw the ladder."""
    from ftc.runtime.models import resolve_model
    from ftc.shared.errors import FtcError

    info = json.loads((ctx.need_dir("distill") / "train.json").read_text(encoding="utf-8"))
    teacher = info.get("teacher")
    folder = ctx.dir / STAGES / "teacher"
    try:
        if not teacher:
            raise FtcError("the distill step recorded no teacher model")
        model = resolve_model(str(teacher), allow_download=False)
    except FtcError as exc:
        atomic.write_json(
            folder / "missing.json", {"teacher": teacher, "why": f"the teacher is not available offline: {exc}"}
        )
        return f"{STAGES}/teacher"
    return _generate_stage(ctx, "teacher", prompts, refs, model, None)
