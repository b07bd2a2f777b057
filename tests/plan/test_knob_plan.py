"""The train knobs in the plan: set by recipe, a note when the rule would choose otherwise, reasons
computed from the values they explain, cadences in optimiser steps, the chat template in the prompt
section, the target modules checked against the model, and a holdout for preference-only data."""

from __future__ import annotations

import re
from pathlib import Path

from test_scenarios import make_recipe, plan_for

from ftc.compiler.plan.planner import build_plan
from ftc.shared.templates import CHAT_TEMPLATES


def test_a_knob_the_rule_would_choose_otherwise_gets_a_note_not_an_error(tmp_path: Path) -> None:
    plan, codes = plan_for(tmp_path, rows=360, train={"warmup": 0.1, "lr_scheduler": "cosine", "optimizer": "adamw"})
    assert codes == ["FTR318"]  # the power warning every small scenario has: no error, no new warning
    hp = plan["hyperparameters"]
    assert hp["warmup"] == {
        "value": 0.1,
        "set_by": "recipe",
        "reason": "recipe sets warmup 0.1; the rule would choose 0.03 (3% of the steps warm up: steadies the first "
        "updates)",
    }
    assert hp["lr_scheduler"] == {"value": "cosine", "set_by": "recipe", "reason": "set by recipe"}  # the rule's too
    assert hp["optimizer"]["reason"].startswith("recipe sets optimizer adamw; the rule would choose adamw_fused (")


def test_reasons_are_computed_from_the_values_in_the_table(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360, train={"lora_r": 8, "lora_alpha": 8})
    hp = plan["hyperparameters"]
    assert hp["lora_alpha"]["value"] == 8
    assert hp["lora_alpha"]["reason"].endswith("the update is scaled by alpha/r = 8/8 = 1")
    assert "2r" not in hp["lora_alpha"]["reason"] and "32" not in hp["lora_alpha"]["reason"]
    rule = next(r["because"] for r in plan["rules"] if r["id"] == "R-HPARAM-DEFAULTS")
    assert "rank 8 alpha 8" in rule and "16" not in rule.split("rank")[1]
    # every number a rule-set reason states is the value it explains, for the shape keys
    for name in ("lora_r", "lora_dropout", "save_steps", "max_grad_norm"):
        entry = hp[name]
        if entry["set_by"] == "rule":
            assert re.search(rf"\b{entry['value']:g}\b", entry["reason"]), (name, entry)


def test_cadences_become_optimiser_steps(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360, train={"eval_every": ("epoch", 0.25), "save_every": ("epoch", 1.0)})
    hp = plan["hyperparameters"]
    per_epoch = -(-288 // (hp["batch"]["value"] * hp["grad_accum"]["value"]))  # 288 train rows
    assert hp["eval_steps"]["value"] == round(per_epoch / 4) and hp["save_steps"]["value"] == per_epoch
    assert (
        f"25% of an epoch = every {round(per_epoch / 4)} steps (an epoch is {per_epoch} updates)"
        in (hp["eval_steps"]["reason"])
    )


def test_early_stopping_evaluates_at_each_checkpoint(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=3000, train={"save_every": ("steps", 20.0)})
    hp = plan["hyperparameters"]
    assert hp["early_stopping"]["value"] is True
    assert (hp["eval_steps"]["value"], hp["eval_steps"]["set_by"]) == (20, "rule")


def test_the_chat_template_is_in_the_prompt_section(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=100, train={"chat_template": ("name", "chatml")})
    assert plan["prompt"]["chat_template"] == CHAT_TEMPLATES["chatml"]
    assert plan["hyperparameters"]["chat_template"]["value"] == "chatml"
    (tmp_path / "chat.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}", encoding="utf-8")
    plan, _ = plan_for(tmp_path, rows=100, train={"chat_template": ("file", str(tmp_path / "chat.jinja"))})
    assert plan["prompt"]["chat_template"].startswith("{% for m in messages %}")
    assert plan["hyperparameters"]["chat_template"]["value"] == "file:chat.jinja"
    plan, _ = plan_for(tmp_path, rows=100)
    assert plan["prompt"]["chat_template"] is None  # the model's own


def test_a_target_module_the_model_lacks_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    result = build_plan(make_recipe(tmp_path, rows=100, train={"target_modules": ("q_proj", "gate_prj")}), tmp_path)
    assert result.plan is None
    [diag] = [d for d in result.diagnostics if d.severity == "error"]
    assert diag.code == "FTR322" and diag.hint == "did you mean `gate_proj`?" and "`gate_prj`" in diag.message
    plan, _ = plan_for(tmp_path, rows=100, train={"target_modules": ("self_attn.q_proj", "lm_head")})
    assert plan["hyperparameters"]["target_modules"]["value"] == ["self_attn.q_proj", "lm_head"]


def test_preference_only_data_holds_pairs_out_for_the_gate(tmp_path: Path) -> None:
    plan, codes = plan_for(tmp_path, rows=0, prefs=300)
    assert plan is not None and "FTR323" not in codes
    assert "dpo" in plan["strategy"]
    power = next(w for w in plan["warnings"] if w["code"] == "FTR318")
    assert "holdout of about 60 rows" in power["message"]  # 20% of the 300 pairs, not 0


def test_the_memory_model_counts_the_precision_of_a_frozen_base(tmp_path: Path) -> None:
    gpu = dict(rows=100, device="cuda", memory=80 * 10**9)
    auto, _ = plan_for(tmp_path, **gpu)
    fp32, _ = plan_for(tmp_path, **gpu, train={"precision": "fp32"})
    params = auto["model"]["params"]
    weights = (auto["estimates"]["memory_breakdown"]["weights"], fp32["estimates"]["memory_breakdown"]["weights"])
    assert weights == (2 * params, 4 * params)  # bf16 on cuda by default; fp32 when the recipe says so
