"""Hub datasets and per-source max_rows / weight, from a recipe to the data steps of `ftc run`.

The Hugging Face cache is written by the test (tests/data/hub_support.py: a snapshot folder and
refs/main, the layout `hf download --repo-type dataset` leaves), read offline (HF_HUB_OFFLINE,
HF_DATASETS_OFFLINE); nothing is downloaded. The data steps run for real (load_dataset on the
cached snapshot, clean, dedup, split); no model is trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hub_support import REV, cache_dataset, sharegpt_rows

from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.plan.compile import compile_recipe
from ftc.compiler.plan.io import read_plan, write_plan
from ftc.compiler.plan.lock import check_paths, stale_inputs
from ftc.compiler.plan.render import render_plan
from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS

SHAREGPT = 'columns = { messages = "conversations", role = "from", content = "value" }'
DATA_STEPS = ("load", "clean", "dedup", "split")


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project (a .git folder marks its root) and an offline HF home with acme/chats (40 rows)."""
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("FTC_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cache_dataset(home, "acme/chats", {"data/train-00000-of-00001.parquet": sharegpt_rows(40)})
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Local question {i}?"},
                {"role": "assistant", "content": f"Local {i}."},
            ]
        }
        for i in range(30)
    ]
    (root / "local.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def step_file(runs: Path, pattern: str) -> Path:
    """A step's output file in the content-keyed step cache (runs/<recipe>/cache/<kind>-<key>/)."""
    return next(runs.rglob(pattern))


def records(runs: Path) -> list[dict]:
    return [json.loads(line) for line in step_file(runs, "load-*/records.jsonl").open(encoding="utf-8")]


def write_recipe(root: Path, sources: str) -> Path:
    path = root / "r.ftr"
    path.write_text(
        'recipe "hub" {\n  goal = behavior("Answer questions briefly.")\n'
        '  base = model("smollm2-135m-instruct")\n' + sources + "  eval { holdout = 20% }\n}\n",
        encoding="utf-8",
    )
    return path


MIX = (
    f'  data "chats" {{ path = "hf://acme/chats" format = chat {SHAREGPT} split = "train[:50%]" weight = 1 }}\n'
    '  data "local" { path = "local.jsonl" format = chat max_rows = 25 weight = 1 }\n'
)


def test_the_plan_counts_a_hub_split_a_cap_and_a_mixture_and_pins_the_revision(project):
    plan = compile_recipe(write_recipe(project, MIX)).plan
    inputs = {i["name"]: i for i in plan["inputs"]}
    hub = inputs["chats"]
    assert hub["path"] == "hf://acme/chats" and hub["revision"] == REV and hub["split"] == "train[:50%]"
    assert hub["rows"] == 20 and hub["used_rows"] == 20  # 50% of 40; equal weights, the scarcer source whole
    assert inputs["local"]["rows"] == 30 and inputs["local"]["max_rows"] == 25 and inputs["local"]["used_rows"] == 20
    load = next(s for s in plan["steps"] if s["kind"] == "load")["config"]
    assert load["seed"] == 0 and {s["name"]: s.get("revision") for s in load["sources"]} == {
        "chats": REV,
        "local": None,
    }
    text = render_plan(plan, width=120)
    assert "Data (rows per source)" in text
    assert "hf://acme/chats [train[:50%]] @01234567" in text and "1 (50%)" in text
    check_paths(plan, project, allow_outside=False)  # a hub path is not a file of the project
    assert stale_inputs(plan, project) == []
    write_plan(plan, project / "plan.json")  # the schema takes the hub and mixture keys, both ways
    assert read_plan(project / "plan.json") == plan


def test_the_data_steps_load_the_hub_split_and_apply_max_rows_and_weight(project):
    plan = compile_recipe(write_recipe(project, MIX)).plan
    plan = dict(plan, steps=[s for s in plan["steps"] if s["kind"] in DATA_STEPS])
    Executor(plan, project, RunOptions(runs_dir=project / "runs"), STEPS).run()
    report = json.loads(step_file(project / "runs", "data_report.json").read_text(encoding="utf-8"))
    sources = report["sources"]
    assert sources["chats"] == {"rows": 20, "valid": 20, "bad": 0, "after_weight": 20}
    assert sources["local"] == {"rows": 30, "valid": 30, "bad": 0, "after_max_rows": 25, "after_weight": 20}
    assert {"name": "sampled", "rows": 40} in report["stages"]
    load = json.loads(step_file(project / "runs", "load.json").read_text(encoding="utf-8"))
    rows = records(project / "runs")
    hub_lines = [r["line"] for r in rows if r["source"] == "chats"]
    assert hub_lines == list(range(1, 21)) and load["bad_rows"] == []  # the slice's rows, numbered from 1
    local_lines = [r["line"] for r in rows if r["source"] == "local"]
    assert len(local_lines) == 20 and local_lines == sorted(local_lines)  # a seeded subsample, in file order
    Executor(plan, project, RunOptions(runs_dir=project / "runs2"), STEPS).run()  # a fresh cache
    assert [r["line"] for r in records(project / "runs2") if r["source"] == "local"] == local_lines  # deterministic


def test_max_rows_on_a_hub_source_subsamples_the_split_before_reading(project):
    src = f'  data "chats" {{ path = "hf://acme/chats" format = chat {SHAREGPT} max_rows = 12 }}\n'
    plan = compile_recipe(write_recipe(project, src)).plan
    assert plan["inputs"][0]["rows"] == 40 and plan["inputs"][0]["used_rows"] == 12
    plan = dict(plan, steps=[s for s in plan["steps"] if s["kind"] == "load"])
    Executor(plan, project, RunOptions(runs_dir=project / "runs"), STEPS).run()
    lines = [r["line"] for r in records(project / "runs")]
    assert len(lines) == 12 and lines == sorted(lines) and lines != list(range(1, 13))  # sampled, not the head


def test_an_uncached_hub_dataset_is_a_located_error_naming_the_command(project):
    path = write_recipe(project, '  data "chats" { path = "hf://acme/missing" format = chat }\n')
    with pytest.raises(Exception) as info:
        compile_recipe(path)
    text = str(info.value)
    assert "FTR301" in text and "r.ftr:4:3" in text
    assert "hf download --repo-type dataset acme/missing" in text and "ftc plan RECIPE --allow-download" in text


def test_a_pinned_revision_gone_from_the_cache_makes_the_lock_stale(project, tmp_path):
    plan = compile_recipe(write_recipe(project, MIX)).plan
    hub = next(i for i in plan["inputs"] if i["name"] == "chats")
    stale = stale_inputs(dict(plan, inputs=[dict(hub, revision="f" * 40)]), project)
    assert stale and f"hf download --repo-type dataset acme/chats --revision {'f' * 40}" in stale[0]


def test_readme_configs_choose_the_files_of_a_config_and_split(project, tmp_path):
    readme = (
        "---\nconfigs:\n- config_name: easy\n  data_files:\n  - split: train\n    path: easy/train-*.parquet\n"
        "  - split: test\n    path: easy/test-*.parquet\n- config_name: hard\n  data_files: hard/*.parquet\n---\n"
    )
    cache_dataset(
        tmp_path / "hf",
        "acme/levels",
        {
            "easy/train-0.parquet": sharegpt_rows(6),
            "easy/test-0.parquet": sharegpt_rows(4, "Test"),
            "hard/all.parquet": sharegpt_rows(9),
        },
        readme=readme,
    )
    src = f'  data "lv" {{ path = "hf://acme/levels" format = chat {SHAREGPT} config = "easy" split = "test" }}\n'
    plan = compile_recipe(write_recipe(project, src)).plan
    assert plan["inputs"][0]["rows"] == 4 and plan["inputs"][0]["config"] == "easy"
    plan = dict(plan, steps=[s for s in plan["steps"] if s["kind"] == "load"])
    Executor(plan, project, RunOptions(runs_dir=project / "runs"), STEPS).run()
    rows = records(project / "runs")
    assert len(rows) == 4 and rows[0]["fields"]["messages"][0]["content"].startswith("Test number 0")
    bad = write_recipe(project, src.replace('"easy"', '"medium"'))
    with pytest.raises(Exception, match="no configuration 'medium'"):
        compile_recipe(bad)


@pytest.mark.parametrize(
    "sources, message",
    [
        ('  data "a" { path = "local.jsonl" format = chat max_rows = 0 }\n', "`max_rows` is 0"),
        ('  data "a" { path = "local.jsonl" format = chat weight = 1 }\n', "the only source of its training stage"),
        (
            '  data "a" { path = "local.jsonl" format = chat weight = 2 }\n'
            '  data "b" { path = "local.jsonl" format = instruction }\n',
            "`weight` is set on 'a' but not on 'b'",
        ),
        (
            '  data "a" { path = "local.jsonl" format = chat weight = 0 }\n'
            '  data "b" { path = "local.jsonl" format = chat weight = 1 }\n',
            "`weight` is 0",
        ),
        ('  data "a" { path = "local.jsonl" format = chat split = "train" }\n', "applies to hub datasets only"),
        ('  data "a" { path = "hf://acme" format = chat }\n', "is not a hub dataset id"),
        ('  data "a" { path = "hf://acme/chats" format = chat split = "train[:20" }\n', "is not a split"),
        ('  documents "d" { path = "hf://acme/docs" }\n', "cannot be a documents source"),
    ],
)
def test_bad_hub_max_rows_and_weight_values_are_located_errors(project, sources, message):
    recipe, diags = load_recipe(write_recipe(project, sources))
    assert recipe is None
    errors = [d for d in diags if d.severity == "error"]
    assert any(message in d.message for d in errors), [d.message for d in errors]
    assert all(d.span.line >= 4 for d in errors)  # on the data source's line, not the recipe's


def test_ftc_plan_allow_download_fetches_a_hub_dataset_and_a_model_config(project, tmp_path, monkeypatch, capsys):
    """`ftc plan --allow-download`: the model's config.json and tokenizer files and the dataset are
    fetched into the cache. The downloads are fakes (no network here) that write what the hub would,
    in the cache layout; the test checks what was asked for and that the plan reads it."""
    import huggingface_hub

    from ftc.compiler.cli.main import main

    asked: list[tuple[str, str]] = []
    config = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
              "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip

    def fake_file(repo_id: str, filename: str, **_: object) -> str:
        asked.append((repo_id, filename))
        snap = tmp_path / "hf" / "hub" / "models--acme--tiny-chat" / "snapshots" / REV
        snap.mkdir(parents=True, exist_ok=True)
        (snap / filename).write_text(json.dumps(config) if filename == "config.json" else "{}")
        return str(snap / filename)

    def fake_snapshot(repo_id: str, repo_type: str | None = None, **_: object) -> str:
        asked.append((repo_id, f"snapshot of a {repo_type}"))
        return str(cache_dataset(tmp_path / "hf", repo_id, {"train.parquet": sharegpt_rows(60)}))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_file)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    monkeypatch.setenv("FTC_ALLOW_DOWNLOAD", "0")  # the flag sets it; monkeypatch restores it afterwards
    path = write_recipe(project, f'  data "c" {{ path = "hf://acme/fresh" format = chat {SHAREGPT} }}\n')
    path.write_text(path.read_text().replace("smollm2-135m-instruct", "acme/tiny-chat"))
    assert main(["plan", str(path), "--json"]) == 1  # offline by default: nothing is fetched
    assert asked == [] and "--allow-download" in capsys.readouterr().err
    assert main(["plan", str(path), "--json", "--allow-download"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert ("acme/fresh", "snapshot of a dataset") in asked
    assert [f for r, f in asked if r == "acme/tiny-chat"] == ["config.json", "tokenizer.json", "tokenizer_config.json"]
    assert plan["model"]["layers"] == 2 and plan["inputs"][0]["rows"] == 60 and plan["inputs"][0]["revision"] == REV


def test_lint_counts_examples_after_max_rows(project):
    """FTR202 (too few examples) sees the rows a run keeps, not the rows in the file."""
    _, diags = load_recipe(write_recipe(project, '  data "a" { path = "local.jsonl" format = chat max_rows = 8 }\n'))
    assert [d.message for d in diags if d.code == "FTR202"] == [
        "only 6 training examples after the holdout; a fine-tune needs at least 10"
    ]
    _, diags = load_recipe(write_recipe(project, '  data "a" { path = "local.jsonl" format = chat }\n'))
    assert not [d for d in diags if d.code == "FTR202"]  # 30 rows, 24 after the holdout


@pytest.mark.parametrize(
    "files, split",
    [
        ({"data/train-00000-of-00001.parquet": 7, "data/test-00000-of-00001.parquet": 3}, "test"),
        ({"train.parquet": 5, "validation.parquet": 4, "test.parquet": 2}, "validation"),
        ({"train/part0.parquet": 6, "train/part1.parquet": 2, "dev/part0.parquet": 3}, "train"),
        ({"rows.parquet": 9}, "train[:30%]"),
        ({"data/train-00000-of-00001.parquet": 4, "data/extra-00000-of-00001.parquet": 5}, "extra[1:]"),
    ],
)
def test_the_planner_picks_the_split_files_load_dataset_reads(tmp_path, monkeypatch, files, split):
    """The planner's count (no `datasets` in the compiler) equals what `load_dataset` loads."""
    from datasets import load_dataset

    from ftc.compiler.lang.recipe import DataSource
    from ftc.compiler.plan.hub_facts import hub_source_facts

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    snap = cache_dataset(tmp_path / "hf", "acme/layout", {rel: sharegpt_rows(n) for rel, n in files.items()})
    src = DataSource("s", "hf://acme/layout", "hf://acme/layout", "chat", hub="acme/layout", split=split)
    assert hub_source_facts(src).rows == len(load_dataset(str(snap), split=split))
