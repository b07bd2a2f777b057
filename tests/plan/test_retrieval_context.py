"""The retrieved context a plan prices is its documents' own: the TOP_K longest chunks the index
step will cut (``ftc.shared.chunking``), as the prompt shows them. It sets a RAFT tune's
max_length, the generation steps' time and memory, and a retrieving request's latency; a step
that times latency pays for its requests. (The runtime's prompt equals the planner's count:
tests/runtime/test_retrieval.py.)"""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ftc.compiler.plan.compile import compile_recipe
from ftc.shared import chunking

REPO = Path(__file__).resolve().parents[2]
RECIPE = """recipe "kb" {
  goal = GOAL
  base = model("smollm2-135m-instruct")
  documents "manual" {
    path = "docs"
    glob = "**/*.md"
  }
  data "rows" {
    path   = "data/rows.jsonl"
    format = chat
  }
  CONSTRAINTS
  eval {
    holdout = 20%
    expect rouge_l >= 0.3
  }
}
"""
BOTH = 'both(behavior = "Reply as JSON", knowledge = "Answer from the manual")'


def _compile(tmp_path: Path, docs: dict[str, str], goal: str = BOTH, constraints: str = "") -> dict:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "docs").mkdir(exist_ok=True)
    lines = (REPO / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    (tmp_path / "data" / "rows.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, text in docs.items():
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    text = RECIPE.replace("GOAL", goal).replace("CONSTRAINTS", constraints)
    (tmp_path / "r.ftr").write_text(text, encoding="utf-8")
    return compile_recipe(tmp_path / "r.ftr").plan


def _words(n: int, word: str = "policy") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def _block_tokens(chunks: list[tuple[str, str]]) -> int:
    """chars/4, the planner's count here (the tests see no tokenizer)."""
    return (len(chunking.with_context(chunking.context_block(chunks), "")) + 3) // 4


def test_short_documents_price_their_own_length_not_the_nominal_chunks(tmp_path: Path) -> None:
    docs = {f"d{i}.md": _words(20 + 10 * i) for i in range(5)}
    plan = _compile(tmp_path, docs)
    longest = [(f"d{i}.md", docs[f"d{i}.md"]) for i in (4, 3, 2)]
    context = math.ceil(_block_tokens(longest) * 1.1)
    hp = plan["hyperparameters"]["max_length"]
    assert f"retrieved context {context} (its longest chunks +10%)" in hp["reason"]
    assert context < chunking.TOP_K * chunking.CHUNK_TOKENS / 2
    assert hp["value"] <= 576  # the nominal 3 x 256 tokens would have asked for 960


def test_a_long_document_is_priced_at_full_windows(tmp_path: Path) -> None:
    text = _words(2000)
    plan = _compile(tmp_path, {"long.md": text, "short.md": "tiny"})
    size, overlap = chunking.window_words(chunking.CHUNK_TOKENS, chunking.CHUNK_OVERLAP)
    # its first windows stand for the rest: every full window has as many words
    full = [("long.md", c) for c in chunking.chunk_words(text, size, overlap)[: chunking.TOP_K]]
    assert all(len(c.split()) == size for _, c in full)
    assert (
        f"retrieved context {math.ceil(_block_tokens(full) * 1.1)} " in plan["hyperparameters"]["max_length"]["reason"]
    )


def test_documents_without_text_are_priced_at_the_nominal_chunks(tmp_path: Path) -> None:
    plan = _compile(tmp_path, {"empty.md": "   \n"})
    nominal = math.ceil(chunking.TOP_K * chunking.CHUNK_TOKENS * 1.1)
    assert f"retrieved context {nominal} " in plan["hyperparameters"]["max_length"]["reason"]


def test_longer_documents_cost_more_generation_time_and_memory(tmp_path: Path) -> None:
    goal = 'knowledge("Answer from the manual")'
    short = _compile(tmp_path / "a", {"d.md": _words(40)}, goal)
    long = _compile(tmp_path / "b", {f"d{i}.md": _words(180) for i in range(3)}, goal)
    s, lg = short["estimates"], long["estimates"]
    assert lg["seconds_breakdown"]["inference"] > s["seconds_breakdown"]["inference"]
    assert lg["generation_peak_bytes"] > s["generation_peak_bytes"]


def test_a_retrieving_step_that_times_latency_pays_for_its_requests(tmp_path: Path) -> None:
    goal = 'knowledge("Answer from the manual")'
    docs = {"d.md": _words(150)}
    plain = _compile(tmp_path / "a", docs, goal)
    timed = _compile(tmp_path / "b", docs, goal, "constraints {\n    latency = 5s\n  }")
    latency = timed["estimates"]["latency"]
    # the served request reads the retrieved chunks too
    assert latency["prompt_tokens"] > _block_tokens([("d.md", docs["d.md"])])
    extra = timed["estimates"]["seconds_breakdown"]["inference"] - plain["estimates"]["seconds_breakdown"]["inference"]
    # a warm-up and 8 timed requests, each about the plan's own latency estimate
    assert 9 * latency["ms"] / 1000 * 0.8 < extra < 9 * latency["ms"] / 1000 * 1.2


@given(
    words=st.integers(0, 400),
    size=st.integers(8, 60),
    overlap=st.integers(0, 20),
    k=st.integers(1, 4),
    widths=st.lists(st.integers(1, 9), min_size=1, max_size=7),
)
def test_longest_chunks_are_chunks_of_the_text(words: int, size: int, overlap: int, k: int, widths: list[int]) -> None:
    """They are the index step's own chunks: the k longest when the text is short, else full
    windows (the first ones, standing for the rest)."""
    overlap = min(overlap, size - 1)
    text = " ".join("w" * widths[i % len(widths)] for i in range(words))
    every = chunking.chunk_words(text, size, overlap)
    got = chunking.longest_chunks(text, size, overlap, k)
    assert all(c in every for c in got) and len(got) == min(k, len(every))
    if words <= size + (k - 1) * (size - overlap):
        assert [len(c) for c in got] == sorted((len(c) for c in every), reverse=True)[:k]
    else:
        assert all(len(c.split()) == size for c in got)
