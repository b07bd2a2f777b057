"""`ftc data check`: the load → clean → dedup (→ contamination) pipeline on one file, no recipe.

One streaming pass: each row is read, validated and cleaned, and what the later stages
need is kept in compact arrays (its line, its text length, a 16-byte digest and a MinHash
signature in ``DedupIndex``); no ``Record`` is kept in memory. What a second pass needs goes to a
temp file on disk: each row's text when the tokenizer samples rows (``TextSpool``), whole records
only for ``--against``. The pass itself is ``scan.py``'s (two processes on a large JSON Lines file).
The results are those of ``read_source`` → ``clean`` → ``dedup`` on lists, row for row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from .clean import Cleaner
from .contamination import contamination
from .dedup import EXACT, KEPT, KINDS, MAX_LISTED, NEAR, DedupIndex
from .hub import HubSource
from .load import read_source
from .records import Record, RecordSpool, TextSpool
from .scan import EMPTIED, Scan, scan_file
from .tokens import default_token_counter, token_stats

SAMPLE_ROWS = 20_000  # rows tokenized for the percentiles when a file has more
LONGEST_ROWS = 1000  # plus the rows longest in characters, for the max
TOKEN_BATCH = 4096  # texts handed to the tokenizer at once


@dataclass
class CheckResult:
    summary: dict  # exactly the keys the issue fixes (other tools read them)
    token_method: str
    against_bad_rows: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.summary["bad_rows"] or self.summary["leaks"] or self.against_bad_rows else 0

    def to_json(self) -> dict:
        out = dict(self.summary)
        out["token_method"] = self.token_method
        if self.against_bad_rows:
            out["against_bad_rows"] = self.against_bad_rows
        return out


def _duplicates(scan: Scan, dup_of: np.ndarray, kind: np.ndarray) -> list[dict]:
    lines = np.frombuffer(scan.lines, dtype=np.int64)
    return [
        {
            "file": scan.label,
            "line": int(lines[i]),
            "kept_file": scan.label,
            "kept_line": int(lines[dup_of[i]]),
            "kind": KINDS[int(kind[i])],
        }
        for i in np.flatnonzero(kind)[:MAX_LISTED].tolist()
    ]


def _count_all(counter, texts: Iterator[str]) -> list[int]:  # noqa: ANN001 - the batch token counter
    out: list[int] = []
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= TOKEN_BATCH:
            out += counter(batch)
            batch = []
    return out + (counter(batch) if batch else [])


def token_lengths(scan: Scan, counter, method: str) -> tuple[np.ndarray | list[int], str]:  # noqa: ANN001
    """Token lengths of the cleaned rows, or of a deterministic sample when there are many: a real
    tokenizer costs ~0.3 ms a row here, half the 60 s budget at 100k rows. Every k-th row gives
    p50/p90/p99; the longest rows by characters are added so the max is kept. chars/4 needs only
    the lengths already counted."""
    chars = np.frombuffer(scan.chars, dtype=np.int64)
    if method == "chars/4":
        return (chars + 3) // 4, method
    if scan.valid <= SAMPLE_ROWS:
        return _count_all(counter, scan.texts.read(range(scan.valid))), method
    step = scan.valid / SAMPLE_ROWS
    picked = {int(i * step) for i in range(SAMPLE_ROWS)}
    longest = np.argsort(-chars, kind="stable")[:LONGEST_ROWS].tolist()  # ties: first row first
    extras = {i for i in longest if i not in picked}
    wanted = sorted(picked | extras)
    texts = dict(zip(wanted, scan.texts.read(wanted), strict=True))  # one forward pass over the spool
    lengths = _count_all(counter, (texts[i] for i in sorted(picked)))
    extra = _count_all(counter, (texts[i] for i in sorted(extras)))
    top = max(extra, default=0)
    if top > max(lengths):
        lengths[lengths.index(max(lengths))] = top  # the max joins without shifting the percentiles
    return lengths, f"{method}, {SAMPLE_ROWS} of {scan.valid} rows sampled + the {LONGEST_ROWS} longest"


def _cleaned(records: list[Record]) -> tuple[list[Record], list[dict]]:
    """The eval file (small; it is the indexed side of the leak check): clean every row, and a
    row cleaning empties becomes a bad row."""
    kept, lost = [], []
    cleaner = Cleaner({})
    for record in records:
        out = cleaner(record)
        if out is None:
            lost.append({"line": record.line, "reason": EMPTIED})
        else:
            kept.append(out)
    return kept, lost


def _leaks(against: str, fmt: str, columns, glob, unique: Iterator[Record]) -> tuple[list[dict], list[dict]]:  # noqa: ANN001
    ev = read_source("eval", against, fmt, columns, glob, label=against, purpose="eval")
    ev_records, ev_emptied = _cleaned(ev.records)
    against_bad = [{"line": b["line"], "reason": b["reason"]} for b in ev.bad_rows] + ev_emptied
    leaks = [{"line": x["line"], "train_line": x["train_line"]} for x in contamination(unique, ev_records)]
    return leaks, against_bad


def check_file(
    path: str,
    fmt: str,
    against: str | None = None,
    columns: Mapping[str, str] | None = None,
    glob: str | None = None,
    hub: HubSource | None = None,
) -> CheckResult:
    """``hub``: PATH is ``hf://owner/name``, read from the Hugging Face cache (runtime.data.hub)."""
    counter, method = default_token_counter()
    index = DedupIndex({}) if fmt != "documents" else None  # documents are never deduped
    with (
        RecordSpool() if against is not None else nullcontext() as spool,
        TextSpool() if method != "chars/4" else nullcontext() as texts,
    ):
        scan = scan_file(path, fmt, columns, glob, index, spool, texts, hub)
        dup_of, kind = (
            index.duplicates() if index is not None else (np.full(scan.valid, -1), np.zeros(scan.valid, np.int8))
        )
        lengths, method = token_lengths(scan, counter, method)
        leaks: list[dict] = []
        against_bad: list[dict] = []
        if against:
            unique = (r for i, r in enumerate(spool) if kind[i] == KEPT)
            leaks, against_bad = _leaks(against, fmt, columns, glob, unique)
    summary = {
        "rows": scan.rows,
        "valid_rows": scan.valid,
        "bad_rows": scan.bad_rows(),
        "exact_duplicates": int(np.count_nonzero(kind == EXACT)),
        "near_duplicates": int(np.count_nonzero(kind == NEAR)),
        "unique_rows": int(np.count_nonzero(kind == KEPT)),
        "leaks": leaks,
        "tokens": token_stats(lengths),
    }
    return CheckResult(summary, method, against_bad, _duplicates(scan, dup_of, kind))
