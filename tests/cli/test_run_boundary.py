"""A plan file is untrusted: `ftc run PLAN.json` checks every path a step would read before any
step runs (no model is loaded here: each refusal comes first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.compiler.plan.compile import compile_recipe
from ftc.compiler.plan.io import write_plan
from ftc.shared.contract import expect_label

REPO = Path(__file__).resolve().parents[2]
RECIPE = """recipe "boundary" {
  goal = behavior("Triage a ticket and reply as JSON")
  base = model("smollm2-135m-instruct")
  data "tickets" {
    path   = "data/tickets.jsonl"
    format = chat
  }
  eval {
    holdout = 20%
    expect json_schema("schemas/ticket.json") >= 0.5
  }
}
"""


@pytest.fixture
def project(tmp_path: Path, empty_caches: Path) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "schemas").mkdir()
    lines = (REPO / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    (root / "data" / "tickets.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "schemas" / "ticket.json").write_text('{"type": "object"}', encoding="utf-8")
    (root / "r.ftr").write_text(RECIPE, encoding="utf-8")
    (tmp_path / "secret.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    return root


def plan_of(project: Path) -> dict:
    return json.loads(json.dumps(compile_recipe(project / "r.ftr", out_dir=project).plan))


def run(project: Path, plan: dict, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    write_plan(plan, project / "plan.json")
    code = main(["run", str(project / "plan.json"), "--runs-dir", str(project / "runs"), *flags])
    assert not (project / "runs").exists(), "a refused plan must not start a run"
    return code, capsys.readouterr().err


def load_step(plan: dict) -> dict:
    return next(s for s in plan["steps"] if s["kind"] == "load")


def test_a_load_source_outside_the_project_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(project)
    load_step(plan)["config"]["sources"][0]["path"] = "../secret.jsonl"
    code, err = run(project, plan, capsys)
    assert code == 2 and "the load step's source 'tickets' (../secret.jsonl) lies outside the project" in err


def test_an_absolute_load_source_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(project)
    load_step(plan)["config"]["sources"][0]["path"] = "/etc/passwd"
    code, err = run(project, plan, capsys)
    assert code == 2 and "(/etc/passwd) lies outside the project" in err


def test_a_load_source_the_lock_does_not_pin_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(project)
    (project / "data" / "other.jsonl").write_text((project / "data" / "tickets.jsonl").read_text(encoding="utf-8"))
    load_step(plan)["config"]["sources"][0]["path"] = "data/other.jsonl"
    code, err = run(project, plan, capsys)
    assert code == 1 and "which its data lock (inputs) does not pin" in err


def test_a_project_root_above_the_plan_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(project)
    plan["project_root"] = "../../.."
    code, err = run(project, plan, capsys)
    assert code == 2 and "outside the project that holds the plan file" in err


def test_an_absolute_schema_path_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_of(project)
    expect = next(e for e in plan["expects"] if e["metric"] == "json_schema")
    expect["args"]["schema"] = "/etc/passwd"
    expect["label"] = expect_label(expect["metric"], expect["args"])  # a consistent forgery
    code, err = run(project, plan, capsys)
    assert code == 2 and "(/etc/passwd) lies outside the project" in err


def test_a_symlink_out_of_the_project_is_outside(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "data" / "link.jsonl").symlink_to(project.parent / "secret.jsonl")
    plan = plan_of(project)
    plan["inputs"][0]["path"] = load_step(plan)["config"]["sources"][0]["path"] = "data/link.jsonl"
    code, err = run(project, plan, capsys)
    assert code == 2 and "lies outside the project" in err
