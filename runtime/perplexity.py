"""Perplexity on a text: the general-ability check that flags forgetting."""

from __future__ import annotations

import math
from importlib import resources

from ftc.runtime.generate import Loaded


def general_text() -> str:
    """The small general English text shipped with ftc (runtime/assets/general.txt)."""
    return resources.files("ftc.runtime").joinpath("assets/general.txt").read_text(encoding="utf-8")


def perplexity(loaded: Loaded, text: str, max_length: int = 512, stride: int = 256) -> float:
    """exp(mean token NLL) with a sliding window: each window of up to ``max_length`` tokens scores
    only the tokens not scored by the previous one, with up to ``max_length - stride`` tokens of
    context before them. Deterministic (eval mode, no sampling)."""
    import torch

    ids = loaded.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = ids.to(loaded.model.device)
    total, nll, prev_end = ids.size(1), 0.0, 0
    if total < 2:
        raise ValueError("perplexity needs a text of at least two tokens")
    for begin in range(0, total, stride):
        end = min(begin + max_length, total)
        window = ids[:, begin:end]
        labels = window.clone()
        new = end - prev_end  # tokens this window scores for the first time
        labels[:, : window.size(1) - new] = -100
        with torch.inference_mode():
            loss = loaded.model(input_ids=window, labels=labels).loss
        scored = int((labels[:, 1:] != -100).sum())  # the first token has no prediction
        nll += float(loss) * scored
        prev_end = end
        if end == total:
            break
    return math.exp(nll / (total - 1))
