"""The generation batch a CPU decodes: widened for short prompts, the plan's for long ones."""

import pytest

from ftc.compiler.plan import costs
from ftc.shared.decode_batch import MAX_WIDEN, PREFILL_TOKENS, decode_rows


def test_a_cpu_widens_short_prompts_up_to_four_times_and_keeps_long_ones_at_the_plans_batch():
    assert decode_rows(8, 80, "cpu") == 8 * MAX_WIDEN, "80 own tokens: 32 rows hold 2,560 < 4,096"
    assert decode_rows(8, 200, "cpu") == PREFILL_TOKENS // 200
    assert decode_rows(8, 1000, "cpu") == 8, "never under the plan's batch"
    assert decode_rows(8, 80, "cuda") == 8, "a GPU keeps the plan's batch"
    assert decode_rows(0, 0, "cpu") == MAX_WIDEN, "degenerate inputs stay at least one row"


def test_the_estimate_prices_the_widened_batches_a_cpu_runs():
    """32 answers of 40 tokens after a shared 600-token prefix: one batch of 32 rows on a CPU (its
    decoding steps cost 40 steps of 32 rows), without a shared prefix (680 tokens a row) four batches of the plan.s 8."""
    cpu = costs.device_facts("cpu")
    params, prompts, prompt, new, shared = 134_515_008, 32, 680, 40, 600
    widened = costs.generation_seconds(params, prompts, prompt, new, 8, cpu, shared)
    prefill = costs.prefill_ms(params, prompts * (prompt - shared) + shared, cpu) / 1000
    assert widened == pytest.approx(prefill + new * costs.decode_step_ms(params, 32, cpu) / 1000)
    long_prompts = costs.generation_seconds(params, prompts, prompt, new, 8, cpu, shared=0)
    prefill_all = costs.prefill_ms(params, prompts * prompt, cpu) / 1000
    assert long_prompts == pytest.approx(prefill_all + 4 * new * costs.decode_step_ms(params, 8, cpu) / 1000)
