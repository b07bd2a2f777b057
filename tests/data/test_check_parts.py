"""`ftc data check` scans a large JSON Lines file in two processes: every result (counts, bad rows
with their lines and reasons, duplicates and what they duplicate, token percentiles, file-level
errors) must be the one-process scan's. The size threshold is lowered so small files split."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from ftc.runtime.data import pipeline, scan
from ftc.runtime.data.records import DataError, Record, TextSpool, _to_json


def _words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


@pytest.fixture(params=["chars/4", "tokenizer"])
def method(request, monkeypatch, tmp_path) -> str:
    """Both token methods: chars/4 spools nothing; a tokenizer (here a word count) reads sampled
    rows back from the text spool, which the worker's part joins."""
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))
    if request.param == "tokenizer":
        monkeypatch.setattr(pipeline, "default_token_counter", lambda: (_words, "tokenizer"))
        monkeypatch.setattr(pipeline, "SAMPLE_ROWS", 500)  # sample, plus the longest rows
        monkeypatch.setattr(pipeline, "LONGEST_ROWS", 50)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    return request.param


def _check(monkeypatch, path: Path, threads: str) -> tuple:
    monkeypatch.setenv("FTC_NUM_THREADS", threads)
    monkeypatch.setattr(pipeline, "MAX_LISTED", 10**9)  # every duplicate, not the first 100
    try:
        r = pipeline.check_file(str(path), "chat")
    except DataError as err:
        return ("error", str(err), err.exit_code)
    return (r.summary, r.token_method, r.duplicates)


def _same_both_ways(monkeypatch, path: Path) -> tuple:
    parts = []
    real = scan._scan_in_parts
    monkeypatch.setattr(scan, "_scan_in_parts", lambda *a: parts.append(1) or real(*a))
    serial = _check(monkeypatch, path, "1")
    assert not parts
    split = _check(monkeypatch, path, "2")
    assert json.dumps(split, sort_keys=True) == json.dumps(serial, sort_keys=True)
    return serial, bool(parts)


def _chat(user: str, answer: str = "ok", **extra: object) -> str:
    return json.dumps(
        {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}], **extra}
    )


def _rows(n: int) -> list[str]:
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    return [_chat(f"{i} " + " ".join(words[(i * 7 + j) % 10] for j in range(i % 9 + 2))) for i in range(n)]


def test_mixed_rows_split_in_two_give_the_serial_result(monkeypatch, tmp_path, method):
    lines = _rows(3000)
    lines[10] = "{not json"
    lines[20] = '{"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}'
    lines[2500] = '{"messages": [{"role": "user", "content": NaN}]}'
    lines[2600] = _chat("   \u200b ", "\x01")  # emptied by cleaning: a bad row of the second part
    lines[2700] = _chat("x", "y", messages2=1)
    lines[2800] = lines[5]  # exact duplicate across the split
    lines[2900] = lines[6].replace('"ok"', '"OK "')  # the same after case and spacing are ignored
    story = " ".join(f"word{j}" for j in range(60))
    lines[30], lines[2950] = _chat(story), _chat(story + " please")  # a near duplicate across the split
    lines[1600] = _chat("caf\u0065\u0301  \u00a0 x \n\n\n\n y  " + "w " * 40)
    lines.insert(1500, "")  # a blank line: line numbers still count it
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (summary, _, duplicates), split = _same_both_ways(monkeypatch, path)
    assert split
    assert summary["rows"] == 3000 and summary["exact_duplicates"] >= 2 and summary["near_duplicates"] >= 1
    assert {b["line"] for b in summary["bad_rows"]} >= {11, 21, 2502, 2602}
    assert any(d["line"] > 1501 and d["kept_line"] < 1500 for d in duplicates)


def test_the_second_part_keeps_the_shape_of_the_files_first_row(monkeypatch, tmp_path, method):
    sharegpt = [
        json.dumps({"conversations": [{"from": "human", "value": f"q {i}"}, {"from": "gpt", "value": "a"}]})
        for i in range(3)
    ]
    path = tmp_path / "shapes.jsonl"
    path.write_text("\n".join([*sharegpt, *_rows(2000)]) + "\n", encoding="utf-8")
    (summary, _, _), split = _same_both_ways(monkeypatch, path)
    assert split and summary["valid_rows"] == 3  # every openai-messages row is a bad row, in both parts
    assert "one shape per file" in summary["bad_rows"][-1]["reason"]


def test_a_file_level_error_in_either_part_is_the_serial_error(monkeypatch, tmp_path, method):
    lines = _rows(2000)
    for at in (1900, 100):  # in the second part only, then in the first part as well
        lines[at] = lines[at].replace("ok", "o\x00k")
        path = tmp_path / f"nul{at}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (error, message, _), split = _same_both_ways(monkeypatch, path)
        assert error == "error" and f":{at + 1}:" in message and "NUL byte" in message


def test_a_first_part_without_rows_leaves_the_first_row_check_to_the_second(monkeypatch, tmp_path, method):
    path = tmp_path / "late.jsonl"
    path.write_text("\n" * 20000 + "[" + ", ".join(_rows(50)) + "]\n" + "\n".join(_rows(20)) + "\n", encoding="utf-8")
    (error, message, code), split = _same_both_ways(monkeypatch, path)
    assert split and error == "error" and "not JSON Lines" in message


def test_blank_files_and_files_of_bad_rows(monkeypatch, tmp_path, method):
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n \n" * 3000, encoding="utf-8")
    (error, message, _), _ = _same_both_ways(monkeypatch, blank)
    assert error == "error" and "the file is empty" in message
    bad = tmp_path / "bad.jsonl"  # no row fixes a shape: one process, and the same result
    bad.write_text('{"text": "x"}\n' * 3000, encoding="utf-8")
    (summary, _, _), split = _same_both_ways(monkeypatch, bad)
    assert not split and len(summary["bad_rows"]) == 3000


def test_text_spool_reads_rows_back_and_joins_another_spool(tmp_path):
    texts = ["a", "", "caf\u00e9 \ud800 lone surrogate", "line\nbreak", "x" * 10000]
    other = tmp_path / "other"
    with TextSpool(other) as part:
        for t in texts:
            part.append(t)
        ends = part.ends
    with TextSpool() as spool:
        spool.append("first")
        spool.extend_from(other, ends)
        spool.append("last")
        assert len(spool) == len(texts) + 2
        assert list(spool.read(range(len(spool)))) == ["first", *texts, "last"]
        assert list(spool.read([6, 1])) == ["last", "a"]


def test_spooled_records_are_the_same_json_as_asdict():
    record = Record("s", "f.jsonl", 3, "chat", {"messages": [{"role": "user", "content": "é", "n": [1, 2.5, None]}]})
    assert _to_json(record) == json.dumps(asdict(record), ensure_ascii=False, sort_keys=True)
