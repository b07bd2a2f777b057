"""The GitHub Action (action.yml) and the commands behind its pull-request comment.

GitHub's API and runners cannot be reached from here, so the action's own `run:` scripts are run
with bash the way a runner runs them (`bash --noprofile --norc -eo pipefail`, `$GITHUB_OUTPUT`,
`$GITHUB_STEP_SUMMARY`, the step's `env:` and `working-directory:` with their `${{ }}` expressions
filled in) against a temporary git repository with two commits between which recipes are added,
edited and deleted. `ftc` is this checkout's entry point; `gh` is a stand-in that records its
arguments and keeps the pull request's comments in a JSON file. The two third-party steps
(actions/setup-python, github/codeql-action/upload-sarif) are checked by their inputs only.

Golden files: tests/golden/action/ (comment bodies; commit ids are replaced by `<base>` and
`<head>`) and tests/golden/plans-markdown/ (`ftc plan --format markdown`). Regenerate with
``FTC_UPDATE_GOLDEN=1`` and review the diff.
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
import yaml

from ftc.compiler.cli.main import main
from ftc.compiler.plan.diff_markdown import MARKER, NO_CHANGES_MARKER, RecipeChange, code, fenced, prose, render_comment

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("FTC_UPDATE_GOLDEN") == "1"
PR_NUMBER = "7"
REPOSITORY = "octo/recipes"
TOKEN = "test-token-not-a-secret"
pytestmark = pytest.mark.usefixtures("empty_caches")

# The stand-in for the GitHub CLI. Only `gh api` is used by the action; anything else fails loudly.
FAKE_GH = """#!{python}
import json, os, shutil, subprocess, sys

