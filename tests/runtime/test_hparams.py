"""One table of hyper-parameter defaults (ftc.shared.hparams): what the planner writes into a plan
by rule is what a trainer falls back to when a plan leaves the key out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime.train.common import hp_values
from ftc.shared.hparams import DEFAULTS, short

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "plans"
# Not lr: R-LR scales it with the model's width, so no single default can equal it (the runtime's
# fallback for a hand-written plan without lr stays DEFAULTS["lr"]). Not lora_dropout: the rule
# sets it by device (0 on a CPU, DEFAULTS' 0.05 on a GPU).
SHARED = (
    "lora_r",
    "lora_alpha",
    "target_modules",
    "weight_decay",
    "max_steps",
    "gradient_checkpointing",
    "dpo_beta",
    "dpo_lr",
    "optimizer",
    "precision",
    "max_grad_norm",
    "use_rslora",
    "save_steps",
)


@pytest.mark.parametrize("name", ["quickstart", "polite-replies", "sql-distill"])
def test_rule_set_hyperparameters_equal_the_runtime_defaults(name: str) -> None:
    plan = json.loads((GOLDEN / f"{name}.json").read_text())
    hp = plan["hyperparameters"]
    checked = [k for k in SHARED if k in hp and hp[k]["set_by"] == "rule"]
    assert len(checked) >= 5
    assert {k: hp[k]["value"] for k in checked} == {k: DEFAULTS[k] for k in checked}
    if hp["lora_dropout"]["set_by"] == "rule" and hp["lora_dropout"]["value"] is not None:  # a LoRA plan
        cpu = plan["device"]["kind"] == "cpu"
        assert hp["lora_dropout"]["value"] == (0.0 if cpu else DEFAULTS["lora_dropout"])


def test_a_plan_without_hyperparameters_trains_with_the_defaults() -> None:
    assert hp_values({}) == DEFAULTS
    assert hp_values({"lr": {"value": 1e-3, "set_by": "recipe", "reason": "x"}, "seed": None})["lr"] == 1e-3


def test_learning_rates_read_as_people_write_them() -> None:
    assert [short(x) for x in (2e-4, 5e-6, 1e-3)] == ["2e-4", "5e-6", "1e-3"]


def test_the_trainer_gets_the_plans_lr_schedule(tmp_path) -> None:  # noqa: ANN001
    """The plan said cosine while transformers decayed linearly: the schedule now reaches the trainer."""
    from ftc.runtime.train.common import hp_values, trainer_arguments

    assert (
        trainer_arguments(hp_values({"lr_scheduler": {"value": "cosine"}}), tmp_path)["lr_scheduler_type"] == "cosine"
    )
    assert trainer_arguments(hp_values({}), tmp_path)["lr_scheduler_type"] == "linear"  # transformers' own default
