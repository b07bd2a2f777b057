"""The distill step: the teacher's answers to the train prompts (``ftc.runtime.train.distill``),
then the student's SFT on them, exactly as the train step runs it (kind sequence); or the student's
SFT on the data's own answers with the teacher's logits as a second target (kind logits, R-DISTILL-KIND)."""

from __future__ import annotations

from pathlib import Path

from ftc.runtime.steps import common
from ftc.runtime.steps.model_steps import fine_tune
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.errors import FtcError
from ftc.shared.hparams import DEFAULTS


@step(
    "distill",
    reads=("prompt", "hyperparameters", "method", "model.base", "model.teacher", "distributed"),
    needs_outputs_of=("split", "index", "synthesize"),
    guarded=True,
    scratch=("checkpoints", "launch"),
)
def distill_step(ctx) -> dict:  # noqa: ANN001 - the executor's Context
    from ftc.runtime.train.distill import TEACHER, student_examples, teacher_answers

    teacher = ctx.config.get("teacher") or ctx.plan.get("model.teacher")
    if not teacher:
        raise FtcError(f"error: step '{ctx.step['id']}' distils, but the plan names no teacher model")
    from ftc.runtime.steps.synthesize import synthetic_examples

    # Synthetic inputs too (R-SYNTHESIZE): the teacher answers them again, as it answers real ones.
    train = common.examples(ctx, "train", ctx.config.get("sources")) + synthetic_examples(ctx)
    student = _student(ctx)
    if ctx.config.get("kind") == "logits":
        return _logits(ctx, str(teacher), str(student), train)
    placement = ((ctx.plan.get("distributed") or {}).get("teacher") or {}).get("load", "whole")
    with common.generation_progress(ctx, "teacher") as update:
        answers = teacher_answers(
            common.model_dir(ctx, str(teacher)),
            train,
            ctx.dir / TEACHER,
            progress=update,
            placement=placement,
            **common.generation_settings(ctx),
        )
    kept = student_examples(train, answers)
    if not kept:
        raise FtcError(f"error: step '{ctx.step['id']}': the teacher gave no usable answer to learn from")
    info = fine_tune(ctx, kept, model=str(student))
    info.update(objective="distill", teacher=ctx.config.get("teacher"), teacher_rows=len(kept), **_cut(ctx))
    atomic.write_json(ctx.dir / "train.json", info)
    return info


def _cut(ctx) -> dict:  # noqa: ANN001
    keep = ctx.config.get("student_layers")
    return {"student_layers": [int(i) for i in keep]} if keep else {}


STUDENT = "student"  # the folder of a student cut from the base, inside the step's folder


def _student(ctx) -> str:  # noqa: ANN001
    """The student model: the base, or a folder holding the base cut to the plan's layers
    (R-STUDENT-LAYERS), built once per step folder."""
    base = str(ctx.config.get("student") or ctx.plan.get("model.base"))
    keep = ctx.config.get("student_layers")
    if not keep:
        return base
    from ftc.runtime.student import build_student

    if ctx.progress is not None:
        ctx.progress.note(f"cutting the student: {len(keep)} layers of {base}")
    return str(build_student(common.model_dir(ctx, base), [int(i) for i in keep], ctx.dir / STUDENT))


def student_dir(ctx) -> Path | None:  # noqa: ANN001 - the executor's Context
    """The cut student's folder of the run's distill step, when the plan cuts one."""
    distill = ctx.by_kind("distill")
    if distill is None or distill.dir is None or not (distill.dir / STUDENT).is_dir():
        return None
    return distill.dir / STUDENT


def _logits(ctx, teacher: str, student: str, train: list) -> dict:  # noqa: ANN001
    from ftc.runtime.train.distill import load_teacher, logit_trainer_class

    temperature = float(ctx.config.get("temperature") or DEFAULTS["distill_temperature"])
    alpha = float(DEFAULTS["distill_alpha"] if ctx.config.get("alpha") is None else ctx.config["alpha"])
    loaded = load_teacher(common.model_dir(ctx, teacher))
    loaded.model.eval().requires_grad_(False)
    info = fine_tune(ctx, train, model=student, trainer_class=logit_trainer_class(loaded.model, temperature, alpha))
    info.update(objective="distill", kind="logits", teacher=teacher, temperature=temperature, alpha=alpha, **_cut(ctx))
    atomic.write_json(ctx.dir / "train.json", info)
    return info