args = sys.argv[1:]
with open(os.environ["FAKE_GH_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
if not os.environ.get("GH_TOKEN"):
    sys.exit("gh: set the GH_TOKEN environment variable")
if args[:1] != ["api"]:
    sys.exit("fake gh: only `gh api` is supported")
method, jq, fields, endpoint = "GET", None, {{}}, None
rest = iter(args[1:])
for arg in rest:
    if arg == "--method":
        method = next(rest)
    elif arg == "--jq":
        jq = next(rest)
    elif arg == "-F":
        key, _, value = next(rest).partition("=")
        fields[key] = open(value[1:], encoding="utf-8").read() if value.startswith("@") else value
    elif arg != "--paginate":
        endpoint = arg
with open(os.environ["FAKE_GH_STATE"], encoding="utf-8") as f:
    state = json.load(f)
parts = endpoint.split("/")
if method == "GET" and parts[3:6:2] == ["issues", "comments"]:
    result = state["comments"]
elif method == "POST" and parts[3:6:2] == ["issues", "comments"]:
    result = {{"id": state["next_id"], "body": fields["body"], "user": {{"login": "github-actions[bot]", "type": "Bot"}},
              "html_url": f"https://github.com/{{parts[1]}}/{{parts[2]}}/pull/{{parts[4]}}#issuecomment-{{state['next_id']}}"}}
    state["next_id"] += 1
    state["comments"].append(result)
elif method == "PATCH" and parts[3:5] == ["issues", "comments"]:
    found = [c for c in state["comments"] if str(c["id"]) == parts[5]]
    if not found or found[0]["user"]["type"] != "Bot":
        sys.exit("gh: Not Found (HTTP 404)")
    result = found[0]
    result["body"] = fields["body"]
else:
    sys.exit(f"fake gh: unexpected {{method}} {{endpoint}}")
with open(os.environ["FAKE_GH_STATE"], "w", encoding="utf-8") as f:
    json.dump(state, f)
out = json.dumps(result)
if jq is not None:  # gh's --jq is jq's language: the real jq evaluates it
    if shutil.which("jq") is None:
        sys.exit("fake gh: `jq` is needed to evaluate --jq (apt-get install jq)")
    out = subprocess.run(["jq", "-r", jq], input=out, capture_output=True, text=True, check=True).stdout
sys.stdout.write(out)
"""

# Comments already on the pull request: a reviewer's, and one that quotes the marker without
# being the action's (the action must only ever touch the comment that starts with it).
HUMAN_COMMENTS = [
    {"id": 11, "body": "Looks good, but check the learning rate.", "user": {"login": "reviewer", "type": "User"}},
    {"id": 12, "body": f"Quoting the bot:\n> {MARKER}", "user": {"login": "reviewer", "type": "User"}},
]


# --- a repository with two commits -------------------------------------------------------------
def git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "ftc test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "ftc test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}: update this test's edit"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose pull request adds support-rag.ftr, edits quickstart.ftr (lr, epochs, an
    expectation), deletes polite-replies.ftr and changes a data file of handbook-qa.ftr."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text("[project]\nname = 'recipes'\n", encoding="utf-8")
    shutil.copytree(REPO / "recipes", repo / "recipes", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "recipes" / "support-rag.ftr").unlink()
    for name in ("sql-distill.ftr",):
        (repo / "recipes" / name).unlink()
    base = commit_all(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    shutil.copy(REPO / "recipes" / "support-rag.ftr", repo / "recipes" / "support-rag.ftr")
    (repo / "recipes" / "polite-replies.ftr").unlink()
    quickstart = repo / "recipes" / "quickstart.ftr"
    edit(quickstart, "  eval {", "  train {\n    lr     = 5e-4\n    epochs = 3\n  }\n\n  eval {")
    edit(quickstart, 'expect exact_match(field = "priority") >= 0.80', 'expect exact_match(field = "priority") >= 0.85')
    # handbook-qa.ftr stays as it is, but one of its evaluation questions goes: its plan changes.
    questions = repo / "recipes" / "data" / "handbook-qa" / "questions.jsonl"
    questions.write_text("".join(questions.read_text(encoding="utf-8").splitlines(True)[:-1]), encoding="utf-8")
    head = commit_all(repo, "feature")
    return repo, base, head


# --- running the action's steps ----------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'[^']*')|(?P<op>==|!=|&&|\|\||!|\(|\))|(?P<fn>[a-z]+\(\))|(?P<name>[A-Za-z_][\w.-]*))"
)


def evaluate(expr: str, ctx: dict[str, str], failed: bool = False) -> object:
    """The subset of GitHub's expression language action.yml uses: names, 'strings', ==, !=, &&,
    ||, !, always(), success(), failure(). A name this test does not provide fails the test rather
    than reading as ''. ``failed``: whether an earlier step failed (what success() looks at)."""
    out, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN_RE.match(expr, pos)
        assert m, f"unsupported expression {expr!r} at {pos}"
        pos = m.end()
        if m["str"]:
            out.append(repr(m["str"][1:-1]))
        elif m["op"]:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        elif m["fn"]:
            out.append(repr({"always()": True, "success()": not failed, "failure()": failed}[m["fn"]]))
        else:
            name = m["name"]
            assert name in ctx or name.startswith("steps."), f"the test gives no value for {name}"
            out.append(repr(ctx.get(name, "")))
    return eval("".join(out), {"__builtins__": {}})  # noqa: S307 - our own action.yml, tokens checked above


def substitute(value: str, ctx: dict[str, str]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m[1].strip(), ctx)), str(value))


def load_action() -> dict:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


class Runner:
    """Runs action.yml's steps as a runner would, with this checkout's ftc and the fake gh."""

    def __init__(
        self, tmp: Path, repo: Path, base: str, inputs: dict[str, str] | None = None, event: str = "pull_request"
    ):
        self.repo, self.tmp = repo, tmp
        self.bin = tmp / "bin"
        self.runner_temp = tmp / "runner-temp"
        for folder in (self.bin, self.runner_temp):
            folder.mkdir(exist_ok=True)
        self._tools()
        self.state, self.log = tmp / "gh-state.json", tmp / "gh-calls.jsonl"
        if not self.state.exists():
            self.state.write_text(json.dumps({"comments": HUMAN_COMMENTS, "next_id": 1001}), encoding="utf-8")
        self.summary = tmp / "step-summary.md"
        self.action = load_action()
        self.ctx = {
            "github.action_path": str(REPO),
            "github.event_name": event,
            "github.repository": REPOSITORY,
            "github.event.pull_request.number": PR_NUMBER if event == "pull_request" else "",
            "github.event.pull_request.base.sha": base if event == "pull_request" else "",
            "github.token": TOKEN,
            "github.workspace": str(repo),
        }
        for name, spec in self.action["inputs"].items():
            self.ctx[f"inputs.{name}"] = substitute(spec.get("default", ""), self.ctx)
        self.ctx.update({f"inputs.{k}": v for k, v in (inputs or {}).items()})
        self.results: dict[str, subprocess.CompletedProcess] = {}

    def _tools(self) -> None:
        gh = self.bin / "gh"
        gh.write_text(FAKE_GH.format(python=sys.executable), encoding="utf-8")
        ftc = self.bin / "ftc"
        # `ftc` is this checkout's entry point, with the interpreter that runs the tests.
        ftc.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -c "from ftc.compiler.cli.main import entry; entry()" "$@"\n',
            encoding="utf-8",
        )
        for tool in (gh, ftc):
            tool.chmod(0o755)

    def env(self) -> dict[str, str]:
        keep = {k: os.environ[k] for k in ("FTC_HOME", "HF_HOME", "LANG", "SYSTEMROOT") if k in os.environ}
        return {
            **keep,
            "PATH": f"{self.bin}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(self.tmp),
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_PATH": str(self.tmp / "github-path.txt"),
            "FAKE_GH_STATE": str(self.state),
            "FAKE_GH_LOG": str(self.log),
        }

    def run(self, skip: tuple[str, ...] = ("install",)) -> dict[str, subprocess.CompletedProcess]:
        """Every step in order, as a runner orders them: a condition without a status function
        means `success() && ...`, so after a failed step only `always()` steps run. setup-python
        and install are taken as done: ftc is this checkout's."""
        failed = False
        for step in self.action["runs"]["steps"]:
            condition = step.get("if", "success()")
            if not re.search(r"\b(always|success|failure)\(\)", condition):
                condition = f"success() && ({condition})"
            if "uses" in step or step["id"] in skip or not evaluate(condition, self.ctx, failed):
                continue
            self.results[step["id"]] = self.run_step(step, self.env())
            failed = failed or self.results[step["id"]].returncode != 0
        return self.results

    def run_step(self, step: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
        outputs = self.tmp / f"output-{step['id']}.txt"
        outputs.write_text("", encoding="utf-8")
        script = self.tmp / f"step-{step['id']}.sh"
        script.write_text(step["run"], encoding="utf-8")
        env = {
            **env,
            **{k: substitute(v, self.ctx) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(outputs),
        }
        cwd = self.repo / substitute(step.get("working-directory", "."), self.ctx)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        for line in outputs.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            self.ctx[f"steps.{step['id']}.outputs.{key}"] = value
        return done

    def gh_calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def comments(self) -> list[dict]:
        return json.loads(self.state.read_text(encoding="utf-8"))["comments"]


def normalised(body: str, base: str, head: str) -> str:
    # Commit ids depend on every byte of the copied recipes and data; the golden should not.
    return body.replace(base[:12], "<base>").replace(head[:12], "<head>")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; generate it with FTC_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file (FTC_UPDATE_GOLDEN=1 to accept)"
    )


# --- action.yml's structure --------------------------------------------------------------------
def test_action_is_a_composite_with_the_documented_inputs():
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "paths",
        "python-version",
        "comment",
        "upload-sarif",
        "github-token",
        "working-directory",
    }
    assert action["inputs"]["paths"]["default"] == "**/*.ftr"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    uses = {s["id"]: s["uses"] for s in action["runs"]["steps"] if "uses" in s}
    assert uses == {"python": "actions/setup-python@v6", "upload-sarif": "github/codeql-action/upload-sarif@v4"}
    steps = {s["id"]: s for s in action["runs"]["steps"]}
    assert steps["python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    assert steps["upload-sarif"]["with"]["sarif_file"] == "${{ steps.lint.outputs.sarif }}"


def test_run_scripts_take_values_from_env_only():
    # `${{ }}` inside a script is pasted into the shell text: a branch name could run code.
    for step in load_action()["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["id"]
            assert step["shell"] == "bash", step["id"]


@pytest.mark.parametrize("doc", ["docs/github-action.md", "README.md"])
def test_the_example_workflows_fit_the_action(doc):
    inputs = set(load_action()["inputs"])
    for block in re.findall(r"```yaml\n(.*?)```", (REPO / doc).read_text(encoding="utf-8"), re.S):
        workflow = yaml.safe_load(block)
        assert workflow["permissions"]["pull-requests"] == "write"
        assert workflow["permissions"]["security-events"] == "write"
        checkout, ftc = workflow["jobs"]["ftc"]["steps"]
        assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
        assert ftc["uses"] == "OWNER/ftc@v1" and set(ftc.get("with", {})) <= inputs


def test_the_comment_step_looks_for_the_markers_pr_plan_writes():
    script = next(s["run"] for s in load_action()["runs"]["steps"] if s.get("id") == "comment")
    assert f"marker='{MARKER}'" in script and f"no_changes='{NO_CHANGES_MARKER}'" in script


def test_the_install_has_no_torch(tmp_path, project):
    """The install step, run with a stand-in `python` that records what it is asked to do."""
    repo, base, _ = project
    runner = Runner(tmp_path, repo, base)
    fake = tmp_path / "fake-python"
    fake.mkdir()
    calls = tmp_path / "python-calls.jsonl"
    # `python -m venv DIR` makes DIR/bin/python, a copy of this recorder: the pip call lands here too.
    recorder = (
        f"#!{sys.executable}\nimport json, os, shutil, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] == ['-m', 'venv']:\n"
        "    os.makedirs(os.path.join(sys.argv[3], 'bin'))\n"
        "    shutil.copy(__file__, os.path.join(sys.argv[3], 'bin', 'python'))\n"
    )
    (fake / "python").write_text(recorder, encoding="utf-8")
    (fake / "python").chmod(0o755)
    step = next(s for s in runner.action["runs"]["steps"] if s.get("id") == "install")
    env = {**runner.env(), "PATH": f"{fake}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    done = runner.run_step(step, env)
    assert done.returncode == 0, done.stderr
    venv = runner.runner_temp / "ftc-action-venv"
    recorded = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
    assert recorded == [
        ["-m", "venv", str(venv)],
        ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
    ]
    assert (tmp_path / "github-path.txt").read_text(encoding="utf-8") == f"{venv}/bin\n"
    commands = [line for line in step["run"].splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in commands if "torch" in line or "[run]" in line]


# --- a pull request that adds, edits and deletes recipes ---------------------------------------
def test_pull_request_comment_is_posted_then_updated(tmp_path, project):
    repo, base, head = project
    runner = Runner(tmp_path, repo, base)
    results = runner.run()
    assert {k: r.returncode for k, r in results.items()} == {
        "files": 0,
        "lint": 0,
        "fmt": 0,
        "plan": 0,
        "comment": 0,
        "verdict": 0,
    }, {k: r.stderr[-2000:] for k, r in results.items()}
    calls = runner.gh_calls()
    assert [c[:3] for c in calls] == [
        ["api", "--paginate", f"repos/{REPOSITORY}/issues/{PR_NUMBER}/comments"],
        ["api", "--method", "POST"],
    ]
    posted = [c for c in runner.comments() if c["user"]["type"] == "Bot"]
    assert len(posted) == 1 and posted[0]["id"] == 1001
    check_golden("action/comment.md", normalised(posted[0]["body"], base, head))
    assert posted[0]["body"] in runner.summary.read_text(encoding="utf-8")  # forks without a token still see it

    # A second push: the same comment is edited in place, nothing new is posted.
    edit(repo / "recipes" / "quickstart.ftr", "epochs = 3", "epochs = 1")
    head2 = commit_all(repo, "second push")
    results = Runner(tmp_path, repo, base).run()
    assert results["comment"].returncode == 0, results["comment"].stderr
    calls = runner.gh_calls()[2:]
    assert [c[:4] for c in calls] == [
        ["api", "--paginate", f"repos/{REPOSITORY}/issues/{PR_NUMBER}/comments", "--jq"],
        ["api", "--method", "PATCH", f"repos/{REPOSITORY}/issues/comments/1001"],
    ]
    comments = runner.comments()
    assert [c["id"] for c in comments] == [11, 12, 1001] and comments[:2] == HUMAN_COMMENTS
    assert "`epochs` | 2 (rule) | 1 (recipe)" in comments[2]["body"] and head2[:12] in comments[2]["body"]


def test_lint_results_are_sarif_with_repository_paths(tmp_path, project):
    repo, base, _ = project
    (repo / "sub").mkdir()
    shutil.move(repo / "recipes", repo / "sub" / "recipes")
    # A recipe with a lint warning (FTR204, no baseline margin), so the SARIF has a result to place.
    edit(repo / "sub" / "recipes" / "quickstart.ftr", "    beat baseline by 10%\n", "")
    runner = Runner(tmp_path, repo, base, {"working-directory": "sub", "comment": "false"})
    results = runner.run()
    assert results["lint"].returncode == 0, results["lint"].stderr
    sarif = json.loads(Path(runner.ctx["steps.lint.outputs.sarif"]).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris and all(u.startswith("sub/recipes/") for u in uris), uris  # code scanning wants them from the top
    # Every recipe in the checkout (polite-replies and sql-distill are gone on this branch).
    present = sorted(p.name for p in (repo / "sub" / "recipes").glob("*.ftr"))
    assert {"handbook-qa.ftr", "quickstart.ftr", "support-rag.ftr"} <= set(present)
    assert not {"polite-replies.ftr", "sql-distill.ftr"} & set(present)
    assert runner.ctx["steps.files.outputs.count"] == str(len(present))
    assert "comment" not in results and runner.gh_calls() == []


def test_a_broken_recipe_fails_the_job_after_commenting(tmp_path, project):
    repo, base, _ = project
    (repo / "recipes" / "broken.ftr").write_text('recipe "broken" {\n  goal = behavior("x")\n}\n', encoding="utf-8")
    (repo / "recipes" / "messy.ftr").write_text(
        (REPO / "recipes" / "quickstart.ftr").read_text(encoding="utf-8").replace("  ", "    "), encoding="utf-8"
    )
    commit_all(repo, "broken")
    runner = Runner(tmp_path, repo, base)
    results = runner.run()
    assert runner.ctx["steps.lint.outputs.exit-code"] == "1"
    assert (
        runner.ctx["steps.fmt.outputs.exit-code"] == "1" and "would reformat recipes/messy.ftr" in results["fmt"].stderr
    )
    assert runner.ctx["steps.plan.outputs.exit-code"] == "1"
    assert results["verdict"].returncode == 1
    body = runner.comments()[-1]["body"]
    assert "### `recipes/broken.ftr` (added)" in body and "error[FTR106]" in body and str(repo) not in body


def test_no_recipe_change_posts_nothing(tmp_path, project):
    repo, _, head = project
    (repo / "README.md").write_text("docs only\n", encoding="utf-8")
    commit_all(repo, "docs")
    runner = Runner(tmp_path, repo, head)  # the base is the feature commit: no recipe differs
    results = runner.run()
    assert results["comment"].returncode == 0 and "nothing to comment" in results["comment"].stdout
    assert [c[1] for c in runner.gh_calls()] == ["--paginate"]
    assert runner.comments() == HUMAN_COMMENTS


def test_no_recipe_change_updates_an_earlier_comment(tmp_path, project):
    # The pull request changed recipes on an earlier push and no longer does: say so, in place.
    repo, base, _ = project
    Runner(tmp_path, repo, base).run()
    git(repo, "revert", "--no-edit", "HEAD")
    runner = Runner(tmp_path, repo, base)
    assert runner.run()["comment"].returncode == 0
    assert runner.gh_calls()[-1][:3] == ["api", "--method", "PATCH"]
    assert NO_CHANGES_MARKER in runner.comments()[-1]["body"]


def test_push_events_lint_and_check_only(tmp_path, project):
    repo, base, _ = project
    # Patterns on several lines (a YAML block) work as well as on one; a file two patterns match counts once.
    paths = "recipes/quickstart.ftr\nrecipes/support-rag.ftr recipes/quick*.ftr\n"
    runner = Runner(tmp_path, repo, base, {"paths": paths}, event="push")
    results = runner.run()
    assert set(results) == {"files", "lint", "fmt", "verdict"} and results["verdict"].returncode == 0
    listed = Path(runner.ctx["steps.files.outputs.list"]).read_text(encoding="utf-8").split("\0")
    assert listed == ["recipes/quickstart.ftr", "recipes/support-rag.ftr", ""]


def test_a_failed_comment_does_not_fail_the_job(tmp_path, project):
    # A fork's read-only token: GitHub refuses the POST. The plan is in the job summary instead.
    repo, base, _ = project
    runner = Runner(tmp_path, repo, base)
    (runner.bin / "gh").write_text(
        "#!/bin/sh\necho 'HTTP 403: Resource not accessible by integration' >&2\nexit 1\n", encoding="utf-8"
    )
    runner.bin.joinpath("gh").chmod(0o755)
    results = runner.run()
    assert (
        results["comment"].returncode == 0
        and "::warning::could not read the pull request's comments" in results["comment"].stdout
    )
    assert results["verdict"].returncode == 0 and MARKER in runner.summary.read_text(encoding="utf-8")


# --- ftc pr-plan -------------------------------------------------------------------------------
def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code_ = main(list(args))
    out, err = capsys.readouterr()
    return code_, out, err


def test_pr_plan_in_process(capsys, monkeypatch, project):
    repo, base, head = project
    monkeypatch.chdir(repo)
    status, out, _ = run_cli(capsys, "pr-plan", "--base", "main", "--head", "feature")
    assert status == 0
    assert out == (GOLDEN / "action" / "comment.md").read_text(encoding="utf-8").replace("<base>", base[:12]).replace(
        "<head>", head[:12]
    )
    assert git(repo, "worktree", "list").count("\n") == 0  # the temporary checkouts are gone


def test_pr_plan_renames_and_paths(capsys, monkeypatch, project):
    repo, _, _ = project
    monkeypatch.chdir(repo)
    git(repo, "mv", "recipes/handbook-qa.ftr", "recipes/handbook.ftr")
    commit_all(repo, "rename")
    status, out, _ = run_cli(capsys, "pr-plan", "--base", "HEAD~1")
    assert status == 0
    assert "### `recipes/handbook.ftr` (renamed from `recipes/handbook-qa.ftr`)" in out
    assert "`recipe.path` | `recipes/handbook-qa.ftr` | `recipes/handbook.ftr`" in out
    status, out, _ = run_cli(capsys, "pr-plan", "--base", "main", "recipes/quick*.ftr")
    assert re.findall(r"^### (.*)$", out, re.M) == ["`recipes/quickstart.ftr` (edited)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--base", "no-such-branch"),
            "unknown git revision 'no-such-branch' (with actions/checkout, set `fetch-depth: 0`",
        ),
        (("--base", "main", "--head=--upload-pack=x"), "'--upload-pack=x' is not a git revision"),
    ],
)
def test_pr_plan_bad_refs(capsys, monkeypatch, project, args, message):
    monkeypatch.chdir(project[0])
    status, out, err = run_cli(capsys, "pr-plan", *args)
    assert status == 2 and out == "" and message in err and "Traceback" not in err


def test_pr_plan_unwritable_out(capsys, monkeypatch, project, tmp_path):
    monkeypatch.chdir(project[0])
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    status, _, err = run_cli(capsys, "pr-plan", "--base", "main", "--out", str(blocker / "comment.md"))
    assert status == 2 and "cannot write the comment to" in err and "internal error" not in err


def test_pr_plan_outside_a_repository(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, "pr-plan", "--base", "main")
    assert status == 2 and "is not inside a git repository" in err


# --- ftc plan --format markdown ----------------------------------------------------------------
@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("recipe", sorted(p.stem for p in (REPO / "recipes").glob("*.ftr")))
def test_plan_markdown_golden(capsys, in_repo, recipe):
    status, out, _ = run_cli(capsys, "plan", f"recipes/{recipe}.ftr", "--format", "markdown")
    assert status == 0
    check_golden(f"plans-markdown/{recipe}.md", out)


def test_plan_diff_markdown_golden(capsys, tmp_path, in_repo):
    old = tmp_path / "old.json"
    assert run_cli(capsys, "plan", "recipes/quickstart.ftr", "--out", str(old))[0] == 0
    plan = json.loads(old.read_text(encoding="utf-8"))
    # An older plan as a reviewer might hold it: another method and rate, one expectation fewer.
    plan["method"], plan["hyperparameters"]["lr"] = "full", {"value": 2e-4, "set_by": "rule", "reason": "default"}
    plan["expects"] = plan["expects"][:-1]
    old.write_text(json.dumps(plan), encoding="utf-8")
    status, out, _ = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--diff", str(old), "--format", "markdown")
    assert status == 0
    check_golden("plans-markdown/quickstart-diff.md", out)
    _, text, _ = run_cli(capsys, "plan", "recipes/quickstart.ftr", "--diff", str(old))
    assert text.splitlines()[-1] in out  # the same "Plan: N to add, ..." count as the text diff


def test_markdown_escaping_keeps_recipe_text_inert():
    assert code("a|b") == "`a\\|b`" and code("x `y` z") == "``x `y` z``"
    assert prose("<img src=x> @team *bold* [l](u)") == "&lt;img src=x&gt; @&#8203;team \\*bold\\* \\[l\\](u)"
    assert fenced("```\nboom") == "````text\n```\nboom\n````"


def test_pr_plan_data_changes(capsys, monkeypatch, project):
    # Unchanged recipes whose files change are planned too; files no plan reads are not news.
    repo, _, _ = project
    monkeypatch.chdir(repo)
    (repo / "recipes" / "data" / "notes.txt").write_text("read by nothing\n", encoding="utf-8")
    commit_all(repo, "an unrelated file")
    status, out, _ = run_cli(capsys, "pr-plan", "--base", "HEAD~1")
    assert status == 0 and NO_CHANGES_MARKER in out
    git(repo, "rm", "-q", "recipes/data/handbook-qa/questions.jsonl")
    commit_all(repo, "the eval questions go")
    status, out, _ = run_cli(capsys, "pr-plan", "--base", "HEAD~1")
    assert status == 1  # the head no longer compiles
    assert "### `recipes/handbook-qa.ftr` (data changed)" in out and "The head version does not compile" in out
    assert "questions.jsonl" in out and str(repo) not in out


def test_a_huge_comment_stays_under_githubs_limit():
    changes = [RecipeChange(f"recipes/{'x' * 200}-{i}.ftr", "removed") for i in range(400)]
    body = render_comment(changes, "a" * 12, "b" * 12)
    assert len(body) < 65_536 and body.startswith(MARKER)
    assert "more left out to stay under GitHub's comment size limit" in body
    assert body.rstrip().endswith(" others.")  # the names that fit, then a count of the rest


def test_pr_plan_out_never_overwrites_what_is_not_an_earlier_comment(capsys, monkeypatch, project, tmp_path):
    """`--out` is checked before any checkout: a recipe or another file named by mistake is kept
    byte for byte; an earlier comment (its marker first) or an empty file is replaced."""
    monkeypatch.chdir(project[0])
    recipe = tmp_path / "r.ftr"
    recipe.write_text('recipe "r" {}\n', encoding="utf-8")
    status, _, err = run_cli(capsys, "pr-plan", "--base", "main", "--out", str(recipe))
    assert status == 2 and "a pull-request comment is written to a *.md file" in err
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n", encoding="utf-8")
    status, _, err = run_cli(capsys, "pr-plan", "--base", "main", "--out", str(notes))
    assert status == 2 and "exists and is not a pull-request comment; refusing to overwrite it" in err
    assert recipe.read_text(encoding="utf-8") == 'recipe "r" {}\n' and notes.read_text() == "# my notes\n"
    for earlier in ("<!-- ftc-plan-comment -->\nold\n", ""):
        comment = tmp_path / "comment.md"
        comment.write_text(earlier, encoding="utf-8")
        status, _, _ = run_cli(capsys, "pr-plan", "--base", "main", "--out", str(comment))
        assert status in (0, 1) and comment.read_text(encoding="utf-8").startswith("<!-- ftc-plan-comment -->")
