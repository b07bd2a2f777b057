"""A fixture shared by the planner tests (imported by those modules)."""

import pytest


@pytest.fixture(autouse=True)
def empty_caches(tmp_path_factory, monkeypatch):
    """Deterministic facts: no tokenizer or model config from this machine's caches."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FTC_HOME", str(home / "ftc"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
