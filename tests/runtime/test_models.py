"""Real code on the embedded model: conversion, batched generation, perplexity."""

import json
import os
import random
import time
from pathlib import Path

import pytest

from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
# A fixed home under the repo: CI converts the GGUF once and every later session reuses it.
os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))

from ftc.runtime.generate import generate, load_model  # noqa: E402
from ftc.runtime.models import EMBEDDED_BASE, EMBEDDED_EMBEDDER, resolve_model  # noqa: E402
from ftc.runtime.perplexity import general_text, perplexity  # noqa: E402

SYS = {"role": "system", "content": "You are a concise assistant."}


@pytest.fixture(scope="module")
def loaded(base_dir):
    return load_model(base_dir)


def test_conversion_gives_a_plain_loadable_folder_and_a_second_resolve_is_a_no_op(base_dir):
    for name in (
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (base_dir / name).is_file(), name
    config = json.loads((base_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["num_hidden_layers"] == 30 and config["vocab_size"] == 49152
    stamp = (base_dir / "model.safetensors").stat().st_mtime_ns
    start = time.perf_counter()
    assert resolve_model(EMBEDDED_BASE) == base_dir
    assert time.perf_counter() - start < 2.0
    assert (base_dir / "model.safetensors").stat().st_mtime_ns == stamp


def test_embedder_local_folder_and_missing_model(base_dir, monkeypatch):
    assert (resolve_model(EMBEDDED_EMBEDDER) / "modules.json").is_file()
    assert resolve_model(str(base_dir)) == base_dir.resolve()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FtcError, match="hf download no-such-org/no-such-model"):
        resolve_model("no-such-org/no-such-model")


def test_generation_is_greedy_deterministic_and_batched_equals_unbatched(loaded):
    prompts = [
        [SYS, {"role": "user", "content": "What is the capital of France?"}],
        [SYS, {"role": "user", "content": "Name a colour."}],
        [SYS, {"role": "user", "content": "Write one short sentence about the sea and the wind."}],
    ]
    seen = []
    batched = generate(loaded, prompts, max_new_tokens=12, batch_size=3, progress=lambda d, t: seen.append((d, t)))
    single = generate(loaded, prompts, max_new_tokens=12, batch_size=1)
    assert batched == single
    assert "Paris" in batched[0]
    assert all(isinstance(s, str) and s and "<|im_end|>" not in s for s in batched)
    assert seen == [(3, 3)]


def test_perplexity_is_finite_and_lower_on_natural_text_than_shuffled_words(loaded):
    text = " ".join(general_text().split()[:180])
    words = text.split()
    random.Random(0).shuffle(words)
    natural = perplexity(loaded, text, max_length=128, stride=64)
    shuffled = perplexity(loaded, " ".join(words), max_length=128, stride=64)
    assert 1.0 < natural < 200.0
    assert shuffled > 2 * natural
    assert perplexity(loaded, text, max_length=128, stride=64) == pytest.approx(natural, rel=1e-6)
