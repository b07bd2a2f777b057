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
    from ftc.runtime.generate import load_model
    from ftc.runtime.train.distill import logit_trainer_class, train_logit_distill
    from ftc.runtime.train.sft import build_trainer

    rows = [
        to_example(
            {"prompt": f"Count the rows of table t{i}.", "completion": f"SELECT COUNT(*) FROM t{i};"},
            "completion",
            "Answer with one SQL statement.",
        )
        for i in range(4)
    ]
    # The student's rows carry labels only on the answer and its closing token, as in SFT; the
    # KL term reads the same labels (test_kd_loss_counts_only_answer_positions).
    teacher = load_model(base_dir).model
    trainer, _ = build_trainer(
        student_dir, rows[:2], None, HP, tmp_path / "probe", trainer_class=logit_trainer_class(teacher, 2.0, 0.5)
    )
    assert type(trainer).__name__ == "LogitDistillTrainer"
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    tok = trainer.processing_class
    spans = [
        s
        for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist())
        for s in _labelled(tok, ids, [label != -100 for label in labels])
    ]
    assert spans == [r.completion + "<|im_end|>" for r in rows[:2]]
    del trainer, teacher
    result = train_logit_distill(base_dir, student_dir, rows, HP, tmp_path, temperature=2.0, alpha=0.5, method="lora")
    assert result.global_step == 2
    assert (result.output_dir / "adapter_model.safetensors").exists()
    logged = [h for h in result.history if "distill_kl" in h]
    assert logged and all(h["distill_kl"] >= 0 and h["distill_ce"] > 0 for h in logged)
    config = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]).resolve() == student_dir.resolve()


# --- the steps, through the executor (load -> clean -> dedup -> split -> step) --------------------
def _hp_plan(**values: object) -> dict:
    return {k: {"value": v, "set_by": "recipe", "reason": "test"} for k, v in values.items()}


def _run_plan(tmp_path: Path, src: dict, last: tuple, plan_extra: dict | None = None):
    from ftc.runtime.executor import Executor, RunOptions
    from ftc.runtime.steps import STEPS

    name = src["name"]
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        ("clean", ["load"], {"redact_pii": {name: False}, "max_tokens": {name: None}, "overlong": {name: "drop"}}),
        ("dedup", ["clean"], {"near_threshold": 0.95, "num_perm": 64, "shingle_words": 5}),
        ("split", ["dedup"], {"holdout": 0.25, "seed": 1, "stratify": None, "accept_leaks": True, "ngram": 13}),
        last,
    ]
    plan = {
        "recipe": {"name": "objectives"},
        "inputs": [],
        "method": "lora",
        "model": {"base": "smollm2-135m-instruct"},
        "prompt": {"system": SYS, "few_shot": 0},
        "hyperparameters": _hp_plan(**HP, epochs=1),
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
        **(plan_extra or {}),
    }
    return Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()


def _source(name: str, fmt: str) -> dict:
    return {"name": name, "path": f"{name}.jsonl", "format": fmt, "columns": {}, "on_bad_rows": "fail", "glob": "**/*"}


def test_the_kto_step_reads_labelled_rows_and_holds_out_only_desirable_ones(tmp_path):
    # Short, distinct rows: no two share a 13-gram, so the split may hold any desirable one out.
    animals = ["cat", "dog", "owl", "fox", "eel", "yak", "emu", "ant"]
    rows = [
        {
            "prompt": f"Which colour goes with the {a}?",
            "completion": f"The {a} goes with colour {i}." if i % 2 else f"No idea about the {a}.",
            "label": bool(i % 2),
        }
        for i, a in enumerate(animals)
    ]
    (tmp_path / "feedback.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    step = ("kto", ["split"], {"model": "smollm2-135m-instruct", "beta": 0.1, "lr": 5e-5, "sources": ["feedback"]})
    result = _run_plan(tmp_path, _source("feedback", "kto"), step)
    split = result.outcomes["split"].dir
    held = [json.loads(x) for x in (split / "holdout.jsonl").read_text().splitlines()]
    trained = [json.loads(x) for x in (split / "train.jsonl").read_text().splitlines()]
    assert held and all(r["fields"]["label"] is True for r in held)  # undesirable answers are never scored
    info = json.loads((result.outcomes["kto"].dir / "train.json").read_text())
    assert info["objective"] == "kto" and info["global_step"] == 2 and info["started_from"] == "base"
    assert info["train_rows"] == len(trained) and info["desirable_rows"] == sum(r["fields"]["label"] for r in trained)
    assert (result.outcomes["kto"].dir / "adapter" / "adapter_model.safetensors").exists()


def test_the_orpo_step_trains_preference_pairs_in_one_stage(tmp_path):
    (tmp_path / "pairs.jsonl").write_text(
        "".join((REPO / "recipes/data/polite-replies/pairs.jsonl").read_text().splitlines(keepends=True)[:6])
    )
    step = ("orpo", ["split"], {"model": "smollm2-135m-instruct", "beta": 0.1, "lr": 1e-4, "sources": ["pairs"]})
    result = _run_plan(tmp_path, _source("pairs", "preference"), step)
    info = json.loads((result.outcomes["orpo"].dir / "train.json").read_text())
    # nothing but pairs: a share of them is held out for the gate (their prompts scored against
    # the chosen answers), and ORPO trains on the rest
    held = len((result.run_dir / "split" / "holdout.jsonl").read_text().splitlines())
    assert held >= 1
    assert info["objective"] == "orpo" and info["global_step"] == 2 and info["train_rows"] == 6 - held
    history = json.loads((result.outcomes["orpo"].dir / "loss_history.json").read_text())
    assert any("log_odds_ratio" in h for h in history)


def test_the_distill_step_with_kind_logits_trains_the_student_on_the_data(student_dir, tmp_path):
    rows = [{"prompt": f"Count the rows of table t{i}.", "completion": f"SELECT COUNT(*) FROM t{i};"} for i in range(6)]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "teacher": "smollm2-135m-instruct",
        "student": str(student_dir),
        "method": "lora",
        "max_new_tokens": 8,
        "retrieval_context": False,
        "sources": ["q"],
        "kind": "logits",
        "temperature": 2.0,
        "alpha": 0.5,
    }
    result = _run_plan(tmp_path, _source("q", "completion"), ("distill", ["split"], config))
    folder = result.outcomes["distill"].dir
    info = json.loads((folder / "train.json").read_text())
    assert info["kind"] == "logits" and info["global_step"] == 2 and info["train_rows"] == 4
    assert not (folder / "teacher.jsonl").exists()  # nothing generated: the data's own answers are learned
    history = json.loads((folder / "loss_history.json").read_text())
    assert any("distill_kl" in h for h in history)
