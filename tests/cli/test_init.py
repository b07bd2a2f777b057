"""`ftc init DATA`: a starting recipe from a file of each accepted shape. The written recipe has
the TODO goal (FTR212, so it cannot run by accident); once the goal is edited it lints clean and
plans. KTO data is read as format = kto; an unknown shape and an existing recipe are refused with the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main

SHAPES = Path(__file__).resolve().parents[1] / "golden" / "data-shapes"
# golden file -> (format written, the expect its answers call for)
CASES = {
    "sharegpt.jsonl": ("chat", "expect json_schema("),
    "chat.jsonl": ("chat", "expect rouge_l"),
    "instruction.jsonl": ("instruction", "expect exact_match >="),
    "completion.jsonl": ("completion", "expect rouge_l"),
    "text.jsonl": ("text", "expect perplexity"),
    "conversational-prompt-completion.jsonl": ("chat", "expect rouge_l"),
    "preference.jsonl": ("preference", "expect rouge_l"),
    "preference-messages.jsonl": ("preference", "expect rouge_l"),
    "preference-implicit-prompt.jsonl": ("preference", "expect rouge_l"),
    "preference-sharegpt.json": ("preference", "expect rouge_l"),
    "preference-axolotl.jsonl": ("preference", "expect rouge_l"),
    "preference-alpaca.json": ("preference", "expect rouge_l"),
    "kto.jsonl": ("kto", "expect rouge_l"),  # scored on its desirable answers; planned as KTO
}
GOAL = "Say which colour goes with the animal"


@pytest.fixture()
def project(tmp_path, monkeypatch, empty_caches):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_writes_a_recipe_that_lints_and_plans_once_the_goal_is_edited(project, capsys, name):
    shutil.copy(SHAPES / name, project / name)
    code, out = run(capsys, "init", name, "-o", "r.ftr")
    fmt, expect = CASES[name]
    recipe = (project / "r.ftr").read_text()
    assert code == 0 and "error[FTR212]" in out and "ftc plan" in out
    assert f"format = {fmt}" in recipe and expect in recipe and 'model("smollm2-135m-instruct")' in recipe
    assert "holdout = 20%" in recipe and f'path   = "{name}"' in recipe
    assert run(capsys, "lint", "r.ftr")[0] == 1  # the placeholder goal stops it
    (project / "r.ftr").write_text(recipe.replace(recipe.split('behavior("')[1].split('")')[0], GOAL))
    code, out = run(capsys, "lint", "r.ftr")
    assert code == 0, out
    code, out = run(capsys, "plan", "r.ftr", "--out", "plan.json")
    assert code == 0, out
    load = next(s for s in json.loads((project / "plan.json").read_text())["steps"] if s["id"] == "load")
    assert [s["format"] for s in load["config"]["sources"]] == [fmt]


def test_init_generates_a_json_schema_the_answers_meet(project, capsys):
    shutil.copy(SHAPES / "sharegpt.jsonl", project / "tickets.jsonl")
    code, _ = run(capsys, "init", "tickets.jsonl")
    schema = json.loads((project / "tickets.schema.json").read_text())
    recipe = (project / "tickets.ftr").read_text()
    assert code == 0 and 'recipe "tickets"' in recipe and "expect json_valid >= 0.95" in recipe
    assert 'json_schema("tickets.schema.json")' in recipe
    assert schema["type"] == "object" and schema["required"] == ["animal", "colour"]
    assert schema["properties"]["colour"] == {"type": "string"}


def test_init_writes_the_column_map_it_needed(project, capsys):
    rows = [
        {"question": f"What is {i} plus {i + 1} in words?", "response": f"It is {2 * i + 1} in digits and words."}
        for i in range(14)
    ]
    (project / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out = run(capsys, "init", "qa.jsonl")
    recipe = (project / "qa.ftr").read_text()
    assert code == 0 and "format = instruction" in recipe and "columns" in out
    assert 'columns = { instruction = "question", output = "response" }' in recipe


def test_init_refuses_an_unknown_shape_and_names_its_keys(project, capsys):
    (project / "odd.jsonl").write_text('{"foo": 1, "bar": 2}\n')
    code, out = run(capsys, "init", "odd.jsonl")
    assert code == 1 and "keys: bar, foo" in out and "ftc schema data" in out


def test_init_never_overwrites_without_force(project, capsys):
    shutil.copy(SHAPES / "chat.jsonl", project / "chat.jsonl")
    (project / "chat.ftr").write_text("# mine\n")
    code, out = run(capsys, "init", "chat.jsonl")
    assert code == 2 and "--force" in out and (project / "chat.ftr").read_text() == "# mine\n"
    assert run(capsys, "init", "chat.jsonl", "--force")[0] == 0


def test_init_on_a_documents_folder_writes_a_knowledge_recipe(project, capsys):
    docs = project / "handbook"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\nRefunds take five working days.\n")
    code, out = run(capsys, "init", "handbook")
    recipe = (project / "handbook.ftr").read_text()
    assert code == 0 and 'documents "handbook"' in recipe and 'goal = knowledge("TODO' in recipe


def test_init_on_preference_pairs_says_the_holdout_needs_behaviour_rows(project, capsys):
    shutil.copy(SHAPES / "preference-sharegpt.json", project / "pairs.json")
    code, out = run(capsys, "init", "pairs.json")
    assert code == 0 and "note: Preference pairs stay in training" in out
    assert "# Preference pairs stay in training" in (project / "pairs.ftr").read_text()
