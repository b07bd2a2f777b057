"""The KV cache of ftc's greedy decoding: preallocated per batch, and shareable across rows.

Two costs of transformers' ``DynamicCache`` that a batch of greedy completions does not need
(measured on the embedded model, batch 8, ~320-token prompts, one CPU thread):

- each new token is appended with ``torch.cat``, which copies every layer's whole cache: 18% of
  a decode step. ``GrowingLayer`` writes into a buffer sized for the prompt plus the new tokens;
- prompts that start alike (the system prompt and the same few-shot examples in every row: the
  prompt search's random-shot candidates, the judge) recompute that prefix in every row: about
  half of a baseline's time. ``shared_prefix`` finds it, ``prefill_prefix`` computes its keys and
  values once, and ``new_cache`` starts each batch from a copy of them.

A batch may also decode more rows than it prefills at once (``ftc.shared.decode_batch``): each
chunk of rows is prefilled through a ``row_view`` of the batch's cache, right-aligned.

The arithmetic is transformers' own (the same attention over the same keys, values and position
ids); only the padding moves, from before the whole prompt to between the shared prefix and each
row's own tokens, where the attention mask hides it as before.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# Below this many shared tokens a separate prefill costs more than it saves.
MIN_SHARED_TOKENS = 16


def shared_prefix(encoded: list[list[int]], min_tokens: int = MIN_SHARED_TOKENS) -> list[int]:
    """The token prefix every prompt starts with, less one token (each row needs a token of its own
    to produce its first logits); empty when shorter than ``min_tokens`` or with one prompt."""
    if len(encoded) < 2:
        return []
    first, limit = encoded[0], min(len(e) for e in encoded) - 1
    n = 0
    while n < limit and all(e[n] == first[n] for e in encoded):
        n += 1
    return list(first[:n]) if n >= min_tokens else []


def supports_growing(model: Any) -> bool:
    """Whether every layer of the model's default cache is a plain full-attention layer (sliding
    windows, linear attention or recurrent states keep transformers' own cache)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        layers = DynamicCache(config=model.config).layers
    except Exception:  # noqa: BLE001 - an unusual config: keep transformers' cache
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def token_bytes(model: Any) -> int:
    """Bytes a token adds to the model's KV cache (for ``ftc.shared.decode_batch``)."""
    from ftc.shared.decode_batch import kv_bytes_per_token

    cfg = model.config.get_text_config(decoder=True)
    heads = int(getattr(cfg, "num_attention_heads", 1) or 1)
    kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // heads)
    return kv_bytes_per_token(int(cfg.num_hidden_layers), kv_heads, head_dim, model.dtype.itemsize)


def prefill_prefix(model: Any, tokens: list[int]) -> list[tuple[Any, Any]]:
    """Each layer's (keys, values) for ``tokens`` at batch 1, positions 0..n-1."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    ids = torch.tensor([tokens], dtype=torch.long, device=model.device)
    model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in cache.layers]


def new_cache(model: Any, batch: int, capacity: int, prefix: list[tuple[Any, Any]] | None = None) -> Any:
    """A cache of ``GrowingLayer``s for ``batch`` rows of up to ``capacity`` positions, holding a
    copy of ``prefix`` (from ``prefill_prefix``) in every row when given."""
    from transformers import DynamicCache

    count = model.config.get_text_config(decoder=True).num_hidden_layers
    layers = [_growing_layer_class()(capacity, batch) for _ in range(count)]
    for layer, (keys, values) in zip(layers, prefix or [], strict=False):
        layer.update(keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1))
    cache = DynamicCache()
    cache.layers = layers
    return cache


def row_view(whole: Any, lo: int, hi: int, start: int) -> Any:
    """A cache over rows ``lo:hi`` of ``whole`` (from ``new_cache``), writing into the same buffers
    from position ``start``: a chunk of the batch is prefilled on its own, its keys and values
    right-aligned with the longest chunk's (the positions between stay zero and masked)."""
    from transformers import DynamicCache

    view = DynamicCache()
    view.layers = [layer.rows(lo, hi, start) for layer in whole.layers]
    return view


def set_length(whole: Any, length: int) -> None:
    """After its chunks were prefilled through ``row_view``s: every row of ``whole`` holds ``length``
    positions."""
    for layer in whole.layers:
        layer.set_length(length)


@cache
def _growing_layer_class() -> type:
    """``GrowingLayer``, built on first use: transformers is imported only when a cache is."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A ``DynamicLayer`` whose keys and values are views of a buffer with room to grow."""

        def __init__(self, capacity: int, rows: int | None = None) -> None:
            super().__init__()
            self.capacity = capacity
            self.rows_total = rows  # the batch's rows: a view's first write allocates them all
            self.length = 0
            self.parent: GrowingLayer | None = None  # a row view's whole layer
            self.span = (0, 0)  # a row view's rows in it

        def _allocate(self, rows: int, key_states, value_states) -> None:  # noqa: ANN001
            # Zeros, not empty: a chunk's padding gap is never written, and masked garbage
            # (NaN times a zero weight) would still poison the attention.
            shape = (rows, key_states.shape[1], self.capacity, key_states.shape[-1])
            self._keys = key_states.new_zeros(shape)
            self._values = value_states.new_zeros((*shape[:3], value_states.shape[-1]))
            self.device, self.is_initialized = key_states.device, True

        def _attach(self) -> None:
            lo, hi = self.span
            self._keys, self._values = self.parent._keys[lo:hi], self.parent._values[lo:hi]
            self.device, self.is_initialized = self.parent.device, True

        def update(self, key_states, value_states, *args, **kwargs):  # noqa: ANN001, ANN201
            if self.parent is not None and not self.is_initialized:
                if not self.parent.is_initialized:
                    self.parent._allocate(self.parent.rows_total or self.span[1], key_states, value_states)
                self._attach()
            if not self.is_initialized:
                self._allocate(self.rows_total or key_states.shape[0], key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.capacity:
                raise RuntimeError(f"KV cache capacity {self.capacity} exceeded ({end} positions)")
            self._keys[:, :, self.length : end] = key_states
            self._values[:, :, self.length : end] = value_states
            self.length = end
            self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def rows(self, lo: int, hi: int, start: int) -> GrowingLayer:
            view = GrowingLayer(self.capacity)
            view.parent, view.span, view.length = self, (lo, hi), start
            if self.is_initialized:
                view._attach()
            return view

        def set_length(self, length: int) -> None:
            self.length = length
            self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]

        def batch_select_indices(self, indices) -> None:  # noqa: ANN001
            if self.is_initialized:
                self._keys, self._values = self._keys[indices], self._values[indices]
                self.keys, self.values = self._keys[:, :, : self.length], self._values[:, :, : self.length]

    return GrowingLayer
