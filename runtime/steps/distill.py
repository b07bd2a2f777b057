"""The distill step: the teacher answers the train prompts, the student is fine-tuned on those
answers (sequence-level distillation, Kim & Rush 2016).

The teacher sees exactly the prompt the student will be trained and evaluated with (the plan's
one system prompt), greedy, so its answers are reproducible; they are saved as
``teacher.jsonl`` before training starts, so a run killed during training does not generate
them again. The student's training is the train step's SFT (LoRA or full), with its
checkpoints and resume.
"""

from __future__ import annotations

from dataclasses import replace

from ftc.shared.errors import FtcError
from ftc.shared import atomic
from ftc.runtime.steps import common

TEACHER = "teacher.jsonl"


def _teacher_answers(ctx, train: list) -> list[str]:  # noqa: ANN001 - the executor's Context
    path = ctx.dir / TEACHER
    if path.exists():
        rows = atomic.read_jsonl(path)
        if len(rows) == len(train):
            return [r["answer"] for r in rows]
    from ftc.runtime.generate import load_model
    from ftc.runtime.prompting import tuned_prompt

    teacher = ctx.config.get("teacher") or (ctx.plan.get("model") or {}).get("teacher")
    if not teacher:
        raise FtcError(f"error: step '{ctx.step['id']}' distils, but the plan names no teacher model")
    loaded = load_model(common.model_dir(ctx, str(teacher)))
    prompts = [tuned_prompt(e) for e in train]
    answers = common.generate_all(ctx, loaded, prompts, "teacher")
    del loaded  # the teacher may be large: free it before the student trains
    atomic.write_jsonl(path, [{"prompt": p, "answer": a} for p, a in zip(prompts, answers)])
    return answers


def distill_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime.steps.model_steps import train_step

    train = common.examples(ctx, "train", ctx.config.get("sources"))
    answers = _teacher_answers(ctx, train)
    kept = [replace(e, completion=a) for e, a in zip(train, answers) if a.strip()]
    if not kept:
        raise FtcError(f"error: step '{ctx.step['id']}': the teacher gave no usable answer to learn from")
    student = ctx.config.get("student") or (ctx.plan.get("model") or {}).get("base")
    info = train_step(ctx, examples=kept, model=str(student))
    info.update(objective="distill", teacher=ctx.config.get("teacher"), teacher_rows=len(kept))
    atomic.write_json(ctx.dir / "train.json", info)
    return info
