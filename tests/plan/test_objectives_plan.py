"""R-OBJECTIVE and R-DISTILL-KIND: which preference objective and which distillation a recipe
plans, the steps and configs that follow, and what the memory model holds for each.

Recipes are built as ``Recipe`` objects over small data files (as in test_scenarios.py); the
models of the distillation tests are folders with a config.json and a tokenizer.json written here
(the facts read only those two files), so the tokenizer comparison is exercised on real files."""

from __future__ import annotations

import json
from pathlib import Path

from ftc.compiler.lang.recipe import (
    Constraints,
    DataSource,
    DistillSpec,
    EvalSpec,
    Expect,
    Goal,
    ModelRef,
    Recipe,
    TrainOverrides,
)
from ftc.compiler.plan.io import problems
from ftc.compiler.plan.planner import build_plan

SMALL = "smollm2-135m-instruct"


def _write(root: Path, name: str, rows: list[dict]) -> str:
    path = root / "data" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _q(i: int) -> str:
    return f"Customer {i} writes: my order {1000 + i} arrived late and the box was damaged, what now?"


def _source(root: Path, name: str, fmt: str, n: int, *, labels: bool = False) -> DataSource:
    if fmt == "preference":
        rows = [
            {"prompt": _q(i), "chosen": f"Sorry about order {1000 + i}.", "rejected": "Not our problem."}
            for i in range(n)
        ]
    elif fmt == "chat":
        rows = [
            {"messages": [{"role": "user", "content": _q(i)}, {"role": "assistant", "content": f"Sorry {i}."}]}
            for i in range(n)
        ]
    else:  # completion or kto
        rows = [{"prompt": _q(i), "completion": f"Sorry about order {1000 + i}."} for i in range(n)]
        if labels:
            rows = [r | {"label": i % 3 != 0} for i, r in enumerate(rows)]
    return DataSource(name, _write(root, name, rows), f"data/{name}.jsonl", fmt)  # type: ignore[arg-type]


def _recipe(root: Path, data: list[DataSource], *, train=None, teacher=None, base=SMALL, distill=None, **c) -> Recipe:
    return Recipe(
        name="objectives",
        path=str(root / "objectives.ftr"),
        project_root=str(root),
        goal=Goal("behavior", "Reply to a ticket politely", ""),
        base=ModelRef(base),
        data=tuple(data),
        teacher=ModelRef(teacher) if teacher else None,
        constraints=Constraints(**c),
        eval=EvalSpec(seed=3, expects=(Expect("rouge_l", {}, ">=", 0.3),), beat_baseline_pct=5.0),
        train=TrainOverrides(dict(train or {})),
        distill=DistillSpec(dict(distill or {})),
    )


def _plan(root: Path, recipe: Recipe) -> dict:
    result = build_plan(recipe, root)
    assert result.plan is not None, [d.render() if hasattr(d, "render") else d.message for d in result.diagnostics]
    assert problems(result.plan) == []
    return result.plan


def _steps(plan: dict) -> dict[str, dict]:
    return {s["kind"]: s for s in plan["steps"]}


def _rule(plan: dict, rule: str) -> str:
    return next(r["because"] for r in plan["rules"] if r["id"] == rule)


def test_a_completion_file_with_labels_plans_kto_alone_never_sft(tmp_path):
    plan = _plan(tmp_path, _recipe(tmp_path, [_source(tmp_path, "feedback", "completion", 60, labels=True)]))
    steps = _steps(plan)
    assert plan["strategy"] == ["prompt", "kto"]
    assert "train" not in steps and "dpo" not in steps
    assert steps["kto"]["needs"] == ["split", "baseline"] and steps["kto"]["guard"] == "baseline_misses_bar"
    assert steps["kto"]["config"] == {
        "model": SMALL,
        "beta": 0.1,
        "lr": 5e-6,
        "sources": ["feedback"],
        "micro_batch": plan["hyperparameters"]["batch"]["value"],  # 2 or more: as planned
        "grad_accum": plan["hyperparameters"]["grad_accum"]["value"],
    }
    # The loader reads it as kto: its label is kept, so no row can reach SFT as a target.
    assert steps["load"]["config"]["sources"][0]["format"] == "kto"
    assert plan["inputs"][0]["format"] == "kto"
    assert "kto: rows labelled desirable or not train with KTO; 60 labelled rows in 'feedback'" in _rule(
        plan, "R-OBJECTIVE"
    )
    # No SFT before: the reference is the base with the adapter disabled, no second copy held.
    assert "reference" not in plan["estimates"]["memory_breakdown"]
    assert steps["eval"]["needs"] == ["kto"]


