"""Contamination: an eval row whose input shares a word 13-gram (lower-cased, punctuation
dropped) with a train row is a leak, as in GPT-3 (appendix C) and lm-eval-harness
decontamination (whose tasks check the question, ``doc_to_decontamination_query``).

The eval side is the row's *input* (``query_text``: the user turns, instruction + input, prompt);
the train side is the whole row. Templated answers ("Our billing team will review the charges...")
are then not leaks, but an eval question seen anywhere in training is. Two more rules (docs/data.md):
- an input shorter than n words leaks when its whole word sequence equals a train row's input;
- an n-gram found in more than ``max_rows`` train rows is template boilerplate, not a leak, and
  is ignored (NeMo Curator's decontamination has the same cap, max_matches = 10).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .minhash import words
from .records import Record, match_text

MAX_ROWS = 10


def query_text(record: Record) -> str:
    """The input side of a row: what a model is asked."""
    f, fmt = record.fields, record.format
    if fmt == "chat":
        msgs = [m for m in f.get("messages", []) if m.get("role") != "system"]
        return "\n".join(m.get("content", "") for m in msgs[:-1])
    if fmt == "instruction":
        return "\n".join(p for p in (f.get("instruction", ""), f.get("input", "")) if p)
    if fmt in ("completion", "preference"):
        prompt = f.get("prompt", "")
        return (
            prompt
            if isinstance(prompt, str)
            else "\n".join(m.get("content", "") for m in prompt if m.get("role") != "system")
        )
    return match_text(record)


def grams(text: str, n: int) -> set[str]:
    w = words(text)
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def short_key(text: str, n: int) -> str | None:
    """A whole input shorter than n words, marked so it only equals another whole short input."""
    w = words(text)
    return "\x00" + " ".join(w) if 0 < len(w) < n else None


def query_grams(record: Record, n: int) -> set[str]:
    text = query_text(record)
    key = short_key(text, n)
    return {key} if key else grams(text, n)


def row_grams(record: Record, n: int) -> set[str]:
    """What a train row offers: every n-gram of the whole row, plus its short input if any."""
    found = grams(match_text(record), n)
    key = short_key(query_text(record), n)
    return found | {key} if key else found


def contamination(
    train: Iterable[Record],
    evals: list[Record],
    n: int = 13,
    max_rows: int = MAX_ROWS,
    ignore: set[str] | frozenset = frozenset(),
) -> list[dict]:
    """Eval rows leaking from train, each with the first train row it shares a gram with. The eval
    side is indexed (it is small) and train rows stream past it, as lm-eval-harness does: ``train``
    may be any iterable (``ftc data check`` reads it back from disk), only the rows that hit are kept."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for e, record in enumerate(evals):
        for g in query_grams(record, n) - ignore:
            wanted[g].append(e)
    hits: dict[str, list[int]] = defaultdict(list)
    where: dict[int, tuple[str, int]] = {}
    for t, record in enumerate(train):
        for g in row_grams(record, n) & wanted.keys():
            if len(hits[g]) <= max_rows:
                hits[g].append(t)
                where.setdefault(t, (record.file, record.line))
    leaks: dict[int, tuple[int, str]] = {}
    for g, rows in hits.items():
        if len(rows) > max_rows:
            continue
        for e in wanted[g]:
            if e not in leaks or rows[0] < leaks[e][0]:
                leaks[e] = (rows[0], g)
    return [
        {
            "file": evals[e].file,
            "line": evals[e].line,
            "train_file": where[t][0],
            "train_line": where[t][1],
            "ngram": g.lstrip("\x00"),
        }
        for e, (t, g) in sorted(leaks.items())
    ]


def shared_gram_pairs(
    records: list[Record], n: int = 13, max_rows: int = MAX_ROWS
) -> tuple[list[tuple[int, int]], set[str]]:
    """Pairs (i, j) where row i's input shares a non-boilerplate gram with row j: if i went to the
    holdout and j to train, i would leak, so the split keeps them together. Also returns the
    boilerplate grams (held by more than max_rows rows)."""
    holders: dict[str, list[int]] = defaultdict(list)
    for j, record in enumerate(records):
        for g in row_grams(record, n):
            rows = holders[g]
            if len(rows) <= max_rows:
                rows.append(j)
    boilerplate = {g for g, rows in holders.items() if len(rows) > max_rows}
    pairs = []
    for i, record in enumerate(records):
        for g in query_grams(record, n) - boilerplate:
            pairs += [(i, j) for j in holders.get(g, ()) if j != i]
    return pairs, boilerplate
