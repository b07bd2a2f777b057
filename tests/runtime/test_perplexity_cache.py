"""The base model's perplexities are remembered across runs (``runtime/perplexity_cache.py``):
a value read back is the value computing gives; anything the number depends on (the text, the
window, the weights in memory) is a new computation; a damaged cache file is recomputed and
replaced; a tuned model (an adapter) is never remembered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime import perplexity_cache
from ftc.runtime.generate import Loaded, load_model
from ftc.runtime.perplexity import general_text, perplexity

TEXT = " ".join(general_text().split()[:40])
WINDOW = {"max_length": 64, "stride": 32}


@pytest.fixture(scope="module")
def loaded(base_dir: Path) -> Loaded:
    return load_model(base_dir)


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Each text the cache had to compute, in order (the real computation runs); a fresh home."""
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))
    seen: list[str] = []

    def counting(loaded: Loaded, text: str, **window: int) -> float:
        seen.append(text)
        return perplexity(loaded, text, **window)

    monkeypatch.setattr(perplexity_cache, "perplexity", counting)
    return seen


def test_a_second_run_reads_the_value_computing_gives(loaded: Loaded, computed: list[str]) -> None:
    first = perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    again = perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    assert first == again == perplexity(loaded, TEXT, **WINDOW)  # exactly: the JSON float round-trips
    assert computed == [TEXT]
    (entry,) = perplexity_cache.cache_dir().glob("*.json")
    assert json.loads(entry.read_text())["perplexity"] == first


def test_another_text_window_or_weights_is_computed_anew(loaded: Loaded, computed: list[str]) -> None:
    import torch

    perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    perplexity_cache.base_perplexity(loaded, TEXT + " Again.", **WINDOW)
    perplexity_cache.base_perplexity(loaded, TEXT, max_length=48, stride=24)
    weight = loaded.model.model.layers[3].mlp.down_proj.weight
    original = weight.detach().clone()
    with torch.no_grad():
        weight.mul_(1.01)  # what a merge or another checkpoint in the same folder would do
        try:
            changed = perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
        finally:
            weight.copy_(original)
    assert len(computed) == 4
    assert changed != perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    assert len(computed) == 4 and len(list(perplexity_cache.cache_dir().glob("*.json"))) == 4


def test_a_value_of_another_window_scheme_is_not_reused(
    loaded: Loaded, computed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    monkeypatch.setattr(perplexity_cache, "SCHEME", perplexity_cache.SCHEME - 1)  # as an older ftc wrote it
    perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    assert len(computed) == 2 and len(list(perplexity_cache.cache_dir().glob("*.json"))) == 2


DAMAGE = ["{not json", "[1, 2]", '{"key": {}, "perplexity": 3.0}', "KEY_WITH_NAN", "KEY_WITH_STRING", "\udcff"]


def test_a_damaged_cache_file_is_recomputed_and_replaced(loaded: Loaded, computed: list[str]) -> None:
    value = perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW)
    (entry,) = perplexity_cache.cache_dir().glob("*.json")
    key = json.loads(entry.read_text())["key"]
    for damage in DAMAGE:
        if damage == "KEY_WITH_NAN":
            entry.write_text(json.dumps({"key": key, "perplexity": float("nan")}))
        elif damage == "KEY_WITH_STRING":
            entry.write_text(json.dumps({"key": key, "perplexity": "24.0"}))
        else:
            entry.write_bytes(damage.encode("utf-8", "surrogateescape"))
        assert perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW) == value, damage
        assert json.loads(entry.read_text())["perplexity"] == value, damage
    assert len(computed) == 1 + len(DAMAGE)


def test_a_tuned_model_is_never_remembered(loaded: Loaded, computed: list[str], tmp_path: Path) -> None:
    tuned = Loaded(loaded.model, loaded.tokenizer, loaded.model_dir, tmp_path / "adapter")
    perplexity_cache.base_perplexity(tuned, TEXT, **WINDOW)
    perplexity_cache.base_perplexity(tuned, TEXT, **WINDOW)
    assert len(computed) == 2 and not perplexity_cache.cache_dir().exists()


def test_weights_it_cannot_read_back_are_computed_without_the_cache(
    loaded: Loaded, computed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def offloaded(model: object) -> str:
        raise NotImplementedError("Cannot copy out of meta tensor; no data!")  # what torch says

    monkeypatch.setattr(perplexity_cache, "_fingerprint", offloaded)
    assert perplexity_cache.base_perplexity(loaded, TEXT, **WINDOW) == perplexity(loaded, TEXT, **WINDOW)
    assert len(computed) == 1 and not perplexity_cache.cache_dir().exists()


def test_the_model_is_fingerprinted_once_for_all_its_texts(
    loaded: Loaded, computed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    own = perplexity_cache._fingerprint
    monkeypatch.setattr(perplexity_cache, "_fingerprint", lambda model: calls.append(1) or own(model))
    texts = {"general": TEXT, "holdout": TEXT + " Again."}
    first = perplexity_cache.base_perplexities(loaded, texts, **WINDOW)
    assert first == perplexity_cache.base_perplexities(loaded, texts, **WINDOW)
    assert first == {name: perplexity(loaded, text, **WINDOW) for name, text in texts.items()}
    assert len(calls) == 2 and computed == [TEXT, TEXT + " Again."]  # one fingerprint a call, two texts
