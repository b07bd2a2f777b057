"""The generation batch a CPU decodes: widened while the KV cache fits, the plan's on a GPU."""

import pytest

from ftc.compiler.plan import costs
from ftc.shared.decode_batch import KV_BUDGET_BYTES, MAX_WIDEN, decode_rows, kv_bytes_per_token

# SmolLM2-135M in fp32: 30 layers, 3 KV heads of 64: 46,080 bytes a token.
SMOL = kv_bytes_per_token(30, 3, 64, 4)


def test_a_cpu_widens_up_to_four_times_while_the_kv_cache_fits_and_a_gpu_keeps_the_plans_batch():
    assert SMOL == 46_080
    assert decode_rows(8, 400, SMOL, "cpu") == 8 * MAX_WIDEN, "32 rows of 400 tokens: 590 MB"
    assert decode_rows(8, 1050, SMOL, "cpu") == KV_BUDGET_BYTES // (1050 * SMOL) == 22
    assert decode_rows(8, 8000, SMOL, "cpu") == 8, "never under the plan's batch"
    big = kv_bytes_per_token(24, 32, 64, 4)  # a 1.7B model: 393 KB a token
    assert decode_rows(8, 1050, big, "cpu") == 8
    assert decode_rows(8, 400, SMOL, "cuda") == 8
    assert decode_rows(0, 0, SMOL, "cpu") == MAX_WIDEN, "degenerate inputs stay at least one row"


def test_the_estimate_prices_the_widened_batches_a_cpu_runs():
    """32 answers of 40 tokens to 680-token prompts: with the model's KV size, one batch of 32 rows
    (40 decoding steps of 32 rows); without it, four batches of the plan's 8."""
    cpu = costs.device_facts("cpu")
    params, prompts, prompt, new, shared = 134_515_008, 32, 680, 40, 600
    widened = costs.generation_seconds(params, prompts, prompt, new, 8, cpu, shared, SMOL)
    prefill = costs.prefill_ms(params, prompts * (prompt - shared) + shared, cpu) / 1000
    assert widened == pytest.approx(prefill + new * costs.decode_step_ms(params, 32, cpu) / 1000)
    held = costs.generation_seconds(params, prompts, prompt, new, 8, cpu, shared)
    assert held == pytest.approx(prefill + 4 * new * costs.decode_step_ms(params, 8, cpu) / 1000)
    assert widened < held
