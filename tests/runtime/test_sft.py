"""Real SFT on the embedded model: label masking, LoRA, resume, full fine-tuning."""

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))

from transformers import TrainerCallback  # noqa: E402

from ftc.runtime.generate import generate, load_model  # noqa: E402
from ftc.runtime.prompting import to_example  # noqa: E402
from ftc.runtime.train.sft import build_trainer, hp_values, merge_adapter, train_sft  # noqa: E402
from ftc.shared.errors import FtcError  # noqa: E402

SYS = "You triage tickets. Reply with JSON."
# Tiny rows so a step is cheap; one constant-ish answer so a few steps visibly lower the loss.
ROWS = [
    to_example(
        {
            "messages": [
                {"role": "user", "content": f"Order {i} is late."},
                {
                    "role": "assistant",
                    "content": json.dumps({"category": "shipping", "priority": "high" if i % 2 else "low"}),
                },
            ]
        },
        "chat",
        SYS,
    )
    for i in range(8)
]
HP = {"batch": 2, "lr": 2e-3, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "save_steps": 1, "seed": 3}


class FirstStep(TrainerCallback):
    """Records the global step at which training (re)started."""

    def __init__(self):
        self.first = None

    def on_step_begin(self, args, state, control, **kwargs):
        if self.first is None:
            self.first = state.global_step


LONG = to_example(
    {
        "messages": [
            {"role": "user", "content": "My parcel is late. " * 60},
            {"role": "assistant", "content": json.dumps({"category": "shipping", "priority": "high"})},
        ]
    },
    "chat",
    SYS,
)


@pytest.mark.parametrize("rows,batching", [(ROWS[:2], "padded"), ([ROWS[0], LONG], "padding-free")])
def test_only_completion_tokens_and_the_end_of_turn_carry_labels(base_dir, tmp_path, rows, batching):
    trainer, dropped = build_trainer(base_dir, rows, None, HP, tmp_path)
    assert dropped == 0 and trainer.ftc_batching == batching
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    tok = trainer.processing_class
    spans = []
    # Padded (one row per example) or padding-free (one flattened row): collect every run of
    # label-carrying tokens either way.
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        current = []
        for token, label in zip(ids, labels):
            if label != -100:
                current.append(token)
            elif current:
                spans.append(tok.decode(current))
                current = []
        if current:
            spans.append(tok.decode(current))
    want = [ex.completion + "<|im_end|>" for ex in rows]
    # Each row's label span is its answer plus the closing token (TRL keeps the newline the
    # template adds after <|im_end|>); nothing from the system or user turns.
    assert [s.rstrip("\n") for s in spans] == want
    assert SYS not in "".join(spans) and "Order" not in "".join(spans) and "parcel" not in "".join(spans)


@pytest.mark.parametrize("rows,batching", [(ROWS[:2], "padded"), ([ROWS[0], LONG], "padding-free")])
def test_the_cpu_loss_projects_only_labelled_positions_and_equals_trls(base_dir, tmp_path, rows, batching, monkeypatch):
    """On a CPU ftc's trainer takes the cross-entropy at the answer positions only (the LM head
    sees those hidden states, not the prompt's): the loss and the token accuracy are TRL's."""
    import torch
    from trl import SFTTrainer

    trainer, _ = build_trainer(base_dir, rows, None, HP, tmp_path)
    assert type(trainer).__name__ == "CompletionLossTrainer" and trainer.ftc_batching == batching
    batch = trainer._prepare_inputs(trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]]))
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    head = trainer.model.get_output_embeddings()
    projected: list[int] = []
    hook = head.register_forward_hook(lambda m, args, out: projected.append(args[0].shape[0] * args[0].shape[1]))
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=labelled)
        hook.remove()
        accuracy = trainer._metrics["train"]["mean_token_accuracy"][-1]
        trls = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=labelled)
    assert float(ours) == pytest.approx(float(trls), rel=1e-5)
    assert accuracy == pytest.approx(trainer._metrics["train"]["mean_token_accuracy"][-1])
    rows_in_batch = batch["labels"].shape[0]
    assert projected and projected[0] < batch["labels"].numel(), "the prompt positions never reach the head"
    if rows_in_batch == 1:  # padding-free: exactly the labelled positions
        assert projected == [labelled]


