"""The train block's knobs: what each accepts, and a located error with a did-you-mean for what it
does not (the plan side, the notes and the trainer's arguments: tests/plan/test_knob_plan.py and
tests/runtime/test_knobs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_checks import error_codes, load, recipe_text
from test_checks import project as project  # noqa: F401, PLC0414 - the fixture, registered by its own name

from ftc.compiler.lang.keys import BLOCKS
from ftc.compiler.lang.language import explain
from ftc.shared.templates import CHAT_TEMPLATES

KNOBS = (
    "precision", "tf32", "optimizer", "weight_decay", "lr_scheduler", "warmup", "max_grad_norm", "target_modules",
    "lora_dropout", "use_rslora", "gradient_checkpointing", "eval_every", "save_every", "chat_template", "dpo_beta",
    "dpo_lr",
)  # fmt: skip


def _train(project: Path, lines: str):  # noqa: ANN202 - (recipe, diagnostics)
    return load(project, recipe_text(f"  train {{\n    {lines}\n  }}"))


@pytest.mark.parametrize(
    "line,key,expected",
    [
        ("precision = bf16", "precision", "bf16"),
        ("optimizer = adamw_fused", "optimizer", "adamw_fused"),
        ("lr_scheduler = constant_with_warmup", "lr_scheduler", "constant_with_warmup"),
        ("warmup = 0.1", "warmup", 0.1),
        ("warmup = 5%", "warmup", 0.05),
        ("warmup = 100", "warmup", 100),
        ("max_grad_norm = 0", "max_grad_norm", 0.0),
        ("weight_decay = 0.01", "weight_decay", 0.01),
        ('target_modules = "all-linear"', "target_modules", "all-linear"),
        ('target_modules = ["q_proj", "v_proj"]', "target_modules", ("q_proj", "v_proj")),
        ("lora_dropout = 0", "lora_dropout", 0.0),
        ("use_rslora = true", "use_rslora", True),
        ("eval_every = 50", "eval_every", ("steps", 50.0)),
        ("eval_every = 25%", "eval_every", ("epoch", 0.25)),
        ("save_every = epoch", "save_every", ("epoch", 1.0)),
        ("chat_template = gemma", "chat_template", ("name", "gemma")),
        ("dpo_lr = 1e-6", "dpo_lr", 1e-6),
        ("tf32 = false", "tf32", False),
    ],
)
def test_each_knob_accepts_what_practitioners_write(project: Path, line: str, key: str, expected: object) -> None:
    recipe, diags = _train(project, line)
    assert recipe is not None, diags
    assert recipe.train.values[key] == expected


@pytest.mark.parametrize(
    "line,code,hint",
    [
        ("optimizer = adamw8bit", "FTR110", "did you mean `adamw_8bit`?"),
        ("precision = bf61", "FTR110", "did you mean `bf16`?"),
        ("lr_scheduler = cosin", "FTR110", "did you mean `cosine`?"),
        ("chat_template = chatlm", "FTR110", "did you mean `chatml`?"),
        ('chat_template = "chatml"', "FTR103", "write chat_template = chatml"),
        ('chat_template = "missing.jinja"', "FTR108", "relative to the recipe"),
        ("eval_every = epochs", "FTR103", "did you mean `epoch`?"),
        ("eval_every = 2.5", "FTR103", "or a share: 25%"),
        ("save_every = 0", "FTR105", None),
        ("eval_every = 150%", "FTR105", None),
        ("warmup = 1.5", "FTR105", "write warmup = 2 for 2 steps"),
        ("warmup = 3GB", "FTR104", None),
        ('target_modules = "all_linear"', "FTR110", "did you mean `all-linear`?"),
        ('target_modules = "q_proj"', "FTR110", 'a single module is a list: target_modules = ["q_proj"]'),
        ('target_modules = ["q_proj", "q_proj"]', "FTR107", None),
        ("target_modules = []", "FTR103", None),
        ("lora_dropout = 0.95", "FTR105", None),
        ("max_grad_norm = -1", "FTR105", None),
    ],
)
def test_a_wrong_value_is_a_located_error_with_a_hint(project: Path, line: str, code: str, hint: str | None) -> None:
    recipe, diags = _train(project, line)
    assert recipe is None and error_codes(diags) == [code], diags
    [diag] = [d for d in diags if d.severity == "error"]
    assert diag.span.line == 9  # the value's own line in the train block
    if hint is not None:
        assert diag.hint is not None and hint in diag.hint


@pytest.mark.parametrize(
    "foreign,ours",
    [("optim", "optimizer"), ("warmup_ratio", "warmup"), ("lora_target_modules", "target_modules"),
     ("eval_steps", "eval_every"), ("save_steps", "save_every"), ("bf16", "precision")],
)  # fmt: skip
def test_other_tools_names_point_to_ftcs(project: Path, foreign: str, ours: str) -> None:
    _, diags = _train(project, f"{foreign} = 1")
    [diag] = diags
    assert diag.code == "FTR102" and diag.hint == f"ftc calls this `{ours}`" and diag.fix == ours


def test_a_jinja_file_in_the_project_is_a_template(project: Path) -> None:
    (project / "chat.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    recipe, diags = _train(project, 'chat_template = "chat.jinja"')
    assert recipe is not None, diags
    assert recipe.train.values["chat_template"] == ("file", str(project / "chat.jinja"))
    (project / "broken.jinja").write_text("{% for m in messages %}")
    _, diags = _train(project, 'chat_template = "broken.jinja"')
    assert error_codes(diags) == ["FTR103"] and "Jinja syntax error on line 1" in diags[0].message


def test_cuda_only_knobs_on_a_cpu_are_refused_by_the_linter(project: Path) -> None:
    recipe, diags = _train(project, "optimizer = adamw_8bit")
    assert recipe is None and error_codes(diags) == ["FTR213"]
    assert diags[0].span.line == 9 and "device = cuda" in (diags[0].hint or "")
    text = recipe_text(
        "  constraints { device = cuda }\n  train {\n    optimizer = adamw_8bit  tf32 = true  precision = fp16\n  }"
    )
    recipe, diags = load(project, text)
    assert recipe is not None, diags


def test_explain_documents_every_knob_with_its_rule() -> None:
    train = BLOCKS["train"]
    for name in KNOBS:
        key = train.key(name)
        assert key is not None, name
        text = explain(f"train.{name}")
        assert text is not None and key.doc in text
        assert key.decided_by or key.absent, name
    assert "usually 0.03 of the steps" in (explain("train.warmup") or "")
    assert "usually 2 x lora_r" in (explain("train.lora_alpha") or "")
    assert all(name in (explain("train.chat_template") or "") for name in CHAT_TEMPLATES)
