"""Each metric on hand-made predictions."""

import json

import pytest

from ftc.runtime.metrics import NOT_JSON, parse_json_answer, passes, score
from ftc.shared.errors import FtcError


def ex(metric, **args):
    return {"label": metric, "metric": metric, "args": args, "op": ">=", "threshold": 0.5}


def test_exact_match_whole_answer_is_stripped():
    r = score(ex("exact_match"), [" Paris\n", "paris", "Rome"], ["Paris", "Paris", "Rome"])
    assert r.per_row == [1.0, 0.0, 1.0] and r.value == pytest.approx(2 / 3)


def test_exact_match_on_a_json_field_and_fenced_json_is_read_the_same_way():
    refs = ['{"category": "billing", "reply": "x"}'] * 4
    preds = [
        '{"category": "billing", "reply": "other"}',
        '```json\n{"category": "billing"}\n```',
        '{"category": "shipping"}',
        "category: billing",
    ]
    r = score(ex("exact_match", field="category"), preds, refs)
    assert r.per_row == [1.0, 1.0, 0.0, 0.0]


def test_exact_match_field_missing_from_reference_does_not_count():
    r = score(ex("exact_match", field="category"), ['{"category": "a"}', "x"], ['{"category": "a"}', "{}"])
    assert r.per_row == [1.0, None] and r.value == 1.0


def test_contains_regex_json_valid():
    assert score(ex("contains", text="refund"), ["a refund is due", "no"], ["", ""]).per_row == [1.0, 0.0]
    assert score(ex("regex", pattern=r"^\d{3}-\d{4}$"), ["555-1234", "call 555-1234"], ["", ""]).per_row == [1.0, 0.0]
    preds = ['{"a": 1}', "```\n[1, 2]\n```", "{'a': 1}", "null", 'text {"a": 1}']
    assert score(ex("json_valid"), preds, [""] * 5).per_row == [1.0, 1.0, 0.0, 1.0, 0.0]


def test_json_schema_with_a_relative_path_and_invalid_json_fails(tmp_path):
    schema = {"type": "object", "required": ["category"], "properties": {"category": {"enum": ["billing", "shipping"]}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    preds = ['{"category": "billing"}', '{"category": "other"}', "not json", '{"reply": 1}']
    r = score(ex("json_schema", schema="s.json"), preds, [""] * 4, root=tmp_path)
    assert r.per_row == [1.0, 0.0, 0.0, 0.0] and r.value == 0.25


def test_json_schema_missing_or_broken_schema_is_a_user_error(tmp_path):
    with pytest.raises(FtcError, match="not found"):
        score(ex("json_schema", schema="nope.json"), ["{}"], [""], root=tmp_path)
    (tmp_path / "bad.json").write_text('{"type": 5}')
    with pytest.raises(FtcError, match="not a valid JSON Schema"):
        score(ex("json_schema", schema="bad.json"), ["{}"], [""], root=tmp_path)


def test_rouge_l():
    r = score(ex("rouge_l"), ["the cat sat on the mat", "dogs bark"], ["the cat sat on the mat", "a cat sat"])
    assert r.per_row[0] == pytest.approx(1.0) and r.per_row[1] == 0.0


def test_perplexity_and_unknown_metrics_are_refused():
    with pytest.raises(ValueError, match="perplexity"):
        score(ex("perplexity"), ["x"], ["x"])
    with pytest.raises(FtcError, match="unknown metric"):
        score(ex("bleu"), ["x"], ["x"])
    with pytest.raises(FtcError, match="does not compile"):
        score(ex("regex", pattern="("), ["x"], ["x"])


def test_passes_and_parse_json_answer():
    assert passes(0.8, ">=", 0.8) and not passes(0.79, ">=", 0.8)
    assert passes(3.0, "<=", 3.0) and passes(1, "<", 2) and passes(2, ">", 1) and passes(1, "==", 1)
    with pytest.raises(FtcError):
        passes(1, "=>", 1)
    assert parse_json_answer(" null ") is None and parse_json_answer("nope") is NOT_JSON


def test_every_per_row_metric_has_a_scorer_and_nothing_else_does() -> None:
    """The one metric table (ftc.shared.contract) and the runtime's scorers name the same metrics."""
    from ftc.runtime.metrics import SCORERS
    from ftc.shared.contract import METRIC_SPECS, PER_ROW_METRICS

    assert set(SCORERS) == set(PER_ROW_METRICS)
    assert {n for n, m in METRIC_SPECS.items() if not m.per_row} == {
        "perplexity",
        "forgetting",
        "latency_p50",
        "latency_p95",
    }


def test_the_language_reads_its_metric_arguments_from_the_table() -> None:
    from ftc.compiler.lang.keys import METRIC_ARGS, REQUIRED_ARGS
    from ftc.shared.contract import METRIC_SPECS

    assert METRIC_ARGS == {n: m.args for n, m in METRIC_SPECS.items()}
    assert REQUIRED_ARGS == {"contains": "text", "regex": "pattern", "json_schema": "schema", "judge": "rubric"}
