"""Contamination: an eval row that shares a word 13-gram (lower-cased, punctuation dropped) with
a train row is a leak, as in GPT-3 (appendix C) and lm-eval-harness decontamination.

Two practical rules, both documented in docs/data.md:
- a row shorter than n words leaks when its whole word sequence equals a train row's;
- an n-gram found in more than ``max_rows`` train rows is template boilerplate (a signature, a
  fixed reply opening), not a leak, and is ignored (NeMo Curator's max_matches=10 does the same).
"""

from __future__ import annotations

from collections import defaultdict

from .minhash import words
from .records import Record, match_text

MAX_ROWS = 10


def grams(text: str, n: int) -> set[str]:
    """Word n-grams; a shorter text gives one gram, marked so it only equals a whole short row."""
    w = words(text)
    if len(w) < n:
        return {"\x00" + " ".join(w)} if w else set()
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def _short_key(text: str) -> str:
    return "\x00" + " ".join(words(text))


def contamination(train: list[Record], evals: list[Record], n: int = 13, max_rows: int = MAX_ROWS) -> list[dict]:
    """Eval rows sharing an n-gram with a train row, with the first such train row. The eval side
    is indexed (it is small) and train rows stream past it, as lm-eval-harness does."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for e, record in enumerate(evals):
        for g in grams(match_text(record), n):
            wanted[g].append(e)
    hits: dict[str, list[int]] = defaultdict(list)  # gram -> train rows holding it (up to max_rows + 1)
    for t, record in enumerate(train):
        text = match_text(record)
        found = set(grams(text, n)) | {_short_key(text)}
        for g in found & wanted.keys():
            if len(hits[g]) <= max_rows:
                hits[g].append(t)
    leaks: dict[int, tuple[int, str]] = {}
    for g, rows in hits.items():
        if len(rows) > max_rows:
            continue
        for e in wanted[g]:
            if e not in leaks or rows[0] < leaks[e][0]:
                leaks[e] = (rows[0], g)
    return [{"file": evals[e].file, "line": evals[e].line, "train_file": train[t].file,
             "train_line": train[t].line, "ngram": g.lstrip("\x00")} for e, (t, g) in sorted(leaks.items())]


def shared_gram_pairs(records: list[Record], n: int = 13, max_rows: int = MAX_ROWS) -> list[tuple[int, int]]:
    """(i, j) pairs of rows sharing a non-boilerplate n-gram: such rows must sit on one side."""
    holders: dict[int, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        for g in grams(match_text(record), n):
            rows = holders[hash(g)]  # in-process hash: only equality matters here
            if len(rows) <= max_rows:
                rows.append(i)
    pairs = []
    for rows in holders.values():
        if 1 < len(rows) <= max_rows:
            pairs += [(r, rows[0]) for r in rows[1:]]
    return pairs
