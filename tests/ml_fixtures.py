"""Fixtures shared by the tests that load the embedded model (imported by those modules)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# A fixed home under the repo: CI converts the GGUF once and every later session reuses it.
os.environ.setdefault("FTC_HOME", str(REPO / ".ftc-test-home"))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for these tests unless FTC_NUM_THREADS says otherwise: on a CPU shared
    with other jobs, two OpenMP threads ran this model ~10x slower than one (measured); on two
    dedicated cores one thread costs ~1.5x. Restored afterwards so other modules are untouched."""
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
