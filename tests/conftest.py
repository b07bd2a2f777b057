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
