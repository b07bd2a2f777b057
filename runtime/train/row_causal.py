"""Causal attention of one row that keeps no attention weights for the backward pass.

Plain products (``segment_attention``) are the cheap way to run a short row's attention on a CPU,
but autograd keeps their softmax weights (heads x length^2 floats a row a layer) and the keys and
values repeated to every query head. This function keeps what flash attention keeps instead: the
query, the key and value before the grouped-query heads are repeated, and each query's
log-sum-exp; the backward pass recomputes the weights from them with one more product. Measured on
bench/train_vs_trl.py (8 steps of 8 ticket rows, 2 threads, three runs each way, alternated): peak
RSS ~3,220 -> ~3,100 MB, the same holdout loss, no slower (median 55.7 s -> 49.9 s a run).
"""

from __future__ import annotations

from typing import Any

import torch


class RowCausalAttention(torch.autograd.Function):
    """softmax(q k^T * scale, causal) v for a (batch, heads, length, dim) query; ``key`` and
    ``value`` have heads / ``groups`` heads (grouped-query attention), repeated here."""

    @staticmethod
    def forward(ctx: Any, query: Any, key: Any, value: Any, groups: int, scale: float) -> Any:
        scores = torch.matmul(query, _repeat(key, groups).transpose(2, 3))
        compute = scores.dtype  # bf16 under CPU autocast: the backward's products use it too
        masked = causal_mask(_wide(scores) * scale)
        lse = torch.logsumexp(masked, dim=-1, keepdim=True)
        out = torch.matmul(torch.exp(masked - lse).to(compute), _repeat(value, groups).to(compute))
        ctx.save_for_backward(query, key, value, lse)
        ctx.groups, ctx.scale, ctx.compute = groups, scale, compute
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Any) -> tuple[Any, ...]:
        query, key, value, lse = ctx.saved_tensors
        dt, scale, groups = ctx.compute, ctx.scale, ctx.groups
        q, k, v, g = query.to(dt), _repeat(key, groups).to(dt), _repeat(value, groups).to(dt), grad_out.to(dt)
        weights = torch.exp(causal_mask(_wide(torch.matmul(q, k.transpose(2, 3))) * scale) - lse)
        grad_v = torch.matmul(weights.to(dt).transpose(2, 3), g)
        grad_weights = _wide(torch.matmul(g, v.transpose(2, 3)))
        # softmax backward: w * (dw - sum(dw * w)); the masked pairs have w = 0
        grad_scores = (weights * (grad_weights - (grad_weights * weights).sum(dim=-1, keepdim=True)) * scale).to(dt)
        grad_q = torch.matmul(grad_scores, k)
        grad_k = torch.matmul(grad_scores.transpose(2, 3), q)
        return (
            grad_q.to(query.dtype),
            _fold(grad_k, groups).to(key.dtype),
            _fold(grad_v, groups).to(value.dtype),
            None,
            None,
        )


def causal_mask(scores: Any) -> Any:
    """``scores`` (..., n, n) with each query's future positions at -inf."""
    n = scores.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool, device=scores.device).triu(1)
    return scores.masked_fill(future, float("-inf"))


def _wide(x: Any) -> Any:
    """At least fp32: the softmax and its gradient are not computed in bf16."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _repeat(x: Any, groups: int) -> Any:
    """Each key/value head once per query head of its group (transformers' ``repeat_kv``)."""
    if groups == 1:
        return x
    b, h, n, d = x.shape
    return x[:, :, None].expand(b, h, groups, n, d).reshape(b, h * groups, n, d)


def _fold(x: Any, groups: int) -> Any:
    """The gradient of ``_repeat``: the query heads of a group summed back onto their key/value head."""
    if groups == 1:
        return x
    b, h, n, d = x.shape
    return x.reshape(b, h // groups, groups, n, d).sum(dim=2)
