"""Semantic checks: units, types, ranges, required parts, names, paths, and the Recipe they build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.lang.suggest import did_you_mean, edit_distance

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(30)
]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project folder (pyproject.toml marks its root) with data and a recipes/ subfolder."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    rec = tmp_path / "recipes"
    (rec / "data" / "docs").mkdir(parents=True)
    (rec / "data" / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (rec / "data" / "pairs.jsonl").write_text(
        "".join(json.dumps({"prompt": "p", "chosen": f"c{i}", "rejected": "r"}) + "\n" for i in range(30))
    )
    (rec / "data" / "docs" / "a.md").write_text("# A\n\nfacts\n")
    (rec / "data" / "schema.json").write_text('{"type": "object"}')
    return rec


def recipe_text(
    extra: str = "", goal: str = 'behavior("Reply as JSON")', evals: str = "expect json_valid >= 0.9"
) -> str:
    return f"""recipe "t" {{
  goal = {goal}
  base = model("smollm2-135m-instruct")
  data "rows" {{
    path   = "data/rows.jsonl"
    format = chat
  }}
{extra}
  eval {{
    holdout = 20%
    {evals}
    beat baseline by 10%
  }}
}}
"""


def load(project: Path, text: str, **kw):
    path = project / "r.ftr"
    path.write_text(text)
    return load_recipe(path, **kw)


def error_codes(diags) -> list[str]:
    return [d.code for d in diags if d.severity == "error"]


def test_a_full_recipe_resolves_every_unit(project: Path) -> None:
    extra = """
  documents "docs" {
    path = "data/docs"
    glob = "**/*.md"
  }
  data "pairs" {
    path   = "data/pairs.jsonl"
    format = preference
    columns = { prompt = "prompt" }
    on_bad_rows = skip
    redact_pii = true
    max_tokens = 256
    overlong = truncate
  }
  constraints {
    device     = cuda
    gpus       = 2
    gpu_memory = 24GiB
    budget     = 1.5h
    latency    = 300ms
    max_params = 1B
  }
  train { method = lora  lora_r = 8  lr = 2e-4  epochs = 2  max_length = 512  batch = 8  packing = false }
  export { merged = true }
