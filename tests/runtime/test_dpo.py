"""The dpo step: TRL DPOTrainer on real preference pairs, two optimiser steps on the embedded model
(a fresh LoRA on the base here; after SFT it continues the SFT adapter, see runtime/steps/dpo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS

PAIRS = Path(__file__).resolve().parents[2] / "recipes" / "data" / "polite-replies" / "pairs.jsonl"
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("one_thread")]


def _hp(**values: object) -> dict:
    return {k: {"value": v, "set_by": "recipe", "reason": "test"} for k, v in values.items()}


def test_dpo_trains_an_adapter_on_preference_pairs(tmp_path: Path) -> None:
    (tmp_path / "pairs.jsonl").write_text("".join(PAIRS.read_text().splitlines(keepends=True)[:6]))
    src = {
        "name": "pairs",
        "path": "pairs.jsonl",
        "format": "preference",
        "columns": {},
        "on_bad_rows": "fail",
        "glob": "**/*",
    }
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        (
            "clean",
            ["load"],
            {"redact_pii": {"pairs": False}, "max_tokens": {"pairs": None}, "overlong": {"pairs": "drop"}},
        ),
        ("dedup", ["clean"], {"near_threshold": 0.85, "num_perm": 64, "shingle_words": 5}),
        ("split", ["dedup"], {"holdout": 0.2, "seed": 1, "stratify": None, "accept_leaks": True, "ngram": 13}),
        ("dpo", ["split"], {"model": "smollm2-135m-instruct", "beta": 0.1, "lr": 5e-5, "sources": ["pairs"]}),
    ]
    plan = {
        "recipe": {"name": "dpo"},
        "inputs": [],
        "model": {"base": "smollm2-135m-instruct"},
        "prompt": {"system": "Reply to the customer politely.", "few_shot": 0},
        "hyperparameters": _hp(
            max_steps=2, batch=2, grad_accum=1, max_length=128, lora_r=4, lora_alpha=8, save_steps=1, epochs=1, seed=3
        ),
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
    }
    result = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    folder = result.outcomes["dpo"].dir
    info = json.loads((folder / "train.json").read_text())
    assert info["global_step"] == 2 and info["objective"] == "dpo"
    assert (folder / "adapter" / "adapter_model.safetensors").exists()
    history = json.loads((folder / "loss_history.json").read_text())
    assert any("rewards/chosen" in h or "rewards/margins" in h for h in history)


def test_after_a_lora_sft_the_reference_is_a_frozen_copy_of_the_sft_adapter(tmp_path: Path, base_dir: Path) -> None:
    """After a LoRA SFT, DPO's reference is the SFT model without a second copy of the base: TRL's
    frozen "ref" adapter, a copy of the SFT adapter on the same weights. It stays as the SFT left it
    while the policy's adapter moves, and only the tuned adapter is saved."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, TrainerCallback

    from ftc.runtime.train.dpo import preference_rows, train_dpo

    sft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    torch.manual_seed(0)
    for name, param in sft.named_parameters():
        if "lora_B" in name:  # a fresh LoRA is the identity; this "SFT" changes the model
            param.data.normal_(0, 0.05)
    sft.save_pretrained(tmp_path / "sft")
    sft_weights = {n: p.detach().clone() for n, p in sft.named_parameters() if "lora_" in n}
    seen: dict[str, object] = {}

    class Inspect(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):  # noqa: ANN001, ANN003
            seen["adapters"] = sorted(model.peft_config)
            seen["ref_trainable"] = [n for n, p in model.named_parameters() if ".ref." in n and p.requires_grad]

        def on_train_end(self, args, state, control, model=None, **kw):  # noqa: ANN001, ANN003
            seen["after"] = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}

    rows = preference_rows([json.loads(x) for x in PAIRS.read_text().splitlines()[:2]], "Reply politely.")
    hp = _hp(max_steps=1, batch=2, grad_accum=1, max_length=96, save_steps=10, epochs=1, seed=3)
    result = train_dpo(
        base_dir, rows, hp, tmp_path / "dpo", sft_output=tmp_path / "sft", beta=0.1, lr=1e-2, callbacks=[Inspect()]
    )
    assert seen["adapters"] == ["default", "ref"] and seen["ref_trainable"] == []
    after: dict = seen["after"]  # type: ignore[assignment]
    refs = {n.replace(".ref.", ".default."): w for n, w in after.items() if ".ref." in n}
    assert refs.keys() == sft_weights.keys()
    assert all(torch.equal(refs[n], sft_weights[n]) for n in refs)  # the reference is the SFT model, unchanged
    trained = {n: w for n, w in after.items() if ".default." in n}
    assert any(not torch.equal(trained[n], sft_weights[n]) for n in trained)  # the policy moved
    saved = result.output_dir
    assert not (saved / "ref").exists() and (saved / "adapter_model.safetensors").exists()
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), saved)
    assert sorted(reloaded.peft_config) == ["default"]


def test_a_qlora_plan_trains_its_preference_stage_on_the_4bit_base(
    tmp_path: Path, base_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan counts a QLoRA plan's DPO/KTO/ORPO stage on the NF4 base; the stage must load it so
    (it loaded the 16-bit base before, ~4x the plan's weights). bitsandbytes' 4-bit loading needs
    CUDA, which this machine lacks: ``load_4bit`` is replaced by a recorder returning the plain
    model, and only which loader ran is checked."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from ftc.runtime.train import sft
    from ftc.runtime.train.common import hp_values
    from ftc.runtime.train.dpo import load_models

    get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"),
    ).save_pretrained(tmp_path / "sft")
    loaded: list[Path] = []

    def fake_4bit(model_dir: Path):  # noqa: ANN202
        loaded.append(model_dir)
        return AutoModelForCausalLM.from_pretrained(model_dir)

    monkeypatch.setattr(sft, "load_4bit", fake_4bit)
    p = hp_values({})
    policy, reference, peft_config = load_models(base_dir, tmp_path / "sft", p, "qlora")
    assert loaded == [base_dir] and isinstance(policy, PeftModel) and reference is None and peft_config is None
    fresh, _, config = load_models(base_dir, None, p, "qlora")  # pairs only: a fresh LoRA on the 4-bit base
    assert loaded == [base_dir, base_dir] and config is not None and not isinstance(fresh, PeftModel)
    load_models(base_dir, tmp_path / "sft", p, "lora")
    assert len(loaded) == 2  # a LoRA plan keeps its 16-bit (CPU: fp32) base
