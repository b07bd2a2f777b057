"""Real public dataset shapes (small imitations in tests/data/public, see its README): each is
read with the exact row counts, the detected shape and the canonical fields training sees; what
ftc cannot use is a bad row located by its line with the reason, never a lost row or a
traceback; `ftc init` writes the format and column map each needs (or says why it cannot)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.runtime.data import read_source
from ftc.runtime.data.readers import reader_for
from ftc.runtime.data.records import DataError
from ftc.runtime.data.schemas import FIELDS
from ftc.runtime.data.validate import validate_row
from ftc.shared.shapes import Normaliser, guess_format

PUBLIC = Path(__file__).resolve().parent / "public"
Q0 = "Which colour goes with the cat in row 0 of the chart?"
A0 = "The cat in row 0 goes with red, as the chart shows."
BAD0 = "No idea about the cat, ask someone else."
Q1 = "Which colour goes with the dog in row 1 of the chart?"
ORCA_SYSTEM = "You are an AI assistant. Answer from the chart."


def _load(name: str, fmt: str, columns: dict | None = None):
    return read_source("s", PUBLIC / name, fmt, columns or {})


def _shape(name: str, fmt: str, columns: dict | None = None) -> str:
    """The shape the loader fixes for a file (its first row with one)."""
    norm = Normaliser(fmt, FIELDS[fmt], columns)
    for raw in reader_for(str(PUBLIC / name), fmt)(str(PUBLIC / name)):
        if raw.reason is None:
            validate_row(raw.row, fmt, columns, name.endswith((".csv", ".tsv")), norm)
        if norm.shape is not None:
            return norm.shape.name
    return "none"


# file, format, column map, rows, the bad rows' lines, the shape the loader reads it as
CLEAN_OR_LOCATED = [
    ("alpaca_data.json", "instruction", {}, 12, [], "instruction"),
    ("dolly.jsonl", "instruction", {"output": "response", "input": "context"}, 12, [], "instruction"),
    ("dolly.csv", "instruction", {"output": "response", "input": "context"}, 12, [], "instruction"),
    ("dolly.tsv", "instruction", {"output": "response", "input": "context"}, 12, [], "instruction"),
    ("sharegpt.json", "chat", {}, 12, [], "sharegpt"),
    ("slimorca.jsonl", "chat", {}, 12, [], "sharegpt"),
    ("openai_chat.jsonl", "chat", {}, 12, [], "openai messages"),
    ("openai_content_parts.jsonl", "chat", {}, 12, [12], "openai messages"),
    ("ultrachat_200k.jsonl", "chat", {}, 12, [], "openai messages"),
    ("ultrafeedback_binarized.jsonl", "preference", {}, 12, [], "prompt/chosen/rejected"),
    ("hh_rlhf.jsonl", "preference", {}, 12, [], "Human/Assistant transcript pairs"),
    ("orca_dpo_pairs.jsonl", "preference", {"prompt": "question"}, 12, [], "prompt/chosen/rejected"),
    ("kto_mix.jsonl", "kto", {}, 12, [], "prompt/completion/label"),
    ("gsm8k.jsonl", "instruction", {"instruction": "question", "output": "answer"}, 12, [], "instruction"),
    ("bom_crlf.jsonl", "completion", {}, 12, [], "completion"),
    ("latin1_row.jsonl", "text", {}, 12, [5], "text"),
    ("llamafactory_alpaca.jsonl", "instruction", {}, 12, [3], "instruction"),
    ("llamafactory_sharegpt.jsonl", "chat", {}, 12, [], "sharegpt"),
]


@pytest.mark.parametrize(("name", "fmt", "columns", "rows", "bad", "shape"), CLEAN_OR_LOCATED)
def test_each_public_shape_reads_with_exact_counts(name, fmt, columns, rows, bad, shape):
    result = _load(name, fmt, columns)
    assert result.rows == rows
    assert [b["line"] for b in result.bad_rows] == bad
    assert len(result.records) == rows - len(bad)  # no row lost: every row is a record or a located bad row
    assert _shape(name, fmt, columns) == shape


def test_hh_rlhf_transcripts_split_into_prompt_and_answers():
    records = _load("hh_rlhf.jsonl", "preference").records
    assert records[0].fields == {
        "prompt": [{"role": "user", "content": Q0}],
        "chosen": [{"role": "assistant", "content": A0}],
        "rejected": [{"role": "assistant", "content": BAD0}],
    }
    multi = records[1].fields  # an earlier exchange the two sides share stays in the prompt
    assert [m["role"] for m in multi["prompt"]] == ["user", "assistant", "user"]
    assert multi["prompt"][0]["content"] == "I have a chart of animals." and multi["prompt"][2]["content"] == Q1
    assert [m["role"] for m in multi["chosen"]] == ["assistant"]


def test_ultrafeedback_sides_do_not_repeat_the_prompt():
    """chosen/rejected there are whole conversations that start with the prompt again: read as
    they are, every pair would say the prompt twice."""
    fields = _load("ultrafeedback_binarized.jsonl", "preference").records[0].fields
    assert fields == {
        "prompt": [{"role": "user", "content": Q0}],
        "chosen": [{"role": "assistant", "content": A0}],
        "rejected": [{"role": "assistant", "content": BAD0}],
    }


def test_preference_sides_keep_a_prompt_they_do_not_repeat(tmp_path):
    path = tmp_path / "pairs.jsonl"
    row = {"prompt": "Q?", "chosen": [{"role": "assistant", "content": "yes"}], "rejected": "no"}
    path.write_text(json.dumps(row) + "\n")
    assert read_source("s", path, "preference").records[0].fields == {
        "prompt": "Q?",
        "chosen": [{"role": "assistant", "content": "yes"}],
        "rejected": "no",
    }


def test_orca_pairs_keep_their_system_prompt_and_need_the_question_mapped():
    records = _load("orca_dpo_pairs.jsonl", "preference", {"prompt": "question"}).records
    assert records[0].fields == {"prompt": Q0, "chosen": A0, "rejected": BAD0}  # an empty system: none added
    assert records[1].fields["prompt"] == [
        {"role": "system", "content": ORCA_SYSTEM},
        {"role": "user", "content": Q1},
    ]
    unmapped = _load("orca_dpo_pairs.jsonl", "preference")
    assert len(unmapped.records) == 0 and len(unmapped.bad_rows) == 12
    assert unmapped.bad_rows[0]["line"] == 1
    assert unmapped.bad_rows[0]["reason"].startswith("missing field 'prompt'")
    assert "--columns prompt=question" in unmapped.bad_rows[0]["reason"]


def test_content_parts_are_joined_and_an_image_part_is_a_located_bad_row():
    result = _load("openai_content_parts.jsonl", "chat")
    first = result.records[0].fields["messages"]
    assert first[0] == {"role": "system", "content": "Be brief."}
    assert first[1] == {"role": "user", "content": f"Look at the chart.\n{Q0}"}
    assert first[2] == {"role": "assistant", "content": A0}
    assert result.bad_rows[0]["reason"].startswith("a 'image_url' content part (message 1): ftc trains text-only")


def test_content_parts_in_parquet_carry_null_keys_and_still_join(tmp_path):
    """Parquet gives every part every key of the union ("image": null on a text part)."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    rows = [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": f"q {i}", "image": None}]},
                      {"role": "assistant", "content": [{"type": "text", "text": f"a {i}", "image": None}]}]}
        for i in range(3)
    ]  # fmt: skip
    rows.append(
        {"messages": [{"role": "user", "content": [{"type": "image", "text": None, "image": "x.png"}]},
                      {"role": "assistant", "content": [{"type": "text", "text": "a cat", "image": None}]}]}
    )  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "parts.parquet")
    result = read_source("s", tmp_path / "parts.parquet", "chat")
    assert [r.fields["messages"][1]["content"] for r in result.records] == ["a 0", "a 1", "a 2"]
    assert [(b["line"], b["reason"].split(":")[0]) for b in result.bad_rows] == [
        (4, "a 'image' content part (message 1)")
    ]


