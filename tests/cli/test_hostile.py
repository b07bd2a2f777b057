"""Hostile files, plan files and flags found by an adversarial sweep: each is refused with a
located message (file:line:col, the JSON path, or the flag's name) and the right exit code, and
nothing is written or lost."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.compiler.plan.io import read_plan
from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("empty_caches")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def plan() -> dict:
    from ftc.compiler.plan.compile import compile_recipe

    return compile_recipe(REPO / "recipes" / "quickstart.ftr").plan


def step(plan: dict, kind: str) -> dict:
    return next(s for s in plan["steps"] if s["kind"] == kind)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- recipes --------------------------------------------------------------------------------------
def test_cr_only_line_ends_read_like_lf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Classic-Mac line ends: the leading comment no longer swallows the file, and lines count as an
    editor shows them."""
    text = '# a comment\nrecipe "x" {\n  goal = behavior("a")\n  base = model("smollm2-135m-instruct")\n  bad = 1\n}\n'
    lf, cr = tmp_path / "lf.ftr", tmp_path / "cr.ftr"
    lf.write_text(text, encoding="utf-8")
    cr.write_bytes(text.replace("\n", "\r").encode())
    code_lf, out_lf, _ = run(capsys, "lint", "--format", "json", str(lf))
    code_cr, out_cr, _ = run(capsys, "lint", "--format", "json", str(cr))
    strip = [{k: v for k, v in d.items() if k != "file"} for d in json.loads(out_lf)["diagnostics"]]
    assert code_lf == code_cr == 1
    assert strip == [{k: v for k, v in d.items() if k != "file"} for d in json.loads(out_cr)["diagnostics"]]
    unknown = next(d for d in json.loads(out_cr)["diagnostics"] if d["code"] == "FTR102")
    assert (unknown["line"], unknown["col"], unknown["message"]) == (5, 3, "unknown key `bad` in `recipe`")
    code, out, _ = run(capsys, "lint", str(cr))
    assert f"--> {cr}:5:3\n  |\n5 |   bad = 1\n" in out


def test_fmt_of_cr_only_file_rewrites_lf_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "cr.ftr"
    path.write_bytes(b'# keep me\rrecipe "x" {  # and me\r  goal = behavior("a")\r}\r')
    assert main(["fmt", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == '# keep me\nrecipe "x" {  # and me\n  goal = behavior("a")\n}\n'
    assert main(["fmt", "--check", str(path)]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["lint", "-", "-"], "error: PATHS: '-' (stdin) may be given only once"),
        (["fmt", "-", "-"], "error: PATHS: '-' (stdin) may be given only once"),
        (["lint", ""], "error: PATHS: an empty path names no file"),
        (["fmt", " "], "error: PATHS: an empty path names no file"),
    ],
)
def test_lint_and_fmt_path_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and err.strip() == message and out == ""


@pytest.mark.parametrize("glob", ["../../etc/*", "/etc/*", "a/../../x/*.md", "~/notes/*.md", "docs/.."])
def test_a_documents_glob_may_not_leave_its_folder(glob: str, tmp_path: Path) -> None:
    from ftc.compiler.lang.frontend import load_recipe

    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# a\n", encoding="utf-8")
    path = tmp_path / "r.ftr"
    path.write_text(
        'recipe "g" {\n  goal = knowledge("answer from the docs")\n  base = model("smollm2-135m-instruct")\n'
        f'  documents "docs" {{\n    path = "docs"\n    glob = "{glob}"\n  }}\n'
        "  eval {\n    expect rouge_l >= 0.2\n  }\n}\n",
        encoding="utf-8",
    )
    recipe, diags = load_recipe(path)
    found = [d for d in diags if d.code == "FTR109"]
    assert recipe is None and len(found) == 1
    assert found[0].message == f"the glob `{glob}` leaves the documents folder"
    assert (found[0].span.line, found[0].span.col) == (6, 12)


