"""Hugging Face Hub sources, offline: a dataset saved by the test itself in the hub cache layout
(`datasets--owner--name/snapshots/<rev>/data/train-*.parquet` + `refs/main`) loads through
`datasets.load_dataset` with a split slice and a row cap, in the file's shape (ShareGPT here), its
lock pins the revision and fingerprint, and an uncached dataset is one error naming the command.
Models: a hub id neither cached nor in the built-in table is FTR302 naming the exact command; with
downloads allowed only config.json and the tokenizer are fetched (a fake downloader, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.cli.main import main
from ftc.compiler.lang.recipe import ModelRef
from ftc.runtime.data import DataError, read_source
from ftc.runtime.data.hub import HubSource, hub_lock

REV = "0123456789abcdef0123456789abcdef01234567"
CONFIG = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
          "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """An offline HF home holding one dataset repository, acme/chats (10 ShareGPT rows)."""
    from datasets import Dataset

    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    repo = home / "hub" / "datasets--acme--chats"
    (repo / "snapshots" / REV / "data").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REV)
    rows = [
        {
            "conversations": [
                {"from": "human", "value": f"Question number {i}, please answer"},
                {"from": "gpt", "value": f"Answer number {i}."},
            ]
        }
        for i in range(10)
    ]
    rows[7]["conversations"][0]["from"] = "robot"  # a malformed row: located as line 8
    Dataset.from_list(rows).to_parquet(str(repo / "snapshots" / REV / "data" / "train-00000-of-00001.parquet"))
    return home


def test_a_cached_hub_dataset_loads_sliced_capped_and_normalised(hub):
    result = read_source("s", "", "chat", hub=HubSource("acme/chats", None, "train[:50%]", 3))
    assert result.rows == 3 and result.bad_rows == []
    assert result.records[0].fields["messages"][0] == {"role": "user", "content": "Question number 0, please answer"}
    assert result.records[0].file == "hf://acme/chats[train[:50%]]" and result.records[2].line == 3


def test_a_malformed_hub_row_is_located_by_its_row_number(hub):
    result = read_source("s", "", "chat", hub=HubSource("acme/chats"))
    assert [(b["line"], b["reason"]) for b in result.bad_rows] == [
        (8, "role 'robot' is not one of system, user, assistant (message 1)")
    ]


def test_the_lock_pins_revision_and_fingerprint(hub):
    lock = hub_lock(HubSource("acme/chats", None, "train", 5))
    assert lock["revision"] == REV and lock["rows"] == 5 and lock["fingerprint"]
    assert hub_lock(HubSource("acme/chats", None, "train", 5))["fingerprint"] == lock["fingerprint"]


def test_an_uncached_hub_dataset_says_how_to_get_it(hub):
    with pytest.raises(DataError) as info:
        read_source("s", "", "chat", hub=HubSource("acme/missing"))
    assert "hf download --repo-type dataset acme/missing" in info.value.message
    assert info.value.message.startswith("hf://acme/missing[train]: ")


def test_ftc_data_check_reads_a_hub_dataset(hub, capsys):
    code = main(["data", "check", "hf://acme/chats", "--format", "chat", "--split", "train[:70%]", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["rows"] == doc["valid_rows"] == 7
    assert main(["data", "check", "hf://acme", "--format", "chat"]) == 2  # not owner/name


# --- models -------------------------------------------------------------------------------------
def test_an_uncached_hub_model_is_ftr302_naming_the_command(tmp_path, monkeypatch):
    from ftc.compiler.plan.facts import FactError, model_facts

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("FTC_ALLOW_DOWNLOAD", raising=False)
    with pytest.raises(FactError) as info:
        model_facts(ModelRef("acme/tiny-chat"))
    d = info.value.diagnostic
    assert d.code == "FTR302" and "not in the Hugging Face cache" in d.message
    assert "hf download acme/tiny-chat config.json tokenizer.json tokenizer_config.json" in d.hint
    assert "ftc plan RECIPE --allow-download" in d.hint and "ftc run RECIPE --allow-download" in d.hint


def test_with_downloads_allowed_only_config_and_tokenizer_are_fetched(tmp_path, monkeypatch):
    import huggingface_hub

    from ftc.compiler.plan.facts import model_facts

    snap = tmp_path / "hf" / "hub" / "models--acme--tiny-chat" / "snapshots" / REV
    fetched: list[str] = []

    def fake_download(repo_id: str, filename: str, **_: object) -> str:
        """Writes what the hub would, in the cache layout; the tokenizer_config is absent upstream."""
        fetched.append(filename)
        if filename == "tokenizer_config.json":
            raise huggingface_hub.errors.EntryNotFoundError("404")
        snap.mkdir(parents=True, exist_ok=True)
        (snap / filename).write_text(json.dumps(CONFIG) if filename == "config.json" else "{}")
        return str(snap / filename)

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FTC_ALLOW_DOWNLOAD", "1")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    m = model_facts(ModelRef("acme/tiny-chat"))
    assert fetched == ["config.json", "tokenizer.json", "tokenizer_config.json"]
    assert m.source == "config.json" and m.folder == snap and m.spec.layers == 2
    assert sorted(p.name for p in snap.iterdir()) == ["config.json", "tokenizer.json"]  # no weights


def test_a_cached_hub_model_needs_no_download(tmp_path, monkeypatch):
    from ftc.compiler.plan.facts import model_facts

    snap = tmp_path / "hf" / "hub" / "models--acme--tiny-chat" / "snapshots" / REV
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(CONFIG))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("FTC_ALLOW_DOWNLOAD", raising=False)
    assert model_facts(ModelRef("acme/tiny-chat")).folder == Path(snap)
