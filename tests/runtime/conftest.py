"""Fixtures for the tests that load the embedded model or run steps.

Every module here loads a model or runs a plan, so each is marked ``slow`` (and ``e2e`` where it
really trains); `pytest -m "not slow"` runs the rest of the suite in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread unless FTC_NUM_THREADS says otherwise: on a CPU shared with other jobs, two
    OpenMP threads ran this model ~10x slower than one (measured); on two dedicated cores one thread
    costs ~1.5x. Restored afterwards so other modules are untouched."""
    import torch

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FTC_NUM_THREADS", os.environ.get("FTC_NUM_THREADS") or "1")
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base_dir() -> Path:
    from ftc.runtime.models import EMBEDDED_BASE, resolve_model

    return resolve_model(EMBEDDED_BASE)
