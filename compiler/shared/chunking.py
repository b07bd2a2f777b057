"""How retrieval cuts documents into chunks and puts them in front of a question: the index step
and the prompts (``ftc.runtime.steps.retrieval``) do it, and the planner prices the same prompts
(the retrieved context's tokens), so both read it here.

Chunk sizes are counted in words, at 0.75 words per token (the usual English ratio): the
embedder truncates at 256 word-pieces, so a chunk of ``chunk_tokens`` tokens fits it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

CHUNK_TOKENS = 256
CHUNK_OVERLAP = 32  # tokens two neighbouring chunks share
TOP_K = 3  # chunks put in front of each question
WORDS_PER_TOKEN = 0.75


def window_words(chunk_tokens: int, overlap_tokens: int) -> tuple[int, int]:
    """A chunk's words and the words two neighbours share, for sizes given in tokens."""
    size = max(8, int(int(chunk_tokens) * WORDS_PER_TOKEN))
    return size, min(size - 1, int(int(overlap_tokens) * WORDS_PER_TOKEN))


def chunk_words(text: str, size: int, overlap: int) -> list[str]:
    """Windows of ``size`` words that slide by ``size - overlap``; a text shorter than a window is
    one chunk of itself (whitespace normalised)."""
    return _windows(text.split(), size, overlap)


def _windows(words: list[str], size: int, overlap: int) -> list[str]:
    if not words:
        return []
    step = max(1, size - overlap)
    return [" ".join(words[i : i + size]) for i in range(0, max(1, len(words) - overlap), step)]


def longest_chunks(text: str, size: int, overlap: int, k: int) -> list[str]:
    """The ``k`` longest (in characters) of the chunks ``chunk_words`` cuts from ``text``, reading
    only the words its first ``k`` full windows need when the text is longer: every window but the
    last has ``size`` words, so the first ones stand for the rest."""
    need = size + (max(k, 1) - 1) * max(1, size - overlap)
    chunks = _windows(text.split(None, need)[:need], size, overlap)
    return sorted(chunks, key=len, reverse=True)[:k]


def passage(index: int, path: str, text: str) -> str:
    """One retrieved chunk as the prompt shows it: its rank and its file's name."""
    return f"[{index}] ({PurePosixPath(path).name}) {text}"


def context_block(chunks: Iterable[tuple[str, str]]) -> str:
    """The retrieved ``(path, text)`` chunks, best first, as one block."""
    return "\n\n".join(passage(i, path, text) for i, (path, text) in enumerate(chunks, 1))


def with_context(block: str, question: str) -> str:
    """The user turn a retrieving prompt sends: the context block, then the question."""
    return f"Context:\n{block}\n\nQuestion:\n{question}"
