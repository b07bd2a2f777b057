"""The greedy decoder's LM head: a faster product order on a CPU, the same argmax as nn.Linear."""

import pytest

torch = pytest.importorskip("torch")

from ftc.runtime.greedy_head import argmax_exact_head  # noqa: E402


class _TinyLM(torch.nn.Module):
    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.lm_head = head

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.lm_head


def _head_with_exact_ties(vocab: int = 4096, width: int = 576) -> torch.nn.Linear:
    """The second half of the vocabulary's rows are the first half's, their entries shuffled: for
    a hidden state with equal entries each pair's logits are equal in exact arithmetic, and each
    product order rounds the two sums differently, so the two orders pick different tokens."""
    gen = torch.Generator().manual_seed(0)
    head = torch.nn.Linear(width, vocab, bias=False)
    with torch.no_grad():
        half = torch.randn(vocab // 2, width, generator=gen)
        shuffled = torch.stack([row[torch.randperm(width, generator=gen)] for row in half])
        head.weight.copy_(torch.cat([half, shuffled]))
    return head


def test_argmax_equals_the_plain_heads_even_where_two_logits_tie():
    head = _head_with_exact_ties()
    model = _TinyLM(head)
    hidden = torch.ones(8, 1, 576) * torch.arange(1, 9).float().view(8, 1, 1)  # 8 rows, one position
    with torch.no_grad():
        plain = torch.nn.functional.linear(hidden, head.weight).argmax(-1)
        other_order = torch.mm(head.weight, hidden.view(8, 576).t()).t().argmax(-1).view(8, 1)
        # On this machine's CPUs the orders disagree on 7 of the 8 rows; another BLAS may agree.
        disagree = int((plain != other_order).sum())
        with argmax_exact_head(model):
            assert torch.equal(model.lm_head(hidden).argmax(-1), plain), f"{disagree} rows differ by order"


def test_rows_far_from_a_tie_take_the_fast_order_and_close_ones_the_plain_one(monkeypatch):
    head = torch.nn.Linear(64, 512, bias=True)
    model = _TinyLM(head)
    plain_calls: list[int] = []
    real_linear = torch.nn.functional.linear
    monkeypatch.setattr(
        torch.nn.functional, "linear", lambda x, w, b=None: plain_calls.append(len(x)) or real_linear(x, w, b)
    )
    with torch.no_grad():
        clear = torch.zeros(4, 64)
        clear[:, 0] = 50.0  # token logits dominated by one weight column: no near-tie
        tied = torch.zeros(2, 64)  # every logit equals its bias: ties only the plain order can settle
        with torch.no_grad():
            head.bias.zero_()
        with argmax_exact_head(model):
            fast = model.lm_head(clear)
            assert plain_calls == []
            model.lm_head(tied)
            assert plain_calls == [2], "tied rows are computed again the plain way"
    assert torch.equal(fast.argmax(-1), real_linear(clear, head.weight, head.bias).argmax(-1))


def test_the_head_is_restored_and_other_heads_are_left_alone():
    head = torch.nn.Linear(16, 32)
    model = _TinyLM(head)
    with argmax_exact_head(model):
        assert "forward" in vars(head)
    assert "forward" not in vars(head), "the class's forward again after the block"
    half = torch.nn.Linear(16, 32).to(torch.bfloat16)
    with argmax_exact_head(_TinyLM(half)):
        assert "forward" not in vars(half), "only fp32 heads: other dtypes round differently anyway"
    tied = _TinyLM(torch.nn.Identity())
    with argmax_exact_head(tied):
        assert "forward" not in vars(tied.lm_head)