def test_lora_lowers_loss_resumes_from_a_checkpoint_and_saves_a_loadable_adapter(base_dir, tmp_path):
    first = train_sft(base_dir, ROWS, None, {**HP, "max_steps": 2}, tmp_path)
    assert first.global_step == 2 and (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    # A second call (as after a kill) continues from checkpoint-2 instead of starting over.
    probe = FirstStep()
    second = train_sft(base_dir, ROWS, None, {**HP, "max_steps": 4}, tmp_path, callbacks=[probe])
    assert probe.first == 2 and second.global_step == 4
    losses = [h["loss"] for h in second.history if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert second.train_tokens > 0 and second.train_seconds > 0 and second.batching == "padded"
    adapter = second.output_dir
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    assert json.loads((tmp_path / "history.json").read_text()) == second.history
    loaded = load_model(base_dir, adapter)
    out = generate(loaded, [ROWS[0].prompt], max_new_tokens=8, batch_size=1)
    assert isinstance(out[0], str) and out[0]
    # export { merged = true }: one plain folder that generates what base + adapter generates.
    merged = merge_adapter(base_dir, adapter, tmp_path / "merged")
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    assert generate(load_model(merged), [ROWS[0].prompt], max_new_tokens=8, batch_size=1) == out


def test_full_fine_tune_runs_a_step_and_saves_plain_weights(base_dir, tmp_path):
    result = train_sft(
        base_dir, ROWS[:2], None, {**HP, "lr": 1e-5, "max_steps": 1, "save_steps": 100}, tmp_path, method="full"
    )
    assert result.global_step == 1 and result.method == "full"
    assert (result.output_dir / "model.safetensors").is_file()
    assert not (result.output_dir / "adapter_config.json").exists()
    # The executor passes a full fine-tune folder where an adapter would go; it replaces the base.
    loaded = load_model(base_dir, result.output_dir)
    assert loaded.adapter_dir == result.output_dir
    assert isinstance(generate(loaded, [ROWS[0].prompt], max_new_tokens=4, batch_size=1)[0], str)


def test_dora_trains_a_step_and_saves_a_dora_adapter(base_dir, tmp_path):
    result = train_sft(base_dir, ROWS[:2], None, {**HP, "max_steps": 1, "save_steps": 100}, tmp_path, method="dora")
    assert result.global_step == 1 and result.method == "dora"
    config = json.loads((result.output_dir / "adapter_config.json").read_text())
    assert config["use_dora"] is True
    assert isinstance(generate(load_model(base_dir, result.output_dir), [ROWS[0].prompt], max_new_tokens=4)[0], str)


def test_qlora_without_cuda_is_a_clear_user_error(base_dir, tmp_path):
    # Real, not mocked: this machine and CI have no CUDA device, which is exactly the case tested.
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: QLoRA would run")
    with pytest.raises(FtcError, match="qlora needs a CUDA device"):
        train_sft(base_dir, ROWS[:2], None, {**HP, "max_steps": 1}, tmp_path, method="qlora")


def test_no_row_fitting_max_length_is_a_user_error(base_dir, tmp_path):
    with pytest.raises(FtcError, match="no training row fits max_length = 8 tokens"):
        train_sft(base_dir, ROWS[:2], None, {**HP, "max_length": 8, "max_steps": 1}, tmp_path)


def test_hp_values_accepts_the_plans_hyperparameters_object():
    plan_hp = {"lora_r": {"value": 4, "set_by": "rule", "reason": "x"}, "max_steps": {"value": None}}
    p = hp_values(plan_hp)
    assert p["lora_r"] == 4 and p["max_steps"] is None and p["lora_alpha"] == 32


def test_padding_free_only_where_it_saves_work():
    from ftc.runtime.train.sft import padding_free_pays

    shape = (30, 576, 134_000_000)  # SmolLM2-135M: layers, attention width, matmul parameters
    similar, ragged = [90, 95, 100, 102] * 8, [30, 40, 400, 35, 50, 380, 45, 60] * 4
    # transformers' block-diagonal mask over the flattened batch (QLoRA): only ragged rows pay
    assert not padding_free_pays(similar, 8, 0, *shape, per_row=False)
    assert padding_free_pays(ragged, 8, 0, *shape, per_row=False)
    # attention row by row (segment_attention): no padding and no cross-row pairs, always cheaper
    assert padding_free_pays(similar, 8, 0, *shape) and padding_free_pays(ragged, 8, 0, *shape)


def test_row_attention_on_a_padding_free_batch_equals_each_row_run_alone(base_dir):
    """Rows flattened into one sequence (position ids restart at each row) attend only within
    themselves: the logits of each row equal that row's logits run alone, and a backward pass runs."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftc.runtime.train import segment_attention

    model = AutoModelForCausalLM.from_pretrained(base_dir, attn_implementation=segment_attention.register())
    rows = [list(range(100, 100 + n)) for n in (7, 12, 5)]
    ids = torch.tensor([sum(rows, [])])
    positions = torch.tensor([sum((list(range(len(r))) for r in rows), [])])
    assert segment_attention.row_starts(positions) == [0, 7, 19]
    assert segment_attention.row_starts(torch.arange(9)[None]) is None, "one row: plain SDPA"
    packed = model(input_ids=ids, position_ids=positions).logits[0]
    start = 0
    for r in rows:
        with torch.no_grad():
            alone = model(input_ids=torch.tensor([r])).logits[0]
        assert torch.allclose(packed[start : start + len(r)], alone, atol=1e-4), "a row saw another row"
        start += len(r)
    packed.float().logsumexp(-1).mean().backward()
    assert model.model.layers[0].self_attn.q_proj.weight.grad is not None


def test_resume_picks_the_newest_complete_checkpoint(tmp_path):
    from ftc.runtime.train.sft import last_checkpoint

    assert last_checkpoint(tmp_path / "none") is None
    for step in (2, 10, 12):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (2, 10):  # checkpoint-12 was being written when the run was killed
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


def test_cpu_bf16_can_be_forced_either_way(monkeypatch):
    from ftc.runtime.train.sft import cpu_bf16

    monkeypatch.setenv("FTC_CPU_BF16", "0")
    assert cpu_bf16() is False
    monkeypatch.setenv("FTC_CPU_BF16", "1")
    assert cpu_bf16() is True
