"""Synthetic training rows (R-SYNTHESIZE): the teacher writes new inputs and answers them, and only
rows that pass every check are kept.

Two requests per row, as Self-Instruct does: (1) the goal and the inputs of a few real train
examples, asking for one new input; (2) the new input under the plan's own prompt with those real
examples as shots, so the answer follows the form the tune must learn. Then each row is checked,
in order, and the first failing check is its drop reason:

* ``no_input`` / ``no_answer``: the teacher wrote nothing usable;
* ``input_shape``: the new input has more lines than any real input, or is over twice the
  longest (a list of inputs or a preamble, not one input like the examples);
* ``schema``: the row does not validate against its format's JSON Schema (the load step's check);
* ``expect:<label>``: a single-answer expect (json_valid, json_schema, regex, contains) fails;
* ``duplicate_real`` / ``duplicate_synthetic``: exact or near duplicate (MinHash, the dedup
  step's settings) of a real train row or an earlier synthetic one, or the same input;
* ``holdout_leak``: an exact or near duplicate of a holdout row, or a shared 13-gram with one
  (the split step's contamination check). The holdout is never changed: it stays real rows.

Nothing here loads a model: the step (``ftc.runtime.steps.synthesize``) generates, this module
builds the requests and judges the results, so every rule is tested without a model.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ftc.runtime.data import DedupIndex, Record, contamination, query_text
from ftc.runtime.data.schemas import validator
from ftc.runtime.prompting import Example, baseline_prompt, user_text

PROMPT_VERSION = 2  # bump when a request's wording changes: the step's outputs change meaning
SOURCE = "synthetic"  # the ``source`` and ``file`` of every synthetic record
INPUT_SYSTEM = "You write new, realistic inputs for a task, one at a time."
INPUT_PREFILL = "New input:"  # the reply starts here, so a small teacher writes the input, not a preamble
_PREFIX = re.compile(r"^(?:new input|input|question|user)\s*[:\-]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*\u2022]|\d+[.)])\s+")


def seed_sets(n_train: int, rows: int, shots: int, seed: int) -> list[list[int]]:
    """For each synthetic row, the train examples (indices) that seed it: a seeded random sample,
    so greedy decoding sees a different request per row."""
    rng = random.Random(seed)
    k = max(1, min(shots, n_train))
    return [rng.sample(range(n_train), k) for _ in range(rows)]


def input_request(goal: str, examples: list[Example]) -> list[dict]:
    """Request 1: one new input for the goal, shown the seed examples' inputs (never answers)."""
    listed = "\n".join(f"- {' '.join(user_text(e).split())}" for e in examples)
    return [
        {"role": "system", "content": INPUT_SYSTEM},
        {
            "role": "user",
            "content": f"The task: {goal}\n\nExample inputs:\n{listed}\n\n"
            "Write one new input for this task, different from the examples. Reply with the input only.",
        },
    ]


def parse_input(text: str, paragraphs: bool = False) -> str | None:
    """The new input from the teacher's reply (which continues ``INPUT_PREFILL``): its first
    paragraph, unless real inputs have several (``paragraphs``), less one leading bullet, label
    ("Input:") or pair of quotes; an empty reply is no input. What follows the first paragraph is
    the teacher talking on (an answer, a comment), not the input."""
    body = text.strip()
    if not paragraphs:
        body = re.split(r"\n\s*\n", body, maxsplit=1)[0].strip()
    body = _BULLET.sub("", body, count=1)
    body = _PREFIX.sub("", body, count=1).strip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
        body = body[1:-1].strip()
    return body or None


def answer_request(system: str, new_input: str, shots: list[Example]) -> list[dict]:
    """Request 2: the new input under the plan's prompt, the seed examples as shots."""
    question = Example([{"role": "system", "content": system}, {"role": "user", "content": new_input}], "")
    return baseline_prompt(question, shots)


def make_fields(fmt: str, new_input: str, answer: str) -> dict:
    """A synthetic row in the canonical fields of its seed rows' format."""
    if fmt == "chat":
        return {"messages": [{"role": "user", "content": new_input}, {"role": "assistant", "content": answer}]}
    if fmt == "instruction":
        return {"instruction": new_input, "input": "", "output": answer}
    return {"prompt": new_input, "completion": answer}


Check = Callable[[str], float | None]


