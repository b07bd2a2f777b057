"""The baseline's prompt search (R-PROMPT-SEARCH): candidates scored on a validation slice of
train with shots from the rest of train; on a task whose answers follow per-family codes that
only same-family examples reveal, the nearest-neighbour shots win (real model and embedder)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from ftc.runtime.prompting import Example, nearest_shots, user_text
from ftc.runtime.steps import prompt_search

SYSTEM = "Reply with the ticket's routing code only."
# Six families of requests, each routed to a code no prompt could guess: only an example of the
# same family shows it. Fixed random shots cover at most three families.
FAMILIES = {
    "QX-17": [
        "my cat keeps sneezing",
        "the dog will not eat its food",
        "our parrot lost feathers",
        "the kitten has a swollen paw",
        "my rabbit is limping",
        "the puppy coughs at night",
    ],
    "ZB-42": [
        "the invoice total is wrong",
        "I was charged twice on my card",
        "the VAT on my bill is missing",
        "please resend last month's invoice",
        "my payment was declined",
        "the refund never reached my bank",
    ],
    "KM-08": [
        "my flight was cancelled",
        "the airline lost my suitcase",
        "I missed my connecting flight",
        "can I change my boarding pass seat",
        "the plane was delayed six hours",
        "my luggage arrived damaged",
    ],
    "WP-63": [
        "the oven will not heat up",
        "my fridge is leaking water",
        "the dishwasher makes a loud noise",
        "the washing machine will not spin",
        "the microwave sparks inside",
        "my freezer is not cold",
    ],
    "TR-29": [
        "I cannot reset my password",
        "the login page shows an error",
        "two-factor codes never arrive",
        "my account got locked",
        "the app logs me out every minute",
        "I forgot my username",
    ],
    "HV-51": [
        "the roof is leaking after rain",
        "a window pane is cracked",
        "the front door lock is stuck",
        "there is mould on the bathroom wall",
        "the heating radiator is cold",
        "a pipe burst in the kitchen",
    ],
}
EXPECTS = [{"label": "exact_match", "metric": "exact_match", "args": {}, "op": ">=", "threshold": 0.9}]


def _example(text: str, code: str) -> Example:
    return Example([{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Ticket: {text}."}], code)


def _family_train(seed: int = 3) -> list[Example]:
    rows = [_example(text, code) for code, texts in FAMILIES.items() for text in texts]
    random.Random(seed).shuffle(rows)
    return rows


class _Plan:
    def __init__(self, expects: list[dict]) -> None:
        self.expects = expects

    def get(self, path: str, default: object = None) -> object:
        return self.expects if path == "expects" else default


def _ctx(tmp_path: Path) -> SimpleNamespace:
    """What the search reads of a step's Context: the expects, the generation budget, the root."""
    return SimpleNamespace(
        plan=_Plan(EXPECTS),
        config={"max_new_tokens": 8, "batch_size": 8},
        progress=None,
        project_root=tmp_path,
        options=SimpleNamespace(allow_download=False),
    )


def test_nearest_shots_picks_the_most_similar_pool_rows_nearest_last() -> None:
    pool = ["a", "b", "c", "d"]
    similarity = [[0.1, 0.9, 0.5, 0.2], [0.3, 0.3, 0.0, 0.8]]
    assert nearest_shots(similarity, pool, 2) == [["c", "b"], ["a", "d"]]  # ties keep pool order
    assert nearest_shots(similarity, pool, 0) == [[], []]


def test_the_validation_slice_is_the_end_of_train_and_shots_come_from_the_rest() -> None:
    train = list(range(30))
    pool, val = prompt_search.validation_split(train, 8)
    assert val == train[-8:] and pool == train[:-8]
    assert prompt_search.validation_split([1], 8) == ([1], [])  # never an empty pool


def test_the_winner_is_the_best_score_then_the_cheaper_prompt() -> None:
    cands = [
        {"shots": 0, "selection": "none", "score": 0.5},
        {"shots": 3, "selection": "random", "score": 0.7},
        {"shots": 3, "selection": "nearest", "score": 0.7},
        {"shots": 8, "selection": "nearest", "score": 0.7},
    ]
    assert prompt_search.best(cands) == 1
    cands[3]["score"] = 0.71
    assert prompt_search.best(cands) == 3


def test_candidates_are_scored_by_the_rate_expects_only() -> None:
    expects = [
        {"label": "json_valid", "metric": "json_valid", "args": {}, "op": ">=", "threshold": 0.9},
        {"label": "perplexity", "metric": "perplexity", "args": {}, "op": "<=", "threshold": 9.0},
    ]
    assert [e["label"] for e in prompt_search.rate_expects(expects)] == ["json_valid"]
    assert prompt_search.rate_expects(expects[1:]) == [prompt_search.FALLBACK_EXPECT]
    mean, values = prompt_search.score_candidate(expects[:1], ['{"a": 1}', "no"], ["{}", "{}"], None)
    assert mean == 0.5 and values == {"json_valid": 0.5}


@pytest.mark.slow
def test_on_a_task_where_same_family_examples_reveal_the_code_the_search_picks_nearest(
    one_thread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    from ftc.runtime import generate
    from ftc.runtime.generate import load_model
    from ftc.runtime.models import EMBEDDED_BASE, resolve_model

    calls: list[list[list[dict]]] = []
    real = generate.generate

    def spy(loaded, prompts, **kw):  # noqa: ANN001, ANN003, ANN202 - the real generator, its calls recorded
        calls.append(prompts)
        return real(loaded, prompts, **kw)

    monkeypatch.setattr(generate, "generate", spy)

    train = _family_train()
    config = {
        "candidates": [{"shots": 3, "selection": "random"}, {"shots": 3, "selection": "nearest"}],
        "validation_rows": 12,
    }
    loaded = load_model(resolve_model(EMBEDDED_BASE))
    choice, record = prompt_search.search(_ctx(tmp_path), loaded, train, config, seed=7, augment=list)
    by = {c["selection"]: c["score"] for c in record["candidates"]}
    assert choice == prompt_search.Choice(3, "nearest"), record
    assert by["nearest"] > by["random"]
    assert record["validation_rows"] == 12 and record["pool_rows"] == len(train) - 12
    # One generation per candidate: the random candidate's 12 prompts share its 3 shots, a prefix
    # the generator reads once; mixed with the nearest candidate's rows it would not be shared.
    assert [len(c) for c in calls] == [12, 12]
    random_shots = {json.dumps(p[:-1]) for p in calls[0]}
    assert len(random_shots) == 1 and len(calls[0][0]) == 1 + 2 * 3 + 1
    assert len({json.dumps(p[:-1]) for p in calls[1]}) > 1
    # the shots never come from the validation rows
    pool, val = prompt_search.validation_split(train, 12)
    picker = prompt_search.ShotPicker(_ctx(tmp_path), pool, 7)
    shown = {user_text(s) for row in picker.shots_for(choice, val) for s in row}
    assert shown and not shown & {user_text(e) for e in val}
