"""Hostile data files and the one row counter: FIFOs and devices are refused
before anything opens them, odd encodings are one located message per file, NaN / Infinity /
1e999 / duplicate keys and deep nesting are located bad rows, and lint, plan and the load step
count the same rows because they share ``ftc.shared.files.count_rows``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from ftc.compiler.lang.lint_rules import count_rows as lint_count
from ftc.compiler.lang.recipe import DataSource, Span
from ftc.compiler.plan.facts import FactError, sha256_file, source_facts
from ftc.runtime.data import DataError, read_source
from ftc.shared import files

CHAT = {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]}
LINE = json.dumps(CHAT)
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def _src(path: Path, fmt: str = "chat") -> DataSource:
    return DataSource("s", str(path), path.name, fmt, span=Span(str(path.parent / "r.ftr"), 4, 3, 4, 9))


def _reasons(result) -> dict[int, str]:
    return {b["line"]: b["reason"] for b in result.bad_rows}


def _within(seconds: float, fn, fifo: Path | None = None):
    """Run fn in a thread; if it is still running after ``seconds`` (blocked opening a FIFO, as the
    old readers were), unblock it by opening the FIFO's write end, and fail."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer that leaves: the reader sees EOF
        pytest.fail(f"still reading after {seconds} s: the path was opened instead of refused")
    return box


# --- not a regular file --------------------------------------------------------------------------
@needs_fifo
@pytest.mark.parametrize("reader", ["load", "count", "lint", "facts", "digest"])
def test_a_fifo_is_refused_before_it_is_opened(tmp_path, reader):
    fifo = tmp_path / "rows.jsonl"
    os.mkfifo(fifo)
    calls = {
        "load": lambda: read_source("t", fifo, "chat"),
        "count": lambda: files.count_rows(fifo),
        "lint": lambda: lint_count(str(fifo), "chat"),
        "facts": lambda: source_facts(_src(fifo), str(tmp_path)),
        "digest": lambda: sha256_file(fifo),
    }
    box = _within(10, calls[reader], fifo)
    if reader == "lint":
        assert box == {"value": None}  # lint cannot count it; plan and run say why
        return
    err = box.get("error")
    message = err.diagnostic.message if isinstance(err, FactError) else getattr(err, "message", repr(err))
    assert isinstance(err, (DataError, FactError)) and "is a FIFO (named pipe), not a regular file" in message
    if isinstance(err, FactError):
        assert err.diagnostic.code == "FTR301" and err.diagnostic.span.line == 4


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "rows.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="is a character device, not a regular file") as err:
        read_source("t", link, "chat")
    assert err.value.exit_code == 2
    with pytest.raises(FactError, match="character device"):
        source_facts(_src(link), str(tmp_path))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("alpha")
    (docs / "z.md").symlink_to("/dev/zero")  # never listed: is_file() is false for a device
    assert [r.fields["path"] for r in read_source("kb", docs, "documents").records] == ["a.md"]


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.jsonl").write_text(LINE + "\n")
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "real.jsonl")
    assert read_source("t", tmp_path / "link.jsonl", "chat").rows == 1


def test_the_bounded_reader_stops_at_the_size_it_was_opened_with(tmp_path):
    p = tmp_path / "grows.jsonl"
    p.write_bytes(b"0123456789\n")
    with files.open_data_file(p) as handle:
        with open(p, "ab") as writer:  # another process appending while ftc reads
            writer.write(b"more\n" * 1000)
        assert handle.read() == b"0123456789\n"