# --- flags ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, message",
    [
        ("recipe", "is the recipe itself; write the plan to another file"),
        ("data", "an ftc plan is written to a *.json file"),
        ("schema", "exists and is not an ftc plan; refusing to overwrite it"),
        ("other.txt", "an ftc plan is written to a *.json file"),
    ],
)
def test_plan_out_never_overwrites_an_input(
    name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    (project / "data").mkdir(parents=True)
    (project / "schemas").mkdir()
    (project / "pyproject.toml").write_text("", encoding="utf-8")
    for rel in ("quickstart.ftr", "data/tickets.jsonl", "schemas/ticket.json"):
        (project / rel).write_bytes((REPO / "recipes" / rel).read_bytes())
    recipe = project / "quickstart.ftr"
    link = project / "recipe.json"  # a link to the recipe that passes the suffix check
    link.symlink_to(recipe)
    out = {"recipe": link, "data": project / "data/tickets.jsonl", "schema": project / "schemas/ticket.json"}
    target = out.get(name, project / name)
    before = snapshot(project)
    code, _, err = run(capsys, "plan", str(recipe), "--out", str(target))
    assert code == 2 and err.startswith(f"error: --out: {target}") and message in err
    assert snapshot(project) == before


def test_plan_out_replaces_an_earlier_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.json"
    out.write_text('{"plan_version": 1}', encoding="utf-8")
    code, _, err = run(capsys, "plan", str(REPO / "recipes" / "quickstart.ftr"), "--out", str(out))
    assert code == 0 and f"wrote {out}" in err
    assert read_plan(out)["recipe"]["name"] == "support-tickets"


def test_run_refuses_a_file_as_runs_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "runs.txt"
    blocker.write_text("keep", encoding="utf-8")
    code, _, err = run(capsys, "run", str(REPO / "recipes" / "quickstart.ftr"), "--runs-dir", str(blocker / "x"))
    assert code == 2 and err.strip() == f"error: --runs-dir: {blocker} is not a folder"
    assert blocker.read_text(encoding="utf-8") == "keep"


def test_device_profile_out_is_checked_before_measuring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.ftr"
    recipe.write_text("keep", encoding="utf-8")
    start = time.monotonic()
    code, _, err = run(capsys, "device", "profile", "--out", str(recipe))
    assert code == 2 and f"error: --out: {recipe}: a device profile is written to a *.json file" in err
    assert time.monotonic() - start < 30 and recipe.read_text(encoding="utf-8") == "keep"


def test_schema_plan_takes_no_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "schema", "plan", "x")
    assert code == 2 and out == "" and "takes no second argument" in err


def test_explain_does_not_echo_a_huge_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "x" * 100_000)
    assert code == 2 and len(err) < 500


# --- plan files -----------------------------------------------------------------------------------
def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(FtcError) as err:
        read_plan(path)
    assert "Traceback" not in err.value.message
    return err.value.message


def test_a_repeated_key_is_refused_with_its_path(plan: dict, tmp_path: Path) -> None:
    text = json.dumps(plan, indent=2, sort_keys=True)
    text = text.replace('"reason": "micro-batch', '"value": 64,\n      "reason": "micro-batch', 1)
    message = _refused(_write(tmp_path, text))
    assert message.startswith(f"error: {tmp_path / 'plan.json'}: $.hyperparameters.batch.value: the key appears twice")


@pytest.mark.parametrize("opener, closer", [('{"a":', "}"), ("[", "]")])
def test_deep_nesting_is_one_plain_error(opener: str, closer: str, tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, opener * 200_000 + "1" + closer * 200_000))
    assert "the JSON nests too deeply to be a plan" in message


def test_invalid_utf8_is_located_and_a_bom_is_accepted(plan: dict, tmp_path: Path) -> None:
    text = json.dumps(plan, indent=2).encode()
    path = _write(tmp_path, text[:40] + b"\xff" + text[40:])
    line = text[:40].count(b"\n") + 1
    col = 40 - text[:40].rfind(b"\n")
    assert f"plan.json:{line}:{col}: the plan is not UTF-8 text (byte 0xff)" in _refused(path)
    assert read_plan(_write(tmp_path, b"\xef\xbb\xbf" + text)) == plan


def test_a_huge_integer_is_refused_plainly(plan: dict, tmp_path: Path) -> None:
    text = json.dumps(plan).replace('"few_shot": 3', '"few_shot": ' + "9" * 5000)
    assert "an integer of 5,000 digits is larger than any plan value" in _refused(_write(tmp_path, text))


def _src(plan: dict) -> dict:
    return step(plan, "load")["config"]["sources"][0]


def _both_paths(value: str) -> Callable[[dict], None]:
    def edit(plan: dict) -> None:
        _src(plan)["path"] = value
        plan["inputs"][0]["path"] = value

    return edit


def _add_expect(metric: str, args: dict, threshold: float = 0.5) -> Callable[[dict], None]:
    from ftc.shared.contract import expect_label

    def edit(plan: dict) -> None:
        label = expect_label(metric, args)
        plan["expects"].append({"args": args, "label": label, "metric": metric, "op": ">=", "threshold": threshold})

    return edit


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(plan: dict) -> None:
        *parents, last = path.split(".")
        node = plan
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


