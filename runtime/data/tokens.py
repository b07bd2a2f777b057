"""Token lengths: the embedded model's tokenizer when its tokenizer.json is on disk, else chars/4."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ftc.shared.paths import EMBEDDED_BASE as EMBEDDED_MODEL
from ftc.shared.paths import ftc_home


def tokenizer_path() -> Path:
    return ftc_home() / "models" / EMBEDDED_MODEL / "tokenizer.json"


def default_token_counter() -> tuple[Callable[[list[str]], list[int]], str]:
    """A batch counter and its method name ("tokenizer" or "chars/4")."""
    path = tokenizer_path()
    if path.is_file():
        try:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(path))
        except Exception:  # noqa: BLE001 - a broken cache falls back to the estimate, said in the output
            tok = None
        if tok is not None:

            def count(texts: list[str]) -> list[int]:
                return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

            return count, "tokenizer"
    return (lambda texts: [math.ceil(len(t) / 4) for t in texts]), "chars/4"


def single(counter: Callable[[list[str]], list[int]]) -> Callable[[str], int]:
    return lambda text: counter([text])[0]


def token_stats(lengths) -> dict:  # noqa: ANN001 - a list or a numpy array of ints
    """Nearest-rank percentiles (values that occur in the data, not interpolations)."""
    if len(lengths) == 0:
        return {"p50": 0, "p90": 0, "p99": 0, "max": 0}
    ordered = np.sort(np.asarray(lengths, dtype=np.int64))

    def pct(p: float) -> int:
        return int(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)])

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": int(ordered[-1])}
