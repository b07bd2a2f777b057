"""`ftc data check`: the load → clean → dedup (→ contamination) pipeline on one file, no recipe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .clean import clean
from .contamination import contamination
from .dedup import dedup
from .load import read_source
from .records import Record, record_text
from .tokens import default_token_counter, token_stats


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


def _cleaned(records: list[Record], fmt: str) -> tuple[list[Record], list[dict]]:
    """Clean every row; a row cleaning empties (only control characters or spaces) becomes a bad row."""
    kept, _ = clean(records, {})
    survivors = {(r.file, r.line) for r in kept}
    lost = [{"line": r.line, "reason": "empty after cleaning (only whitespace or control characters)"}
            for r in records if (r.file, r.line) not in survivors]
    return kept, lost


SAMPLE_ROWS = 20_000  # rows tokenized for the percentiles when a file has more
LONGEST_ROWS = 1000  # plus the rows longest in characters, for the max


def token_lengths(records: list[Record]) -> tuple[list[int], str]:
    """Token lengths of the rows, or of a deterministic sample when there are many: a real
    tokenizer costs ~0.3 ms a row here, half the 60 s budget at 100k rows. Every k-th row gives
    p50/p90/p99; the longest rows by characters are added so the max is kept."""
    counter, method = default_token_counter()
    texts = [record_text(r) for r in records]
    if method == "chars/4" or len(texts) <= SAMPLE_ROWS:
        return (counter(texts) if texts else []), method
    step = len(texts) / SAMPLE_ROWS
    picked = {int(i * step) for i in range(SAMPLE_ROWS)}
    longest = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)[:LONGEST_ROWS]
    sample = [texts[i] for i in sorted(picked)]
    extra = counter([texts[i] for i in longest if i not in picked])
    lengths = counter(sample)
    top = max(extra, default=0)
    if top > max(lengths):
        lengths[lengths.index(max(lengths))] = top  # the max joins without shifting the percentiles
    return lengths, f"{method}, {SAMPLE_ROWS} of {len(texts)} rows sampled + the {LONGEST_ROWS} longest"


def check_file(path: str, fmt: str, against: str | None = None, columns: Mapping[str, str] | None = None,
               glob: str | None = None) -> CheckResult:
    src = read_source("-", path, fmt, columns, glob, label=path)
    records, emptied = _cleaned(src.records, fmt)
    bad = sorted([{"line": b["line"], "reason": b["reason"]} for b in src.bad_rows] + emptied, key=lambda b: b["line"])
    unique, dstats = dedup(records, {})
    lengths, method = token_lengths(records)
    leaks: list[dict] = []
    against_bad: list[dict] = []
    if against:
        ev = read_source("eval", against, fmt, columns, glob, label=against, purpose="eval")
        ev_records, ev_emptied = _cleaned(ev.records, fmt)
        against_bad = [{"line": b["line"], "reason": b["reason"]} for b in ev.bad_rows] + ev_emptied
        leaks = [{"line": x["line"], "train_line": x["train_line"]} for x in contamination(unique, ev_records)]
    summary = {
        "rows": src.rows,
        "valid_rows": len(records),
        "bad_rows": bad,
        "exact_duplicates": dstats["exact_duplicates"],
        "near_duplicates": dstats["near_duplicates"],
        "unique_rows": len(unique),
        "leaks": leaks,
        "tokens": token_stats(lengths),
    }
    return CheckResult(summary, method, against_bad, dstats["dropped"])
