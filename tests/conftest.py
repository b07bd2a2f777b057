"""Settings and fixtures every test layer shares.

``FTC_HOME`` points at one folder under the repository for the whole session (set in
``pytest_configure``, before any test module is imported), so the embedded model is converted once
and every later run, and every ``ftc`` subprocess a test starts, reuses it. Tests that need an empty
home (deterministic planner facts) ask for ``empty_caches``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"

# Property tests: a quick default for `make test`, a long profile for `make fuzz`.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", deadline=None, max_examples=5000, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))
    # Plans are estimated with the reference machine's constants, whatever this machine measured
    # (`ftc device profile`); the profile's own tests point this at their files.
    os.environ["FTC_DEVICE_PROFILE"] = "off"


@pytest.fixture
def empty_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Deterministic facts: no tokenizer or model config from this machine's caches."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FTC_HOME", str(home / "ftc"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return home


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that run `ftc run` or train (``e2e``) first, then those that load a model (``slow``,
    or any under tests/runtime, whose modules run steps), then the rest, each file's tests kept
    together in their order. `make test` hands whole files
    to two workers in this order (``--dist loadfile --no-loadscope-reorder``): the long files start
    early and the many short ones fill in at the end, so neither worker finishes minutes after the
    other on one long file it picked up last (xdist's default puts files with few tests last)."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def weight(group: list[pytest.Item]) -> int:
        marks = {m for item in group for m in ("e2e", "slow") if item.get_closest_marker(m)}
        runtime = group[0].nodeid.startswith("tests/runtime/")
        return 0 if "e2e" in marks else 1 if "slow" in marks or runtime else 2

    ordered = sorted(files.values(), key=weight)  # stable: collection order within each weight
    items[:] = [item for group in ordered for item in group]
