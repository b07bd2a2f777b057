"""R-LR, R-EPOCHS-BY-SIZE, R-LR-PROBE and R-PROMPT-SEARCH: the learning rate by width, enough
optimizer updates on small data, the probe step (and when it is left out), the prompt search's
candidates, their cost in the estimate, and `lr = auto` in the language."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scenarios import plan_for

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.plan.rules import explain
from ftc.shared import hparams


def _steps(plan: dict) -> dict[str, dict]:
    return {s["kind"]: s for s in plan["steps"]}


def _because(plan: dict, rule: str) -> str:
    return next(r["because"] for r in plan["rules"] if r["id"] == rule)


def test_the_lora_lr_is_ten_times_the_width_scaled_full_lr() -> None:
    assert hparams.lora_lr(4096) == pytest.approx(2e-4)  # QLoRA's 7B default
    assert hparams.lora_lr(8192) == pytest.approx(1e-4)  # QLoRA's 33B/65B value
    assert hparams.lora_lr(576) == pytest.approx(10 * 2e-5 * 4096 / 576)  # SmolLM2-135M: 1.42e-3
    assert hparams.lora_lr(64) == hparams.LR_MAX  # clamped past what was measured
    assert hparams.short(1.4222e-3) == "1.4e-3" and hparams.short(2e-4) == "2e-4"


def test_the_plan_states_the_rule_lr_with_the_numbers_it_came_from(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360)
    lr = plan["hyperparameters"]["lr"]
    assert lr["set_by"] == "rule" and lr["value"] == pytest.approx(1.4e-3)
    assert "4096/576" in lr["reason"] and "1.4e-4" in lr["reason"] and "10x" in lr["reason"]
    assert _because(plan, "R-LR").startswith("lr 1.4e-3")
    alpha, r = plan["hyperparameters"]["lora_alpha"], plan["hyperparameters"]["lora_r"]["value"]
    assert alpha["value"] == 2 * r
    assert alpha["reason"] == f"alpha {2 * r} = 2 x rank {r}; the update is scaled by alpha/r = {2 * r}/{r} = 2"


def test_small_data_gets_batch_eight_and_enough_epochs_for_the_minimum_updates(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360)  # 288 train rows after a 20% holdout
    hp = plan["hyperparameters"]
    eff = hp["batch"]["value"] * hp["grad_accum"]["value"]
    assert eff == hparams.EFFECTIVE_BATCH_SMALL
    per_epoch = -(-288 // eff)
    assert hp["epochs"]["value"] * per_epoch >= hparams.MIN_UPDATES
    assert f"{per_epoch} updates an epoch" in hp["epochs"]["reason"]
    assert hp["early_stopping"]["value"] is False and "288 train rows" in hp["early_stopping"]["reason"]


def test_large_data_keeps_early_stopping_and_a_larger_batch(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=3000)
    hp = plan["hyperparameters"]
    assert hp["batch"]["value"] * hp["grad_accum"]["value"] == hparams.EFFECTIVE_BATCH
    assert hp["early_stopping"]["value"] is True and hp["epochs"]["value"] == 1


def test_lr_left_to_the_rules_plans_a_guarded_probe_before_train(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360)
    steps = _steps(plan)
    probe = steps["lr_probe"]
    assert probe["guard"] == steps["train"]["guard"] == "baseline_misses_bar"
    assert "lr_probe" in steps["train"]["needs"]
    rule = plan["hyperparameters"]["lr"]["value"]
    assert probe["config"]["rule_lr"] == rule
    assert probe["config"]["candidates"] == [hparams.round_lr(rule * x) for x in hparams.PROBE_FACTORS]
    assert plan["estimates"]["seconds_breakdown"]["lr_probe"] > 0
    assert "updates at the rule's lr" in _because(plan, "R-LR-PROBE")


def test_an_lr_set_by_the_recipe_skips_the_probe_and_says_so(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360, train={"lr": 1e-3})
    lr = plan["hyperparameters"]["lr"]
    assert (lr["value"], lr["set_by"]) == (1e-3, "recipe")
    assert lr["reason"].startswith("recipe sets lr 1e-3; the rule would choose 1.4e-3 (full-tuning lr 2e-5")
    assert "lr_probe" not in _steps(plan) and "lr_probe" not in _steps(plan)["train"]["needs"]
    assert _because(plan, "R-LR-PROBE") == "lr 1e-3 set by recipe: no probe"
    assert "lr_probe" not in plan["estimates"]["seconds_breakdown"]


def test_auto_is_the_same_as_leaving_lr_out(tmp_path: Path) -> None:
    auto, _ = plan_for(tmp_path, rows=360, train={"lr": "auto"})
    left_out, _ = plan_for(tmp_path, rows=360)
    assert auto["hyperparameters"]["lr"] == left_out["hyperparameters"]["lr"] and "lr_probe" in _steps(auto)


def test_a_tight_budget_drops_the_costly_candidates_then_the_probe_and_says_why(tmp_path: Path) -> None:
    roomy, _ = plan_for(tmp_path, rows=360)
    tight_s = roomy["estimates"]["seconds"] - roomy["estimates"]["seconds_breakdown"]["lr_probe"] / 2
    plan, _ = plan_for(tmp_path, rows=360, budget_s=tight_s)
    shots = {c["shots"] for c in _steps(plan)["baseline"]["config"]["prompt_search"]["candidates"]}
    assert max(hparams.SEARCH_SHOTS) not in shots
    assert "left out to fit the budget" in _because(plan, "R-PROMPT-SEARCH")
    if "lr_probe" not in _steps(plan):
        assert "the rule's lr" in _because(plan, "R-LR-PROBE")
    assert plan["estimates"]["seconds"] <= tight_s


def test_the_baseline_searches_shots_and_selection_on_a_validation_slice(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360)
    search = _steps(plan)["baseline"]["config"]["prompt_search"]
    assert search["validation_rows"] == hparams.SEARCH_VAL_ROWS
    assert {(c["shots"], c["selection"]) for c in search["candidates"]} == {
        (0, "none"),
        (3, "random"),
        (3, "nearest"),
        (8, "random"),
        (8, "nearest"),
    }
    assert plan["estimates"]["seconds_breakdown"]["prompt_search"] > 0
    fixed, _ = plan_for(tmp_path, rows=360, train={"few_shot": 2})
    assert _steps(fixed)["baseline"]["config"]["prompt_search"] is None
    assert "few_shot = 2 set by recipe" in _because(fixed, "R-PROMPT-SEARCH")


def test_lr_takes_a_number_or_auto_and_anything_else_is_a_located_error(tmp_path: Path) -> None:
    def recipe(value: str) -> tuple:
        path = tmp_path / "r.ftr"
        (tmp_path / "d.jsonl").write_text(
            '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n',
            encoding="utf-8",
        )
        path.write_text(
            'recipe "r" {\n  goal = behavior("x")\n  base = model("smollm2-135m-instruct")\n'
            f"  train {{\n    lr = {value}\n  }}\n"
            '  data "d" {\n    path = "d.jsonl"\n    format = chat\n  }\n'
            "  eval {\n    holdout = 20%\n    expect exact_match >= 0.5\n  }\n}\n",
            encoding="utf-8",
        )
        return load_recipe(path)

    auto, diags = recipe("auto")
    assert auto is not None and auto.train.values["lr"] == "auto", diags
    number, _ = recipe("3e-4")
    assert number is not None and number.train.values["lr"] == 3e-4
    _, diags = recipe("fast")
    bad = [d for d in diags if d.code == "FTR103"]
    assert bad and "a number or auto" in bad[0].message and bad[0].span.line == 5


def test_explain_cites_the_sources_and_states_the_numbers() -> None:
    text = explain("R-LR") or ""
    assert "Biderman et al. 2024" in text and "LoRA Without Regret" in text and "Tensor Programs V" in text
    assert "2e-4 at width 4096" in text and "1.4e-3 at 576" in text
    probe = explain("R-LR-PROBE") or ""
    assert f"{hparams.PROBE_STEPS} updates" in probe and "never the holdout" in probe
    assert "nearest" in (explain("R-PROMPT-SEARCH") or "")


def test_short_rows_on_small_data_are_not_packed_so_the_updates_stay(tmp_path: Path) -> None:
    plan, _ = plan_for(tmp_path, rows=360)  # rows of ~40 tokens, max_length well over twice that
    packing = plan["hyperparameters"]["packing"]
    assert packing["value"] is False and "288 train rows" in packing["reason"] and "updates" in packing["reason"]
    large, _ = plan_for(tmp_path, rows=3000)
    assert large["hyperparameters"]["packing"]["value"] is True


def test_lora_dropout_is_off_on_a_cpu_and_light_on_a_gpu(tmp_path: Path) -> None:
    """On a CPU the adapters' dropout masks were ~40% of a LoRA step for the same holdout loss
    (bench/train_vs_trl.py); a GPU keeps the light regularisation."""
    cpu, _ = plan_for(tmp_path / "cpu", rows=360)
    gpu, _ = plan_for(tmp_path / "gpu", rows=360, device="cuda")
    drop_cpu, drop_gpu = cpu["hyperparameters"]["lora_dropout"], gpu["hyperparameters"]["lora_dropout"]
    assert drop_cpu["value"] == 0.0 and drop_cpu["set_by"] == "rule" and "40%" in drop_cpu["reason"]
    assert drop_gpu["value"] == 0.05 and "regularisation" in drop_gpu["reason"]
