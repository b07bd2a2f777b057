"""Zero, one and two rows through every data step (a single row left after cleaning made
dedup fail with a numpy broadcast error). Short rows (under one 5-word shingle) and rows with
no words at all are the edge cases of the MinHash code."""

from __future__ import annotations

import json

import pytest

from ftc.runtime.data import (
    DataError,
    Record,
    clean,
    contamination,
    dedup,
    load_sources,
    query_text,
    read_source,
    split,
)
from ftc.runtime.data.minhash import words
from ftc.runtime.data.pipeline import check_file

TEXTS = ["a b", "one two three four five six", "x", "!!! ???"]  # with the reply "ok": 3, 7, 2 and 1 words


def chat(user: str, line: int) -> Record:
    return Record(
        "s",
        "f.jsonl",
        line,
        "chat",
        {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": "ok"}]},
    )


def _sets() -> list[list[Record]]:
    """0 rows; 1 row of each shape; 2 rows: every pair of shapes, and a row with its own copy."""
    out: list[list[Record]] = [[]]
    out += [[chat(t, 1)] for t in TEXTS]
    out += [[chat(a, 1), chat(b, 2)] for a in TEXTS for b in TEXTS]
    return out


@pytest.mark.parametrize(
    "rows", _sets(), ids=lambda rows: f"{len(rows)}:" + "|".join(r.fields["messages"][0]["content"] for r in rows)
)
def test_clean_dedup_split_and_contamination_take_0_1_2_rows(rows):
    cleaned, stats = clean(rows, {})
    assert stats["in"] == stats["out"] == len(rows) == len(cleaned)
    kept, dstats = dedup(cleaned, {})
    same = len(rows) == 2 and rows[0].fields == rows[1].fields
    assert len(kept) == len(rows) - same and dstats["exact_duplicates"] == same and dstats["near_duplicates"] == 0
    result = split(kept, {"holdout": 0.5, "seed": 1, "accept_leaks": True})
    assert len(result.train) + len(result.holdout) == len(kept)
    assert result.stats["clusters"] == len(kept) and result.stats["largest_cluster"] == min(len(kept), 1)
    # every row with words leaks into itself (a short input equal to a train input); none without
    assert {x["line"] for x in contamination(kept, kept)} == {r.line for r in kept if words(query_text(r))}
    assert contamination([], kept) == [] and contamination(kept, []) == []


def test_a_row_and_its_copy_are_one_cluster_and_leak_if_split():
    a = chat("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike", 1)
    b = chat("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike", 2)
    result = split([a, b], {"holdout": 0.5, "seed": 1})
    assert result.stats["clusters"] == 1 and result.stats["largest_cluster"] == 2
    assert len(contamination([a], [b])) == 1


@pytest.mark.parametrize("count", [0, 1, 2])
def test_load_takes_0_1_2_rows(tmp_path, count):
    p = tmp_path / "rows.jsonl"
    p.write_text("".join(json.dumps(chat(TEXTS[i], i + 1).fields) + "\n" for i in range(count)))
    if count == 0:
        with pytest.raises(DataError, match="the file is empty"):
            read_source("t", p, "chat")
        return
    result = load_sources({"sources": [{"name": "t", "path": "rows.jsonl", "format": "chat"}]}, tmp_path)
    assert len(result.records) == count and result.counts == {"t": {"rows": count, "valid": count, "bad": 0}}


@pytest.mark.parametrize("texts", [["a b"], ["a b", "\u200b"], ["\u200b", "one two"], ["a b", "a b"], ["x", "y"]])
def test_data_check_on_a_file_left_with_one_or_two_rows(tmp_path, monkeypatch, texts):
    """The issue's case: one row left after cleaning (the other was only a zero-width space)."""
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))
    p = tmp_path / "rows.jsonl"
    p.write_text("".join(json.dumps(chat(t, 1).fields) + "\n" for t in texts))
    summary = check_file(str(p), "chat").summary
    emptied = sum(t == "\u200b" for t in texts)
    assert summary["rows"] == len(texts) and summary["valid_rows"] == len(texts) - emptied
    assert summary["unique_rows"] == len(set(texts)) - emptied
    assert [b["reason"] for b in summary["bad_rows"]] == [
        "empty after cleaning (only whitespace or control characters)"
    ] * emptied
