"""Every train knob a recipe sets changes what the trainer receives, not only what the plan shows.

The plan is compiled from a real recipe by the real front end and planner; the runtime then builds
the TRL SFT/DPO configs, the PEFT LoraConfig and the tokenizer from the plan exactly as the train
and dpo steps do (``common.train_hparams`` over a ``PlanView``), and the test reads them back.
CUDA cannot exist here: the CUDA-only knobs (tf32, fp16, 8-bit optimizers) are read from the
argument dict ftc builds (``trainer_arguments``), because constructing TrainingArguments with
them on a CPU machine raises inside transformers. One short real run checks that the knobs
survive training into what is exported (adapter config, tokenizer template) and the schedule.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))

from ftc.compiler.lang.frontend import load_recipe  # noqa: E402
from ftc.compiler.plan.planner import build_plan  # noqa: E402
from ftc.runtime.plan_view import PlanView  # noqa: E402
from ftc.runtime.steps import common  # noqa: E402
from ftc.runtime.train import common as train_common  # noqa: E402
from ftc.runtime.train.common import hp_values, lora_config, trainer_arguments  # noqa: E402
from ftc.shared.templates import CHAT_TEMPLATES  # noqa: E402

pytestmark = pytest.mark.slow

KNOBS = """
    lora_r = 8
    lora_dropout = 0.1
    use_rslora = true
    target_modules = ["q_proj", "v_proj"]
    precision = fp32
    optimizer = adamw
    weight_decay = 0.01
    lr_scheduler = constant_with_warmup
    warmup = 2
    max_grad_norm = 0.5
    gradient_checkpointing = true
    eval_every = 3
    save_every = 6
    chat_template = llama3
    dpo_beta = 0.25
    dpo_lr = 3e-6
"""


def _project(root: Path, train: str, device: str = "cpu") -> dict:
    plan, diags = _build(root, train, device)
    assert plan is not None, [(d.code, d.message) for d in diags]
    return plan


def _build(root: Path, train: str, device: str = "cpu") -> tuple[dict | None, list]:
    """(the plan or None, the diagnostics of reading the recipe, then of planning it)."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    with (data / "rows.jsonl").open("w", encoding="utf-8") as out:
        for i in range(40):
            reply = json.dumps({"category": "shipping", "n": i})
            msgs = [
                {"role": "user", "content": f"Order {i} is late, item {i * 7}."},
                {"role": "assistant", "content": reply},
            ]
            out.write(json.dumps({"messages": msgs}) + "\n")
    with (data / "pairs.jsonl").open("w", encoding="utf-8") as out:
        for i in range(40):
            out.write(
                json.dumps({"prompt": f"Ask {i} about {i * 11}", "chosen": f"Yes {i}", "rejected": f"No {i * 3}"})
            )
            out.write("\n")
    (root / ".git").mkdir(exist_ok=True)  # the project root
    recipe = root / "knobs.ftr"
    recipe.write_text(
        'recipe "knobs" {\n  goal = behavior("Reply with JSON")\n  base = model("smollm2-135m-instruct")\n'
        '  data "rows" { path = "data/rows.jsonl"  format = chat }\n'
        '  data "pairs" { path = "data/pairs.jsonl"  format = preference }\n'
        f"  constraints {{ device = {device} }}\n"
        f"  train {{{train}  }}\n"
        "  eval { holdout = 20%  expect json_valid >= 0.9  beat baseline by 10% }\n}\n",
        encoding="utf-8",
    )
    loaded, diags = load_recipe(recipe)
    if loaded is None:
        return None, list(diags)
    result = build_plan(loaded, root)
    return result.plan, list(result.diagnostics)


def _train_hp(plan: dict) -> dict:
    """What the train and dpo steps hand the training functions."""
    return common.train_hparams(PlanView(plan, ("prompt", "hyperparameters"), "train"))


def test_the_plan_shows_every_knob_as_set_by_the_recipe(tmp_path: Path) -> None:
    hp = _project(tmp_path, KNOBS)["hyperparameters"]
    for name in (
        "lora_r", "lora_dropout", "use_rslora", "target_modules", "precision", "optimizer", "weight_decay",
        "lr_scheduler", "warmup", "max_grad_norm", "gradient_checkpointing", "eval_steps", "save_steps",
        "chat_template", "dpo_beta", "dpo_lr",
    ):  # fmt: skip
        assert hp[name]["set_by"] == "recipe", name
    assert hp["warmup"]["reason"].startswith("recipe sets warmup 2; the rule would choose 0.03 (3% of the steps")
    assert hp["eval_steps"]["value"] == 3 and hp["save_steps"]["value"] == 6
    # alpha is the rule's, from the recipe's rank and rsLoRA: never the default rank's numbers
    assert hp["lora_alpha"] == {
        "value": 16,
        "set_by": "rule",
        "reason": "alpha 16 = 2 x rank 8; the update is scaled by alpha/sqrt(r) = 16/sqrt(8) = 5.66 (rsLoRA)",
    }


