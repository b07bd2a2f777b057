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
from ftc.runtime.perplexity import general_text, perplexity, windows  # noqa: E402

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
    single = generate(loaded, prompts, max_new_tokens=12, batch_size=1, widen=False)
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


def test_windowed_perplexity_equals_the_full_logits_of_each_window_and_gives_each_token_its_context(loaded):
    """The kept-positions, chunked loss against an independent computation: every window's full
    logits, log-softmax, the scored tokens' log-probabilities. Windows of 128 scoring 96: each
    scored token sees 32 tokens before it (or the whole text before it), and is scored once."""
    import math

    import torch

    ids = loaded.tokenizer(general_text(), add_special_tokens=False, return_tensors="pt")["input_ids"][:, :300]
    text = loaded.tokenizer.decode(ids[0])
    ids = loaded.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    total, scored, nll = ids.size(1), [], 0.0
    for begin, first, end in windows(total, 128, 96):
        assert end - begin <= 128 and first - begin >= min(first, 32)
        scored.extend(range(first, end))
        with torch.inference_mode():
            logp = torch.log_softmax(loaded.model(input_ids=ids[:, begin:end]).logits[0].double(), dim=-1)
        nll -= sum(float(logp[p - begin - 1, ids[0, p]]) for p in range(first, end))
    assert scored == list(range(1, total)) and total > 250
    assert perplexity(loaded, text, max_length=128, stride=96) == pytest.approx(math.exp(nll / (total - 1)), rel=1e-4)


def test_a_holdout_of_one_single_token_answer_is_a_user_error_not_a_crash(loaded):
    """A one-row eval set whose answer is one token ("4") has no token to score: the step says so."""
    from ftc.runtime.steps.common import perplexities

    with pytest.raises(FtcError, match="fewer than two tokens") as err:
        perplexities(loaded, ["4"])
    assert "hint: give the eval more rows" in err.value.message
    assert perplexities(loaded, ["4", "7"])["holdout"] > 1.0


def test_perplexity_windows_need_context_and_fit_a_short_model():
    from types import SimpleNamespace

    from ftc.runtime.perplexity import _fit

    with pytest.raises(ValueError, match="stride < max_length"):
        list(windows(10, 8, 8))
    assert list(windows(10, 8, 6)) == [(0, 1, 6), (4, 6, 10)]
    short = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=256))
    assert _fit(short, 1024, 768) == (256, 192)
    assert _fit(SimpleNamespace(config=SimpleNamespace(max_position_embeddings=8192)), 1024, 768) == (1024, 768)


