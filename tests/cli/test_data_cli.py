"""`ftc data check` and `ftc schema data`: the JSON keys other tools read, exit codes, the text
view, usage errors, no torch, the tokenizer method, and input files left byte for byte unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"
KEYS = {"rows", "valid_rows", "bad_rows", "exact_duplicates", "near_duplicates", "unique_rows", "leaks", "tokens"}


@pytest.fixture()
def data(tmp_path, monkeypatch):
    """Copies of the fixtures, an FTC_HOME without a tokenizer, and a check that no input changed."""
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))
    folder = tmp_path / "data"
    shutil.copytree(FIX, folder)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    yield folder
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert after == before  # no command may change an input file (or add one beside it)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_output_keys_and_values(data, capsys):
    code, out, _ = run(
        capsys,
        "data",
        "check",
        str(data / "chat_dups.jsonl"),
        "--format",
        "chat",
        "--json",
        "--against",
        str(data / "chat_eval.jsonl"),
    )
    doc = json.loads(out)
    assert KEYS <= set(doc) and set(doc) - KEYS <= {"token_method", "against_bad_rows", "format", "format_detected"}
    assert (doc["format"], doc["format_detected"]) == ("chat", False)
    assert (doc["rows"], doc["valid_rows"], doc["exact_duplicates"], doc["near_duplicates"], doc["unique_rows"]) == (
        8,
        8,
        2,
        1,
        5,
    )
    assert doc["bad_rows"] == [] and doc["leaks"] == [{"line": 2, "train_line": 4}]
    assert set(doc["tokens"]) == {"p50", "p90", "p99", "max"} and doc["token_method"] == "chars/4"
    assert code == 1  # a leak


def test_clean_file_exits_0_and_bad_rows_exit_1(data, capsys):
    clean = data / "chat_eval.jsonl"
    code, out, _ = run(capsys, "data", "check", str(clean), "--format", "chat")
    assert code == 0 and "clean" in out and "tokens (chars/4)" in out
    code, out, _ = run(capsys, "data", "check", str(data / "chat_mixed.jsonl"), "--format", "chat", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["rows"] == 10 and doc["valid_rows"] == 3
    assert {"line": 5, "reason": "role 'robot' is not one of system, user, assistant (message 2)"} in doc["bad_rows"]


def test_text_view_lists_first_problems(data, capsys):
    code, out, _ = run(capsys, "data", "check", str(data / "chat_mixed.jsonl"), "--format", "chat")
    assert code == 1 and "not clean" in out
    assert f"{data / 'chat_mixed.jsonl'}:5: role 'robot' is not one of system, user, assistant" in out
    assert "... and 2 more (--json lists all)" in out


def test_columns_option(data, capsys, tmp_path):
    p = tmp_path / "qa.jsonl"
    p.write_text(json.dumps({"q": "What is the capital of France?", "a": "Paris"}) + "\n")
    code, out, _ = run(
        capsys,
        "data",
        "check",
        str(p),
        "--format",
        "instruction",
        "--columns",
        "instruction=q",
        "--columns",
        "output=a",
        "--json",
    )
    assert code == 0 and json.loads(out)["valid_rows"] == 1


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--format", "chat", "--columns", "nonsense"], 2, "--columns takes FIELD=COLUMN"),
        (["--format", "chat", "--columns", "mesages=x"], 2, "'mesages' is not a field of the chat format"),
        (["--format", "klingon"], 2, "Invalid value for '--format'"),
    ],
)
def test_usage_errors(data, capsys, args, code, message):
    got, _, err = run(capsys, "data", "check", str(data / "chat_eval.jsonl"), *args)
    assert got == code and message in err and "Traceback" not in err


def test_without_format_the_rows_say_it_and_the_check_is_the_same(data, capsys, tmp_path):
    """No --format: the format and the column map its shape needs are read from the first rows,
    as `ftc init` reads them, said in the output; the figures equal the explicit check's."""
    path = str(data / "chat_mixed.jsonl")
    _, explicit, _ = run(capsys, "data", "check", path, "--format", "chat", "--json")
    code, out, _ = run(capsys, "data", "check", path, "--json")
    found = json.loads(out)
    assert found.pop("format") == "chat" and found.pop("format_detected") is True
    expected = json.loads(explicit)
    expected.pop("format"), expected.pop("format_detected")
    assert found == expected and code == 1  # the fixture has bad rows
    code, out, _ = run(capsys, "data", "check", path)
    assert "format chat (read from the rows; --format chooses)" in out
    dolly = tmp_path / "dolly.jsonl"
    dolly.write_text(json.dumps({"question": "2+2?", "response": "4"}) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "data", "check", str(dolly))
    assert code == 0 and "format instruction (read from the rows; columns instruction=question, output=response" in out
    unknown = tmp_path / "odd.jsonl"
    unknown.write_text(json.dumps({"foo": 1}) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "data", "check", str(unknown))
    assert code == 1 and "cannot tell the data's format from its rows (keys: foo)" in err
    code, _, err = run(capsys, "data", "check", "hf://acme/chats")
    assert code == 2 and "pass --format" in err


