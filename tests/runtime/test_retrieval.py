"""The index step (real data steps, the embedded MiniLM, FAISS) and retrieval-augmented prompts."""

from __future__ import annotations

from pathlib import Path

from ftc.compiler.lang.recipe import DataSource, Span
from ftc.compiler.plan.facts import source_facts
from ftc.compiler.plan.state import retrieved_context_tokens
from ftc.runtime.executor import Context, Executor, RunOptions
from ftc.runtime.prompting import Example
from ftc.runtime.steps import STEPS
from ftc.runtime.steps.retrieval import augment
from ftc.shared.chunking import chunk_words

DOCS = {
    "refunds.md": "Refunds are paid back to the original card within five business days after approval.",
    "passwords.md": "To reset a password, open Settings, choose Security and press the reset link we email you.",
    "shipping.md": "Parcels ship from Rotterdam every weekday; international delivery takes seven to ten days.",
}


def _plan() -> dict:
    src = {
        "name": "handbook",
        "path": "docs",
        "format": "documents",
        "columns": {},
        "on_bad_rows": "fail",
        "glob": "**/*.md",
    }
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        (
            "clean",
            ["load"],
            {"redact_pii": {"handbook": False}, "max_tokens": {"handbook": None}, "overlong": {"handbook": "drop"}},
        ),
        ("dedup", ["clean"], {"near_threshold": 0.85, "num_perm": 64, "shingle_words": 5}),
        (
            "index",
            ["dedup"],
            {
                "embedding_model": "all-minilm-l6-v2",
                "chunk_tokens": 256,
                "chunk_overlap": 32,
                "top_k": 3,
                "sources": ["handbook"],
            },
        ),
    ]
    return {
        "recipe": {"name": "kb"},
        "inputs": [],
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
    }


def test_chunks_overlap_and_cover_every_word() -> None:
    chunks = chunk_words(" ".join(str(i) for i in range(10)), size=4, overlap=1)
    assert chunks == ["0 1 2 3", "3 4 5 6", "6 7 8 9"]
    assert chunk_words("", 4, 1) == []


def test_index_then_retrieve_puts_the_right_document_before_the_question(tmp_path: Path) -> None:
    for name, text in DOCS.items():
        (tmp_path / "docs").mkdir(exist_ok=True)
        (tmp_path / "docs" / name).write_text(text, encoding="utf-8")
    ex = Executor(_plan(), tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS)
    result = ex.run()
    assert result.outcomes["index"].summary == {"documents": 3, "chunks": 3}
    ctx = Context(
        ex.plan, {"id": "baseline", "kind": "baseline"}, tmp_path, tmp_path, result.outcomes, ex.options, ex.run_dir
    )
    question = Example(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "How do I reset my password?"}], "x"
    )
    (augmented,) = augment(ctx, [question])
    user = augmented.prompt[-1]["content"]
    assert user.startswith("Context:\n[1] (passwords.md) To reset a password")
    assert user.endswith("Question:\nHow do I reset my password?")
    assert augmented.prompt[0] == question.prompt[0] and augmented.completion == "x"
    # The planner prices exactly this context: the three chunks are every document here.
    src = DataSource(
        "handbook", str(tmp_path / "docs"), "docs", "documents", glob="**/*.md", span=Span("r.ftr", 1, 1, 1, 2)
    )
    planned = retrieved_context_tokens([source_facts(src, str(tmp_path))], None)
    context = user.removesuffix("How do I reset my password?")
    assert planned == (len(context) + 3) // 4  # chars/4: the planner's count without a tokenizer
