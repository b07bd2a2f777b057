"""Readers, validation and the load step: every format and reader, every bad-row reason, BOM /
CRLF / blank lines, column maps, and the file-level errors (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftc.runtime.data import DataError, load_sources, read_source
from ftc.runtime.data.readers import MAX_ROW_BYTES

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"

CHAT = {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]}


def _reasons(result) -> dict[int, str]:
    return {b["line"]: b["reason"] for b in result.bad_rows}


def test_chat_fixture_reports_each_bad_row_with_its_line():
    result = read_source("t", FIX / "chat_mixed.jsonl", "chat")
    assert [r.line for r in result.records] == [1, 3, 12]  # BOM, CRLF and blank lines 2 and 11 are fine
    assert result.rows == 10
    reasons = _reasons(result)
    assert reasons[4].startswith("not valid JSON")
    assert reasons[5] == "role 'robot' is not one of system, user, assistant (message 2)"
    assert reasons[6] == "content is empty (message 2)"
    assert reasons[7].startswith("the last message is from the user, not the assistant")
    assert reasons[8].startswith("missing field 'messages'") and "format = instruction" in reasons[8]
    assert reasons[9] == "row must be a JSON object, not a list"
    assert reasons[10] == "content must be a string, not a number (message 2)"


def test_on_bad_rows_fail_lists_rows_and_skip_counts_them():
    src = {"name": "t", "path": "chat_mixed.jsonl", "format": "chat"}
    with pytest.raises(DataError) as err:
        load_sources({"sources": [src]}, FIX)
    assert "chat_mixed.jsonl:5: role 'robot' is not one of system, user, assistant" in err.value.message
    assert err.value.exit_code == 1
    result = load_sources({"sources": [{**src, "on_bad_rows": "skip"}]}, FIX)
    assert len(result.records) == 3 and len(result.bad_rows) == 7
    assert result.counts == {"t": {"rows": 10, "valid": 3, "bad": 7}}


def test_eval_source_rows_are_marked(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(CHAT) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps(CHAT) + "\n")
    cfg = {
        "sources": [
            {"name": "a", "path": "a.jsonl", "format": "chat"},
            {"name": "b", "path": "b.jsonl", "format": "chat"},
        ],
        "eval_source": "b",
    }
    result = load_sources(cfg, tmp_path)
    assert [(r.source, r.purpose) for r in result.records] == [("a", "train"), ("b", "eval")]
    assert result.records[0].file == "a.jsonl"


def test_invalid_utf8_is_located(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(json.dumps(CHAT).encode() + b"\n" + b'{"messages": "\xff\xfe"}\n')
    assert _reasons(read_source("t", p, "chat")) == {
        2: f"invalid UTF-8 at byte 15 of the line (file offset {len(json.dumps(CHAT)) + 15})"
    }
    c = tmp_path / "x.csv"
    c.write_bytes(b"text\nfine\nbad \xc3\x28 byte\n")
    (tmp_path / "cells.csv").write_text('text\nok\n"a","b"\n')
    assert _reasons(read_source("t", tmp_path / "cells.csv", "text")) == {3: "has 2 cells, the header has 1"}
    with pytest.raises(DataError, match=r"x.csv:3: invalid UTF-8 at byte 5 of the line"):
        read_source("t", c, "text")


@pytest.mark.parametrize(
    "setup, pattern",
    [
        (lambda p: None, "no such file or folder"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_text(""), "the file is empty"),
        (lambda p: p.write_text("\n  \n"), "the file is empty"),
        (lambda p: p.write_text(json.dumps([CHAT, CHAT], indent=2)), "one JSON document, not JSON Lines"),
        (lambda p: p.write_text(json.dumps([CHAT, CHAT])), "one JSON document, not JSON Lines"),
        (lambda p: p.write_text("\n\n" + json.dumps([CHAT], indent=1)), "d.jsonl:3: this file holds one JSON document"),
    ],
)
def test_file_level_errors_are_clear(tmp_path, setup, pattern):
    p = tmp_path / "d.jsonl"
    setup(p)
    with pytest.raises(DataError, match=pattern):
        read_source("t", p, "chat")


def test_oversized_single_line_is_refused_without_reading_it_whole(tmp_path):
    p = tmp_path / "huge.jsonl"
    with open(p, "wb") as f:
        f.write(b'[{"text": "' + b"a" * (MAX_ROW_BYTES + 1024) + b'"}]')
    with pytest.raises(DataError, match=r"huge.jsonl:1: line 1 is 16\.8 MB, over the 16 MiB limit.*JSON array"):
        read_source("t", p, "text")


def test_json_array_keeps_each_elements_line(tmp_path):
    p = tmp_path / "rows.json"
    p.write_text('[\n  {"text": "one"},\n  {"text": ""},\n\n  {"text": "three"}\n]\n')
    result = read_source("t", p, "text")
    assert [r.line for r in result.records] == [2, 5]
    assert _reasons(result) == {3: "text is empty"}
    (tmp_path / "obj.json").write_text('{"text": "x"}\n{"text": ""}\n')  # JSON Lines named .json (datasets' to_json)
    lines = read_source("t", tmp_path / "obj.json", "text")
    assert [r.line for r in lines.records] == [1] and _reasons(lines) == {2: "text is empty"}
    (tmp_path / "wrap.json").write_text('{"rows": [{"text": "x"}]}')
    with pytest.raises(DataError, match="expected a JSON array of rows; this is one object whose 'rows' holds a list"):
        read_source("t", tmp_path / "wrap.json", "text")
    (tmp_path / "broken.json").write_text('[\n {"text": "x"},\n {"text": }\n]')
    with pytest.raises(DataError, match=r"broken.json:3:\d+: not valid JSON"):
        read_source("t", tmp_path / "broken.json", "text")


def test_csv_physical_lines_column_map_and_json_cells(tmp_path):
    p = tmp_path / "rows.csv"
    conv = json.dumps([{"from": "user", "value": "hi"}, {"from": "assistant", "value": "hello"}])
    p.write_text(
        'id,conv\r\n1,"'
        + conv.replace('"', '""')
        + '"\r\n2,"[{""from"": ""user"",\r\n ""value"": ""x""}]"\r\n\r\n3,"'
        + conv.replace('"', '""')
        + '"\r\n',
        newline="",
    )
    result = read_source("t", p, "chat", {"messages": "conv", "role": "from", "content": "value"})
    assert [r.line for r in result.records] == [2, 6]
    assert result.records[0].fields == {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    assert _reasons(result) == {3: "the last message is from the user, not the assistant (message 1)"}


def test_column_map_partial_and_unknown(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"question": "What is 2+2?", "input": "", "answer": "4"}) + "\n")
    result = read_source("t", p, "instruction", {"instruction": "question", "output": "answer"})
    assert result.records[0].fields == {
        "instruction": "What is 2+2?",
        "input": "",
        "output": "4",
    }  # input kept by default
    missing = read_source("t", p, "instruction", {"instruction": "prompt_text", "output": "answer"})
    assert _reasons(missing) == {1: "missing column 'prompt_text' (mapped to instruction)"}
    with pytest.raises(DataError, match="'questoin' is not a field of the instruction format"):
        read_source("t", p, "instruction", {"questoin": "question"})


def test_every_format_validates(tmp_path):
    rows = {
        "instruction": ({"instruction": "Add", "output": "2"}, {"instruction": "Add"}, "missing field 'output'"),
        "completion": (
            {"prompt": "The sky is", "completion": " blue"},
            {"prompt": "x", "completion": ""},
            "completion is empty",
        ),
        "preference": (
            {"prompt": "Say hi", "chosen": [{"role": "assistant", "content": "Hi!"}], "rejected": "Go away."},
            {"prompt": "p", "chosen": "same", "rejected": "same"},
            "chosen and rejected are the same",
        ),
        "text": ({"text": "plain text"}, {"text": 5}, "text must be a string, not a number"),
    }
    for fmt, (good, bad, reason) in rows.items():
        p = tmp_path / f"{fmt}.jsonl"
        p.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        result = read_source("t", p, fmt)
        assert len(result.records) == 1 and result.records[0].format == fmt, fmt
        assert _reasons(result) == {2: reason}, fmt


def test_parquet_and_datasets_folder(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"prompt": ["a", "b", ""], "completion": ["x", "y", "z"]})
    pq.write_table(table, tmp_path / "rows.parquet")
    result = read_source("t", tmp_path / "rows.parquet", "completion")
    assert [r.line for r in result.records] == [1, 2] and _reasons(result) == {3: "prompt is empty"}

    from datasets import Dataset, DatasetDict

    Dataset.from_dict({"text": ["one", "two"]}).save_to_disk(str(tmp_path / "ds"))
    assert [r.fields["text"] for r in read_source("t", tmp_path / "ds", "text").records] == ["one", "two"]
    DatasetDict({"train": Dataset.from_dict({"text": ["t"]}), "test": Dataset.from_dict({"text": ["e"]})}).save_to_disk(
        str(tmp_path / "dd")
    )
    assert [r.fields["text"] for r in read_source("t", tmp_path / "dd", "text").records] == ["t"]


def test_documents_by_glob(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("# Refunds\n\nWithin 30 days.\n")
    (docs / "sub" / "b.txt").write_text("Shipping takes 3 days.")
    (docs / "c.bin").write_bytes(b"\x00\x01")
    (docs / "empty.md").write_text("  \n")
    (docs / ".hidden.md").write_text("secret")
    result = read_source("kb", docs, "documents", label="docs")
    assert [(r.file, r.fields["path"]) for r in result.records] == [
        ("docs/a.md", "a.md"),
        ("docs/sub/b.txt", "sub/b.txt"),
    ]
    assert result.bad_rows == [{"source": "kb", "file": "docs/empty.md", "line": 1, "reason": "text is empty"}]
    only_md = read_source("kb", docs, "documents", glob="**/*.md", label="docs")
    assert [r.fields["path"] for r in only_md.records] == ["a.md"]
    with pytest.raises(DataError, match="no documents match"):
        read_source("kb", docs, "documents", glob="*.rst")


@pytest.fixture(autouse=True, scope="module")
def _fixtures_unchanged():
    """Reading never changes an input file."""
    before = {p: p.read_bytes() for p in FIX.iterdir()}
    yield
    assert {p: p.read_bytes() for p in FIX.iterdir()} == before


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"messages": ["hi"]}, "message 1 must be an object, not a string"),
        ({"messages": "hi"}, "messages must be an array, not a string"),
        ({"messages": []}, "messages is empty"),
        ({"messages": [{"role": "user"}]}, "missing 'content' (message 1)"),
        ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}, "no user message"),
    ],
)
def test_chat_reasons_read_like_sentences(row, reason):
    from ftc.runtime.data.validate import validate_row

    assert validate_row(row, "chat") == reason


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["user", "assistant", "system", ""]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["messages", "role", "content", "prompt", "chosen", "rejected", "text", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(row=json_values, fmt=st.sampled_from(["chat", "preference", "text", "instruction", "completion"]))
def test_any_json_row_gets_fields_or_a_reason(row, fmt):
    """Whatever a line holds, validation answers with fields or a sentence: never an exception."""
    from ftc.runtime.data import Record, clean, dedup
    from ftc.runtime.data.validate import validate_row

    result = validate_row(row, fmt)
    assert isinstance(result, (dict, str)) and result
    if isinstance(result, dict):
        kept, _ = clean([Record("s", "f", 1, fmt, result)], {"redact_pii": {"s": True}})
        dedup(kept, {})