def test_bad_paths_give_one_line_errors(data, capsys, tmp_path):
    (tmp_path / "arr.jsonl").write_text("[\n" + json.dumps({"text": "x"}) + "\n]\n")
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "notes.md").write_text("# notes")
    cases = [
        (tmp_path / "missing.jsonl", 2, "no such file or folder"),
        (tmp_path, 2, "is a folder"),
        (tmp_path / "notes.md", 2, "read with format = documents"),
        (tmp_path / "empty.jsonl", 1, "the file is empty"),
        (tmp_path / "arr.jsonl", 1, "not JSON Lines"),
    ]
    for path, want, message in cases:
        code, _, err = run(capsys, "data", "check", str(path), "--format", "text")
        assert code == want and message in err and "Traceback" not in err, path


def test_schema_command(capsys):
    code, out, _ = run(capsys, "schema", "data", "chat")
    schema = json.loads(out)
    assert code == 0 and schema["properties"]["messages"]["items"]["properties"]["role"]["enum"] == [
        "system",
        "user",
        "assistant",
    ]
    for fmt in ("instruction", "completion", "preference", "text", "documents"):
        assert run(capsys, "schema", "data", fmt)[0] == 0


def test_tokenizer_used_when_the_embedded_one_is_cached(data, capsys, monkeypatch, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    home = tmp_path / "home2"
    target = home / "models" / "smollm2-135m-instruct"
    target.mkdir(parents=True)
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(target / "tokenizer.json"))
    monkeypatch.setenv("FTC_HOME", str(home))
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"text": "one two three four five"}) + "\n")
    code, out, _ = run(capsys, "data", "check", str(p), "--format", "text", "--json")
    doc = json.loads(out)
    assert doc["token_method"] == "tokenizer" and doc["tokens"]["max"] == 5