@dataclass
class Outcome:
    """The verdict on every candidate row: kept records, drop reasons, examples of each."""

    kept: list[Record] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict]] = field(default_factory=dict)
    generated: int = 0

    def drop(self, reason: str, row: int, new_input: str | None, answer: str | None) -> None:
        self.reasons[reason] += 1
        listed = self.examples.setdefault(reason, [])
        if len(listed) < 3:  # a few per reason, so the report shows what went wrong
            listed.append({"row": row, "input": new_input, "answer": answer})

    def to_json(self, requested: int) -> dict:
        return {
            "requested": requested,
            "generated": self.generated,
            "kept": len(self.kept),
            "dropped": sum(self.reasons.values()),
            "reasons": dict(sorted(self.reasons.items())),
            "examples": self.examples,
            "prompt_version": PROMPT_VERSION,
        }


def expect_checks(checks: list[dict], root: Path | None) -> list[tuple[str, Check, int]]:
    """(label, scorer of one answer, wanted value) per single-answer expect of the plan."""
    from ftc.runtime.metrics import SCORERS

    out = []
    for c in checks:
        scorer = SCORERS[c["metric"]](dict(c.get("args") or {}), root)
        out.append((str(c["label"]), (lambda a, s=scorer: s(a, "")), int(c["want"])))
    return out


@dataclass(frozen=True)
class Shape:
    """How big one input may be: the real inputs' most lines, and twice their longest length."""

    lines: int
    chars: int

    @staticmethod
    def of(inputs: list[str]) -> Shape:
        return Shape(
            max((len(t.strip().splitlines()) for t in inputs), default=1), 2 * max(map(len, inputs), default=0)
        )

    def fits(self, text: str) -> bool:
        return len(text.strip().splitlines()) <= max(1, self.lines) and len(text) <= max(80, self.chars)


def judge_rows(
    candidates: list[tuple[str | None, str | None]],
    fmt: str,
    real: list[Record],
    holdout: list[Record],
    checks: list[tuple[str, Check, int]],
    dedup_cfg: dict,
    ngram: int = 13,
    shape: Shape | None = None,
) -> Outcome:
    """Keep the candidates (input, answer) that pass every check; see the module docstring.
    ``shape``: the size a new input may have (by default that of the real rows' inputs)."""
    out = Outcome(generated=len(candidates))
    shape = shape or Shape.of([query_text(r) for r in real])
    valid: list[tuple[int, Record]] = []
    for i, (new_input, answer) in enumerate(candidates):
        reason = _first_failure(fmt, new_input, answer, checks, shape)
        if reason:
            out.drop(reason, i, new_input, answer)
        else:
            valid.append((i, Record(SOURCE, SOURCE, i + 1, fmt, make_fields(fmt, new_input or "", answer or ""))))
    leaking = _gram_leaks([r for _, r in valid], holdout, ngram)
    index = DedupIndex(dedup_cfg)
    for r in holdout + real:
        index.add(r)
    for _, r in valid:
        index.add(r)
    dup_of, kind = index.duplicates()
    base = len(holdout) + len(real)
    seen = {_norm(query_text(r)): "duplicate_real" for r in real}
    seen.update({_norm(query_text(r)): "holdout_leak" for r in holdout})
    for n, (i, record) in enumerate(valid):
        reason = _dup_reason(int(kind[base + n]), int(dup_of[base + n]), len(holdout), base)
        reason = reason or seen.get(_norm(query_text(record))) or ("holdout_leak" if record.line in leaking else "")
        if reason:
            out.drop(reason, i, query_text(record), _answer(record))
            continue
        seen[_norm(query_text(record))] = "duplicate_synthetic"
        out.kept.append(record)
    return out


def _first_failure(
    fmt: str, new_input: str | None, answer: str | None, checks: list[tuple[str, Check, int]], shape: Shape
) -> str:
    if not new_input:
        return "no_input"
    if not shape.fits(new_input):
        return "input_shape"
    if not (answer or "").strip():
        return "no_answer"
    if not validator(fmt).is_valid(make_fields(fmt, new_input, answer or "")):
        return "schema"
    for label, check, want in checks:
        if check(answer or "") != want:
            return f"expect:{label}"
    return ""


def _dup_reason(kind: int, dup_of: int, n_holdout: int, base: int) -> str:
    if kind == 0:
        return ""
    if dup_of < n_holdout:
        return "holdout_leak"
    return "duplicate_real" if dup_of < base else "duplicate_synthetic"


def _gram_leaks(rows: list[Record], holdout: list[Record], ngram: int) -> set[int]:
    """Lines of the synthetic rows that share an n-gram (or a whole short input) with a holdout row."""
    if not rows or not holdout:
        return set()
    return {int(leak["train_line"]) for leak in contamination(rows, holdout, n=ngram)}


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _answer(record: Record) -> str:
    f = record.fields
    if record.format == "chat":
        return str(f["messages"][-1]["content"])
    return str(f.get("output", f.get("completion", "")))
