"""The padding-free training attention (``row_causal``): the same values and gradients as causal
attention written as plain products, with less kept between the forward and the backward pass."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ftc.runtime.train.row_causal import RowCausalAttention  # noqa: E402


def _plain(query, key, value, groups: int, scale: float):  # noqa: ANN001, ANN202 - tensors
    """Causal attention as autograd records it op by op (what ``segment_attention`` ran before)."""
    from transformers.integrations.sdpa_attention import repeat_kv

    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    n = query.shape[2]
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    scores = (torch.matmul(query, key.transpose(2, 3)) * scale).masked_fill(future, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), value)


def _inputs(heads: int, groups: int, n: int, dtype=torch.float64):  # noqa: ANN001, ANN202
    gen = torch.Generator().manual_seed(n * 10 + groups)
    shape_q, shape_kv = (2, heads, n, 8), (2, heads // groups, n, 8)
    return [torch.randn(s, generator=gen, dtype=dtype, requires_grad=True) for s in (shape_q, shape_kv, shape_kv)]


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("n", [1, 2, 9])
def test_values_and_gradients_equal_plain_causal_attention(groups: int, n: int) -> None:
    q, k, v = _inputs(6, groups, n)
    assert torch.autograd.gradcheck(lambda q, k, v: RowCausalAttention.apply(q, k, v, groups, 0.35), (q, k, v))
    ours = RowCausalAttention.apply(q, k, v, groups, 0.35)
    plain = _plain(q, k, v, groups, 0.35)
    assert torch.allclose(ours, plain, atol=1e-12)
    up = torch.randn_like(ours)
    for a, b in zip(torch.autograd.grad(ours, (q, k, v), up), torch.autograd.grad(plain, (q, k, v), up), strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_under_cpu_bf16_autocast_it_trains_close_to_fp32() -> None:
    q, k, v = _inputs(6, 3, 12, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = RowCausalAttention.apply(q, k, v, 3, 0.35)
    assert out.dtype == torch.bfloat16
    out.float().square().sum().backward()
    assert q.grad.dtype == k.grad.dtype == torch.float32  # gradients come back in the inputs' dtype
    exact = torch.autograd.grad(_plain(q, k, v, 3, 0.35).square().sum(), (q, k, v))
    for ours, want in zip((q.grad, k.grad, v.grad), exact, strict=True):
        assert (ours - want).norm() <= 0.05 * want.norm()


def _saved_bytes(fn, *args) -> int:  # noqa: ANN001
    """Bytes of the tensors autograd keeps for the backward pass (the same tensor counted once)."""
    seen: dict[int, int] = {}

    def pack(t):  # noqa: ANN001, ANN202
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(seen.values())


def test_it_keeps_no_attention_weights_for_the_backward_pass() -> None:
    """SmolLM2's shape (9 query heads on 3 key/value heads of 64) on a 100-token row: the plain
    products keep the softmax weights (heads x 100 x 100 floats) and the repeated keys and values."""
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(1, 9, 100, 64, generator=gen, requires_grad=True)
    k, v = (torch.randn(1, 3, 100, 64, generator=gen, requires_grad=True) for _ in range(2))
    ours = _saved_bytes(RowCausalAttention.apply, q, k, v, 3, 0.125)
    plain = _saved_bytes(_plain, q, k, v, 3, 0.125)
    weights = 9 * 100 * 100 * 4
    inputs = sum(t.numel() * 4 for t in (q, k, v))
    assert ours == inputs + 9 * 100 * 4  # query, key and value as they came, and one float a query
    assert plain - ours >= weights, (plain, ours)


def test_the_attention_dropout_path_computes_the_same_attention_before_its_dropout() -> None:
    """With attention dropout the weights are kept (they are random); at p = 0 that path and this
    function agree, so the two stay one computation."""
    from transformers.integrations.sdpa_attention import repeat_kv

    from ftc.runtime.train.segment_attention import _causal

    q, k, v = _inputs(6, 3, 9)
    kept = _causal(q, repeat_kv(k, 3), repeat_kv(v, 3), 0.35, 0.0)
    assert torch.allclose(kept, RowCausalAttention.apply(q, k, v, 3, 0.35), atol=1e-6)  # its softmax is fp32
    dropped = _causal(q, repeat_kv(k, 3), repeat_kv(v, 3), 0.35, 0.5)
    assert dropped.shape == kept.shape and not torch.allclose(dropped, kept)
