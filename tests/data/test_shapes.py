"""The peers' data shapes (issue 12): each golden file under tests/golden/data-shapes loads clean as
the format a recipe reads it with, converts to canonical fields (roles mapped, preference sides as
message lists, implicit prompts split), is described by `ftc schema data NAME`, and a malformed row
of each shape is a bad row located by its line. KTO rows load as format = kto with their label and
are refused per row in any other format (never trained as SFT); tool-call rows are refused per
row; a row of another shape in the same file is a bad row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ftc.runtime.data import read_source
from ftc.runtime.data.schemas import SHAPES, format_schema, schema_names

SHAPES_DIR = Path(__file__).resolve().parents[1] / "golden" / "data-shapes"
# golden file stem -> the format a recipe reads it with (tool files are refused)
ACCEPTED = {
    "chat": "chat", "instruction": "instruction", "completion": "completion", "preference": "preference",
    "kto": "kto",
    "text": "text", "sharegpt": "chat", "conversational-prompt-completion": "chat",
    "preference-messages": "preference", "preference-implicit-prompt": "preference",
    "preference-sharegpt": "preference", "preference-axolotl": "preference", "preference-alpaca": "preference",
    "preference-transcripts": "preference",
}  # fmt: skip


def _file(stem: str) -> Path:
    return next(SHAPES_DIR.glob(f"{stem}.json*"))


def _rows(stem: str) -> list[dict]:
    text = _file(stem).read_text()
    return json.loads(text) if _file(stem).suffix == ".json" else [json.loads(x) for x in text.splitlines()]


def _load(path: Path, fmt: str, columns: dict | None = None):
    return read_source("s", path, fmt, columns or {})


@pytest.mark.parametrize("stem", sorted(ACCEPTED))
def test_every_golden_shape_loads_clean(stem):
    result = _load(_file(stem), ACCEPTED[stem])
    assert result.bad_rows == [] and len(result.records) == result.rows == 14


@pytest.mark.parametrize("stem", sorted(ACCEPTED))
def test_every_accepted_shape_has_a_schema_its_golden_rows_meet(stem):
    assert stem in schema_names()
    validator = Draft202012Validator(format_schema(stem))
    for row in _rows(stem):
        assert list(validator.iter_errors(row)) == [], row
    if stem in SHAPES:
        assert SHAPES[stem][0] == ACCEPTED[stem]


def test_every_schema_name_has_a_golden_example():
    assert set(schema_names()) - {"documents"} == set(ACCEPTED)


def test_sharegpt_roles_map_and_the_system_turn_is_kept():
    records = _load(_file("sharegpt"), "chat").records
    first, second = records[0].fields["messages"], records[1].fields["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert [m["role"] for m in second] == ["user", "assistant"]
    assert first[1]["content"].startswith("Which colour") and set(first[1]) == {"role", "content"}


def test_sharegpt_with_an_explicit_column_map(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps(
            {
                "dialog": [
                    {"speaker": "human", "text": "Hi there, how are you"},
                    {"speaker": "gpt", "text": "Fine, thanks."},
                ]
            }
        )
        + "\n"
    )
    result = _load(path, "chat", {"messages": "dialog", "role": "speaker", "content": "text"})
    assert result.bad_rows == []
    assert result.records[0].fields == {
        "messages": [
            {"role": "user", "content": "Hi there, how are you"},
            {"role": "assistant", "content": "Fine, thanks."},
        ]
    }


def test_llama_factory_dpo_pairs_become_message_lists():
    fields = _load(_file("preference-sharegpt"), "preference").records[0].fields
    assert fields["prompt"] == [
        {"role": "user", "content": _rows("preference-sharegpt")[0]["conversations"][0]["value"]}
    ]
    assert fields["chosen"][0]["role"] == "assistant" and len(fields["chosen"]) == 1
    assert fields["rejected"][0]["content"].startswith("No idea")


def test_implicit_prompt_pairs_split_at_the_shared_turns():
    fields = _load(_file("preference-implicit-prompt"), "preference").records[0].fields
    assert [m["role"] for m in fields["prompt"]] == ["user"]
    assert [m["role"] for m in fields["chosen"]] == ["assistant"] == [m["role"] for m in fields["rejected"]]


def test_axolotl_and_alpaca_pairs_take_their_prompt_from_the_context():
    axolotl = _load(_file("preference-axolotl"), "preference").records[0].fields
    assert [m["role"] for m in axolotl["prompt"]] == ["system", "user"]
    alpaca = _load(_file("preference-alpaca"), "preference").records[0].fields
    assert alpaca["prompt"] == _rows("preference-alpaca")[0]["instruction"]


def test_conversational_prompt_completion_is_one_conversation():
    fields = _load(_file("conversational-prompt-completion"), "chat").records[0].fields
    assert [m["role"] for m in fields["messages"]] == ["user", "assistant"]


def test_conversational_prompt_completion_under_format_completion_says_use_chat():
    result = _load(_file("conversational-prompt-completion"), "completion")
    assert len(result.bad_rows) == 14 and "format = chat" in result.bad_rows[0]["reason"]


# --- malformed rows, located ------------------------------------------------------------------
MALFORMED = [
    (
        "sharegpt",
        "chat",
        {"conversations": [{"from": "robot", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
        "role 'robot' is not one of system, user, assistant (message 1)",
    ),
    (
        "sharegpt",
        "chat",
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "  "}]},
        "content is empty (message 2)",
    ),
    (
        "preference-sharegpt",
        "preference",
        {"conversations": [{"from": "human", "value": "Hi"}], "chosen": {"from": "gpt", "value": "Yes"}},
        "missing field 'rejected'",
    ),
    (
        "preference-implicit-prompt",
        "preference",
        {
            "chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
            "rejected": [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
        },
        "chosen and rejected share no opening turn",
    ),
    (
        "preference-messages",
        "preference",
        {
            "prompt": [{"role": "user", "content": "q"}],
            "chosen": {"role": "assistant", "content": "same"},
            "rejected": {"role": "assistant", "content": "same"},
        },
        "chosen and rejected are the same",
    ),
    (
        "conversational-prompt-completion",
        "chat",
        {"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "user", "content": "a"}]},
        "the last message is from the user, not the assistant (message 2)",
    ),
]


@pytest.mark.parametrize(("stem", "fmt", "bad", "reason"), MALFORMED)
def test_a_malformed_row_is_located_by_its_line(tmp_path, stem, fmt, bad, reason):
    rows = _rows(stem)[:3]
    rows.insert(2, bad)
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _load(path, fmt)
    assert [(b["line"], b["reason"][: len(reason)]) for b in result.bad_rows] == [(3, reason)]
    assert len(result.records) == 3


def test_a_malformed_element_of_a_json_array_is_located_by_its_first_line(tmp_path):
    rows = _rows("preference-sharegpt")[:2] + [
        {"conversations": [{"from": "human", "value": "x"}], "chosen": {"from": "gpt", "value": "a"}, "rejected": 42}
    ]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(rows, indent=1))
    result = _load(path, "preference")
    starts = [i for i, text in enumerate(path.read_text().splitlines(), 1) if text == " {"]  # each element's line
    assert [(b["line"], b["reason"]) for b in result.bad_rows] == [
        (starts[2], "rejected must be a non-empty string or a list of messages")
    ]


def test_a_row_of_another_shape_in_the_file_is_a_bad_row(tmp_path):
    rows = _rows("sharegpt")[:2] + [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _load(path, "chat")
    assert result.bad_rows[0]["line"] == 3
    assert "openai messages data but the file's first row was sharegpt" in result.bad_rows[0]["reason"]


@pytest.mark.parametrize("fmt", ["completion", "chat", "instruction"])
def test_kto_rows_are_refused_never_trained(fmt):
    result = _load(_file("kto"), fmt)
    assert result.records == [] and len(result.bad_rows) == 14
    assert all("KTO" in b["reason"] and "format = kto" in b["reason"] for b in result.bad_rows)


def test_kto_rows_load_as_kto_with_their_label():
    result = _load(_file("kto"), "kto")
    labels = [r.fields["label"] for r in result.records]
    assert result.bad_rows == [] and labels == [
        bool(json.loads(x)["label"]) for x in _file("kto").read_text().splitlines()
    ]
    assert set(result.records[0].fields) == {"prompt", "completion", "label"}


def test_kto_row_inside_a_chat_file_is_named_as_kto(tmp_path):
    rows = _rows("chat")[:1] + [{"messages": _rows("chat")[1]["messages"], "label": False}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _load(path, "chat")
    assert [b["line"] for b in result.bad_rows] == [2] and "KTO" in result.bad_rows[0]["reason"]


@pytest.mark.parametrize(
    ("stem", "what"),
    [
        ("tools-openai", "a message with 'tool_calls' (message 2)"),
        ("tools-glaive", "a 'function_call' turn (message 2)"),
    ],
)
def test_tool_calls_are_a_clear_per_row_error(stem, what):
    result = _load(_file(stem), "chat")
    assert result.records == [] and [b["line"] for b in result.bad_rows] == [1, 2, 3]
    assert result.bad_rows[0]["reason"].startswith(what) and "does not train tool calls" in result.bad_rows[0]["reason"]


def test_csv_cells_holding_sharegpt_json_are_read(tmp_path):
    import csv

    path = tmp_path / "d.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["conversations"])
        for row in _rows("sharegpt")[:3]:
            w.writerow([json.dumps(row["conversations"])])
    result = _load(path, "chat")
    assert result.bad_rows == [] and len(result.records) == 3


# --- the recipe side: FTR116 and the planner's facts agree with the loader ----------------------
def _recipe(tmp_path: Path, data: str, fmt: str, columns: str = "") -> str:
    (tmp_path / "pyproject.toml").write_text("")
    return (
        f'recipe "r" {{\n  goal = behavior("Say the colour")\n  base = model("smollm2-135m-instruct")\n'
        f'  data "d" {{\n    path = "{data}"\n    format = {fmt}\n    {columns}\n  }}\n'
        "  eval {\n    holdout = 20%\n    expect rouge_l >= 0.4\n    beat baseline by 10%\n  }\n}\n"
    )


def test_role_and_content_column_maps_lint_clean(tmp_path):
    from ftc.compiler.lang.frontend import check_text

    (tmp_path / "d.jsonl").write_bytes(_file("sharegpt").read_bytes())
    text = _recipe(
        tmp_path, "d.jsonl", "chat", 'columns = { messages = "conversations", role = "from", content = "value" }'
    )
    recipe, diags = check_text(text, str(tmp_path / "r.ftr"), recipe_dir=tmp_path)
    assert recipe is not None and [d.code for d in diags if d.severity == "error"] == []
    assert recipe.data[0].columns == {"messages": "conversations", "role": "from", "content": "value"}
    _, diags = check_text(
        text.replace("format = chat", "format = instruction"), str(tmp_path / "r.ftr"), recipe_dir=tmp_path
    )
    assert "FTR116" in {d.code for d in diags}  # role/content name message keys: not instruction fields


def test_planner_row_text_is_the_canonical_text(tmp_path, empty_caches):
    from ftc.compiler.lang.frontend import check_text
    from ftc.compiler.plan.facts import source_facts

    (tmp_path / "d.jsonl").write_bytes(_file("sharegpt").read_bytes())
    recipe, _ = check_text(_recipe(tmp_path, "d.jsonl", "chat"), str(tmp_path / "r.ftr"), recipe_dir=tmp_path)
    facts = source_facts(recipe.data[0], str(tmp_path))
    assert facts.rows == 14 and "human" not in facts.texts[1] and facts.texts[1].startswith("Which colour")
    assert json.loads(facts.answers[0]) == {"animal": "cat", "colour": "red"}


def test_planner_reads_labelled_completion_rows_as_kto_and_refuses_them_as_chat(tmp_path, empty_caches):
    from ftc.compiler.lang.frontend import check_text
    from ftc.compiler.plan.facts import FactError, source_facts

    (tmp_path / "k.jsonl").write_bytes(_file("kto").read_bytes())
    recipe, _ = check_text(_recipe(tmp_path, "k.jsonl", "completion"), str(tmp_path / "r.ftr"), recipe_dir=tmp_path)
    assert source_facts(recipe.data[0], str(tmp_path)).format == "kto"
    recipe, _ = check_text(_recipe(tmp_path, "k.jsonl", "chat"), str(tmp_path / "r.ftr"), recipe_dir=tmp_path)
    with pytest.raises(FactError) as info:
        source_facts(recipe.data[0], str(tmp_path))
    assert info.value.diagnostic.code == "FTR321" and "format = kto" in info.value.diagnostic.hint


def test_kto_rows_in_a_csv_file_are_refused_too(tmp_path):
    import csv

    path = tmp_path / "k.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", "completion", "label"])
        w.writerow(["What colour is the sky?", "Blue.", "true"])
        w.writerow(["What colour is grass?", "Purple, obviously.", "False"])
    result = _load(path, "completion")
    assert result.records == [] and [b["line"] for b in result.bad_rows] == [2, 3]
    assert all("KTO" in b["reason"] for b in result.bad_rows)
    # Read as kto, the CSV's text true/False are the booleans they spell.
    assert [r.fields["label"] for r in _load(path, "kto").records] == [True, False]


def test_a_final_answer_marked_weight_0_is_refused_not_trained(tmp_path):
    rows = _rows("sharegpt")[:2]
    rows[1]["conversations"][-1]["weight"] = 0  # axolotl / LLaMA-Factory: do not train on this turn
    rows[0]["conversations"][-1]["weight"] = 1
    path = tmp_path / "w.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _load(path, "chat")
    assert len(result.records) == 1 and [b["line"] for b in result.bad_rows] == [2]
    assert result.bad_rows[0]["reason"].startswith("the final assistant turn has weight 0 (message 2)")
