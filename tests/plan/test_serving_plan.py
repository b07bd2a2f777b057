"""`export { gguf = ... }` and latency expects in the language and the plan (issue 16): the GGUF
type reaches the export step, a latency bound or expect makes the baseline and eval steps time
requests (R-LATENCY-MEASURED) with the cost model's estimate beside it, and what cannot be
written or measured is a located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftc.compiler.plan.compile import compile_recipe
from ftc.shared.errors import FtcError

REPO = Path(__file__).resolve().parents[2]
RECIPE = """recipe "serve" {
  goal = behavior("Reply as JSON")
  base = model("BASE")
  data "rows" {
    path   = "data/rows.jsonl"
    format = chat
  }
  eval {
    holdout = 20%
    expect regex("category") >= 0.5
EXPECT
  }
EXPORT
}
"""


def _compile(tmp_path: Path, expect: str = "", export: str = "", base: str = "smollm2-135m-instruct") -> dict:
    (tmp_path / "data").mkdir(exist_ok=True)
    lines = (REPO / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    (tmp_path / "data" / "rows.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = RECIPE.replace("BASE", base).replace("EXPECT", f"    {expect}").replace("EXPORT", f"  {export}")
    (tmp_path / "r.ftr").write_text(text, encoding="utf-8")
    return compile_recipe(tmp_path / "r.ftr").plan


def _config(plan: dict, kind: str) -> dict:
    return next(s["config"] for s in plan["steps"] if s["kind"] == kind)


def test_a_latency_expect_is_measured_by_baseline_and_eval_with_the_estimate_beside_it(tmp_path: Path) -> None:
    plan = _compile(tmp_path, "expect latency_p95 <= 300ms", "export { gguf = q8_0 }")
    expect = next(e for e in plan["expects"] if e["metric"] == "latency_p95")
    assert (expect["op"], expect["threshold"]) == ("<=", 300.0)  # held in milliseconds
    assert _config(plan, "baseline")["latency_requests"] == _config(plan, "eval")["latency_requests"] == 8
    est = plan["estimates"]["latency"]
    assert est["model"] == "smollm2-135m-instruct" and est["ms"] > 0 and est["tokens"] >= 16
    assert "R-LATENCY-MEASURED" in [r["id"] for r in plan["rules"]]
    assert _config(plan, "export")["gguf"] == "q8_0" and _config(plan, "export")["max_new_tokens"] > 0


def test_a_plan_without_latency_or_gguf_keeps_its_step_configs(tmp_path: Path) -> None:
    plan = _compile(tmp_path)
    assert "latency_requests" not in _config(plan, "baseline") and "latency" not in plan["estimates"]
    assert _config(plan, "export") == {"merged": False}


def test_a_seconds_threshold_is_converted_to_milliseconds(tmp_path: Path) -> None:
    plan = _compile(tmp_path, "expect latency_p50 < 1.5s")
    assert next(e["threshold"] for e in plan["expects"] if e["metric"] == "latency_p50") == 1500.0


@pytest.mark.parametrize(
    ("expect", "export", "base", "code", "words"),
    [
        ("expect latency_p95 <= 0.3", "", "smollm2-135m-instruct", "FTR103", "a duration like 300ms"),
        ("expect latency_p95 <= 0ms", "", "smollm2-135m-instruct", "FTR112", "positive"),
        ("", "export { gguf = q4_k_m }", "smollm2-135m-instruct", "FTR110", "f16 | q8_0 | q4_0"),
        ("", "export { gguf = f16 }", "qwen2.5-0.5b", "FTR326", "'qwen2'"),
    ],
)
def test_what_cannot_be_measured_or_written_is_a_located_error(
    tmp_path: Path, expect: str, export: str, base: str, code: str, words: str
) -> None:
    with pytest.raises(FtcError) as err:
        _compile(tmp_path, expect, export, base)
    assert code in str(err.value) and words in str(err.value) and "r.ftr:" in str(err.value)
