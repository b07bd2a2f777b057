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


# --- logit distillation (Hinton et al. 2015) --------------------------------------------------
# The student trains on the data's own answers with SFT's prompt/completion rows and label mask;
# at every answer token it also matches the teacher's softened next-token distribution (forward
# KL, teacher || student, at temperature T, scaled by T^2 so its gradient keeps the CE's scale).
# Only possible when both models share a tokenizer (the planner's R-DISTILL-KIND checks the vocab).


def kd_loss(student_logits, teacher_logits, labels, temperature: float):  # noqa: ANN001, ANN201 - torch tensors
    """Mean forward KL(teacher_T || student_T) * T^2 over the positions whose next token carries a
    label (the same shift as the causal-LM loss); prompt and padding positions count for nothing."""
    import torch.nn.functional as F

    mask = labels[:, 1:] != -100
    if not bool(mask.any()):
        return student_logits.sum() * 0.0
    s = student_logits[:, :-1][mask].float() / temperature
    t = teacher_logits[:, :-1][mask].float() / temperature
    kl = F.kl_div(F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), log_target=True, reduction="batchmean")
    return kl * temperature**2


def ce_loss(student_logits, labels):  # noqa: ANN001, ANN201
    import torch.nn.functional as F

    return F.cross_entropy(
        student_logits[:, :-1].reshape(-1, student_logits.size(-1)).float(),
        labels[:, 1:].reshape(-1),
        ignore_index=-100,
    )


def logit_trainer_class(teacher, temperature: float, alpha: float):  # noqa: ANN001, ANN201 - a frozen torch model
    """An SFTTrainer whose loss is alpha * KD + (1 - alpha) * CE (TRL asks for a subclass
    overriding ``compute_loss``; its fused loss has no logits to compare)."""
    import torch
    from trl import SFTTrainer

    class LogitDistillTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
            labels = inputs["labels"]
            forward = {k: v for k, v in inputs.items() if k != "labels"}
            forward["use_cache"] = False
            outputs = model(**forward)
            with torch.no_grad():
                teacher.to(outputs.logits.device)
                target = teacher(**forward).logits
            kd = kd_loss(outputs.logits, target, labels, temperature)
            ce = ce_loss(outputs.logits, labels)
            mode = "train" if model.training else "eval"
            self._metrics[mode]["distill_kl"].append(float(kd.detach()))
            self._metrics[mode]["distill_ce"].append(float(ce.detach()))
            loss = alpha * kd + (1.0 - alpha) * ce
            return (loss, outputs) if return_outputs else loss

    return LogitDistillTrainer


def train_logit_distill(
    teacher_dir: Path,
    student_dir: Path,
    train: list[Example],
    hp: dict,
    out_dir: Path,
    *,
    temperature: float,
    alpha: float,
    method: str = "lora",
    callbacks: tuple = (),
):  # noqa: ANN201 - a common.TrainResult
    """The student's SFT on ``train`` with the teacher's logits as a second target (see above)."""
    from ftc.runtime.train.sft import train_sft

    teacher = load_teacher(teacher_dir).model
    teacher.eval().requires_grad_(False)
    return train_sft(
        student_dir,
        train,
        None,
        hp,
        out_dir,
        method=method,
        callbacks=callbacks,
        trainer_class=logit_trainer_class(teacher, temperature, alpha),
    )