def test_ultrachat_parquet_reads_like_its_jsonl(tmp_path):
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    rows = [json.loads(line) for line in (PUBLIC / "ultrachat_200k.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train_sft.parquet")
    from_parquet = read_source("s", tmp_path / "train_sft.parquet", "chat")
    from_jsonl = _load("ultrachat_200k.jsonl", "chat")
    assert (from_parquet.rows, from_parquet.bad_rows) == (12, [])
    assert [r.fields for r in from_parquet.records] == [r.fields for r in from_jsonl.records]


def test_system_columns_and_weighted_turns():
    sharegpt = _load("llamafactory_sharegpt.jsonl", "chat").records[0].fields["messages"]
    assert sharegpt == [
        {"role": "system", "content": "You answer from the chart."},
        {"role": "user", "content": Q0},
        {"role": "assistant", "content": A0},
    ]
    slim = _load("slimorca.jsonl", "chat").records[0].fields["messages"]
    assert [m["role"] for m in slim] == ["system", "user", "assistant"]
    openai = _load("openai_chat.jsonl", "chat").records[0].fields["messages"]
    assert len(openai) == 5 and openai[1]["name"] == "alice"  # no turn dropped, the final one trained


def test_alpaca_history_is_refused_not_dropped():
    bad = _load("llamafactory_alpaca.jsonl", "instruction").bad_rows
    assert bad == [
        {
            "source": "s",
            "file": str(PUBLIC / "llamafactory_alpaca.jsonl"),
            "line": 3,
            "reason": bad[0]["reason"],
        }
    ]
    assert bad[0]["reason"].startswith("a 'history' of 1 earlier turn(s)")


def test_csv_cells_keep_their_newlines_and_records_their_first_line():
    result = _load("dolly.csv", "instruction", {"output": "response", "input": "context"})
    assert [r.line for r in result.records][:3] == [2, 4, 6]  # each record spans two physical lines
    assert result.records[0].fields["output"] == A0 + '\nIt is "clear", really.'
    assert result.records[1].fields["input"] == "Row 1 of the chart: dog, blue."
    tsv = _load("dolly.tsv", "instruction", {"output": "response", "input": "context"})
    assert tsv.records[0].fields["output"] == A0 + "\tSee the legend.\nSecond line."


def test_bom_crlf_and_blank_lines_keep_the_physical_line_numbers():
    result = _load("bom_crlf.jsonl", "completion")
    assert [r.line for r in result.records] == list(range(1, 24, 2))
    assert result.records[0].fields == {"prompt": Q0, "completion": A0}  # no BOM, no \r left in a field


def test_invalid_utf8_is_one_located_bad_row():
    bad = _load("latin1_row.jsonl", "text").bad_rows
    assert [(b["line"], b["reason"]) for b in bad] == [(5, "invalid UTF-8 at byte 14 of the line (file offset 273)")]


def test_a_missing_field_names_the_columns_to_map():
    result = _load("gsm8k.jsonl", "instruction")
    assert len(result.bad_rows) == 12
    assert result.bad_rows[0]["reason"] == (
        "missing field 'instruction'; the file has 'question' and 'answer': map them with "
        "--columns instruction=question --columns output=answer "
        '(a recipe: columns = { instruction = "question", output = "answer" })'
    )


def test_a_compressed_file_says_to_decompress_it(tmp_path):
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00")
    with pytest.raises(DataError) as err:
        reader_for(str(path), "preference")
    assert err.value.exit_code == 2 and "`gunzip -k train.jsonl.gz`" in str(err.value)


# --- ftc init ----------------------------------------------------------------------------------
# file -> (format, column map, shape) that `ftc init` detects
GUESSES = {
    "alpaca_data.json": ("instruction", {}, "instruction"),
    "dolly.jsonl": ("instruction", {"output": "response", "input": "context"}, "instruction"),
    "dolly.csv": ("instruction", {"output": "response", "input": "context"}, "instruction"),
    "gsm8k.jsonl": ("instruction", {"instruction": "question", "output": "answer"}, "instruction"),
    "sharegpt.json": ("chat", {}, "sharegpt"),
    "openai_chat.jsonl": ("chat", {}, "openai messages"),
    "ultrachat_200k.jsonl": ("chat", {}, "openai messages"),
    "ultrafeedback_binarized.jsonl": ("preference", {}, "prompt/chosen/rejected"),
    "hh_rlhf.jsonl": ("preference", {}, "Human/Assistant transcript pairs"),
    "orca_dpo_pairs.jsonl": ("preference", {"prompt": "question"}, "prompt/chosen/rejected"),
    "kto_mix.jsonl": ("kto", {}, "kto"),
}


def _first_row(name: str) -> dict:
    return next(raw.row for raw in reader_for(str(PUBLIC / name), "chat")(str(PUBLIC / name)))


@pytest.mark.parametrize("name", sorted(GUESSES))
def test_init_guesses_the_format_and_column_map(name):
    guess = guess_format(_first_row(name))
    assert guess is not None and (guess.format, guess.columns, guess.shape) == GUESSES[name]


@pytest.fixture()
def project(tmp_path, monkeypatch, empty_caches):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("dolly.jsonl", 'columns = { output = "response", input = "context" }'),
        ("orca_dpo_pairs.jsonl", 'columns = { prompt = "question" }'),
        ("hh_rlhf.jsonl", "format = preference"),
    ],
)
def test_init_writes_a_recipe_that_lints_once_the_goal_is_written(project, capsys, name, line):
    shutil.copy(PUBLIC / name, project / name)
    code, out = _run(capsys, "init", name, "-o", "r.ftr")
    recipe = (project / "r.ftr").read_text()
    assert code == 0 and "12 of the first 12 rows valid" in out and line in recipe
    (project / "r.ftr").write_text(recipe.replace(recipe.split('("')[1].split('")')[0], "Say the colour"))
    code, out = _run(capsys, "lint", "r.ftr")
    assert code == 0, out


