"""ORPO, KTO and logit distillation on the embedded model, on CPU: which tokens each objective
trains on (as tests/runtime/test_sft.py asserts for SFT), then two optimiser steps each.

Logit distillation needs a student sharing the teacher's tokenizer: a 4-layer slice of the
embedded model (its first layers, same vocabulary) is the student, the whole model the teacher."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))

from ftc.runtime.prompting import to_example  # noqa: E402
from ftc.runtime.train.dpo import preference_rows  # noqa: E402
from ftc.runtime.train.objectives import kto_rows, kto_trainer, orpo_trainer, train_objective  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]

SYS = "Reply to the customer politely."
PAIRS = [
    json.loads(line)
    for line in (REPO / "recipes" / "data" / "polite-replies" / "pairs.jsonl").read_text().splitlines()[:4]
]
HP = {
    "max_steps": 2,
    "batch": 2,
    "grad_accum": 1,
    "max_length": 128,
    "lora_r": 4,
    "lora_alpha": 8,
    "save_steps": 1,
    "seed": 3,
}


def _labelled(tok, ids: list[int], keep: list[bool]) -> list[str]:
    """The runs of tokens ``keep`` marks, decoded."""
    spans, current = [], []
    for token, k in zip(ids, keep):
        if k:
            current.append(token)
        elif current:
            spans.append(tok.decode(current))
            current = []
    if current:
        spans.append(tok.decode(current))
    return [s.rstrip("\n") for s in spans]


def _kto_rows() -> list[dict]:
    fields = []
    for i, p in enumerate(PAIRS):
        good = i % 2 == 0
        fields.append({"prompt": p["prompt"], "completion": p["chosen" if good else "rejected"], "label": good})
    return kto_rows(fields, SYS)


def test_orpo_labels_only_the_answers_and_trains_without_a_reference(base_dir, tmp_path):
    rows = preference_rows(PAIRS[:2], SYS)
    trainer = orpo_trainer(base_dir, rows, HP, tmp_path, sft_output=None, beta=0.1, lr=1e-4)
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    tok = trainer.processing_class
    for side in ("chosen", "rejected"):
        spans = [
            _labelled(tok, ids, [label != -100 for label in labels])
            for ids, labels in zip(batch[f"{side}_input_ids"].tolist(), batch[f"{side}_labels"].tolist())
        ]
        # Each row's loss covers its answer and the closing token, nothing of the system or user turn.
        assert spans == [[p[side] + "<|im_end|>"] for p in PAIRS[:2]]
    assert not hasattr(trainer, "ref_model") or trainer.ref_model is None
    result = train_objective("orpo", base_dir, rows, HP, tmp_path / "run", beta=0.1, lr=1e-4)
    assert result.global_step == 2
    assert (result.output_dir / "adapter_model.safetensors").exists()
    assert any("log_odds_ratio" in h for h in result.history)


def test_kto_scores_only_the_completion_and_uses_the_base_as_reference(base_dir, tmp_path):
    rows = _kto_rows()
    trainer = kto_trainer(base_dir, rows, HP, tmp_path, sft_output=None, beta=0.1, lr=5e-5)
    # No SFT before: a fresh LoRA whose reference is the base with the adapter disabled (no copy).
    assert trainer.ref_model is None
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    tok = trainer.processing_class
    spans = [
        _labelled(tok, ids, [m == 1 for m in mask])
        for ids, mask in zip(batch["input_ids"].tolist(), batch["completion_mask"].tolist())
    ]
    assert spans == [[r["completion"][0]["content"] + "<|im_end|>"] for r in rows[:2]]
    assert batch["label"].tolist() == [True, False]
    result = train_objective("kto", base_dir, rows, HP, tmp_path / "run", beta=0.1, lr=5e-5)
    assert result.global_step == 2
    assert (result.output_dir / "adapter_model.safetensors").exists()
    assert any("kl" in h for h in result.history)


@pytest.fixture(scope="module")
def student_dir(base_dir, tmp_path_factory) -> Path:
    """The embedded model cut to its first 4 layers: a smaller student with the same tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    model.model.layers = model.model.layers[:4]
    model.config.num_hidden_layers = 4
    model.config.layer_types = model.config.layer_types[:4] if getattr(model.config, "layer_types", None) else None
    out = tmp_path_factory.mktemp("student")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out)
    return out


def test_kd_loss_counts_only_answer_positions():
    import torch

    from ftc.runtime.train.distill import kd_loss

    torch.manual_seed(0)
    student, teacher = torch.randn(1, 6, 11), torch.randn(1, 6, 11)
    labels = torch.tensor([[-100, -100, -100, 4, 5, 6]])  # tokens 3..5 are the answer
    base = kd_loss(student, teacher, labels, 2.0)
    assert base > 0 and kd_loss(student, student, labels, 2.0).abs() < 1e-6
    # Positions 0 and 1 predict prompt tokens, position 5 predicts nothing: changing the teacher
    # there changes nothing; changing it where it predicts an answer token does.
    moved = teacher.clone()
    moved[0, [0, 1, 5]] += torch.randn(3, 11) * 5
    assert torch.allclose(kd_loss(student, moved, labels, 2.0), base)
    moved[0, 2] += 5 * torch.randn(11)
    assert not torch.allclose(kd_loss(student, moved, labels, 2.0), base)


def test_logit_distillation_trains_the_student_on_the_teachers_logits(base_dir, student_dir, tmp_path):
    from ftc.runtime.train.distill import train_logit_distill

    rows = [
        to_example(
            {"prompt": f"Count the rows of table t{i}.", "completion": f"SELECT COUNT(*) FROM t{i};"},
            "completion",
            "Answer with one SQL statement.",
        )
        for i in range(4)
    ]
    result = train_logit_distill(base_dir, student_dir, rows, HP, tmp_path, temperature=2.0, alpha=0.5, method="lora")
    assert result.global_step == 2
    assert (result.output_dir / "adapter_model.safetensors").exists()
    logged = [h for h in result.history if "distill_kl" in h]
    assert logged and all(h["distill_kl"] >= 0 and h["distill_ce"] > 0 for h in logged)
    config = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]).resolve() == student_dir.resolve()
