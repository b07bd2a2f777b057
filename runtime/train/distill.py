"""Sequence-level distillation (Kim & Rush 2016): the teacher answers the train prompts, the student
is fine-tuned on those answers with SFT (``ftc.runtime.train.sft``, LoRA or full, with its
checkpoints and resume).

The teacher sees exactly the prompt the student will be trained and evaluated with (the plan's
one system prompt), greedy, so its answers are reproducible. They are saved (``teacher.jsonl``)
before the student trains, so a run killed during training does not generate them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ftc.runtime.prompting import Example, tuned_prompt
from ftc.shared import atomic

TEACHER = "teacher.jsonl"


def load_teacher(teacher_dir: Path, placement: str = "whole"):  # noqa: ANN201 - a generate.Loaded
    """The teacher as the plan places it (R-TEACHER-PLACEMENT): whole on one device, its layers
    spread over the GPUs (``device_map="auto"``, bf16), or 4-bit NF4 (bitsandbytes, CUDA)."""
    from ftc.runtime.generate import Loaded, load_model, load_tokenizer

    if placement == "whole":
        return load_model(teacher_dir)
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from ftc.shared.errors import FtcError

    if not torch.cuda.is_available():
        raise FtcError(f"error: the plan loads the teacher {placement} (CUDA only) and this machine has no CUDA device")
    kwargs: dict = {"dtype": torch.bfloat16, "device_map": "auto"}
    if placement == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    model = AutoModelForCausalLM.from_pretrained(teacher_dir, **kwargs).eval()
    return Loaded(model, load_tokenizer(Path(teacher_dir)), Path(teacher_dir), None)


def teacher_answers(
    teacher_dir: Path,
    train: list[Example],
    saved: Path,
    *,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None = None,
    placement: str = "whole",
) -> list[str]:
    """The teacher's greedy answer to each train prompt; read back from ``saved`` when a killed
    run already wrote them for these rows, else generated and written there."""
    if saved.exists():
        rows = atomic.read_jsonl(saved)
        if len(rows) == len(train):
            return [r["answer"] for r in rows]
    from ftc.runtime.generate import generate

    loaded = load_teacher(teacher_dir, placement)
    prompts = [tuned_prompt(e) for e in train]
    answers = generate(loaded, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress)
    del loaded  # the teacher may be large: free it before the student trains
    atomic.write_jsonl(saved, [{"prompt": p, "answer": a} for p, a in zip(prompts, answers, strict=True)])
    return answers


def student_examples(train: list[Example], answers: list[str]) -> list[Example]:
    """The train prompts with the teacher's answers as completions; empty answers are left out."""
    return [replace(e, completion=a) for e, a in zip(train, answers, strict=True) if a.strip()]