def test_init_refuses_one_message_per_row_and_says_why(project, capsys):
    shutil.copy(PUBLIC / "oasst1.jsonl", project / "oasst1.jsonl")
    code, out = _run(capsys, "init", "oasst1.jsonl")
    assert code == 1 and "Traceback" not in out and not (project / "oasst1.ftr").exists()
    assert out.startswith("error: oasst1.jsonl:1: each row is one message (a 'role' beside its text)")


def test_init_refuses_squad_naming_its_keys(project, capsys):
    shutil.copy(PUBLIC / "squad.jsonl", project / "squad.jsonl")
    code, out = _run(capsys, "init", "squad.jsonl")
    assert code == 1 and "keys: answers, context, id, question, title" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "error: empty.jsonl: the file is empty (no rows)"),
        ('"a"\n"b"\n', "error: empty.jsonl:1: row must be a JSON object, not a string"),
        ("oops\n", "error: empty.jsonl:1: not valid JSON"),
    ],
)
def test_init_on_a_file_with_no_object_rows_names_the_first_problem(project, capsys, text, message):
    (project / "empty.jsonl").write_text(text)
    code, out = _run(capsys, "init", "empty.jsonl")
    assert code == 1 and out.startswith(message)


def test_data_check_counts_a_public_file_exactly(project, capsys):
    code, out = _run(capsys, "data", "check", str(PUBLIC / "openai_content_parts.jsonl"), "--format", "chat", "--json")
    doc = json.loads(out)
    assert code == 1 and (doc["rows"], doc["valid_rows"]) == (12, 11)
    assert [b["line"] for b in doc["bad_rows"]] == [12]