def test_data_check_does_not_import_torch(data):
    code = (
        "import sys\nfrom ftc.compiler.cli.main import main\n"
        f"rc = main(['data', 'check', {str(data / 'chat_dups.jsonl')!r}, '--format', 'chat', '--json'])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\nprint(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0"


# --- inputs that used to hang or crash ftc ----------------------------------------------------------
FTC = str(Path(sys.executable).parent / "ftc")
RECIPE = """recipe "rows" {
  goal = behavior("Reply politely")
  base = model("smollm2-135m-instruct")
  data "rows" {
    path   = "data/rows.jsonl"
    format = chat
  }
  eval {
    holdout = 20%
    expect rouge_l >= 0.3
    beat baseline by 10%
  }
}
"""


def _ftc(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The real command in a subprocess with a deadline: the old readers never returned on these."""
    env = {**os.environ, "FTC_HOME": str(tmp_path / "home"), "HF_HOME": str(tmp_path / "hf")}
    try:
        return subprocess.run([FTC, *args], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`ftc {' '.join(args)}` still running after 60 s")


def _special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


SPECIAL = [
    pytest.param("fifo", "a FIFO (named pipe)", marks=pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")),
    pytest.param(
        "zero", "a character device", marks=pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
    ),
]


@pytest.mark.parametrize("kind, what", SPECIAL)
def test_data_check_refuses_a_fifo_or_a_device_at_once(tmp_path, kind, what):
    _special(kind, tmp_path / "rows.jsonl")
    proc = _ftc(tmp_path, "data", "check", "rows.jsonl", "--format", "chat")
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr.strip()
        == f"rows.jsonl: is {what}, not a regular file; ftc reads data only from regular files (copy the data into a file)"
    )
    (tmp_path / "ok.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    proc = _ftc(tmp_path, "data", "check", "ok.jsonl", "--format", "text", "--against", "rows.jsonl")
    assert proc.returncode == 2 and "rows.jsonl: is " + what in proc.stderr


@pytest.mark.parametrize("kind, what", SPECIAL)
def test_plan_refuses_a_fifo_or_a_device_with_a_located_diagnostic(tmp_path, kind, what):
    (tmp_path / "data").mkdir()
    (tmp_path / "r.ftr").write_text(RECIPE)
    _special(kind, tmp_path / "data" / "rows.jsonl")
    proc = _ftc(tmp_path, "plan", "r.ftr", "--allow-outside")  # /dev/zero resolves outside the project
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    out = proc.stdout + proc.stderr
    assert f"error[FTR301]: cannot read data source 'rows' (data/rows.jsonl): is {what}, not a regular file" in out
    assert "r.ftr:4:3" in out


def test_data_check_names_a_utf16_file_once(data, capsys, tmp_path):
    p = tmp_path / "u16.jsonl"
    p.write_text((json.dumps({"text": "hello"}) + "\n") * 30, encoding="utf-16")
    code, out, err = run(capsys, "data", "check", str(p), "--format", "text")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"{p}:1: this file is UTF-16 (it starts with a UTF-16LE byte-order mark); ftc reads UTF-8: "
        "convert it to UTF-8 (e.g. `iconv -f UTF-16LE -t UTF-8`)"
    )


def test_data_check_reports_deep_nesting_nan_and_duplicate_keys_as_bad_rows(data, capsys, tmp_path):
    good = json.dumps({"text": "fine"})
    p = tmp_path / "odd.jsonl"
    p.write_text(
        "\n".join(
            [
                good,
                '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}",
                '{"text": NaN}',
                '{"text": "a", "score": 1e999}',
                '{"text": "a", "text": "b"}',
                good,
            ]
        )
        + "\n"
    )
    code, out, err = run(capsys, "data", "check", str(p), "--format", "text", "--json")
    doc = json.loads(out)
    assert code == 1 and err == "" and (doc["rows"], doc["valid_rows"]) == (6, 2)
    assert [b["line"] for b in doc["bad_rows"]] == [2, 3, 4, 5]
    assert doc["bad_rows"][0]["reason"] == "JSON nested 100001 levels deep, over the limit of 100"
    assert [b["reason"].split(" ")[0] for b in doc["bad_rows"][1:]] == ["NaN", "the", "duplicate"]


# --- the peers' shapes -----------------------------------------------------------------
SHAPES = Path(__file__).resolve().parents[1] / "golden" / "data-shapes"


@pytest.mark.parametrize("name", ["sharegpt", "conversational-prompt-completion", "preference-messages",
                                  "preference-implicit-prompt", "preference-sharegpt", "preference-axolotl",
                                  "preference-alpaca", "kto"])  # fmt: skip
def test_schema_data_prints_each_accepted_shape(capsys, name):
    code, out, _ = run(capsys, "schema", "data", name)
    doc = json.loads(out)
    assert code == 0 and doc["$id"].endswith(f"/{name}.json") and doc["type"] == "object"


def test_schema_data_names_the_shapes_on_a_usage_error(capsys):
    code, _, err = run(capsys, "schema", "data", "tools")
    assert code == 2 and "sharegpt" in err and "preference-sharegpt" in err


def test_sharegpt_checks_clean_with_and_without_a_column_map(tmp_path, capsys):
    rows = [json.loads(x) for x in (SHAPES / "sharegpt.jsonl").read_text().splitlines()]
    path = tmp_path / "sg.jsonl"  # ShareGPT turns under `messages`, as some exports write them
    path.write_text("".join(json.dumps({"messages": r["conversations"]}) + "\n" for r in rows))
    code, out, _ = run(capsys, "data", "check", str(path), "--format", "chat", "--json")
    assert code == 0 and json.loads(out)["valid_rows"] == 14
    code, out, _ = run(capsys, "data", "check", str(path), "--format", "chat", "--json",
                       "--columns", "role=from", "--columns", "content=value")  # fmt: skip
    assert code == 0 and json.loads(out)["valid_rows"] == 14


def test_a_llama_factory_dpo_file_checks_clean(capsys):
    code, out, _ = run(capsys, "data", "check", str(SHAPES / "preference-sharegpt.json"), "--format", "preference",
                       "--json")  # fmt: skip
    doc = json.loads(out)
    assert code == 0 and doc["valid_rows"] == doc["rows"] == 14 and doc["bad_rows"] == []


def test_kto_and_tool_rows_are_bad_rows_with_their_reason(capsys):
    code, out, _ = run(capsys, "data", "check", str(SHAPES / "kto.jsonl"), "--format", "completion", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["valid_rows"] == 0 and "KTO" in doc["bad_rows"][0]["reason"]
    code, out, _ = run(capsys, "data", "check", str(SHAPES / "tools-openai.jsonl"), "--format", "chat", "--json")
    doc = json.loads(out)
    assert code == 1 and [b["line"] for b in doc["bad_rows"]] == [1, 2, 3]
    assert "'tool_calls' (message 2)" in doc["bad_rows"][0]["reason"]
