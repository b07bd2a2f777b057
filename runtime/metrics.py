"""Score predictions against references for one ``expect`` of the plan."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ftc.shared.contract import METRICS
from ftc.shared.errors import FtcError

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)
NOT_JSON = object()  # parse_json_answer's "not a JSON document"


@dataclass(frozen=True)
class MetricResult:
    value: float  # mean over rows, 0..1 (judge: 1..scale)
    per_row: list[float | None]
    failures: int = 0  # judge: unparseable judgements, scored as the lowest value and counted here


def parse_json_answer(text: str) -> Any:
    """The one JSON reading rule, for baseline and tuned alike: surrounding whitespace and one
    optional Markdown fence are accepted; anything else must be exactly one JSON document.
    Returns ``NOT_JSON`` when it is not JSON (``None`` would be the valid document ``null``)."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return NOT_JSON


def _is_json(value: Any) -> bool:
    return value is not NOT_JSON


def passes(value: float, op: str, threshold: float) -> bool:
    ops: dict[str, Callable[[float, float], bool]] = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
    }
    if op not in ops:
        raise FtcError(f"unknown comparison '{op}' (use one of {', '.join(ops)})")
    return ops[op](value, threshold)


def score(
    expect: dict,
    predictions: list[str],
    references: list[str],
    *,
    root: Path | None = None,
    prompts: list[list[dict]] | None = None,
    cache_dir: Path | None = None,
) -> MetricResult:
    """``prompts`` (the messages each prediction answered) and ``cache_dir`` (where judgements are
    cached and summarised) are read by the judge only: it shows the judge the question."""
    metric, args = expect["metric"], expect.get("args") or {}
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if metric == "judge":
        return _judge_all(expect, predictions, references, root, prompts, cache_dir)
    if metric == "perplexity":
        raise ValueError("perplexity is measured on a text with ftc.runtime.perplexity, not scored from predictions")
    if metric == "forgetting":
        raise ValueError(
            "forgetting compares the general-text perplexity of the base and the tune (the gate's "
            "forgetting_rise), it is not scored from predictions"
        )
    row = _row_scorer(metric, args, root)
    per_row = [row(p, r) for p, r in zip(predictions, references)]
    seen = [v for v in per_row if v is not None]
    return MetricResult(sum(seen) / len(seen) if seen else 0.0, per_row)


RowScorer = Callable[[str, str], "float | None"]


def _exact_match(args: dict, root: Path | None) -> RowScorer:
    return _field_match(args["field"]) if args.get("field") else lambda p, r: float(p.strip() == r.strip())


def _contains(args: dict, root: Path | None) -> RowScorer:
    text = args["text"]
    return lambda p, r: float(text in p)


def _regex(args: dict, root: Path | None) -> RowScorer:
    pattern = _compile(args["pattern"])
    return lambda p, r: float(pattern.search(p) is not None)


def _json_valid(args: dict, root: Path | None) -> RowScorer:
    return lambda p, r: float(_is_json(parse_json_answer(p)))


def _json_schema(args: dict, root: Path | None) -> RowScorer:
    validator = _validator(_schema_path(args["schema"], root))
    return lambda p, r: _schema_ok(validator, p)


def _judge(args: dict, root: Path | None) -> RowScorer:
    """One row at a time, without the question (``score`` batches and shows it)."""
    from ftc.runtime.judge import judge_of

    judge = judge_of(args, root)
    return lambda p, r: judge.grade([("", p, r)]).scores[0]


def _judge_all(
    expect: dict,
    preds: list[str],
    refs: list[str],
    root: Path | None,
    prompts: list[list[dict]] | None,
    cache_dir: Path | None,
) -> MetricResult:
    from ftc.runtime.judge import judge_of, write_summary

    judge = judge_of(expect.get("args") or {}, root, cache_dir)
    questions = [_question(p) for p in prompts] if prompts is not None else [""] * len(preds)
    result = judge.grade(list(zip(questions, preds, refs, strict=True)))
    if cache_dir is not None:
        write_summary(cache_dir, str(expect.get("label") or expect["metric"]), judge, result)
    return MetricResult(result.mean, list(result.scores), result.failures)


def _question(messages: list[dict]) -> str:
    """The question a prediction answers: the last user turn (few-shot turns come before it)."""
    return next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")


# Every metric scored per row (ftc.shared.contract.PER_ROW_METRICS) -> a factory of its row scorer,
# given the expect's arguments and the project root. A test keeps this and the contract in step.
SCORERS: dict[str, Callable[[dict, Path | None], RowScorer]] = {
    "exact_match": _exact_match,
    "contains": _contains,
    "regex": _regex,
    "json_valid": _json_valid,
    "json_schema": _json_schema,
    "rouge_l": lambda args, root: _rouge_l(),
    "judge": _judge,
}


def _row_scorer(metric: str, args: dict, root: Path | None) -> RowScorer:
    factory = SCORERS.get(metric)
    if factory is None:
        raise FtcError(f"unknown metric '{metric}' (use one of {', '.join(METRICS)})")
    return factory(args, root)


def _field_match(field: str) -> Callable[[str, str], float | None]:
    def row(pred: str, ref: str) -> float | None:
        want = _field(parse_json_answer(ref), field)
        if want is NOT_JSON:
            return None  # the reference has no such field: the row does not count
        return float(_field(parse_json_answer(pred), field) == want)

    return row


def _field(doc: Any, field: str) -> Any:
    # A dotted path reaches nested objects: "ticket.category".
    for part in field.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return NOT_JSON
        doc = doc[part]
    return doc


def _compile(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FtcError(f"regex {pattern!r} does not compile: {exc}") from exc


def _schema_path(schema: str, root: Path | None) -> Path:
    path = Path(schema)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    if not path.is_file():
        raise FtcError(f"json_schema: schema file {path} not found")
    return path


@lru_cache(maxsize=16)
def _validator(path: Path):
    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise FtcError(f"{path}: not a valid JSON Schema: {str(exc).splitlines()[0]}") from exc
    return cls(schema)


def _schema_ok(validator, pred: str) -> float:
    doc = parse_json_answer(pred)
    return float(_is_json(doc) and validator.is_valid(doc))  # invalid JSON fails the schema


def _rouge_l() -> Callable[[str, str], float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return lambda p, r: float(scorer.score(r, p)["rougeL"].fmeasure)
