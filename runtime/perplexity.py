"""Perplexity on a text: the general-ability check that flags forgetting."""

from __future__ import annotations

import math
from collections.abc import Iterator
from importlib import resources

from ftc.runtime.generate import Loaded

# Rows of logits turned into a loss at once: bounds the log-softmax's copy of them.
LOSS_CHUNK = 256
# Windows of 1,024 tokens scoring 768 each: every scored token has at least 256 tokens of context
# (as windows of 512 sliding by 256 gave) and a long text is forwarded 1.33 times, not 2 times.
MAX_LENGTH, STRIDE = 1024, 768
# How windows are laid out and scored; a cached value of another scheme is never reused
# (2: ``windows`` below; 1: windows sliding by ``stride`` that scored all of the first one).
SCHEME = 2


class TooShort(ValueError):
    """The text has fewer than two tokens: no token of it has a prediction to score."""


def general_text() -> str:
    """The small general English text shipped with ftc (runtime/assets/general.txt)."""
    return resources.files("ftc.runtime").joinpath("assets/general.txt").read_text(encoding="utf-8")


def windows(total: int, max_length: int = MAX_LENGTH, stride: int = STRIDE) -> Iterator[tuple[int, int, int]]:
    """``(begin, first, end)`` of each window over a text of ``total`` tokens: the window reads
    tokens ``[begin, end)`` and scores ``[first, end)``. Each window scores up to ``stride`` tokens
    not scored before, after up to ``max_length - stride`` tokens of context (all of the text
    before them near its start); token 0 has no prediction. Every token is forwarded at most
    ``max_length / stride`` times, not twice as with a window that slides by half its length.
    ``stride < max_length``: a window's first token is context, never scored without any."""
    if not 0 < stride < max_length:
        raise ValueError(f"perplexity needs 0 < stride < max_length, got stride {stride}, max_length {max_length}")
    context = max_length - stride
    for start in range(0, total, stride):
        end = min(start + stride, total)
        first = max(start, 1)
        if first < end:
            yield max(0, start - context), first, end


def perplexity(loaded: Loaded, text: str, max_length: int = MAX_LENGTH, stride: int = STRIDE) -> float:
    """exp(mean token NLL) over ``windows``. Logits are projected only at the positions that
    predict scored tokens (``logits_to_keep``: the model's own head, soft-capping included) and the
    loss reads them ``LOSS_CHUNK`` rows at a time. A model with fewer positions than ``max_length``
    gets windows scaled to fit, in the same proportion. Deterministic (eval mode, no sampling)."""
    import torch

    max_length, stride = _fit(loaded.model, max_length, stride)
    ids = loaded.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = ids.to(loaded.model.device)
    total = ids.size(1)
    if total < 2:
        raise TooShort(f"perplexity needs a text of at least two tokens, got {total}")
    nll = 0.0
    for begin, first, end in windows(total, max_length, stride):
        window = ids[:, begin:end]
        with torch.inference_mode():
            # the positions first-1 .. end-2 predict tokens first .. end-1; the last one predicts past the window
            logits = _logits(loaded.model, window, end - first + 1)[0, :-1]
            targets = ids[0, first:end]
            for at in range(0, targets.numel(), LOSS_CHUNK):
                part = logits[at : at + LOSS_CHUNK].float()
                nll += float(torch.nn.functional.cross_entropy(part, targets[at : at + LOSS_CHUNK], reduction="sum"))
    return math.exp(nll / (total - 1))


def _logits(model, window, keep: int):  # noqa: ANN001, ANN202 - a causal LM, a [1, L] id tensor
    """The last ``keep`` positions' logits; a model whose forward has no ``logits_to_keep``
    (remote code) projects every position and they are sliced."""
    try:
        return model(input_ids=window, logits_to_keep=keep, use_cache=False).logits
    except TypeError as exc:
        if "logits_to_keep" not in str(exc):
            raise
        return model(input_ids=window).logits[:, -keep:]


def _fit(model, max_length: int, stride: int) -> tuple[int, int]:  # noqa: ANN001
    """The window scaled down to the model's position limit (same share of context)."""
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(limit, int) and 1 < limit < max_length:
        return limit, max(1, stride * limit // max_length)
    return max_length, stride
