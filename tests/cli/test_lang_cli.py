"""`ftc lint`, `ftc fmt` and `ftc explain` (codes, rules, blocks, keys) through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftc.compiler.cli.main import cli, main
from ftc.compiler.lang.codes import CODES, RETIRED

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "diagnostics"


def run(args: list[str], input: bytes | str | None = None):
    from ftc.compiler.cli.main import _register

    _register()
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_lint_clean_recipes_exit_0() -> None:
    result = run(["lint", "recipes"])
    assert result.exit_code == 0, result.output
    assert (
        "5 files checked: 0 errors, 0 warnings" in result.output
        or "files checked: 0 errors, 0 warnings" in result.output
    )


def test_lint_errors_exit_1_and_warnings_only_with_strict() -> None:
    assert run(["lint", str(GOLDEN / "FTR102.ftr")]).exit_code == 1
    assert run(["lint", str(GOLDEN / "FTR204.ftr")]).exit_code == 0
    assert run(["lint", "--strict", str(GOLDEN / "FTR204.ftr")]).exit_code == 1


def test_lint_usage_error_exits_2() -> None:
    assert main(["lint", "--format", "xml", "recipes"]) == 2
    assert main(["lint"]) == 2


def test_lint_json() -> None:
    result = run(["lint", "--format", "json", str(GOLDEN / "FTR110.ftr")])
    doc = json.loads(result.output)
    assert doc["files"] == 1
    (d,) = doc["diagnostics"]
    assert d["code"] == "FTR110" and d["severity"] == "error" and d["line"] == 9 and d["hint"] == "did you mean `cpu`?"


def test_lint_sarif_has_rule_metadata_and_results() -> None:
    result = run(["lint", "--format", "sarif", str(GOLDEN / "FTR204.ftr"), str(GOLDEN / "FTR102.ftr")])
    doc = json.loads(result.output)
    assert doc["version"] == "2.1.0"
    driver = doc["runs"][0]["tool"]["driver"]
    rule_ids = {r["id"] for r in driver["rules"]}
    assert rule_ids == {c.code for c in CODES.values() if c.phase != "plan"}
    assert all(r["help"]["text"] and r["fullDescription"]["text"] for r in driver["rules"])
    levels = {r["ruleId"]: r["level"] for r in doc["runs"][0]["results"]}
    assert levels == {"FTR204": "warning", "FTR102": "error"}
    region = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_lint_github_annotations() -> None:
    result = run(["lint", "--format", "github", str(GOLDEN / "FTR105.ftr")])
    assert result.output.startswith("::error file=")
    assert "title=FTR105::" in result.output and "%25" in result.output  # '%' escaped


def test_lint_reads_stdin() -> None:
    result = run(["lint", "-"], input=b'recipe "x" {\n  goal = behavior("a")\n')
    assert result.exit_code == 1 and "<stdin>:1:12" in result.output


def test_lint_folder_is_recursive_and_empty_folder_is_located(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(GOLDEN / "FTR102.ftr", tmp_path / "a" / "b" / "deep.ftr")
    result = run(["lint", "--allow-outside", str(tmp_path)])
    assert "deep.ftr:" in result.output
    (tmp_path / "empty").mkdir()
    result = run(["lint", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "FTR001" in result.output and "empty:1:1" in result.output


def test_lint_does_not_import_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "from ftc.compiler.cli.main import main\n"
        "rc = main(['lint', 'recipes'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_fmt_check_diff_stdout_and_write(tmp_path: Path) -> None:
    messy = tmp_path / "m.ftr"
    messy.write_text('recipe "x" {   # keep me\n  goal=behavior("a")\n  train { lr = 2e-4  epochs = 3 }\n}\n')
    assert run(["fmt", "--check", "recipes"]).exit_code == 0
    result = run(["fmt", "--check", str(messy)])
    assert result.exit_code == 1 and "would reformat" in result.output
    diff = run(["fmt", "--diff", str(messy)]).output
    assert '-  goal=behavior("a")' in diff and '+  goal = behavior("a")' in diff
    printed = run(["fmt", "--stdout", str(messy)]).output
    assert (
        printed
        == 'recipe "x" {  # keep me\n  goal = behavior("a")\n  train {\n    lr     = 2e-4\n    epochs = 3\n  }\n}\n'
    )
    assert messy.read_text() != printed  # --stdout, --check, --diff never write
    assert run(["fmt", str(messy)]).exit_code == 0
    assert messy.read_text() == printed
    assert run(["fmt", "--check", str(messy)]).exit_code == 0


def test_fmt_stdin_and_broken_input() -> None:
    result = run(["fmt", "-"], input='recipe "x" { goal=behavior("a") }')
    assert result.output == 'recipe "x" {\n  goal = behavior("a")\n}\n'
    broken = run(["fmt", "-"], input='recipe "x" {')
    assert broken.exit_code == 1 and "FTR005" in broken.output


def test_explain_every_code() -> None:
    for code in CODES:
        result = run(["explain", code.lower()])
        assert result.exit_code == 0 and result.output.startswith(f"{code} {CODES[code].name} ({CODES[code].severity})")
        assert "Example:" in result.output and "Use instead:" in result.output
    assert run(["explain", "ftr207"]).output.startswith("FTR207 qlora-on-cpu (error)")


def test_explain_a_merged_code_points_at_the_one_that_stayed() -> None:
    for old, new in RETIRED.items():
        result = run(["explain", old])
        assert result.exit_code == 0 and f"{old} was merged into {new}" in result.output
        assert f"{new} {CODES[new].name}" in result.output


def test_explain_blocks_and_keys() -> None:
    block = run(["explain", "train"])
    assert (
        block.exit_code == 0
        and block.output.startswith("train: ")
        and "lr" in block.output
        and "R-HPARAM-DEFAULTS" in block.output
    )
    key = run(["explain", "train.lr"])
    assert key.exit_code == 0 and key.output.startswith("train.lr: learning rate")
    assert "Range:   1e-09 to 1" in key.output and "decided by R-LR" in key.output
    assert run(["explain", "lr"]).output == key.output  # one block has lr: the short name is enough
    holdout = run(["explain", "eval.holdout"]).output
    assert "default 20%" in holdout and "Unit:    % (or a fraction)" in holdout
    assert "exact_match" in run(["explain", "eval"]).output  # statements and metrics are listed


def test_explain_unknown_or_ambiguous_names_exit_2() -> None:
    assert main(["explain", "seed"]) == 2  # eval.seed and train.seed
    assert main(["explain", "trian"]) == 2
    assert main(["explain", "FTR999"]) == 2
    assert main(["explain", "train.nope"]) == 2


def test_explain_errors_name_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    main(["explain", "seed"])
    assert "`ftc explain eval.seed` or `ftc explain train.seed`" in capsys.readouterr().err
    main(["explain", "trian"])
    assert "did you mean `train`?" in capsys.readouterr().err
    main(["explain", "R-PROMT-FIRST"])
    assert "did you mean `R-PROMPT-FIRST`?" in capsys.readouterr().err