# --- encodings: one message per file ---------------------------------------------------------------
@pytest.mark.parametrize("encoding, name", [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")])
@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_utf16_and_utf32_files_get_one_message(tmp_path, encoding, name, suffix):
    body = {".jsonl": (LINE + "\n") * 50, ".json": json.dumps([CHAT] * 50), ".csv": "text\n" + "hello\n" * 50}[suffix]
    p = tmp_path / f"rows{suffix}"
    data = body.encode(encoding)
    p.write_bytes(data if encoding != "utf-16-be" else b"\xfe\xff" + data)
    with pytest.raises(DataError) as err:
        read_source("t", p, "text" if suffix == ".csv" else "chat")
    message = err.value.message
    assert message == f"{p}:1: " + err.value.reason and f"this file is {name}" in message
    assert "convert it to UTF-8" in message and "codec" not in message and message.count("\n") == 0
    with pytest.raises(FactError, match=f"this file is {name}"):
        source_facts(_src(p), str(tmp_path))


def test_nul_bytes_are_one_located_message(tmp_path):
    no_bom = tmp_path / "no_bom.jsonl"
    no_bom.write_bytes((LINE + "\n").encode("utf-16-le") * 20)
    with pytest.raises(DataError, match=r"no_bom.jsonl:1: a NUL byte at byte 2 of the line: this is not UTF-8 text"):
        read_source("t", no_bom, "chat")
    stray = tmp_path / "stray.csv"
    stray.write_bytes(b"text\nfine\nbad\x00cell\n")
    with pytest.raises(DataError, match=r"stray.csv:3: a NUL byte at byte 4 of the line"):
        read_source("t", stray, "text")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_bytes("# notes\n".encode("utf-16"))
    assert _reasons(read_source("kb", docs, "documents")) == {
        1: "this file is UTF-16 (it starts with a UTF-16LE "
        "byte-order mark); ftc reads UTF-8: convert it to UTF-8 "
        "(e.g. `iconv -f UTF-16LE -t UTF-8`)"
    }


def test_invalid_utf8_in_jsonl_stays_a_row_problem(tmp_path):
    """A stray Latin-1 byte is one bad row (documented), not a file error; only the planner, which
    cannot skip rows, names the line and byte and stops."""
    p = tmp_path / "x.jsonl"
    p.write_bytes(LINE.encode() + b"\n" + b'{"text": "caf\xe9"}\n')
    assert list(_reasons(read_source("t", p, "chat"))) == [2]
    with pytest.raises(FactError, match=r"line 2, byte 14: not UTF-8 text \(byte 0xe9\)"):
        source_facts(_src(p), str(tmp_path))


# --- strict JSON -----------------------------------------------------------------------------------
BAD_VALUES = [
    ('{"text": NaN}', "NaN is not valid JSON (JSON has no NaN or Infinity; write null or a string)"),
    ('{"text": -Infinity}', "-Infinity is not valid JSON (JSON has no NaN or Infinity; write null or a string)"),
    ('{"text": "a", "n": 1e999}', "the number 1e999 is out of range (it would be infinity)"),
    ('{"text": "a", "text": "b"}', "duplicate key 'text' in one object (JSON readers disagree on which value wins)"),
    (
        '{"text": "a", "meta": {"k": 1, "k": 2}}',
        "duplicate key 'k' in one object (JSON readers disagree on which value wins)",
    ),
]


@pytest.mark.parametrize("text, reason", BAD_VALUES)
def test_values_json_does_not_define_are_bad_rows(tmp_path, text, reason):
    p = tmp_path / "rows.jsonl"
    p.write_text('{"text": "fine", "n": 1.5e300}\n' + text + "\n")
    result = read_source("t", p, "text")
    assert result.rows == 2 and len(result.records) == 1 and _reasons(result) == {2: reason}
    arr = tmp_path / "rows.json"
    arr.write_text('[\n{"text": "fine"},\n' + text + ',\n{"text": "after"}\n]')
    result = read_source("t", arr, "text")
    assert [r.line for r in result.records] == [2, 4] and _reasons(result) == {3: reason}


def test_a_json_cell_in_csv_is_parsed_strictly(tmp_path):
    p = tmp_path / "rows.csv"
    dup = '[{""role"": ""user"", ""role"": ""assistant"", ""content"": ""x""}]'
    p.write_text(f'messages\n"{dup}"\n')
    assert _reasons(read_source("t", p, "chat")) == {
        2: "duplicate key 'role' in one object (JSON readers disagree on which value wins)"
    }


@pytest.mark.parametrize("depth", [101, 5000, 100_000])
def test_deep_nesting_is_a_located_row_problem(tmp_path, depth):
    reason = f"JSON nested {depth} levels deep, over the limit of {files.MAX_DEPTH}"
    deep = "[" * depth + "]" * depth
    p = tmp_path / "rows.jsonl"
    p.write_text(LINE + "\n" + '{"messages": ' + deep + "}\n" + LINE + "\n")
    result = read_source("t", p, "chat")
    assert (result.rows, len(result.records), _reasons(result)) == (
        3,
        2,
        {2: f"JSON nested {depth + 1} levels deep, over the limit of {files.MAX_DEPTH}"},
    )
    arr = tmp_path / "rows.json"
    arr.write_text("[\n" + LINE + ",\n" + deep + ",\n" + LINE + "\n]")
    result = read_source("t", arr, "chat")
    assert [r.line for r in result.records] == [2, 4] and _reasons(result) == {3: reason}
    csv_file = tmp_path / "rows.csv"  # (the csv module caps a cell at 128 KiB: 5000 levels fit)
    csv_file.write_text("messages\n" + "[" * min(depth, 5000) + "]" * min(depth, 5000) + "\n")
    assert _reasons(read_source("t", csv_file, "chat")) == {2: reason.replace(str(depth), str(min(depth, 5000)))}
    facts = source_facts(_src(p), str(tmp_path))  # the planner counts the row and moves on
    assert facts.rows == 3


def test_a_too_deep_parquet_file_is_one_plain_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    value: object = "x"
    for _ in range(files.MAX_DEPTH):
        value = [value]
    pq.write_table(pa.Table.from_pylist([{"text": "fine", "meta": value}]), tmp_path / "d.parquet")
    with pytest.raises(DataError, match=r"d.parquet: not a readable Parquet file \(Parquet schema too deeply nested"):
        read_source("t", tmp_path / "d.parquet", "text")


def test_rows_that_were_not_json_text_get_the_same_depth_bound():
    from ftc.runtime.data.readers import checked_row

    value: object = "x"
    for _ in range(files.MAX_DEPTH):
        value = {"k": value}
    assert checked_row(7, {"text": "t", "meta": value}) == (
        7,
        None,
        "JSON nested 101 levels deep, over the limit of 100",
    )
    assert checked_row(8, {"text": "t"}).row == {"text": "t"}


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    p = tmp_path / "rows.jsonl"
    p.write_text(json.dumps({"text": "[" * 500 + "{" * 500}) + "\n")
    assert len(read_source("t", p, "text").records) == 1


# --- one row counter -----------------------------------------------------------------------------
def _data_files(tmp_path: Path) -> dict[str, tuple[Path, int]]:
    rows = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(7)]
    out = {}
    p = tmp_path / "crlf_bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(r).encode() for r in rows) + b"\r\n\r\n  \n{broken\n")
    out["jsonl"] = (p, 8)
    p = tmp_path / "rows.ndjson"
    p.write_text("\n".join(json.dumps(r) for r in rows[:3]))  # no final newline
    out["ndjson"] = (p, 3)
    p = tmp_path / "rows.json"
    p.write_text(json.dumps(rows, indent=2))
    out["json"] = (p, 7)
    p = tmp_path / "rows.csv"
    p.write_text('prompt,completion\n"multi\nline",x\nq,y\n,\n\n"a","b"\n')
    out["csv"] = (p, 3)
    p = tmp_path / "rows.tsv"
    p.write_text("prompt\tcompletion\np\tc\n\nq\td\n")
    out["tsv"] = (p, 2)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    out["parquet"] = (tmp_path / "rows.parquet", 7)
    return out


@pytest.mark.parametrize("kind", ["jsonl", "ndjson", "json", "csv", "tsv", "parquet"])
def test_lint_plan_and_the_load_step_count_the_same_rows(tmp_path, kind):
    path, expected = _data_files(tmp_path)[kind]
    assert files.count_rows(path) == expected
    assert read_source("t", path, "completion").rows == expected
    assert source_facts(_src(path, "completion"), str(tmp_path)).rows == expected
    assert lint_count(str(path), "completion") == expected


def test_plan_counts_a_datasetdict_by_its_train_split_as_the_load_step_reads_it(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {"train": Dataset.from_dict({"text": ["a", "b", "c"]}), "test": Dataset.from_dict({"text": ["held", "out"]})}
    ).save_to_disk(str(tmp_path / "dd"))
    assert read_source("t", tmp_path / "dd", "text").rows == 3
    assert source_facts(_src(tmp_path / "dd", "text"), str(tmp_path)).rows == 3


def test_the_counter_refuses_what_the_load_step_refuses(tmp_path):
    (tmp_path / "doc.jsonl").write_text(json.dumps([CHAT, CHAT], indent=2))
    with pytest.raises(DataError, match="one JSON document, not JSON Lines"):
        files.count_rows(tmp_path / "doc.jsonl")
    assert lint_count(str(tmp_path / "doc.jsonl"), "chat") is None
    (tmp_path / "notes.txt").write_text("para one\n\npara two\n")
    assert files.count_rows(tmp_path / "notes.txt") is None  # not a row file: the load step refuses it too
    with pytest.raises(FactError, match="unknown file type '.txt'"):
        source_facts(_src(tmp_path / "notes.txt", "text"), str(tmp_path))