def test_every_knob_reaches_the_sft_trainer(tmp_path: Path, base_dir: Path, one_thread: None) -> None:
    from ftc.runtime.prompting import to_example
    from ftc.runtime.train.sft import build_trainer

    plan = _project(tmp_path, KNOBS)
    rows = [
        to_example(
            {"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "ok"}]}, "chat", "S"
        )
        for i in range(6)
    ]
    trainer, _ = build_trainer(base_dir, rows[:4], rows[4:], _train_hp(plan), tmp_path / "out")
    args = trainer.args
    assert args.optim == "adamw_torch"
    assert args.lr_scheduler_type == "constant_with_warmup"
    assert args.warmup_steps == 2 and args.weight_decay == 0.01 and args.max_grad_norm == 0.5
    assert args.gradient_checkpointing is True
    assert (args.eval_strategy, args.eval_steps, args.save_steps) == ("steps", 3, 6)
    assert args.bf16 is False and args.fp16 is False  # precision = fp32
    assert next(trainer.model.parameters()).dtype.is_floating_point
    lora = trainer.model.peft_config["default"]
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, lora.use_rslora) == (8, 16, 0.1, True)
    assert set(lora.target_modules) == {"q_proj", "v_proj"}
    # the one template, in the tokenizer the trainer renders rows with (and saves with the adapter)
    assert trainer.processing_class.chat_template == CHAT_TEMPLATES["llama3"]


def test_the_dpo_stage_gets_its_own_beta_and_lr(tmp_path: Path) -> None:
    from ftc.runtime.train.dpo import dpo_config

    plan = _project(tmp_path, KNOBS)
    step = next(s for s in plan["steps"] if s["kind"] == "dpo")
    assert (step["config"]["beta"], step["config"]["lr"]) == (0.25, 3e-6)
    p = hp_values(_train_hp(plan))
    # train_dpo falls back to the plan's values when the step config leaves them out
    assert (p["dpo_beta"], p["dpo_lr"]) == (0.25, 3e-6)
    config = dpo_config(p, tmp_path / "ckpt", step["config"]["beta"], step["config"]["lr"])
    assert (config.beta, config.learning_rate, config.optim) == (0.25, 3e-6, "adamw_torch")
    assert (config.warmup_steps, config.max_grad_norm, config.lr_scheduler_type) == (2, 0.5, "constant_with_warmup")


def test_cuda_only_knobs_reach_the_trainer_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _project(tmp_path, "tf32 = true  precision = fp16  optimizer = paged_adamw_8bit", device="cuda")
    hp = plan["hyperparameters"]
    assert (hp["tf32"]["value"], hp["precision"]["value"], hp["optimizer"]["value"]) == (
        True,
        "fp16",
        "paged_adamw_8bit",
    )
    p = hp_values(_train_hp(plan))
    args = trainer_arguments(p, tmp_path / "ckpt")
    assert (args["tf32"], args["fp16"], args["bf16"], args["optim"]) == (True, True, False, "paged_adamw_8bit")
    assert train_common.model_dtype(p, "lora").__repr__() == "torch.float16"
    assert train_common.model_dtype(p, "full").__repr__() == "torch.float32"  # fp32 master weights
    assert trainer_arguments(hp_values({"optimizer": "adamw_8bit"}), tmp_path)["optim"] == "adamw_bnb_8bit"
    assert "tf32" not in trainer_arguments(hp_values({}), tmp_path)  # unset: torch's own setting


def test_the_same_knobs_on_a_cpu_are_located_errors(tmp_path: Path) -> None:
    plan, diags = _build(tmp_path, "\n    tf32 = true\n    optimizer = adamw_8bit\n    precision = fp16\n")
    assert plan is None
    found = sorted((d.span.line, d.code) for d in diags if d.severity == "error")
    assert found == [(8, "FTR213"), (9, "FTR213"), (10, "FTR213")]  # each at its own line of the train block


def test_lora_config_reads_rslora_and_targets() -> None:
    config = lora_config(hp_values({"use_rslora": True, "target_modules": ["q_proj"], "lora_r": 4, "lora_alpha": 8}))
    assert config.use_rslora is True and set(config.target_modules) == {"q_proj"}


def test_a_short_run_keeps_the_knobs_into_the_export(tmp_path: Path, base_dir: Path, one_thread: None) -> None:
    """Three real optimiser steps: the schedule follows warmup and the constant scheduler, and the
    saved adapter and tokenizer carry rsLoRA, the target modules and the chat template."""
    from ftc.runtime.generate import load_model, render
    from ftc.runtime.prompting import to_example
    from ftc.runtime.train.sft import train_sft

    plan = _project(tmp_path, KNOBS.replace("gradient_checkpointing = true", "") + "    max_steps = 3\n")
    hp = _train_hp(plan)
    hp.update(batch=2, grad_accum=1)  # small for a test
    rows = [
        to_example(
            {"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "ok"}]}, "chat", "S"
        )
        for i in range(6)
    ]
    result = train_sft(base_dir, rows, None, hp, tmp_path / "out")
    lrs = [h["learning_rate"] for h in result.history if "learning_rate" in h]
    lr = float(hp["lr"])
    # the lr each of the 3 steps used: warmup = 2 steps (0, then half), then constant (not cosine)
    assert lrs == pytest.approx([0.0, lr / 2, lr])
    adapter = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert adapter["use_rslora"] is True and set(adapter["target_modules"]) == {"q_proj", "v_proj"}
    loaded = load_model(base_dir, result.output_dir, dtype="float32", chat_template=plan["prompt"]["chat_template"])
    text = render(loaded.tokenizer, [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}])
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    from transformers import AutoTokenizer

    exported = AutoTokenizer.from_pretrained(result.output_dir)
    assert exported.chat_template == CHAT_TEMPLATES["llama3"]
    from ftc.runtime.train.sft import merge_adapter

    merged = merge_adapter(base_dir, result.output_dir, tmp_path / "merged", chat_template=CHAT_TEMPLATES["llama3"])
    assert AutoTokenizer.from_pretrained(merged).chat_template == CHAT_TEMPLATES["llama3"]  # export { merged }
