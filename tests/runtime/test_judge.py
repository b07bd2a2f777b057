"""The judge metric: a strict parse (an unparseable reply is a counted failure, scored lowest),
a fixed versioned prompt, a cache keyed by content, pairwise comparison in both orders, and the
real embedded model as the judge (the only model on an offline machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime import judge as J
from ftc.runtime.metrics import score


def test_a_score_is_parsed_strictly() -> None:
    assert J.parse_score("Score: 4", 5) == 4
    assert J.parse_score(" 3 ", 5) == 3
    assert J.parse_score("score: 5/5", 5) == 5
    assert J.parse_score("Score: 2\nThe answer names the wrong city.", 5) == 2  # a reason may follow
    for bad in (
        "",
        "6",
        "0",
        "Score: 4/10",
        "I would give it a 4",
        "Score: 4. Because it is polite.",
        "four",
        "Score: 15",
    ):
        assert J.parse_score(bad, 5) is None, bad
    assert J.parse_choice("A") == "A" and J.parse_choice("tie.") == "tie" and J.parse_choice("Better answer: B") == "B"
    assert J.parse_choice("A is better") is None


class _Scripted(J.Judge):
    """A judge whose 'model' replies from a script: the parse, the cache and the pairing are real;
    only the generation is replaced, to test the rules on replies a real model rarely gives."""

    def __init__(self, replies: dict[str, str], **kw) -> None:
        super().__init__("scripted", "Be polite.", 5, **kw)
        self.script, self.calls = replies, 0

    def _generate(self, prompts: list[list[dict]], prefill: str) -> list[str]:
        self.calls += len(prompts)
        out = []
        for p in prompts:
            text = p[-1]["content"]
            reply = next((reply for needle, reply in self.script.items() if needle in text), " no idea")
            out.append(reply)
        return out


def test_unparseable_judgements_are_failures_scored_lowest_and_counted(tmp_path: Path) -> None:
    j = _Scripted({"Answer to grade: thanks": " 5", "Answer to grade: ok": " 3\nIt is terse."}, cache_dir=tmp_path)
    result = j.grade([("q1", "thanks", ""), ("q2", "ok", ""), ("q3", "go away", "")])
    assert result.scores == [5.0, 3.0, 1.0] and result.failures == 1
    assert result.mean == pytest.approx(3.0)
    again = _Scripted({}, cache_dir=tmp_path)  # every judgement is cached by its content
    assert again.grade([("q1", "thanks", ""), ("q2", "ok", ""), ("q3", "go away", "")]).scores == result.scores
    assert again.calls == 0


def test_comparing_two_answers_asks_both_orders_and_a_position_bias_is_a_tie() -> None:
    biased = _Scripted({"Which answer": " A"})  # always prefers the first position
    assert biased.compare([("q", "x", "y")]) == ["tie"]
    consistent = _Scripted({"Answer A: good": " A", "Answer B: good": " B"})
    assert consistent.compare([("q", "good", "bad"), ("q", "bad", "good")]) == ["first", "second"]
    assert _Scripted({}).compare([("q", "x", "y")]) == ["failure"]


def test_the_prompt_is_fixed_and_versioned() -> None:
    messages = J.grade_messages("Be polite.", 5, "Hi?", "Hello!", "Hello.")
    assert messages[0]["role"] == "system" and "from 1 (fails it) to 5 (fully meets it)" in messages[1]["content"]
    assert "Reference answer: Hello." in messages[1]["content"] and "Question: Hi?" in messages[1]["content"]
    j = J.Judge("m", "Be polite.")
    assert j.key(messages) != J.Judge("other", "Be polite.").key(messages)
    assert J.PROMPT_VERSION == "ftc-judge-1"


def test_a_rubric_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "rubric.md").write_text("Polite and short.")
    assert J.rubric_text("rubric.md", tmp_path) == "Polite and short."
    assert J.rubric_text("Polite and short.", tmp_path) == "Polite and short."


@pytest.mark.e2e
@pytest.mark.usefixtures("one_thread")
def test_the_embedded_model_judges_and_its_failures_are_counted(tmp_path: Path) -> None:
    expect = {
        "label": "judge(...)",
        "metric": "judge",
        "args": {
            "rubric": "The answer names the correct capital city.",
            "teacher": "smollm2-135m-instruct",
            "scale": 5,
        },
    }
    prompts = [[{"role": "user", "content": f"What is the capital of {c}?"}] for c in ("France", "Japan", "Peru")]
    preds, refs = ["Paris", "Osaka", "Lima"], ["Paris", "Tokyo", "Lima"]
    result = score(expect, preds, refs, prompts=prompts, cache_dir=tmp_path / "judge")
    assert len(result.per_row) == 3 and all(v is not None and 1 <= v <= 5 for v in result.per_row)
    summary = json.loads(next((tmp_path / "judge").glob("judge-*.json")).read_text())
    assert summary["rows"] == 3 and summary["failures"] == result.failures
    assert summary["prompt_version"] == J.PROMPT_VERSION
    # The failures are exactly the replies the strict parse refuses, each scored 1.
    replies = [
        json.loads(p.read_text())["reply"] for p in (tmp_path / "judge").rglob("*.json") if p.parent.name != "judge"
    ]
    assert result.failures == sum(J.parse_score(r, 5) is None for r in replies)


def test_a_judge_margin_is_relative_and_unparseable_replies_reach_the_verdict(tmp_path: Path) -> None:
    from ftc.runtime.gate import margin_target

    assert margin_target("judge", ">=", 3.0, 10.0) == pytest.approx(3.3)  # 10% better, not +0.10 points
    j = _Scripted({"Answer to grade: fine": " 4"}, cache_dir=tmp_path / "judge")
    result = j.grade([("q", "fine", ""), ("q", "hmm", "")])
    J.write_summary(tmp_path / "judge", "judge(rubric=...)", j, result)
    notes = J.failure_notes({"baseline": J.summaries(tmp_path)})
    assert notes == ["judge(rubric=...) on the baseline: 1 of 2 judgements unparseable (scored 1, the lowest)"]


@pytest.mark.e2e
@pytest.mark.usefixtures("one_thread")
def test_the_gate_scores_a_judge_expect_with_the_embedded_model_and_reports_its_failures(tmp_path: Path) -> None:
    """The real gate step over written baseline predictions: the judge runs on the embedded model,
    its judgements are cached beside the predictions, and its failures reach gate.json."""
    from gate_support import run_gate  # pytest puts tests/runtime on the path

    from ftc.runtime.prompting import Example
    from ftc.runtime.steps import common

    rows = [
        Example(
            [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": f"Capital of {c}?"}], a
        )
        for c, a in (("France", "Paris"), ("Japan", "Tokyo"))
    ]
    base = tmp_path / "baseline"
    common.write_predictions(base, [e.prompt for e in rows], [e.completion for e in rows], ["Paris", "Osaka"])
    common.write_scores(base, common.row_set(rows), {"general": 10.0, "holdout": 5.0})
    args = {"rubric": "The answer names the capital city.", "scale": 5, "teacher": "smollm2-135m-instruct"}
    expect = {"label": "judge(...)", "metric": "judge", "args": args, "op": ">=", "threshold": 4.0}
    plan = {"expects": [expect], "gate": {"beat_baseline_pct": 10.0}}
    gate = run_gate(tmp_path, plan, base, None)
    cached = [p for p in (base / "judge").rglob("*.json") if not p.name.startswith("judge-")]
    assert len(cached) == 2  # one judgement per row, cached beside the predictions
    summary = gate["judge"]["baseline"][0]  # the gate records every judge summary, failures or not
    assert summary["rows"] == 2 and summary["label"] == "judge(...)"
    failing = [r for r in gate["reasons"] if "judgements unparseable" in r]
    assert len(failing) == (1 if summary["failures"] else 0)
    again = run_gate(tmp_path, plan, base, None)  # re-scored from the cache: the same verdict
    assert again["verdict"] == gate["verdict"]
