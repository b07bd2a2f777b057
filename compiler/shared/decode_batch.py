"""How many rows a generation decodes at once: the planner's estimates and the runtime's
``generate`` both ask here, so the plan prices the batches that really run.

On a CPU a decoding step reads every weight once whatever the rows (each extra row adds ~13% to
a step: bench/decode_steps.py), so more rows make each answer cheaper; a batch's prefill is
compute-bound and does not gain from more rows, and with many long prompts it lost. Measured on
the quickstart (32 holdout rows, 48 new tokens, two threads): with 8 shots every row shares
(~80 tokens of its own a row), 28.7 s at 8 rows against 18.5 s at 32, same answers; with 8
different shots a row (~1,000 tokens of its own), 87.5 s at 8 against 111.2 s at 32. A GPU's step
barely grows with the rows either, but its memory is the tighter bound: it keeps the plan's batch.
"""

from __future__ import annotations

# A CPU decodes up to this many times the plan's batch at once ...
MAX_WIDEN = 4
# ... while the rows' own prompt tokens (beyond a prefix they all share) stay under this.
PREFILL_TOKENS = 4096


def decode_rows(batch: int, own_tokens: int, device_kind: str) -> int:
    """Rows a batch holds: the plan's ``batch``, widened on a CPU while ``own_tokens`` (the longest
    prompt less the prefix every prompt shares) times the rows stays under ``PREFILL_TOKENS``."""
    batch = max(1, batch)
    if device_kind != "cpu":
        return batch
    fit = PREFILL_TOKENS // max(1, own_tokens)
    return max(batch, min(batch * MAX_WIDEN, fit))
