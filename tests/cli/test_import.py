"""`ftc import` through the real CLI: every fixture round-trips (import, fill the data, import again,
`ftc plan`), the key table of each is a golden file, and bad input is a located usage error.

Fixtures: tests/fixtures/import/<tool>-<case>.yaml, written from each tool's documented schema;
tests/fixtures/import/project/ is copied into every temporary project (LLaMA-Factory's
data/dataset_info.json). Golden files: tests/golden/import/<fixture>.txt (the key table and the
notes) and .ftr (the recipe). Regenerate after an intended change with
``FTC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/cli/test_import.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest
import yaml

from ftc.compiler.cli import cmd_import
from ftc.compiler.cli.main import main
from ftc.compiler.importers import TOOLS, core, detect, read_config
from ftc.compiler.importers.build import GOAL_PLACEHOLDER
from ftc.compiler.importers.docs import docs_page
from ftc.compiler.lang.formatter import format_text
from ftc.shared.hub import split_name

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "import"
GOLDEN = REPO / "tests" / "golden" / "import"
UPDATE = os.environ.get("FTC_UPDATE_GOLDEN") == "1"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))
ROWS = 60  # enough for a fine-tune (R-BEHAVIOR-FINETUNE needs 10) after a 10% holdout


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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_caches) -> Path:
    """A project folder (pyproject.toml marks its root) holding the fixtures, as the current folder."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'imported'\n", encoding="utf-8")
    shutil.copytree(FIXTURES / "project", tmp_path, dirs_exist_ok=True)
    for fixture in FIXTURES.glob("*.yaml"):
        shutil.copy(fixture, tmp_path / fixture.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- data the imported recipes point at --------------------------------------------------------
WORDS = (
    "refund",
    "invoice",
    "router",
    "password",
    "shipping",
    "warranty",
    "login",
    "battery",
    "screen",
    "delay",
    "upgrade",
    "cancel",
    "address",
    "coupon",
    "driver",
    "export",
    "backup",
    "printer",
    "license",
    "payment",
)


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _row(fmt: str, columns: dict[str, str], rng: random.Random, i: int) -> dict:
    q, a, b = f"question {i}: {_text(rng, 9)}?", f"answer {i}: {_text(rng, 12)}.", f"no {i}: {_text(rng, 6)}."
    fields = {
        "chat": {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
        "instruction": {"instruction": q, "input": "", "output": a},
        "completion": {"prompt": q, "completion": a},
        "preference": {"prompt": q, "chosen": a, "rejected": b},
        "kto": {"prompt": q, "completion": a if i % 2 else b, "label": bool(i % 2)},
        "text": {"text": f"{q} {a}"},
    }[fmt]
    return {columns.get(k, k): v for k, v in fields.items()}


def write_data(folder: Path, sources: list[dict]) -> None:
    """Rows of each local source's format under its column names, in the file type its suffix names."""
    for i, src in enumerate(sources):
        if src["hub"]:
            continue
        rng = random.Random(i)
        rows = [_row(src["format"], src["columns"], rng, n) for n in range(ROWS)]
        path = folder / src["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), path)
        elif path.suffix == ".json":
            path.write_text(json.dumps(rows), encoding="utf-8")
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def cache_hub_data(hf_home: Path, sources: list[dict]) -> None:
    """What `hf download --repo-type dataset ID` leaves: each hub source's config and split as a
    Parquet file in a cached snapshot (a README `configs` header names the config), no network."""
    from data.hub_support import cache_dataset  # tests/ is on sys.path (its conftest.py)

    for i, src in enumerate(sources):
        if not src["hub"]:
            continue
        rng = random.Random(100 + i)
        rows = [_row(src["format"], src["columns"], rng, n) for n in range(ROWS * 3)]  # a slice keeps enough
        split = split_name(src["split"] or "train")
        config = src["config"]
        rel = f"{config or 'data'}/{split}-00000-of-00001.parquet"
        readme = (
            f"---\nconfigs:\n- config_name: {config}\n  data_files:\n  - split: {split}\n    path: {rel}\n---\n"
            if config
            else ""
        )
        cache_dataset(hf_home, src["hub"], {rel: rows}, readme=readme)


# --- the round trip ----------------------------------------------------------------------------
def test_every_fixture_has_goldens():
    assert len(NAMES) >= 10 and {n.split("-")[0] for n in NAMES} >= {"axolotl", "llama", "torchtune", "oumi"}
    if not UPDATE:
        assert {p.stem for p in GOLDEN.glob("*.txt")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_import_then_plan(capsys, project, empty_caches, name):
    code, raw, _ = run_cli(capsys, "import", f"{name}.yaml", "--json")
    first = json.loads(raw)
    # Before the data exists the recipe points at missing files: exit 1, and the diagnostics say so.
    assert code == 1 and {d["code"] for d in first["diagnostics"] if d["severity"] == "error"} == {"FTR108"}
    write_data(project, first["sources"])
    code, table, _ = run_cli(capsys, "import", f"{name}.yaml", "-o", "recipe.ftr", "--no-color")
    # Only the goal is left for the user: a placeholder (FTR212), so an unedited import never plans or runs.
    assert code == 1 and "error[FTR212]" in table, table
    check_golden(f"{name}.txt", table)
    recipe = (project / "recipe.ftr").read_text(encoding="utf-8")
    check_golden(f"{name}.ftr", recipe)
    assert format_text(recipe)[0] == recipe  # already canonical: `ftc fmt --check` passes
    code, _, err = run_cli(capsys, "plan", "recipe.ftr", "--json")
    assert code == 1 and "error[FTR212]" in err
    (project / "recipe.ftr").write_text(
        recipe.replace(GOAL_PLACEHOLDER, "Answer support questions politely"), encoding="utf-8"
    )
    hub = [s for s in first["sources"] if s["hub"]]
    if hub:
        # Hub datasets are read offline from the cache: until fetched, planning says which command fetches them,
        # as the import's summary did.
        assert [f"hf download --repo-type dataset {s['hub']}" for s in hub] == first["fetch"]
        assert "Fetch the hub datasets" in table and "ftc plan recipe.ftr --allow-download" in table
        code, _, err = run_cli(capsys, "plan", "recipe.ftr", "--json")
        assert code == 1 and "error[FTR301]" in err and "hf download --repo-type dataset" in err, err
        cache_hub_data(empty_caches / "hf", first["sources"])
    code, plan, err = run_cli(capsys, "plan", "recipe.ftr", "--json")
    assert code == 0, err
    assert json.loads(plan)["recipe"]["name"] == first["recipe"].split('recipe "', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("name", NAMES)
def test_every_key_is_in_the_table(project, name):
    """Nothing is dropped silently: every top-level key of the source is a row (or a row's prefix)."""
    from ftc.compiler.importers import import_config

    doc = yaml.safe_load((project / f"{name}.yaml").read_text(encoding="utf-8"))
    result = import_config(f"{name}.yaml")
    keys = [r.key for r in result.rows]
    for top in doc:
        assert any(k == top or k.startswith((f"{top}.", f"{top}[")) for k in keys), f"{top} is not in the table"
    assert all(r.status in ("carried", "decided", "dropped") and r.note or r.status == "carried" for r in result.rows)


@pytest.mark.parametrize("name", NAMES)
def test_detects_the_tool(name):
    tool = {"llama": "llama-factory"}.get(name.split("-")[0], name.split("-")[0])
    assert detect(read_config(str(FIXTURES / f"{name}.yaml"))) == tool


def test_carries_what_the_language_has(project):
    from ftc.compiler.importers import import_config

    rows = {r.key: r for r in import_config("axolotl-lora.yaml").rows}
    assert rows["learning_rate"].status == "carried" and rows["learning_rate"].target == "train.lr = 0.0002"
    assert rows["val_set_size"].target == "eval.holdout = 5%"
    assert rows["optimizer"].status == "carried" and rows["optimizer"].target == "train.optimizer = adamw_8bit"
    assert rows["lora_target_linear"].target == 'train.target_modules = "all-linear"'
    qlora = {r.key: r for r in import_config("axolotl-qlora-dpo.yaml").rows}
    assert qlora["optimizer"].status == "decided" and "not an optimizer ftc runs" in qlora["optimizer"].note
    hub = rows["datasets[1].path"]  # a hub dataset id: read from the hub cache, not a placeholder to fill
    assert (hub.status, hub.target, hub.attention) == (
        "carried",
        'data.FineTome-100k.path = "hf://mlabonne/FineTome-100k"',
        False,
    )
    assert rows["datasets[1].split"].target == 'data.FineTome-100k.split = "train[:20%]"'
    unknown = {r.key: r for r in import_config("axolotl-mixture-fsdp.yaml").rows}["future_axolotl_option"]
    assert (unknown.status, unknown.note) == ("dropped", "not a key ftc knows from axolotl")


def test_secrets_are_masked(capsys, project):
    code, out, err = run_cli(capsys, "import", "axolotl-qlora-dpo.yaml", "--no-color")
    assert "not-a-real-key" not in out + err
    assert "wandb_api_key" in err and "***" in err


def test_stdout_gets_the_recipe_and_stderr_the_table(capsys, project):
    code, out, err = run_cli(capsys, "import", "oumi-dpo.yaml", "--no-color")
    assert code == 1  # the data files do not exist yet
    assert out.startswith("# Imported from the oumi config oumi-dpo.yaml") and format_text(out)[0] == out
    assert "every key" in err and "error[FTR108]" in err and "goal: ftc import cannot know it" in err


def test_goal_placeholder_is_announced(project):
    from ftc.compiler.importers import import_config

    result = import_config("torchtune-lora-single-device.yaml")
    assert (
        re.search(r'goal += behavior\("TODO:', result.recipe)
        and "# EDIT: the import cannot know the goal" in result.recipe
    )
    assert any(n.startswith("goal:") for n in result.notes)
    # the source's own system prompt is carried: ftc derives one from the goal only when there is none
    assert 'system_prompt = "You triage support tickets into one of five queues."' in result.recipe


# --- usage errors: exit 2, one located line, never a traceback ---------------------------------
def test_bad_yaml_is_located(capsys, project):
    Path("broken.yaml").write_text("base_model: x\ndatasets: [a, b\nadapter: lora\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "import", "broken.yaml")
    assert code == 2 and err.startswith("error: broken.yaml:3:") and "not valid YAML" in err and "Traceback" not in err


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "the file is a list, not a mapping"),
    ("", "the file is empty, not a mapping"),
    ("colour: blue\nsize: 3\n", "cannot tell which tool wrote it"),
])  # fmt: skip
def test_not_a_config(capsys, project, text, message):
    Path("odd.yaml").write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "import", "odd.yaml")
    assert code == 2 and message in err


def test_missing_file(capsys, project):
    code, _, err = run_cli(capsys, "import", "nowhere.yaml")
    assert code == 2 and "nowhere.yaml: no such file" in err


def test_from_mismatch(capsys, project):
    code, _, err = run_cli(capsys, "import", "axolotl-lora.yaml", "--from", "torchtune")
    assert code == 2 and "looks like a config of axolotl, not of torchtune; use --from axolotl" in err


def test_from_unknown_tool(capsys, project):
    code, _, err = run_cli(capsys, "import", "axolotl-lora.yaml", "--from", "unsloth")
    assert code == 2 and "unsloth" in err


def test_from_names_an_ambiguous_file(capsys, project):
    Path("bare.yaml").write_text("learning_rate: 1.0e-4\nnum_epochs: 2\nwarmup_steps: 10\n", encoding="utf-8")
    assert run_cli(capsys, "import", "bare.yaml")[0] == 2  # one axolotl key is not enough to tell
    code, out, err = run_cli(capsys, "import", "bare.yaml", "--from", "axolotl", "--no-color")
    assert code == 1 and re.search(r"lr +=  ?0.0001", out) and "no data source" in err  # a recipe, and what remains


def test_refuses_to_overwrite(capsys, project):
    Path("recipe.ftr").write_text("# mine\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "import", "axolotl-lora.yaml", "-o", "recipe.ftr")
    assert code == 2 and "recipe.ftr exists; pass --force" in err
    assert Path("recipe.ftr").read_text(encoding="utf-8") == "# mine\n"
    run_cli(capsys, "import", "axolotl-lora.yaml", "-o", "recipe.ftr", "--force")
    assert Path("recipe.ftr").read_text(encoding="utf-8").startswith("# Imported from the axolotl config")


def test_paths_are_relative_to_the_written_recipe(capsys, project):
    """axolotl ran in the project folder; a recipe written to recipes/ reaches the same file."""
    code, raw, _ = run_cli(capsys, "import", "axolotl-lora.yaml", "-o", "recipes/lora.ftr", "--json")
    assert json.loads(raw)["sources"][0]["path"] == "../data/support.jsonl"


def test_value_out_of_range_falls_back(project):
    from ftc.compiler.importers import import_config

    Path("wild.yaml").write_text(
        "base_model: Qwen/Qwen2.5-0.5B-Instruct\ndatasets: []\nadapter: lora\n"
        "learning_rate: 3\nnum_epochs: lots\nval_set_size: 200\n",
        encoding="utf-8",
    )
    rows = {r.key: r for r in import_config("wild.yaml").rows}
    assert rows["learning_rate"].status == "decided" and "outside the range" in rows["learning_rate"].note
    assert rows["num_epochs"].status == "decided" and "not a number" in rows["num_epochs"].note
    assert rows["val_set_size"].status == "decided" and "is a count, not a share" in rows["val_set_size"].note


# --- the tables and their documentation --------------------------------------------------------
def test_cli_choices_match_the_registry():
    assert cmd_import.SOURCES == tuple(TOOLS)


def test_tables_name_real_recipe_keys_and_rules():
    from ftc.compiler.lang.keys import BLOCKS
    from ftc.compiler.plan.rules import BY_ID

    for spec in TOOLS.values():
        for key, entry in spec.keys.items():
            if isinstance(entry, core.Carry):  # the key may be missing from the language yet; its block may not
                assert entry.target.split(".", 1)[0] in BLOCKS, f"{spec.name} {key}: no block for {entry.target}"
                entry = entry.otherwise
            if isinstance(entry, core.Decide):
                assert entry.rule in BY_ID, f"{spec.name} {key}: no rule {entry.rule}"


def test_docs_in_sync():
    path = REPO / "docs" / "import.md"
    if UPDATE:
        path.write_text(docs_page(), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == docs_page(), (
        "docs/import.md is stale: FTC_UPDATE_GOLDEN=1 regenerates it"
    )


# --- hub datasets, caps and mixtures -----------------------------------------------------------
def _import(text: str, name: str = "cfg.yaml"):
    from ftc.compiler.importers import import_config

    Path(name).write_text(text, encoding="utf-8")
    result = import_config(name)
    return result, {r.key: r for r in result.rows}


def test_axolotl_hub_parts(project):
    result, rows = _import(
        "base_model: Qwen/Qwen2.5-0.5B-Instruct\nadapter: lora\ndatasets:\n"
        "  - path: openai/gsm8k\n    name: main\n    split: test\n    type: alpaca\n"
        "  - path: org/big\n    type: chat_template\n    split: train[:200%]\n"
        "  - path: org/sharded\n    type: chat_template\n    shards: 3\n"
        "  - path: alpaca\n    type: alpaca\n"
    )
    assert rows["datasets[0].name"].target == 'data.gsm8k.config = "main"'
    assert rows["datasets[0].split"].target == 'data.gsm8k.split = "test"'
    bad = rows["datasets[1].split"]  # a slice datasets would refuse is not carried, and says why
    assert bad.status == "dropped" and bad.attention and "200%" in bad.note
    assert rows["datasets[2].shards"].status == "dropped" and "whole percentage" in rows["datasets[2].shards"].note
    # a bare name is not an id ftc can read: a placeholder to fill, as before
    assert rows["datasets[3].path"].status == "dropped" and rows["datasets[3].path"].attention
    assert 'path   = "hf://openai/gsm8k"' in result.recipe and 'config = "main"' in result.recipe
    assert result.fetch == [f"hf download --repo-type dataset {r}" for r in ("openai/gsm8k", "org/big", "org/sharded")]
    errors = [d for d in result.diagnostics if d.severity == "error"]  # hub sources lint clean: only the placeholder
    assert errors and all(d.code == "FTR108" and "alpaca.jsonl" in d.message for d in errors), errors


def test_cached_hub_dataset_needs_no_fetch(project, empty_caches):
    from data.hub_support import cache_dataset

    cache_dataset(empty_caches / "hf", "openai/gsm8k", {"data/train-00000-of-00001.parquet": [{"text": "x"}]})
    result, _ = _import(
        "base_model: Qwen/Qwen2.5-0.5B-Instruct\ndatasets:\n  - path: openai/gsm8k\n    type: completion\n"
    )
    assert result.fetch == []


def test_llama_factory_online_and_oversampling(project):
    result, rows = _import(
        "model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nstage: sft\nfinetuning_type: lora\ndataset_dir: ONLINE\n"
        "dataset: org/a,org/b\nmix_strategy: interleave_over\ninterleave_probs: [0.8, 0.2]\nmax_samples: 500\n"
    )
    assert rows["dataset[0]"].target == 'data.a.path = "hf://org/a"'
    assert rows["interleave_probs"].target == "data.*.weight = 0.8, 0.2"
    over = rows["mix_strategy"]  # the shares are carried, the oversampling is not: said, with a !
    assert over.status == "dropped" and over.attention and "never repeats rows" in over.note
    assert rows["max_samples"].target == "data.*.max_rows = 500"
    assert result.recipe.count("max_rows = 500") == 2 and "weight   = 0.8" in result.recipe


def test_llama_factory_concat_ignores_probs(project):
    result, rows = _import(
        "model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct\nstage: sft\ndataset_dir: ONLINE\n"
        "dataset: org/a,org/b\ninterleave_probs: 0.5,0.5\n"
    )
    assert rows["interleave_probs"].status == "dropped" and "concat" in rows["interleave_probs"].note
    assert "weight" not in result.recipe


def test_oumi_partial_mixture_is_not_carried(project):
    result, rows = _import(
        "model:\n  model_name: Qwen/Qwen2.5-0.5B-Instruct\ntraining:\n  trainer_type: TRL_SFT\n"
        "data:\n  train:\n    datasets:\n"
        "      - dataset_name: HuggingFaceH4/ultrachat_200k\n        split: train_sft\n        mixture_proportion: 0.3\n"
        "      - dataset_name: org/other\n        subset: en\n"
    )
    share = rows["data.train.datasets[0].mixture_proportion"]
    assert share.status == "dropped" and share.attention and "every dataset" in share.note
    assert rows["data.train.datasets[0].split"].target == 'data.ultrachat_200k.split = "train_sft"'
    assert rows["data.train.datasets[1].subset"].target == 'data.other.config = "en"'
    assert "weight" not in result.recipe  # a partial mixture would be FTR106: ftc concatenates, as oumi refuses it


def test_torchtune_hub_source(project):
    result, rows = _import(
        "model:\n  _component_: torchtune.models.qwen2_5.lora_qwen2_5_0_5b\n"
        "tokenizer:\n  _component_: torchtune.models.qwen2_5.qwen2_5_tokenizer\n"
        "dataset:\n  _component_: torchtune.datasets.instruct_dataset\n  source: openai/gsm8k\n"
        "  name: main\n  split: train[:10%]\n  column_map:\n    input: question\n    output: answer\n"
    )
    assert rows["dataset.source"].target == 'data.gsm8k.path = "hf://openai/gsm8k"'
    assert rows["dataset.name"].target == 'data.gsm8k.config = "main"'
    assert rows["dataset.split"].target == 'data.gsm8k.split = "train[:10%]"'


# --- real configs from the tools' example folders (trimmed; tests/fixtures/import/real/) -------
REAL = FIXTURES / "real"


def _real(name: str, project: Path):
    from ftc.compiler.importers import import_config

    shutil.copy(REAL / name, project / name)
    result = import_config(name)
    return result, {r.key: r for r in result.rows}


def test_torchtune_base_from_the_download_line(project):
    """The builder `gemma2_27b` does not say base or instruct; the `tune download` line that fetched
    checkpointer.checkpoint_dir does."""
    result, rows = _real("torchtune-gemma2-27B-full.yaml", project)
    assert 'base = model("google/gemma-2-27b")' in result.recipe
    model = rows["model._component_"]
    assert model.status == "carried" and "tune download" in model.note and not model.attention


def test_torchtune_download_line_for_other_weights_is_not_trusted(project):
    text = (REAL / "torchtune-gemma2-27B-full.yaml").read_text(encoding="utf-8")
    Path("edited.yaml").write_text(text.replace("checkpoint_dir: /tmp/gemma-2-27b/", "checkpoint_dir: /m/x"), "utf-8")
    result, rows = _import(Path("edited.yaml").read_text(encoding="utf-8"), "edited.yaml")
    assert 'google/gemma-2-27b"' not in result.recipe  # the model table's guess, flagged for a check
    assert rows["model._component_"].attention


def test_torchtune_val_slice_becomes_the_holdout(project):
    """dataset train[:95%] + dataset_val train[95%:] is one split with a 5% holdout, not two sources
    on one path (FTR209: train data used as eval data)."""
    result, rows = _real("torchtune-gemma2-27B-full.yaml", project)
    assert [s.split for s in result.sources] == ["train"] and "holdout = 5%" in result.recipe
    assert "data = " not in result.recipe and not [d for d in result.diagnostics if d.code == "FTR209"]
    assert rows["dataset_val.split"].target == "eval.holdout = 5%"
    assert rows["dataset.split"].target == 'data.alpaca-cleaned.split = "train"'
    assert all(d.code == "FTR212" for d in result.diagnostics if d.severity == "error")


def test_axolotl_pretraining_dataset_is_a_text_source(project):
    result, rows = _real("axolotl-streaming-pretrain.yaml", project)
    assert [(s.hub, s.format, s.config, s.split) for s in result.sources] == [
        ("HuggingFaceFW/fineweb-edu", "text", "sample-10BT", "train")
    ]
    assert rows["pretraining_dataset[0].type"].target == "data.fineweb-edu.format = text"
    assert not [d for d in result.diagnostics if d.code == "FTR106"]


def test_axolotl_empty_adapter_is_full_tuning(project):
    result, rows = _real("axolotl-phi3-ft-fsdp.yml", project)
    assert re.search(r"method += full", result.recipe)
    assert rows["adapter"].status == "carried" and rows["adapter"].target == "train.method = full"


def test_oumi_kto_reads_kto_rows(project):
    """TRL's KTO rows carry a label: read as format = kto, never trained as chat SFT."""
    result, rows = _real("oumi-phi3-kto.yaml", project)
    assert [s.format for s in result.sources] == ["kto"]
    assert rows["training.trainer_type"].status == "decided" and rows["training.trainer_type"].target == "R-OBJECTIVE"


@pytest.mark.parametrize("name, line, key, what", [
    ("torchtune-qwen2_5-evaluation.yaml", 29, "tasks", "generation, evaluation or quantisation config"),
    ("llama-factory-inference.yaml", 5, "infer_backend", "LLaMA-Factory inference config"),
    ("llama-factory-v1-lora.yaml", 12, "train_dataset", "LLaMA-Factory v1 config"),
    ("accelerate-fsdp.yaml", 2, "compute_environment", "accelerate launcher config"),
])  # fmt: skip
def test_not_a_training_config_is_named(capsys, project, name, line, key, what):
    """A config that trains nothing is a usage error (exit 2) that says what the file is, at the key."""
    shutil.copy(REAL / name, project / name)
    code, out, err = run_cli(capsys, "import", name)
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"error: {name}:{line}: `{key}`: ") and what in err, err
