"""`ftc device profile` really measures the embedded model (a LoRA run of the SFT trainer, a
prefill, greedy decoding), writes a profile plans accept, and `ftc device show` reports it.
The sizes are shrunk so the test takes seconds; the arithmetic is the command's own."""

from __future__ import annotations

import json

import pytest

from ftc.compiler.cli.main import main
from ftc.runtime import device_profile as measuring
from ftc.shared import device_profile


@pytest.fixture
def tiny(monkeypatch):
    for name, value in {
        "TRAIN_ROWS": 4,
        "TRAIN_BATCH": 2,
        "TRAIN_STEPS": 2,
        "PROMPT_WORDS": 12,
        "ANSWER_WORDS": 8,
        "PREFILL_ROWS": 1,
        "PREFILL_TOKENS": 32,
        "DECODE_CONTEXT": 16,
        "DECODE_STEPS": 2,
        "WIDE": 2,
        "IMPORTS": "json",
    }.items():
        monkeypatch.setattr(measuring, name, value)


def test_a_profile_is_measured_saved_and_then_used_by_plans(tiny, tmp_path, monkeypatch, capsys, one_thread):
    monkeypatch.delenv(device_profile.ENV, raising=False)
    out = tmp_path / "cpu.json"
    assert main(["device", "profile", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "CPU profiled on this machine" in printed and f"saved to {out}" in printed
    assert "plans read" in printed, "--out elsewhere than where plans look is said"
    saved = json.loads(out.read_text(encoding="utf-8"))
    profile = device_profile.parse(out.read_bytes(), str(out))
    assert saved["model"] == "smollm2-135m-instruct" and saved["params"] > 100_000_000
    assert saved["threads"] == 1 and saved["cores"] >= 1
    # Rates a real machine has: far from the file's plausible bounds.
    assert 1e9 < profile.train_flops_per_s < 1e13 and 1e9 < profile.prefill_flops_per_s < 1e13
    assert 1e8 < profile.decode_bytes_per_s < 1e12 and 0 < profile.model_load_s < 60 and 0 < profile.import_s < 60
    tokens = saved["tokens_per_s"]
    assert saved["train_flops_per_s"] == pytest.approx(4 * saved["params"] * tokens["train"], rel=1e-2)
    assert saved["prefill_flops_per_s"] == pytest.approx(2 * saved["params"] * tokens["prefill"], rel=1e-2)

    monkeypatch.setenv(device_profile.ENV, str(out))
    assert main(["device", "show"]) == 0
    assert str(out) in capsys.readouterr().out
    assert main(["device", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["used"] is True and shown["profile"] == saved

    out.write_text('{"version": 1, "kind": "cpu"}', encoding="utf-8")
    assert main(["device", "show"]) == 1
    assert "was not used" in capsys.readouterr().out


def test_profile_refuses_an_output_it_cannot_write_before_measuring(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(measuring, "measure", lambda say: pytest.fail("measured before checking --out"))
    assert main(["device", "profile", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["device", "profile", "--out", str(tmp_path / "file" / "cpu.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the profile to" in err and "Traceback" not in err


@pytest.mark.parametrize("total", [2, 255, 767, 768, 769, 1030, 2375])
def test_the_plan_counts_the_tokens_the_perplexity_windows_forward(total):
    """The estimate's window arithmetic against the runtime's own loop (a stand-in model that only
    counts what it is given: the loop, not the model, is under test)."""
    import torch

    from ftc.compiler.plan.estimates import perplexity_tokens
    from ftc.runtime.generate import Loaded
    from ftc.runtime.perplexity import perplexity

    seen: list[int] = []

    class Counting(torch.nn.Module):
        device = torch.device("cpu")

        def forward(self, input_ids, logits_to_keep, use_cache):  # noqa: ANN001, ANN201, ARG002
            seen.append(input_ids.shape[1])
            return type("Out", (), {"logits": torch.zeros((1, logits_to_keep, 8))})()

    def tokenizer(text, add_special_tokens, return_tensors):  # noqa: ANN001, ANN202, ARG001
        return {"input_ids": torch.zeros((1, total), dtype=torch.long)}

    perplexity(Loaded(Counting(), tokenizer, None, None), "text")
    assert sum(seen) == perplexity_tokens(total)
    # the memory model's logits are those of one window's scored tokens
    from ftc.compiler.plan.memory import PERPLEXITY_SCORED
    from ftc.runtime.perplexity import STRIDE

    assert PERPLEXITY_SCORED == STRIDE
