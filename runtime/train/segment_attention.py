"""Attention over each row of a padding-free batch on its own.

A padding-free batch is one sequence of several rows, told apart by position ids that restart at 0.
transformers then gives SDPA one block-diagonal mask over the whole flattened batch, so attention
costs (sum of lengths)^2 instead of the sum of each row's length^2, and the masked kernel is the
slow one: on the quickstart's tickets (8 rows of ~100 tokens, CPU) attention forward and backward
were 18% of a LoRA step. Without a varlen kernel (flash-attention's, CUDA only), cutting the
sequence at each restart and running each row's causal attention on its own computes the same
pairs, none of the masked-out ones, as plain products that keep no attention weights for the
backward pass (``row_causal``).

``register()`` adds the implementation under ``NAME``; a model loaded with
``attn_implementation=NAME`` uses it where the batch is padding-free and transformers' SDPA
everywhere else.
"""

from __future__ import annotations

from typing import Any

NAME = "ftc_row_sdpa"


def row_starts(position_ids: Any) -> list[int] | None:
    """Where each row of a one-sequence padding-free batch starts (its position ids restart), or
    None when the batch is not one such sequence of two or more rows."""
    if position_ids is None or position_ids.dim() != 2 or position_ids.shape[0] != 1:
        return None
    pos = position_ids[0]
    starts = [0] + (pos[1:] != pos[:-1] + 1).nonzero().flatten().add(1).tolist()
    return starts if len(starts) > 1 else None


def row_attention_forward(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    starts = row_starts(kwargs.get("position_ids"))
    length = query.shape[2]
    plain = starts is None or key.shape[2] != length or kwargs.get("position_bias") is not None
    if plain or not getattr(module, "is_causal", True):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    groups = getattr(module, "num_key_value_groups", 1)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    bounds = list(zip(starts, [*starts[1:], length], strict=True))
    if dropout > 0 and module.training:  # the dropped weights are random: kept for the backward pass
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
        pieces = [_causal(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], scale, dropout) for a, b in bounds]
    else:
        from ftc.runtime.train.row_causal import RowCausalAttention

        pieces = [
            RowCausalAttention.apply(query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], groups, scale)
            for a, b in bounds
        ]
    return torch.cat(pieces, dim=2).transpose(1, 2).contiguous(), None


def _causal(query: Any, key: Any, value: Any, scale: float, dropout: float) -> Any:
    """Causal attention of one row as plain matrix products, with attention dropout (training).
    Without dropout ``RowCausalAttention`` computes the same and keeps less for the backward pass."""
    import torch

    from ftc.runtime.train.row_causal import causal_mask

    scores = causal_mask(torch.matmul(query, key.transpose(2, 3)) * scale)
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=True)
    return torch.matmul(weights, value)


def register() -> str:
    """Register the implementation (and SDPA's mask builder under its name); returns ``NAME``."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, row_attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    return NAME
