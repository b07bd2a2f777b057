"""The planner's tests see no tokenizer or model config from this machine's caches."""

import pytest


@pytest.fixture(autouse=True)
def _deterministic_facts(empty_caches):
    yield
