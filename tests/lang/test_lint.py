"""Advice rules (FTR2xx) beyond their golden cases: the conditions under which each stays quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.lang.credentials import find_secret
from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.lang.lint_rules import count_rows
from ftc.compiler.lang.recipe import DataSource

ROWS = [
    {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(20)
]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:5]))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# a\n")
    return tmp_path


def lint(project: Path, body: str, goal: str = 'behavior("b")') -> list[str]:
    text = f'recipe "t" {{\n  goal = {goal}\n  base = model("m")\n  data "rows" {{\n    path = "rows.jsonl"\n    format = chat\n  }}\n{body}\n}}\n'
    (project / "t.ftr").write_text(text)
    return [d.code for d in load_recipe(project / "t.ftr")[1]]


EVAL = "  eval {\n    holdout = 20%\n    EXPECTS\n    beat baseline by 10%\n  }"


def with_expects(*lines: str) -> str:
    return EVAL.replace("EXPECTS", "\n    ".join(lines))


def test_a_clean_recipe_has_no_findings(project: Path) -> None:
    assert lint(project, with_expects("expect rouge_l >= 0.3")) == []


@pytest.mark.parametrize(
    "lines",
    [
        ("expect json_valid >= 0.9", "expect json_valid <= 0.5"),
        ("expect rouge_l > 0.5", "expect rouge_l < 0.5"),
        ("expect rouge_l == 0.5", "expect rouge_l == 0.6"),
        ("expect perplexity <= 0.5",),
        ("expect json_valid < 0",),
    ],
)
def test_unreachable_thresholds(project: Path, lines: tuple[str, ...]) -> None:
    assert "FTR206" in lint(project, with_expects(*lines))


@pytest.mark.parametrize(
    "lines",
    [
        ("expect json_valid >= 1",),
        ("expect json_valid >= 0.5", "expect json_valid <= 0.5"),
        ("expect perplexity <= 1", "expect perplexity > 0.5"),
        ('expect exact_match(field = "a") >= 0.9', 'expect exact_match(field = "b") <= 0.1'),
    ],
)
def test_reachable_thresholds(project: Path, lines: tuple[str, ...]) -> None:
    assert "FTR206" not in lint(project, with_expects(*lines))


def test_same_file_as_train_and_eval_unless_leaks_are_accepted(project: Path) -> None:
    same = '  data "ev" {\n    path = "rows.jsonl"\n    format = chat\n  }\n'
    ev = '  eval {\n    data = "ev"\n    beat baseline by 10%\n    expect rouge_l >= 0.1\n    ACCEPT\n  }'
    assert "FTR209" in lint(project, same + ev.replace("ACCEPT", ""))
    assert "FTR209" not in lint(project, same + ev.replace("ACCEPT", "accept_leaks = true"))
    other = same.replace("rows.jsonl", "eval.jsonl")
    assert lint(project, other + ev.replace("ACCEPT", "")) == []


def test_documents_are_used_by_knowledge_goals(project: Path) -> None:
    docs = '  documents "d" {\n    path = "docs"\n  }\n'
    body = docs + with_expects("expect rouge_l >= 0.3")
    assert "FTR205" in lint(project, body)
    assert lint(project, body, goal='both(behavior = "b", knowledge = "k")') == []
    assert "FTR201" in lint(project, with_expects("expect rouge_l >= 0.3"), goal='knowledge("k")')


def test_qlora_only_flagged_on_cpu(project: Path) -> None:
    body = with_expects("expect rouge_l >= 0.3")
    assert "FTR207" in lint(project, "  train { method = qlora }\n" + body)
    assert "FTR207" not in lint(project, "  train { method = qlora }\n  constraints { device = cuda }\n" + body)


# Built from pieces so that this file itself does not trip secret scanners.
CREDENTIALS = [
    ("a Hugging Face token", "HF_TOKEN=" + "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7"),
    ("an OpenAI API key", "sk-" + "proj-" + "x1" * 15),
    ("an Anthropic API key", "sk-" + "ant-api03-" + "Ab3dE" * 6),
    ("an AWS access key id", "AKIA" + "ABCDEFGHIJKLMNOP"),
    ("an AWS secret access key", "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"),
    ("an AWS secret access key", "AWS_SECRET_ACCESS_KEY: " + "wJalrXUtnFEMI/K7MDENG+bPxRfiCY" + "EXAMPLEKEY"),
    ("an AWS secret access key", "the aws secret key " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"),
    ("a GitHub token", "ghp_" + "A1" * 18),
    ("a GitHub token", "gho_" + "b2" * 18),
    ("a GitHub token", "github_pat_" + "11ABCDEFG0" + "x_y" * 10),
    ("a Slack token", "xoxb-" + "123456789012-" + "abcdefABCDEF"),
    ("a Slack token", "xoxp-" + "1234567890-" + "0987654321"),
    ("a Google API key", "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("a private key", "-----BEGIN RSA " + "PRIVATE KEY-----"),
    ("a private key", "-----BEGIN OPENSSH " + "PRIVATE KEY-----"),
    ("a private key", "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----"),
    (
        "a JSON Web Token",
        "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("a bearer token", "Authorization: Bearer " + "4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("a password or API key", "password=" + "hunter2hunter2X"),
    ("a password or API key", "api_key: " + "a8f5f167f44f4964e6c998dee827110c"),
    ("a password or API key", "DB_PASSWORD = '" + "Sup3rS3cretPassw0rd" + "'"),
]


@pytest.mark.parametrize("what,text", CREDENTIALS, ids=[f"{w}-{i}" for i, (w, _t) in enumerate(CREDENTIALS)])
def test_credential_formats(what: str, text: str) -> None:
    found = find_secret(f"note: {text}")
    assert found is not None and found.what == what, found


ORDINARY = [
    "Reply politely; see hf_hub docs and sk-learn",
    "# the hub token comes from HF_TOKEN in the environment, never from the recipe",
    "max_tokens = 4096",
    "password = <your password>",
    "api_key = ${OPENAI_API_KEY}",
    "token: xxxxxxxxxxxxxxxxxxxx",
    "secret = ...redacted...",
    "Tell the user how to reset a password: Settings > Security",
    "The bearer of this ticket is the customer",
    "aws_secret_access_key is read from the environment",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_no_secret_in_ordinary_text(text: str) -> None:
    assert find_secret(text) is None


def test_the_example_recipes_and_docs_have_no_secrets() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in [*sorted((root / "recipes").glob("*.ftr")), root / "README.md"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert find_secret(line) is None, (path.name, line)


def test_a_credential_assigned_in_the_recipe_syntax_is_found(project: Path) -> None:
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    body = with_expects("expect rouge_l >= 0.3")
    text = (
        f'recipe "t" {{\n  goal = behavior("b")\n  base = model("m")\n  aws_secret_access_key = "{key}"\n'
        f'  data "rows" {{\n    path = "rows.jsonl"\n    format = chat\n    columns = {{ api_token = "{"Zq9" * 6}" }}\n  }}\n{body}\n}}\n'
    )
    (project / "t.ftr").write_text(text)
    secrets = [d for d in load_recipe(project / "t.ftr")[1] if d.code == "FTR208"]
    assert [d.message for d in secrets] == [
        "this looks like an AWS secret access key",
        "this looks like a credential assigned to `api_token`",
    ]
    assert secrets[0].span.line == 4 and secrets[1].span.line == 8


def test_secrets_in_comments_are_found(project: Path) -> None:
    token = "hf_" + "Z" * 34
    assert "FTR208" in lint(project, f"  # HF_TOKEN={token}\n" + with_expects("expect rouge_l >= 0.3"))


def test_row_counts(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"text": "x"}] * 7))
    (tmp_path / "a.csv").write_text("prompt,completion\n" + "p,c\n" * 4)
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n\n{"text": "y"}\n')
    assert count_rows(str(tmp_path / "a.json"), "text") == 7
    assert count_rows(str(tmp_path / "a.csv"), "completion") == 4
    assert count_rows(str(tmp_path / "a.jsonl"), "text") == 2
    assert count_rows(str(tmp_path / "missing.jsonl"), "text") is None


def test_documents_cannot_be_the_eval_data(project: Path) -> None:
    body = '  documents "d" {\n    path = "docs"\n  }\n  eval {\n    data = "d"\n    expect rouge_l >= 0.3\n    beat baseline by 10%\n  }'
    assert "FTR205" in lint(project, body, goal='both(behavior = "b", knowledge = "k")')


# --- FTR210: Trojan Source -------------------------------------------------------------------
def _lint_text(project: Path, text: str) -> list:
    (project / "t.ftr").write_text(text, encoding="utf-8")
    return [d for d in load_recipe(project / "t.ftr")[1] if d.code == "FTR210"]


BIDI_RECIPE = (
    'recipe "t" {\n  goal = behavior("b")\n  base = model("m")\n  PROMPT\n  data "rows" {\n    path = "rows.jsonl"\n'
    "    format = chat\n  }\n  eval {\n    holdout = 20%\n    expect rouge_l >= 0.3\n    beat baseline by 10%\n  }\n}\n"
)


@pytest.mark.parametrize(
    "char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
)
def test_bidi_controls_in_strings_are_errors(project: Path, char: str) -> None:
    [d] = _lint_text(project, BIDI_RECIPE.replace("PROMPT", f'system_prompt = "ab{char}cd"'))
    assert d.severity == "error" and f"U+{ord(char):04X}" in d.message
    assert (d.span.line, d.span.col, d.span.end_col) == (4, 22, 23)  # exactly the invisible character


def test_bidi_controls_in_comments_are_warnings(project: Path) -> None:
    [d] = _lint_text(project, BIDI_RECIPE.replace("PROMPT", "# admin only \u2067 // \u2069 check"))
    assert d.severity == "warning" and "comment" in d.message and d.span.line == 4


def test_bidi_controls_in_a_quoted_map_key_are_errors(project: Path) -> None:
    recipe = BIDI_RECIPE.replace(
        "    format = chat\n", '    format = chat\n    columns = { "msg\u202egs" = "messages" }\n'
    )
    [d] = _lint_text(project, recipe.replace("PROMPT", ""))
    assert d.severity == "error" and (d.span.line, d.span.col) == (8, 21)


def test_bidi_controls_outside_quotes_and_comments_do_not_parse(project: Path) -> None:
    (project / "t.ftr").write_text(BIDI_RECIPE.replace("PROMPT", "few\u202e_shot = 3"), encoding="utf-8")
    assert [d.code for d in load_recipe(project / "t.ftr")[1]] == ["FTR003"]


def test_an_escaped_bidi_control_is_visible_and_allowed(project: Path) -> None:
    assert _lint_text(project, BIDI_RECIPE.replace("PROMPT", 'system_prompt = "ab\\u202Ecd"')) == []


def test_ordinary_unicode_is_not_a_bidi_control(project: Path) -> None:
    assert _lint_text(project, BIDI_RECIPE.replace("PROMPT", 'system_prompt = "Grüße, שלום, مرحبا"  # ok')) == []


# --- FTR211: duplicate expectations ----------------------------------------------------------
@pytest.mark.parametrize(
    "lines",
    [
        ("expect json_valid >= 0.9", "expect json_valid >= 0.9"),
        ("expect json_valid >= 0.9", "expect json_valid >= 90%"),
        ('expect exact_match(field = "a") >= 0.5', 'expect exact_match("a") >= 0.50'),
    ],
)
def test_identical_expects_are_an_error(project: Path, lines: tuple[str, ...]) -> None:
    assert lint(project, with_expects(*lines)).count("FTR211") == 1


@pytest.mark.parametrize(
    "lines",
    [
        ("expect json_valid >= 0.9", "expect json_valid > 0.9"),
        ("expect rouge_l >= 0.3", "expect rouge_l <= 0.9"),
        ('expect exact_match(field = "a") >= 0.5', 'expect exact_match(field = "b") >= 0.5'),
    ],
)
def test_different_expects_are_fine(project: Path, lines: tuple[str, ...]) -> None:
    assert "FTR211" not in lint(project, with_expects(*lines))


# --- predicates shared with the planner ------------------------------------------------------
def test_the_shared_predicates_work_on_a_recipe_built_without_text() -> None:
    from ftc.compiler.lang.lint_rules import knowledge_without_documents, qlora_on_cpu
    from ftc.compiler.lang.recipe import Goal, ModelRef, Recipe, TrainOverrides

    rows = DataSource("rows", "/p/rows.jsonl", "rows.jsonl", "chat")
    recipe = Recipe(
        "r", "/p/r.ftr", "/p", Goal("knowledge", "k"), ModelRef("m"), (rows,), train=TrainOverrides({"method": "qlora"})
    )
    assert knowledge_without_documents(recipe).code == "FTR201"  # type: ignore[union-attr]
    assert qlora_on_cpu(recipe).code == "FTR207"  # type: ignore[union-attr]
    docs = DataSource("d", "/p/docs", "docs", "documents")
    assert (
        knowledge_without_documents(Recipe("r", "/p/r.ftr", "/p", Goal("knowledge", "k"), ModelRef("m"), (docs,)))
        is None
    )


def test_row_counts_are_remembered_per_file_version(tmp_path) -> None:
    """The language server lints on every keystroke: an unchanged data file is counted once, an
    edited one again."""
    import os

    from ftc.compiler.lang import lint_rules

    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "a"}\n' * 3, encoding="utf-8")
    assert lint_rules.count_rows(str(data), "text") == 3
    calls = []
    real = lint_rules._count
    lint_rules._count = lambda path: calls.append(path) or real(path)
    try:
        assert lint_rules.count_rows(str(data), "text") == 3 and calls == []
        data.write_text('{"text": "a"}\n' * 5, encoding="utf-8")
        os.utime(data, ns=(1, 10**9 * 2_000_000_000))
        assert lint_rules.count_rows(str(data), "text") == 5 and calls == [str(data)]
    finally:
        lint_rules._count = real


@pytest.mark.parametrize(
    "train_split, eval_split, config, leaks",
    [
        ("train", "train", None, True),
        ("train[:90%]", "train[85%:]", None, True),  # the last 5% of train is scored and trained on
        ("train[:1000]", "train[-100:]", None, True),  # overlaps on a split under 1,100 rows
        ("train", "test", None, False),
        ("train[:90%]", "train[90%:]", None, False),
        ("train", "train", "other", False),  # another configuration is other rows
    ],
)
def test_one_hub_dataset_leaks_only_when_the_splits_can_share_rows(
    project: Path, train_split: str, eval_split: str, config: str | None, leaks: bool
) -> None:
    """FTR209 on hub sources: one dataset id is one file only for the same configuration and
    overlapping splits; its train and test splits (or a split's two halves) are separate data."""
    other = f' config = "{config}"' if config else ""
    body = (
        f'  data "hub" {{ path = "hf://acme/chats" format = chat split = "{train_split}" }}\n'
        f'  data "ev" {{ path = "hf://acme/chats" format = chat split = "{eval_split}"{other} }}\n'
        '  eval {\n    data = "ev"\n    beat baseline by 10%\n    expect rouge_l >= 0.1\n  }'
    )
    assert ("FTR209" in lint(project, body)) is leaks