"""
    text = recipe_text(extra, goal='both(behavior = "Reply", knowledge = "Our docs")')
    text = text.replace(
        'base = model("smollm2-135m-instruct")',
        'base = model("smollm2-135m-instruct")\n  teacher = model("Qwen/Qwen2.5-7B-Instruct")\n  system_prompt = "Be brief."',
    )
    recipe, diags = load(project, text)
    assert recipe is not None, diags
    assert recipe.name == "t" and recipe.project_root == str(project.parent)
    assert (recipe.goal.kind, recipe.goal.text, recipe.goal.knowledge_text) == ("both", "Reply", "Our docs")
    assert recipe.teacher.name == "Qwen/Qwen2.5-7B-Instruct" and recipe.system_prompt == "Be brief."
    c = recipe.constraints
    assert (c.device, c.gpus, c.gpu_memory_bytes, c.budget_seconds, c.budget_usd, c.latency_ms, c.max_params) == (
        "cuda",
        2,
        24 * 2**30,
        5400.0,
        None,
        300.0,
        10**9,
    )
    pairs = recipe.data[2]
    assert pairs.path == str(project / "data" / "pairs.jsonl") and pairs.rel_path == "data/pairs.jsonl"
    assert (pairs.on_bad_rows, pairs.redact_pii, pairs.max_tokens, pairs.overlong) == ("skip", True, 256, "truncate")
    assert dict(pairs.columns) == {"prompt": "prompt"}
    assert recipe.documents[0].glob == "**/*.md" and recipe.documents[0].format == "documents"
    assert dict(recipe.train.values) == {
        "method": "lora",
        "lora_r": 8,
        "lr": 2e-4,
        "epochs": 2.0,
        "max_length": 512,
        "batch": 8,
        "packing": False,
    }
    assert recipe.export.merged is True
    assert recipe.eval.holdout_fraction == 0.2 and recipe.eval.beat_baseline_pct == 10.0


@pytest.mark.parametrize(
    ("budget", "seconds", "usd"),
    [
        ("30m", 1800.0, None),
        ("2h", 7200.0, None),
        ("1d", 86400.0, None),
        ("90s", 90.0, None),
        ("$20", None, 20.0),
        ("$1.50", None, 1.5),
    ],
)
def test_budget_is_time_or_money(project: Path, budget: str, seconds, usd) -> None:
    recipe, diags = load(project, recipe_text(f"  constraints {{ budget = {budget} }}"))
    assert recipe is not None, diags
    assert (recipe.constraints.budget_seconds, recipe.constraints.budget_usd) == (seconds, usd)


@pytest.mark.parametrize(
    ("size", "expected"),
    [("24GB", 24 * 10**9), ("512MiB", 512 * 2**20), ("1TB", 10**12), ("80GiB", 80 * 2**30), ("1.5KB", 1500)],
)
def test_sizes(project: Path, size: str, expected: int) -> None:
    recipe, diags = load(project, recipe_text(f"  constraints {{ gpu_memory = {size} }}"))
    assert recipe is not None, diags
    assert recipe.constraints.gpu_memory_bytes == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [("135M", 135 * 10**6), ("7B", 7 * 10**9), ("500K", 500_000), ("1T", 10**12), ("360000000", 360_000_000)],
)
def test_param_counts(project: Path, params: str, expected: int) -> None:
    recipe, diags = load(project, recipe_text(f"  constraints {{ max_params = {params} }}"))
    assert recipe is not None, diags
    assert recipe.constraints.max_params == expected


@pytest.mark.parametrize(
    ("line", "code", "hint_part"),
    [
        ("gpu_memory = 24", "FTR104", None),
        ("gpu_memory = 1B", "FTR104", "billion"),
        ("gpu_memory = 24gb", "FTR104", "24GB"),
        ("budget = 30M", "FTR104", "30m"),
        ("budget = 30", "FTR104", None),
        ("latency = 3GB", "FTR104", "size"),
        ("max_params = 1GB", "FTR104", "size"),
        ("max_params = 1.5", "FTR103", None),
        ("gpus = 0", "FTR105", None),
        ("gpus = 2.5", "FTR103", None),
        ("budget = $0", "FTR105", None),
        ("latency = 0ms", "FTR105", None),
        ("device = gpu", "FTR110", "cpu"),
        ('device = "cpu"', "FTR103", "without quotes"),
        ("devise = cpu", "FTR102", "device"),
        ("gpu_memory = 24XB", "FTR104", None),
    ],
)
def test_constraint_errors(project: Path, line: str, code: str, hint_part: str | None) -> None:
    recipe, diags = load(project, recipe_text(f"  constraints {{\n    {line}\n  }}"))
    assert recipe is None
    found = [d for d in diags if d.code == code]
    assert found, diags
    assert found[0].span.line == 9  # the line of the attribute inside constraints
    if hint_part:
        assert hint_part in (found[0].hint or "") + found[0].message


@pytest.mark.parametrize(
    ("evals", "metric", "args", "op", "threshold"),
    [
        ("expect json_valid >= 95%", "json_valid", {}, ">=", 0.95),
        ('expect exact_match(field = "category") >= 0.8', "exact_match", {"field": "category"}, ">=", 0.8),
        ('expect exact_match("category") > 0.5', "exact_match", {"field": "category"}, ">", 0.5),
        ('expect regex("^Hi ") >= 0.9', "regex", {"pattern": "^Hi "}, ">=", 0.9),
        ('expect contains(text = "Thanks") >= 50%', "contains", {"text": "Thanks"}, ">=", 0.5),
        ("expect rouge_l >= 0.3", "rouge_l", {}, ">=", 0.3),
        ("expect perplexity <= 40", "perplexity", {}, "<=", 40.0),
        ("expect json_valid == 1", "json_valid", {}, "==", 1.0),
    ],
)
def test_expectations(project: Path, evals: str, metric: str, args: dict, op: str, threshold: float) -> None:
    recipe, diags = load(project, recipe_text(evals=evals))
    assert recipe is not None, diags
    (e,) = recipe.eval.expects
    assert (e.metric, dict(e.args), e.op, e.threshold) == (metric, args, op, threshold)


def test_json_schema_path_is_absolute(project: Path) -> None:
    recipe, diags = load(project, recipe_text(evals='expect json_schema("data/schema.json") >= 0.9'))
    assert recipe is not None, diags
    assert recipe.eval.expects[0].args == {"schema": str(project / "data" / "schema.json")}
    assert recipe.eval.expects[0].label == "json_schema(schema=schema.json)"


@pytest.mark.parametrize(
    ("evals", "code"),
    [
        ("expect json_valid >= 1.5", "FTR112"),
        ("expect json_valid >= 150%", "FTR112"),
        ("expect perplexity <= 0", "FTR112"),
        ("expect perplexity <= 40%", "FTR104"),
        ("expect json_vaild >= 0.9", "FTR111"),
        ("expect regex >= 0.9", "FTR111"),
        ('expect regex("(") >= 0.9', "FTR111"),
        ('expect json_schema("data/missing.json") >= 0.9', "FTR108"),
        ('expect json_schema("data/rows.jsonl") >= 0.9', "FTR111"),
        ('expect exact_match(feild = "x") >= 0.9', "FTR111"),
        ('expect rouge_l("a", "b") >= 0.9', "FTR111"),
        ("expect json_valid >= 30m", "FTR103"),
        ('expect json_valid >= "high"', "FTR103"),
        ("beat baseline by 10", "FTR104"),
        ("beat baseline by 5%\n    beat baseline by 6%", "FTR107"),
        ("beat model by 10%", "FTR111"),
        ("beat baseline with 10%", "FTR111"),
    ],
)
def test_eval_errors(project: Path, evals: str, code: str) -> None:
    recipe, diags = load(project, recipe_text(evals=evals))
    assert recipe is None
    assert code in error_codes(diags), diags


@pytest.mark.parametrize(
    ("text_change", "code"),
    [
        (lambda t: t.replace('  goal = behavior("Reply as JSON")\n', ""), "FTR106"),
        (lambda t: t.replace('  base = model("smollm2-135m-instruct")\n', ""), "FTR106"),
        (lambda t: t.replace("    format = chat\n", ""), "FTR106"),
        (lambda t: t.replace("beat baseline by 10%", "beat baseline by 10%\n  }\n  eval {"), "FTR107"),
        (lambda t: t.replace("format = chat", "format = chat\n    format = text"), "FTR107"),
        (lambda t: t.replace("rows.jsonl", "nope.jsonl"), "FTR108"),
        (lambda t: t.replace('"data/rows.jsonl"', '"../../elsewhere.jsonl"'), "FTR109"),
        (lambda t: t.replace('"data/rows.jsonl"', '"/etc/hostname"'), "FTR109"),
        (lambda t: t.replace('"data/rows.jsonl"', '"data/\\ud800.jsonl"'), "FTR105"),
        (lambda t: t.replace('behavior("Reply as JSON")', 'behaviour("Reply as JSON")'), "FTR110"),
        (lambda t: t.replace('behavior("Reply as JSON")', 'behavior("  ")'), "FTR103"),
        (lambda t: t.replace('behavior("Reply as JSON")', 'both("only one")'), "FTR103"),
        (lambda t: t.replace('model("smollm2-135m-instruct")', '"smollm2"'), "FTR103"),
        (lambda t: t.replace('model("smollm2-135m-instruct")', "model()"), "FTR103"),
        (lambda t: t.replace("holdout = 20%", 'data = "rwos"'), "FTR113"),
        (lambda t: t.replace("holdout = 20%", "holdout = 0%"), "FTR105"),
        (lambda t: t.replace('data "rows"', 'data "has space"'), "FTR114"),
        (lambda t: t.replace("  eval {", '  constraints "named" {}\n  eval {'), "FTR114"),
        (lambda t: t + 'recipe "two" {}\n', "FTR115"),
        (lambda t: 'name = "x"\n' + t, "FTR115"),
        (lambda t: t.replace("  eval {", "  train { expect json_valid >= 1 }\n  eval {"), "FTR115"),
        (lambda t: t.replace("format = chat", 'format = chat\n    columns = { mesages = "conv" }'), "FTR116"),
        (lambda t: t.replace("format = chat", 'format = chat\n    glob = "*.md"'), "FTR102"),
        (lambda t: t.replace("  eval {", "  evaluation {}\n  eval {"), "FTR101"),
        (lambda t: t.replace("format = chat", "format = chat\n    eval {}"), "FTR101"),
        (lambda t: t.replace("recipe", "recpie", 1), "FTR101"),
        (lambda t: t.replace("  eval {", "  train = {}\n  eval {"), "FTR102"),
        (
            lambda t: t.replace(
                "  eval {", '  documents "d" {\n    path = "data/docs"\n    glob = "*.txt"\n  }\n  eval {'
            ),
            "FTR108",
        ),
        (
            lambda t: t.replace(
                "  eval {", '  documents "d" {\n    path = "data/docs"\n    format = documents\n  }\n  eval {'
            ),
            "FTR102",
        ),
    ],
)
def test_semantic_errors(project: Path, text_change, code: str) -> None:
    recipe, diags = load(project, text_change(recipe_text()))
    assert recipe is None
    assert code in error_codes(diags), diags


def test_allow_outside_lets_a_path_leave_the_project(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "rows.jsonl"
    outside.write_text((project / "data" / "rows.jsonl").read_text())
    text = recipe_text().replace('"data/rows.jsonl"', json.dumps(str(outside)))
    assert "FTR109" in error_codes(load(project, text)[1])
    recipe, diags = load(project, text, allow_outside=True)
    assert recipe is not None, diags
    assert recipe.data[0].path == str(outside)


def test_every_error_is_reported_not_only_the_first(project: Path) -> None:
    text = recipe_text(
        "  constraints { device = gpu  gpus = 0  gpu_memory = 24  latency = 1GB }\n  train { lr = 5  batch = 0.5  epocs = 2 }"
    )
    _recipe, diags = load(project, text)
    assert sorted(error_codes(diags)) == ["FTR102", "FTR103", "FTR104", "FTR104", "FTR105", "FTR105", "FTR110"]


def test_the_project_root_is_the_folder_with_pyproject(project: Path) -> None:
    recipe, _ = load(project, recipe_text())
    assert recipe.project_root == str(project.parent)
    assert recipe.path == str(project / "r.ftr")


def test_edit_distance_and_did_you_mean() -> None:
    assert edit_distance("fromat", "format") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert did_you_mean("budegt", ["budget", "device"]) == "budget"
    assert did_you_mean("zzz", ["budget", "device"]) is None


def test_shipped_recipes_are_clean() -> None:
    for path in sorted((ROOT / "recipes").glob("*.ftr")):
        recipe, diags = load_recipe(path)
        assert recipe is not None and diags == [], (path, diags)


@pytest.mark.parametrize(
    ("block", "line", "hint"),
    [
        ("train", "learning_rate = 1e-4", "ftc calls this `lr`"),
        ("train", "Learning_rate = 1e-4", "ftc calls this `lr`"),
        ("train", "num_train_epochs = 3", "ftc calls this `epochs`"),
        ("train", "Batch = 3", "keys are case-sensitive: `batch`"),
        ("constraints", "holdout = 20%", "`holdout` belongs in the `eval` block"),
        ("train", "zzz = 1", "`train` takes method, lora_r"),
    ],
)
def test_unknown_keys_point_to_the_right_name(project: Path, block: str, line: str, hint: str) -> None:
    _recipe, diags = load(project, recipe_text(f"  {block} {{\n    {line}\n  }}"))
    (d,) = [d for d in diags if d.code == "FTR102"]
    assert hint in d.hint


@pytest.mark.parametrize(
    ("files", "glob", "said"),
    [
        ({"scan.pdf": b"%PDF", "logo.png": b"\x89PNG"}, None, "no text documents under `data/docs`"),
        ({".notes.md": b"# hidden", ".git/HEAD.md": b"ref"}, None, "no text documents under `data/docs`"),
        ({".draft/a.md": b"# hidden"}, "**/*.md", "no files under `data/docs` match `**/*.md` (hidden ones"),
    ],
)
def test_a_documents_folder_the_run_would_read_nothing_from_is_refused_by_lint(
    project: Path, files: dict, glob: str | None, said: str
) -> None:
    """Lint lists a documents folder as the load step does (hidden files left out; with the default
    glob, text files only), so a folder of PDFs or hidden notes fails here, not minutes into a run."""
    docs = project / "data" / "docs"
    (docs / "a.md").unlink()
    for name, data in files.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_bytes(data)
    glob_line = f'\n    glob = "{glob}"' if glob else ""
    recipe, diags = load(project, recipe_text(f'  documents "d" {{\n    path = "data/docs"{glob_line}\n  }}'))
    assert recipe is None
    (diag,) = [d for d in diags if d.severity == "error"]
    assert diag.code == "FTR108" and said in diag.message, diag
