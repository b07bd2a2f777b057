"""`ftc plan`, `ftc rules`, `ftc explain R-...`, `ftc schema plan` through the real CLI.

Golden files: tests/golden/plans/<recipe>.txt (the view for a person) and .json (the plan) for
every recipe in recipes/. Regenerate after an intended change with
``FTC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_plan_cli.py`` and review the diff.
FTC_HOME and HF_HOME point at empty folders so the token counts never depend on this machine's
caches (with a cached tokenizer the plan says "tokenizer" instead of "chars/4").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.compiler.plan.io import read_plan

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "plans"
pytestmark = pytest.mark.usefixtures("empty_caches")
RECIPES = sorted(p.name for p in (REPO / "recipes").glob("*.ftr"))
UPDATE = os.environ.get("FTC_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def _pinned(empty_caches, monkeypatch):
    monkeypatch.chdir(REPO)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; generate it with FTC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file (FTC_UPDATE_GOLDEN=1 to accept)"
    )


def test_every_recipe_has_goldens():
    assert RECIPES, "no recipes in recipes/"
    if not UPDATE:
        stems = {p.stem for p in GOLDEN.glob("*.json")}
        assert stems == {Path(r).stem for r in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES)
def test_plan_golden(capsys, recipe):
    code, text, _ = run_cli(capsys, "plan", f"recipes/{recipe}", "--no-color")
    assert code == 0
    check_golden(Path(recipe).stem + ".txt", text)
    code, raw, _ = run_cli(capsys, "plan", f"recipes/{recipe}", "--json")
    assert code == 0
    check_golden(Path(recipe).stem + ".json", raw)
    plan = json.loads(raw)
    assert plan["project_root"] == "." and plan["recipe"]["path"] == f"recipes/{recipe}"
    assert str(REPO) not in raw  # portable: nothing absolute


def test_quickstart_contract(capsys):
    _, raw, _ = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--json")
    plan = json.loads(raw)
    assert [s["kind"] for s in plan["steps"]] == [
        "load",
        "clean",
        "dedup",
        "split",
        "baseline",
        "lr_probe",
        "train",
        "eval",
        "gate",
        "export",
    ]
    guards = {s["id"]: s["guard"] for s in plan["steps"]}
    assert guards["train"] == guards["lr_probe"] == "baseline_misses_bar"
    assert plan["hyperparameters"]["lr"]["set_by"] == "rule"  # the quickstart leaves every hyper-parameter to the rules
    assert plan["inputs"][0]["rows"] == 360 and plan["model"]["params"] == 134_515_008


def test_out_writes_a_valid_portable_plan(capsys, tmp_path):
    out = tmp_path / "plans" / "q.json"
    code, _, err = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--out", str(out))
    assert code == 0 and f"wrote {out}" in err
    plan = read_plan(out)
    from ftc.compiler.plan.io import project_root_of

    assert project_root_of(plan, out) == REPO
    assert (project_root_of(plan, out) / plan["inputs"][0]["path"]).is_file()


def test_plan_is_byte_identical(capsys):
    _, a, _ = run_cli(capsys, "plan", "recipes/support-rag.ftr", "--json")
    _, b, _ = run_cli(capsys, "plan", "recipes/support-rag.ftr", "--json")
    assert a == b


def _project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    for rel in ("recipes/data/tickets.jsonl", "recipes/schemas/ticket.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    # The quickstart's own train overrides are dropped, so the rules decide and a test's override shows.
    text = re.sub(
        r"\n  train \{.*?\n  \}\n", "\n", (REPO / "recipes/quickstart.ftr").read_text(encoding="utf-8"), flags=re.S
    )
    head, tail = text.rsplit("}", 1)
    path = tmp_path / "recipes/quickstart.ftr"
    path.write_text(head + extra + "}" + tail, encoding="utf-8")
    return path


def test_diff_shows_what_changed(capsys, tmp_path):
    recipe = _project(tmp_path)
    old = tmp_path / "old.json"
    assert run_cli(capsys, "plan", str(recipe), "--out", str(old))[0] == 0
    recipe = _project(tmp_path, "\n  train {\n    epochs = 1\n    method = full\n  }\n")
    code, out, _ = run_cli(capsys, "plan", str(recipe), "--diff", str(old))
    assert code == 0
    assert "~ method: lora -> full" in out
    assert re.search(r"~ hyperparameters.epochs.value: [23] -> 1", out)
    assert "~ hyperparameters.epochs.set_by: rule -> recipe" in out
    assert re.search(r"~ estimates.peak_memory_bytes: \d+\.\d\d GB -> \d+\.\d\d GB", out)
    assert "+ rules[R-FULL-NEEDS-REASON]: present" in out
    assert out.rstrip().splitlines()[-1].startswith("Plan: 1 to add, ")
    code, out, _ = run_cli(capsys, "plan", str(recipe), "--diff", str(old), "--out", str(tmp_path / "new.json"))
    code, out, _ = run_cli(capsys, "plan", str(recipe), "--diff", str(tmp_path / "new.json"))
    assert out.startswith("No changes against")


def _tamper(tmp_path: Path, capsys, edit) -> str:
    path = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "recipes/quickstart.ftr", "--out", str(path))[0] == 0
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    code, _, err = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--diff", str(path))
    assert code == 1 and "Traceback" not in err
    return err


def test_tampered_plan_invalid_json_is_located(tmp_path, capsys):
    err = _tamper(tmp_path, capsys, lambda t: t.replace('"plan_version": 1,', '"plan_version": 1', 1))
    line = next(
        i for i, text in enumerate((tmp_path / "plan.json").read_text().splitlines(), 1) if '"plan_version"' in text
    )
    assert f"plan.json:{line + 1}:" in err and "invalid JSON" in err


def test_tampered_plan_schema_violation_names_the_path(tmp_path, capsys):
    def edit(text: str) -> str:
        plan = json.loads(text)
        plan["steps"][5]["kind"] = "trian"
        plan["method"] = "lorra"
        return json.dumps(plan)

    err = _tamper(tmp_path, capsys, edit)
    assert "$.steps[5].kind: 'trian' is not one of" in err and "$.method: 'lorra' is not one of" in err


def test_tampered_plan_unguarded_train_is_refused(tmp_path, capsys):
    def edit(text: str) -> str:
        plan = json.loads(text)
        plan["steps"][6]["guard"] = None
        return json.dumps(plan)

    assert "$.steps[6].guard: a train step must carry the guard" in _tamper(tmp_path, capsys, edit)


def test_plan_errors_are_rendered_diagnostics(capsys, tmp_path):
    recipe = _project(tmp_path)
    text = recipe.read_text(encoding="utf-8").replace("budget = 30m", "budget = 10s")
    recipe.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "plan", str(recipe))
    assert code == 1 and "error[FTR309]" in err and "quickstart.ftr:" in err and "Traceback" not in err


def test_rules_and_explain(capsys):
    from ftc.compiler.lang.codes import CODES
    from ftc.compiler.plan.rules import DECISION_RULES

    code, out, _ = run_cli(capsys, "rules")
    assert code == 0 and all(r.id in out for r in DECISION_RULES) and len(DECISION_RULES) >= 9
    code, out, _ = run_cli(capsys, "explain", "R-PROMPT-FIRST")
    assert code == 0 and "baseline_misses_bar" in out and "Source:" in out
    for code_id in (c.code for c in CODES.values() if c.phase == "plan"):
        rc, out, _ = run_cli(capsys, "explain", code_id)
        assert rc == 0 and out.startswith(code_id)
    assert run_cli(capsys, "explain", "R-NO-SUCH-RULE")[0] == 2


def test_schema_plan_prints_a_valid_schema(capsys):
    from jsonschema import Draft202012Validator

    code, out, _ = run_cli(capsys, "schema", "plan")
    assert code == 0
    Draft202012Validator.check_schema(json.loads(out))


def test_plan_does_not_import_torch():
    probe = (
        "import sys\nfrom ftc.compiler.cli.main import main\n"
        "rc = main(['plan', 'recipes/support-rag.ftr', '--json'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\nsys.exit(rc or (1 if heavy else 0))\n"
    )
    env = dict(
        os.environ, FTC_HOME=str(REPO / ".ftc-test-home" / "none"), HF_HOME=str(REPO / ".ftc-test-home" / "none")
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_unwritable_out_is_a_clear_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--out", str(blocker / "plan.json"))
    assert code == 2 and f"cannot write the plan to {blocker / 'plan.json'}" in err and "Traceback" not in err


def test_missing_plan_for_diff(capsys, tmp_path):
    code, _, err = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--diff", str(tmp_path / "none.json"))
    assert code == 1 and "no such plan file" in err