def test_kto_after_sft_holds_the_sft_model_as_reference(tmp_path):
    data = [_source(tmp_path, "rows", "chat", 60), _source(tmp_path, "feedback", "kto", 40, labels=True)]
    plan = _plan(tmp_path, _recipe(tmp_path, data))
    steps = _steps(plan)
    assert plan["strategy"] == ["prompt", "finetune", "kto"]
    assert steps["train"]["config"]["sources"] == ["rows"]  # the labelled rows never join SFT
    assert steps["kto"]["needs"] == ["train"] and steps["kto"]["config"]["sources"] == ["feedback"]
    breakdown = plan["estimates"]["memory_breakdown"]
    # After a LoRA SFT the reference is a frozen fp32 copy of its adapter on the same base (TRL's
    # "ref" adapter, runtime/train/dpo.py): the adapter's bytes, not a second model.
    assert plan["method"] == "lora" and breakdown["reference"] == breakdown["adapters"]
    full = _plan(tmp_path, _recipe(tmp_path, data, train={"method": "full"}))
    breakdown = full["estimates"]["memory_breakdown"]
    assert (
        full["method"] == "full" and breakdown["reference"] == full["model"]["params"] * 4
    )  # the whole model, fp32 on cpu


def test_orpo_when_asked_is_one_stage_without_a_reference(tmp_path):
    pairs = _source(tmp_path, "pairs", "preference", 60)
    dpo = _plan(tmp_path, _recipe(tmp_path, [pairs]))
    orpo = _plan(tmp_path, _recipe(tmp_path, [pairs], train={"objective": "orpo"}))
    assert dpo["strategy"] == ["prompt", "finetune", "dpo"]
    assert orpo["strategy"] == ["prompt", "orpo"]
    steps = _steps(orpo)
    assert "train" not in steps and steps["orpo"]["needs"] == ["split", "baseline"]
    assert steps["orpo"]["config"]["lr"] == orpo["hyperparameters"]["lr"]["value"]  # the SFT lr: it is SFT + OR
    assert "reference" in dpo["estimates"]["memory_breakdown"]
    assert "reference" not in orpo["estimates"]["memory_breakdown"]
    assert orpo["estimates"]["peak_memory_bytes"] < dpo["estimates"]["peak_memory_bytes"]
    assert (
        _rule(orpo, "R-OBJECTIVE")
        == "orpo set by recipe: one stage on 60 preference pairs in 'pairs', no reference model"
    )


def test_orpo_after_sft_on_instruction_data(tmp_path):
    data = [_source(tmp_path, "rows", "chat", 60), _source(tmp_path, "pairs", "preference", 30)]
    plan = _plan(tmp_path, _recipe(tmp_path, data, train={"objective": "orpo"}))
    steps = _steps(plan)
    assert plan["strategy"] == ["prompt", "finetune", "orpo"]
    assert steps["orpo"]["needs"] == ["train"] and steps["orpo"]["config"]["sources"] == ["pairs"]


def test_kto_asked_for_pairs_unpairs_them(tmp_path):
    plan = _plan(
        tmp_path, _recipe(tmp_path, [_source(tmp_path, "pairs", "preference", 60)], train={"objective": "kto"})
    )
    assert plan["strategy"] == ["prompt", "kto"]
    assert "pairs unpaired (chosen desirable, rejected undesirable)" in _rule(plan, "R-OBJECTIVE")


def test_an_objective_that_would_drop_the_labels_is_ftr321(tmp_path):
    data = [_source(tmp_path, "feedback", "kto", 40, labels=True)]
    result = build_plan(_recipe(tmp_path, data, train={"objective": "dpo"}), tmp_path)
    assert result.plan is None
    (diag,) = [d for d in result.diagnostics if d.severity == "error"]
    assert diag.code == "FTR321" and "objective = dpo needs preference pairs" in diag.message


def _model(root: Path, name: str, layers: int, vocab: dict[str, int]) -> str:
    folder = root / name
    folder.mkdir()
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "num_hidden_layers": layers,
        "head_dim": 64,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
        "max_position_embeddings": 8192,
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tokenizer = {"model": {"type": "BPE", "vocab": vocab}, "added_tokens": [{"id": 2, "content": "<|im_end|>"}]}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    return str(folder)


