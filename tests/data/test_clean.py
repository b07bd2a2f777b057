"""Clean step: normalisation, empties, the token budget, PII redaction; and the record JSONL files."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ftc.runtime.data import Record, clean, read_records, record_text, write_records
from ftc.runtime.data.clean import _normalize, normalize_text
from ftc.runtime.data.pii import luhn_ok


def chat(user: str, reply: str, source: str = "s", line: int = 1) -> Record:
    return Record(
        source,
        "f.jsonl",
        line,
        "chat",
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": user},
                {"role": "assistant", "content": reply},
            ]
        },
    )


def test_normalize_text():
    assert normalize_text("Cafe\u0301\r\nline\u00a0two  \r\n\n\n\nend\x07\u200b ") == "Caf\u00e9\nline two\n\nend"
    assert normalize_text("    indented code\n\tkept") == "indented code\n\tkept"  # leading space of the text only
    assert normalize_text("a\n    b") == "a\n    b"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n\r\x07\x7f\u00a0\u200be\u0301\ufeff")), max_size=12))
def test_fast_path_agrees_with_the_full_normalisation(text):
    assert normalize_text(text) == _normalize(text)


def test_clean_drops_empties_and_counts():
    rows = [chat("hello", "world"), chat("hi", "\u200b\x00 "), Record("s", "f", 3, "text", {"text": "x\x01"})]
    out, stats = clean(rows, {})
    assert [r.line for r in out] == [1, 3] and out[1].fields == {"text": "x"}
    assert stats["in"] == 3 and stats["out"] == 2 and stats["empty_dropped"] == 1 and stats["changed"] == 1
    assert out[0] is rows[0]  # unchanged rows are passed through as they are


def test_token_budget_drop_and_truncate():
    long = chat("question", "word " * 200, source="a")
    other = chat("question", "word " * 200, source="b")
    cfg = {"max_tokens": {"a": 50, "b": 50}, "overlong": {"a": "drop", "b": "truncate"}}
    out, stats = clean([long, other], cfg, count_tokens=lambda t: len(t.split()))
    assert stats["overlong_dropped"] == 1 and stats["overlong_truncated"] == 1
    assert [r.source for r in out] == ["b"]
    assert len(record_text(out[0]).split()) == 50  # cut to the budget, not below it
    assert out[0].fields["messages"][1]["content"] == "question"  # only the answer is cut


def test_pii_redaction_counted_by_kind():
    text = (
        "Mail jane.doe@example.com or +44 20 7946 0958; card 4111 1111 1111 1111 (not 4111 1111 1111 1112); "
        "server 10.0.0.12; order 123456789 on 2024-02-14"
    )
    out, stats = clean([Record("p", "f", 1, "text", {"text": text})], {"redact_pii": {"p": True}})
    assert out[0].fields["text"] == (
        "Mail [EMAIL] or [PHONE]; card [CARD] (not 4111 1111 1111 1112); server [IP]; order 123456789 on 2024-02-14"
    )
    assert stats["redacted"] == {"email": 1, "card": 1, "ip": 1, "phone": 1}
    untouched, stats = clean([Record("q", "f", 1, "text", {"text": text})], {"redact_pii": {"p": True}})
    assert untouched[0].fields["text"] == text and sum(stats["redacted"].values()) == 0
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")


def test_records_round_trip_atomically(tmp_path):
    rows = [chat("h\u00e9llo", "w"), Record("d", "docs/a.md", 1, "documents", {"text": "t", "path": "a.md"}, "eval")]
    path = tmp_path / "step" / "records.jsonl"
    assert write_records(path, rows) == 2
    assert read_records(path) == rows
    assert [p.name for p in path.parent.iterdir()] == ["records.jsonl"]  # no temp file left behind
