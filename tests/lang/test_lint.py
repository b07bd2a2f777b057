"""Advice rules (FTR2xx) beyond their golden cases: the conditions under which each stays quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.lang.lint_rules import count_rows, find_secret

ROWS = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(20)]


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


@pytest.mark.parametrize(
    "text",
    [
        "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7",
        "sk-" + "proj-" + "x" * 30,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "ghp_" + "A" * 36,
        "-----BEGIN RSA PRIVATE KEY-----",
    ],
)
def test_secret_patterns(text: str) -> None:
    assert find_secret(f"token: {text}") is not None


def test_no_secret_in_ordinary_text() -> None:
    assert find_secret("Reply politely; see hf_hub docs and sk-learn") is None


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
