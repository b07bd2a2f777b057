"""How many rows a generation decodes at once: the planner's estimates and the runtime's
``generate`` both ask here, so the plan prices the batches that really run.

On a CPU a decoding step reads every weight once whatever the rows (each extra row adds ~13% to
a step: bench/decode_steps.py), so more rows make each answer cheaper; reading the prompts
(prefill) is compute-bound and gains nothing from more rows, so ``generate`` still reads them the
plan's batch at a time and decodes the wider batch together. What bounds the width is the KV
cache every step reads and holds. Measured on the quickstart's model (32 holdout rows, 48 new
tokens, two threads, batch 8 against widened, the same answers): 8 random shots every row shares
28.7 -> 18.5 s; 3 shots of each row's own (~400 tokens) 49.4 -> 33.2 s; 8 shots of its own
(~1,000 tokens) 87.4 -> 86.0 s at 15 rows and 90.5 -> 79.9 s at 32 rows (2.4 GB peak). A GPU's
step barely grows with the rows either, but its memory is the tighter bound: it keeps the plan's
batch.
"""

from __future__ import annotations

# A CPU decodes up to this many times the plan's batch at once ...
MAX_WIDEN = 4
# ... while the rows' KV cache (prompt and new tokens) stays under this.
KV_BUDGET_BYTES = 2**30


def decode_rows(batch: int, context_tokens: int, kv_bytes_per_token: int, device_kind: str) -> int:
    """Rows a batch decodes at once: the plan's ``batch``, widened on a CPU while the rows'
    KV cache (``context_tokens``, the longest prompt and its new tokens, a row) fits the budget."""
    batch = max(1, batch)
    if device_kind != "cpu":
        return batch
    fit = KV_BUDGET_BYTES // max(1, context_tokens * kv_bytes_per_token)
    return max(batch, min(batch * MAX_WIDEN, fit))


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, dtype_bytes: int) -> int:
    """Bytes a token adds to a plain KV cache: a key and a value per layer and KV head."""
    return layers * 2 * kv_heads * head_dim * dtype_bytes