def test_greedy_generation_equals_transformers_generate_when_rows_stop_at_different_steps(loaded):
    """ftc decodes with its own loop (rows leave the batch at their stop token); the text must be
    what transformers' ``generate`` gives for the same left-padded batch."""

    from ftc.runtime.generate import _left_pad, render

    prompts = [
        [SYS, {"role": "user", "content": "Name a colour. One word."}],
        [SYS, {"role": "user", "content": "Reply with yes or no: is water wet?"}],
        [SYS, {"role": "user", "content": "Write a long story about a lighthouse keeper and a storm at sea."}],
        [SYS, {"role": "user", "content": "List three fruits."}],
    ]
    tok, model = loaded.tokenizer, loaded.model
    encoded = [tok(render(tok, p), add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # generate()'s batch order
    ids, mask = _left_pad([encoded[i] for i in order], tok.pad_token_id, model.device)
    plain = _transformers_generate(loaded, ids, mask, 40)
    expected = [""] * len(prompts)
    for row, i in enumerate(order):
        expected[i] = tok.decode(plain[row, ids.shape[1] :], skip_special_tokens=True).strip()
    lengths = [int((plain[row, ids.shape[1] :] != tok.pad_token_id).sum()) for row in range(len(prompts))]
    assert min(lengths) < 40 == max(lengths), "the prompts must stop at different steps to test early stop"
    assert generate(loaded, prompts, max_new_tokens=40, batch_size=4, widen=False) == expected


def test_shared_prefix_is_the_common_start_less_one_token_and_only_when_long_enough():
    from ftc.runtime.kv_cache import shared_prefix

    head = list(range(100, 120))
    assert shared_prefix([head + [1, 2], head + [1, 3], head + [4]]) == head
    assert shared_prefix([head, head]) == head[:-1], "each row keeps a token of its own"
    assert shared_prefix([head[:10] + [1], head[:10] + [2]]) == [], "10 shared tokens: not worth a prefill"
    assert shared_prefix([head + [1]]) == [], "one prompt: nothing to share"
    assert shared_prefix([[1] + head, [2] + head]) == []


def test_a_few_shot_prefix_is_prefilled_once_and_the_outputs_equal_transformers_generate(loaded, monkeypatch):
    """Rows that share their system prompt and examples decode from one prefill of that prefix
    (padding sits between the prefix and each row's own tokens); the text must still be what
    ``generate`` gives for the whole prompts, left-padded, in the same batches."""

    from ftc.runtime import kv_cache
    from ftc.runtime.generate import _left_pad, render

    shots = [
        {"role": "user", "content": "Capital of Italy?"},
        {"role": "assistant", "content": "Rome."},
        {"role": "user", "content": "Capital of Spain?"},
        {"role": "assistant", "content": "Madrid."},
    ]
    questions = [
        "Capital of France?",
        "Capital of Japan, and one fact about it?",
        "Capital of Peru?",
        "Capital of Kenya?",
    ]
    prompts = [[SYS, *shots, {"role": "user", "content": q}] for q in questions]
    tok, model = loaded.tokenizer, loaded.model
    encoded = [tok(render(tok, p), add_special_tokens=False)["input_ids"] for p in prompts]
    assert len(kv_cache.shared_prefix(encoded)) > 30
    prefills = []
    real = kv_cache.prefill_prefix
    monkeypatch.setattr(kv_cache, "prefill_prefix", lambda m, t: prefills.append(len(t)) or real(m, t))
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    expected = [""] * len(prompts)
    for start in (0, 2):  # generate()'s batches of 2, longest first
        idx = order[start : start + 2]
        ids, mask = _left_pad([encoded[i] for i in idx], tok.pad_token_id, model.device)
        plain = _transformers_generate(loaded, ids, mask, 24)
        for row, i in enumerate(idx):
            expected[i] = tok.decode(plain[row, ids.shape[1] :], skip_special_tokens=True).strip()
    assert generate(loaded, prompts, max_new_tokens=24, batch_size=2, widen=False) == expected
    assert prefills == [len(kv_cache.shared_prefix(encoded))], "one prefill of the shared prefix for all batches"
    assert "Paris" in expected[0]


def test_a_cpu_decodes_a_wider_batch_than_it_prefills_with_the_same_answers(loaded):
    """On a CPU a batch decodes up to 4x the plan's rows (ftc.shared.decode_batch) while its prompts
    are still read the plan's batch at a time: each chunk padded to its own longest prompt, its keys
    right-aligned in the wide cache. Prompts of very different lengths put gaps between chunks;
    the answers must be those of the plan's batch."""
    questions = [
        "Capital of France?",
        "Name a colour. One word.",
        "Write a long story about a lighthouse keeper, a storm at sea and a ship that lost its way.",
        "Is water wet? Yes or no.",
        "Describe, in two sentences, how a bicycle's gears let a rider climb a steep hill with less effort.",
        "Capital of Peru?",
        "List three fruits.",
        "Explain what a lighthouse is for.",
    ]
    prompts = [[SYS, {"role": "user", "content": q}] for q in questions]
    wide_batches: list[int] = []
    fixed_batches: list[int] = []
    wide = generate(loaded, prompts, max_new_tokens=10, batch_size=2, progress=lambda d, t: wide_batches.append(d))
    fixed = generate(
        loaded, prompts, max_new_tokens=10, batch_size=2, widen=False, progress=lambda d, t: fixed_batches.append(d)
    )
    assert wide == fixed
    assert wide_batches == [8], "one batch of 8 rows (2 x 4), prefilled 2 at a time"
    assert fixed_batches == [2, 4, 6, 8]
    # No prefix every prompt shares (each its own system prompt): the first chunk allocates the
    # wide cache itself.
    own_system = [
        [{"role": "system", "content": f"You are assistant number {n}."}, p[1]] for n, p in enumerate(prompts)
    ]
    assert generate(loaded, own_system, max_new_tokens=6, batch_size=2) == generate(
        loaded, own_system, max_new_tokens=6, batch_size=2, widen=False
    )


def _transformers_generate(loaded, ids, mask, max_new_tokens: int):
    """transformers' greedy ``generate`` on a left-padded batch, stopping at the chat's stop tokens."""
    import torch

    from ftc.runtime.generate import _stop_ids

    tok = loaded.tokenizer
    with torch.inference_mode():
        return loaded.model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=_stop_ids(tok),
            pad_token_id=tok.pad_token_id,
        )