CASES: list[tuple[str, Callable[[dict], None], str]] = [
    # the recipe name is the run folder's name: the language's rule, not a path
    ("name-path", _set("recipe.name", "../../../tmp/evil"), "$.recipe.name: '../../../tmp/evil' is not a recipe name"),
    ("name-empty", _set("recipe.name", ""), "$.recipe.name: '' is not a recipe name"),
    (
        "glob-dotdot",
        lambda p: _src(p).update(glob="../../**/*"),
        "$.steps[0].config.sources[0].glob: '../../**/*' may not be absolute or holding a `..` component",
    ),
    ("glob-abs", lambda p: _src(p).update(glob="/etc/*"), "$.steps[0].config.sources[0].glob: '/etc/*' may not be"),
    ("path-nul", _both_paths("data/\x00x"), "$.inputs[0].path: 'data/\\x00x' is not a path with no NUL character"),
    ("path-long-name", _both_paths("d/" + "a" * 300), "$.inputs[0].path: 'd/aaaa"),
    ("root-nul", _set("project_root", "\x00"), "$.project_root: '\\x00' is not a path with no NUL character"),
    (
        "step-id-long",
        lambda p: [p["steps"][0].update(id="a" * 1000), p["steps"][1].update(needs=["a" * 1000])],
        "$.steps[0].id: 'aaaa",
    ),
    (
        "source-twice",
        lambda p: step(p, "load")["config"]["sources"].append(dict(_src(p))),
        "$.steps[0].config.sources[1].name: duplicate data source 'tickets'",
    ),
    ("input-twice", lambda p: p["inputs"].append(dict(p["inputs"][0])), "$.inputs[1].name: duplicate data source"),
    ("rate-above-1", lambda p: p["expects"][0].update(threshold=2.0), "$.expects[0].threshold: 2.0 is greater than"),
    ("rate-negative", lambda p: p["expects"][0].update(threshold=-1), "$.expects[0].threshold: -1 is less than the"),
    (
        "metric-arg-unknown",
        lambda p: p["expects"][0]["args"].update(evil=1),
        "$.expects[0].args: Additional properties are not allowed ('evil' was unexpected)",
    ),
    ("regex-invalid", _add_expect("regex", {"pattern": "("}), "$.expects[4].args.pattern: '(' is not a valid regular"),
    (
        "judge-scale",
        _add_expect("judge", {"rubric": "polite", "scale": 1000, "teacher": "smollm2-135m-instruct"}, 3),
        "$.expects[4].args.scale: 1000 is greater than the maximum of 10",
    ),
    ("beat-negative", _set("gate.beat_baseline_pct", -10), "$.gate.beat_baseline_pct: -10 is not valid"),
    ("beat-huge", _set("gate.beat_baseline_pct", 1e308), "$.gate.beat_baseline_pct: 1e+308 is not valid"),
    (
        "template-file-outside",
        lambda p: p["hyperparameters"]["chat_template"].update(value="file:../../etc/passwd"),
        "$.hyperparameters.chat_template.value: 'file:../../etc/passwd' is not valid",
    ),
]


@pytest.mark.parametrize("edit, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_tampered_plan_is_refused_with_its_path(
    plan: dict, edit: Callable[[dict], None], message: str, tmp_path: Path
) -> None:
    bad = json.loads(json.dumps(plan))
    edit(bad)
    found = _refused(_write(tmp_path, json.dumps(bad)))
    assert f"  {tmp_path / 'plan.json'}: {message}" in found
    assert all(len(line) < 500 for line in found.splitlines())  # a long value is cut, not echoed whole


def test_a_plan_with_100k_steps_is_refused_quickly(plan: dict, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(plan))
    gate = {"id": "g", "kind": "gate", "needs": [], "guard": None, "config": {}}
    bad["steps"] += [dict(gate, id=f"g{i}") for i in range(100_000)]
    path = _write(tmp_path, json.dumps(bad))
    start = time.process_time()
    found = _refused(path)
    assert time.process_time() - start < 10
    assert "$.steps: 100,010 items; a plan holds at most 100" in found


def test_ftc_run_refuses_a_renamed_run_folder_before_any_step(
    plan: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = json.loads(json.dumps(plan))
    bad["recipe"]["name"] = "../../escaped"
    path = REPO / "recipes" / ".hostile-plan.json"  # inside the project, as a real plan file is
    path.write_text(json.dumps(bad), encoding="utf-8")
    try:
        code, _, err = run(capsys, "run", str(path), "--runs-dir", str(tmp_path / "runs"))
    finally:
        path.unlink()
    assert code == 1 and "$.recipe.name: '../../escaped' is not a recipe name" in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("rubric", ["../secret.md", "link.md"])
def test_a_judge_rubric_file_outside_the_project_is_refused_unless_allowed(
    plan: dict, rubric: str, tmp_path: Path
) -> None:
    """A rubric naming a .md/.txt file is read by the judge: the lock keeps it inside the project
    (a `..` path or a symlink out) as it does data and schemas, and --allow-outside allows it."""
    from ftc.compiler.plan.lock import check_paths

    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "secret.md").write_text("score 10\n", encoding="utf-8")
    (root / "link.md").symlink_to(tmp_path / "secret.md")
    bad = json.loads(json.dumps(plan))
    _add_expect("judge", {"rubric": rubric, "scale": 5, "teacher": "smollm2-135m-instruct"}, 3)(bad)
    bad["inputs"], bad["steps"] = [], []  # only the rubric is checked here
    with pytest.raises(FtcError) as err:
        check_paths(bad, root, allow_outside=False)
    assert f"rubric ({rubric}) lies outside the project" in str(err.value) and err.value.exit_code == 2
    check_paths(bad, root, allow_outside=True)
    bad["expects"][-1]["args"]["rubric"] = "Be strict about ../ paths.md and tone"  # text, not a file
    check_paths(bad, root, allow_outside=False)
