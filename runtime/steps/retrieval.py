"""The index step and retrieval: documents -> overlapping chunks -> sentence-transformers
embeddings -> a FAISS inner-product index on disk; at prompt time the top-k chunks for the
question are put in front of it (the chunking and the prompt's shape: ``ftc.shared.chunking``).

One prompt, everywhere: the same augmented user turn is used by the baseline (and its few-shot
examples), the training rows (``retrieval_context``) and the eval, so a tune learns to answer
over retrieved context (RAFT-style) exactly as it is evaluated.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace

from ftc.runtime.steps.spec import step
from ftc.shared import atomic, chunking
from ftc.shared.errors import FtcError

CHUNKS = "chunks.jsonl"
INDEX = "index.faiss"


def embedder(ctx, name: str | None):  # noqa: ANN001 - the executor's Context
    from ftc.runtime.models import resolve_model

    return _load_embedder(str(resolve_model(name or "all-minilm-l6-v2", allow_download=ctx.options.allow_download)))


@functools.lru_cache(maxsize=2)
def _load_embedder(path: str):  # noqa: ANN202
    """Loaded once per process: the baseline, train and eval steps of one run share it."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def embed(model, texts: list[str]):  # noqa: ANN001
    import numpy as np

    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype="float32")


@step("index", needs_outputs_of=("dedup",))
def index_step(ctx) -> dict:  # noqa: ANN001
    import faiss

    from ftc.runtime import data

    cfg = ctx.config
    names = set(cfg.get("sources") or [])
    docs = [
        r
        for r in data.read_records(ctx.need_dir("dedup") / "records.jsonl")
        if r.format == "documents" and (not names or r.source in names)
    ]
    size, overlap = chunking.window_words(
        cfg.get("chunk_tokens", chunking.CHUNK_TOKENS), cfg.get("chunk_overlap", chunking.CHUNK_OVERLAP)
    )
    chunks = [
        {"text": c, "path": r.fields.get("path", r.file), "source": r.source}
        for r in docs
        for c in chunking.chunk_words(r.fields["text"], size, overlap)
    ]
    if not chunks:
        raise FtcError(
            f"error: step '{ctx.step['id']}': the documents of {', '.join(sorted(names)) or 'the plan'} "
            "have no text to index"
        )
    vectors = embed(embedder(ctx, cfg.get("embedding_model")), [c["text"] for c in chunks])
    index = faiss.IndexFlatIP(vectors.shape[1])  # exact search over normalised vectors = cosine
    index.add(vectors)
    atomic.write_bytes(ctx.dir / INDEX, faiss.serialize_index(index).tobytes())
    atomic.write_jsonl(ctx.dir / CHUNKS, chunks)
    atomic.write_json(
        ctx.dir / "index.json",
        {
            "documents": len(docs),
            "chunks": len(chunks),
            "dim": int(vectors.shape[1]),
            "chunk_words": size,
            "overlap_words": overlap,
            "embedding_model": cfg.get("embedding_model"),
            "top_k": cfg.get("top_k", chunking.TOP_K),
        },
    )
    return {"documents": len(docs), "chunks": len(chunks)}


def augment(ctx, examples: list) -> list:  # noqa: ANN001
    """Put the top-k retrieved chunks in front of each example's last user turn."""
    import faiss

    if not examples:
        return []

    index_outcome = ctx.by_kind("index")
    if index_outcome is None or index_outcome.dir is None:
        raise FtcError(f"error: step '{ctx.step['id']}' uses retrieval, but the plan has no index step")
    folder = index_outcome.dir
    meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    chunks = atomic.read_jsonl(folder / CHUNKS)
    index = faiss.read_index(str(folder / INDEX))
    k = min(int(meta.get("top_k") or chunking.TOP_K), len(chunks))
    model = embedder(ctx, meta.get("embedding_model"))
    questions = [_last_user(e.prompt) for e in examples]
    _, ids = index.search(embed(model, questions), k)
    return [_with_context(e, [chunks[i] for i in row if i >= 0]) for e, row in zip(examples, ids)]


def _last_user(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def context_block(chunks: list[dict]) -> str:
    return chunking.context_block((str(c["path"]), c["text"]) for c in chunks)


def _with_context(example, chunks: list[dict]):  # noqa: ANN001 - a prompting.Example
    messages = [dict(m) for m in example.prompt]
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[last]["content"] = chunking.with_context(context_block(chunks), messages[last]["content"])
    return replace(example, prompt=messages)


NOTE = (
    "[retrieval]\nBefore each question, the top-k chunks retrieved from the indexed documents are inserted as\n"
    "Context:\n[1] (file) chunk ...\n\nQuestion:\n<the question>\n"
)