def _distill(tmp_path: Path, student_vocab: dict[str, int], **distill) -> Recipe:
    teacher = _model(tmp_path, "teacher", 30, {"a": 0, "b": 1})
    student = _model(tmp_path, "student", 4, student_vocab)
    rows = _source(tmp_path, "rows", "chat", 60)
    # max_params 100M rules the 135M teacher out and keeps the 4-layer student (~45M) in.
    return _recipe(tmp_path, [rows], teacher=teacher, base=student, max_params=100 * 10**6, distill=distill)


def test_logit_distillation_when_the_tokenizers_are_the_same(tmp_path):
    plan = _plan(tmp_path, _distill(tmp_path, {"a": 0, "b": 1}))
    config = _steps(plan)["distill"]["config"]
    assert config["kind"] == "logits" and config["temperature"] == 2.0 and config["alpha"] == 0.5
    why = _rule(plan, "R-DISTILL-KIND")
    assert why.startswith("logits: the tokenizers are the same: 3 tokens, each with the same id")
    assert "forward KL at temperature 2, weight 0.5 against the SFT loss 0.5" in why
    assert "matches the teacher's next-token distributions" in _rule(plan, "R-DISTILL")
    assert plan["estimates"]["memory_breakdown"]["teacher"] > 0  # held beside the student


def test_sequence_distillation_when_the_tokenizers_differ(tmp_path):
    plan = _plan(tmp_path, _distill(tmp_path, {"a": 0, "c": 1}))
    assert _steps(plan)["distill"]["config"] == _steps(plan)["distill"]["config"] | {"kind": "sequence"}
    assert _rule(plan, "R-DISTILL-KIND") == "sequence: the tokenizers differ in 2 token-to-id entries"
    assert "teacher" not in plan["estimates"]["memory_breakdown"]


def test_logits_asked_with_different_tokenizers_is_ftr322(tmp_path):
    result = build_plan(_distill(tmp_path, {"a": 0, "c": 1}, kind="logits"), tmp_path)
    assert result.plan is None
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["FTR324"]


def test_recipe_temperature_and_alpha_reach_the_step(tmp_path):
    plan = _plan(tmp_path, _distill(tmp_path, {"a": 0, "b": 1}, temperature=4.0, alpha=0.9))
    config = _steps(plan)["distill"]["config"]
    assert (config["temperature"], config["alpha"]) == (4.0, 0.9)


def test_kto_on_several_gpus_is_ftr323_and_one_process_plans(tmp_path):
    data = [_source(tmp_path, "feedback", "kto", 40, labels=True)]
    cuda = dict(device="cuda", gpus=2, gpu_memory_bytes=24 * 10**9)
    result = build_plan(_recipe(tmp_path, data, **cuda), tmp_path)
    assert result.plan is None and "FTR325" in [d.code for d in result.diagnostics]
    plan = _plan(tmp_path, _recipe(tmp_path, data, processes=1, **cuda))
    assert plan["distributed"]["processes"] == 1 and plan["strategy"] == ["prompt", "kto"]


def test_the_recipe_beta_is_the_preference_objectives_beta(tmp_path):
    pairs = _source(tmp_path, "pairs", "preference", 60)
    plan = _plan(tmp_path, _recipe(tmp_path, [pairs], train={"objective": "orpo", "dpo_beta": 0.25}))
    assert _steps(plan)["orpo"]["config"]["beta"] == 0.25
    assert plan["hyperparameters"]["orpo_beta"]["set_by"] == "recipe"


def test_logit_distillation_counts_the_teachers_forward_not_generation(tmp_path):
    logits = _plan(tmp_path, _distill(tmp_path, {"a": 0, "b": 1}))
    assert logits["estimates"]["flops"]["teacher"] > 0


def test_kto_runs_at_least_two_rows_a_micro_batch(tmp_path):
    data = [_source(tmp_path, "feedback", "kto", 40, labels=True)]
    plan = _plan(tmp_path, _recipe(tmp_path, data, train={"batch": 1, "grad_accum": 8}))
    assert plan["hyperparameters"]["batch"]["value"] == 1  # the recipe's, for every other stage
    assert {k: _steps(plan)["kto"]["config"][k] for k in ("micro_batch", "grad_accum")} == {
        "micro_batch": 2,
        "grad_accum": 4,
    }
    assert (
        "the KTO stage runs micro-batch 2 x accumulation 4 (batch is 1)"
        in [r["because"] for r in plan["rules"] if r["id"] == "R-OBJECTIVE"][-1]
    )
