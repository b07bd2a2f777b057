"""The LLM judge (``expect judge("rubric", teacher = model("..."), scale = 5) >= 4``).

A judge model reads a fixed, versioned prompt (``PROMPT_VERSION``) holding the rubric, the
question, the reference answer and the answer to grade, and replies with one score. Decoding is
greedy, so a judgement is a function of its inputs, and every judgement is cached on disk under
that digest (next to the predictions it judged: the baseline's or the eval's step folder), so the
guard, the gate and the export re-score for free.

The reply is parsed strictly: ``Score: N`` or ``N`` (optionally ``N/scale``) and nothing else,
with N in 1..scale. Anything else is a *failure*: it scores the lowest value (1), never skipped,
and is counted (``JudgeResult.failures``, and the ``judge-*.json`` summary the gate reports), so a
judge that cannot follow the format shows up as failures instead of vanishing from the mean.

Comparing two answers (``compare``) asks for the better one in both orders (A/B, then B/A): a
winner only when both orders agree, a tie otherwise, which cancels the judge's position bias
(Zheng et al. 2023, Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc.shared import atomic
from ftc.shared.errors import FtcError
from ftc.shared.paths import rubric_is_file  # the lock keeps the same files inside the project

PROMPT_VERSION = "ftc-judge-1"  # part of every cache key: a new wording re-judges
SCORE_PREFILL = "Score:"  # the judge's reply starts with it (a small model then writes the digit)
CHOICE_PREFILL = "Better answer:"
DEFAULT_SCALE = 5
REPLY_TOKENS = 8  # a score or a choice and an end-of-turn token, with room for a stray word
SYSTEM = "You are a strict, impartial grader. You grade an answer by the rubric only, and reply with the score alone."
PAIR_SYSTEM = "You are a strict, impartial grader. You compare two answers by the rubric only."
_SCORE = re.compile(r"(?:score\s*[:=]?\s*)?(\d{1,2})(?:\s*/\s*(\d{1,2}))?\.?", re.IGNORECASE)
_CHOICE = re.compile(r"(?:(?:better\s+)?answer\s*:?\s*)?(A|B|tie)\.?", re.IGNORECASE)


def grade_messages(rubric: str, scale: int, question: str, answer: str, reference: str) -> list[dict]:
    """The fixed judging prompt (version ``PROMPT_VERSION``) for one answer; the reply is prefilled
    with ``SCORE_PREFILL`` so the judge's next tokens are the score."""
    lines = [f"Rubric: {rubric.strip()}"]
    if question.strip():
        lines.append(f"Question: {question.strip()}")
    if reference.strip():
        lines.append(f"Reference answer: {reference.strip()}")
    lines.append(f"Answer to grade: {answer.strip()}")
    lines.append(f"Grade the answer by the rubric from 1 (fails it) to {scale} (fully meets it).")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def pair_messages(rubric: str, question: str, first: str, second: str) -> list[dict]:
    """The fixed prompt that asks which of two answers is better (the caller asks both orders)."""
    lines = [f"Rubric: {rubric.strip()}"]
    if question.strip():
        lines.append(f"Question: {question.strip()}")
    lines += [f"Answer A: {first.strip()}", f"Answer B: {second.strip()}"]
    lines.append("Which answer meets the rubric better? Reply A, B or tie.")
    return [{"role": "system", "content": PAIR_SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def _first_line(reply: str) -> str:
    return next((line.strip() for line in reply.splitlines() if line.strip()), "")


def parse_score(reply: str, scale: int) -> int | None:
    """The score in a judge's reply: its first line must be exactly one score in range (``Score:
    N``, ``N`` or ``N/scale``); later lines (a reason) are ignored. Anything else is None."""
    match = _SCORE.fullmatch(_first_line(reply))
    if match is None:
        return None
    value = int(match.group(1))
    if match.group(2) is not None and int(match.group(2)) != scale:
        return None
    return value if 1 <= value <= scale else None


def parse_choice(reply: str) -> str | None:
    """ "A", "B" or "tie" from a pairwise reply's first line, else None."""
    match = _CHOICE.fullmatch(_first_line(reply))
    if match is None:
        return None
    word = match.group(1)
    return "tie" if word.lower() == "tie" else word.upper()


@dataclass(frozen=True)
class JudgeResult:
    scores: list[float]  # per row, 1..scale; a failure scores 1
    failures: int  # unparseable judgements
    replies: list[str]  # the judge's raw replies, for the summary

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


class Judge:
    """One judge model with one rubric and scale. The model loads only on a cache miss."""

    def __init__(
        self, model: str, rubric: str, scale: int = DEFAULT_SCALE, *, cache_dir: Path | None = None, batch: int = 8
    ) -> None:
        if scale < 2:
            raise FtcError(f"judge: the scale must be at least 2, not {scale}")
        self.model, self.rubric, self.scale, self.cache_dir, self.batch = model, rubric, scale, cache_dir, batch
        self._loaded: Any = None

    # -- one answer -------------------------------------------------------------------------
    def grade(self, rows: list[tuple[str, str, str]]) -> JudgeResult:
        """Judge each (question, answer, reference); greedy, cached by content."""
        prompts = [grade_messages(self.rubric, self.scale, q, a, r) for q, a, r in rows]
        replies = self._replies(prompts, SCORE_PREFILL)
        parsed = [parse_score(t, self.scale) for t in replies]
        return JudgeResult([float(p if p is not None else 1) for p in parsed], parsed.count(None), replies)

    # -- two answers ------------------------------------------------------------------------
    def compare(self, rows: list[tuple[str, str, str]]) -> list[str]:
        """For each (question, first, second): "first", "second", "tie" (the orders disagree or the
        judge says tie) or "failure" (a reply that is not A, B or tie). Both orders are asked."""
        ab = [pair_messages(self.rubric, q, a, b) for q, a, b in rows]
        ba = [pair_messages(self.rubric, q, b, a) for q, a, b in rows]
        replies = self._replies(ab + ba, CHOICE_PREFILL)
        out = []
        for one, two in zip(replies[: len(rows)], replies[len(rows) :], strict=True):
            x, y = parse_choice(one), parse_choice(two)
            if x is None or y is None:
                out.append("failure")
            elif (x, y) == ("A", "B"):
                out.append("first")
            elif (x, y) == ("B", "A"):
                out.append("second")
            else:
                out.append("tie")
        return out

    # -- generation with a cache ------------------------------------------------------------
    def key(self, messages: list[dict], prefill: str = "") -> str:
        body = json.dumps([PROMPT_VERSION, self.model, messages, prefill], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def _replies(self, prompts: list[list[dict]], prefill: str) -> list[str]:
        """The judge's replies (the prefill and what it wrote after it), from the cache or generated."""
        keys = [self.key(p, prefill) for p in prompts]
        found = {k: self._cached(k) for k in set(keys)}
        missing = sorted({k for k, v in found.items() if v is None})
        if missing:
            first = {k: p for k, p in zip(keys, prompts, strict=True)}
            for k, written in zip(missing, self._generate([first[k] for k in missing], prefill), strict=True):
                found[k] = prefill + written
                self._store(k, prefill + written)
        return [str(found[k]) for k in keys]

    def _generate(self, prompts: list[list[dict]], prefill: str) -> list[str]:
        from ftc.runtime.generate import generate, load_model
        from ftc.runtime.models import resolve_model

        if self._loaded is None:
            self._loaded = load_model(resolve_model(self.model, allow_download=False))
        return generate(self._loaded, prompts, max_new_tokens=REPLY_TOKENS, batch_size=self.batch, prefill=prefill)

    def _cached(self, key: str) -> str | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / key[:2] / f"{key}.json"
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["reply"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: judged again

    def _store(self, key: str, reply: str) -> None:
        if self.cache_dir is not None:
            atomic.write_json(self.cache_dir / key[:2] / f"{key}.json", {"version": PROMPT_VERSION, "reply": reply})


def rubric_text(rubric: str, root: Path | None) -> str:
    """The rubric itself: the file's text when ``rubric`` names a file (relative to the project
    root), else the string as written."""
    path = Path(rubric)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    if rubric_is_file(rubric) and path.is_file():
        return path.read_text(encoding="utf-8")
    return rubric


def judge_of(args: dict, root: Path | None, cache_dir: Path | None = None) -> Judge:
    """The Judge an expect's arguments describe."""
    return Judge(
        str(args.get("teacher") or "smollm2-135m-instruct"),
        rubric_text(str(args["rubric"]), root),
        int(args.get("scale") or DEFAULT_SCALE),
        cache_dir=cache_dir,
    )


def write_summary(cache_dir: Path, label: str, judge: Judge, result: JudgeResult) -> None:
    """``judge-<digest>.json`` beside the cached judgements: rows, failures and a few unparseable
    replies, so a report can say how often the judge failed instead of hiding it."""
    bad = [r for r in result.replies if parse_score(r, judge.scale) is None][:5]
    name = "judge-" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:12] + ".json"
    summary = {
        "label": label,
        "judge": judge.model,
        "scale": judge.scale,
        "prompt_version": PROMPT_VERSION,
        "rows": len(result.scores),
        "failures": result.failures,
        "mean": result.mean,
        "unparseable_replies": bad,
    }
    atomic.write_json(cache_dir / name, summary)


def summaries(folder: Path) -> list[dict]:
    """The judge summaries a generation step's folder holds (one per judge expect scored)."""
    out = []
    for path in sorted((folder / "judge").glob("judge-*.json")):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def failure_notes(judged: dict[str, list[dict]]) -> list[str]:
    """One line per judge expect whose judge failed to give a score on some rows."""
    return [
        f"{s['label']} on the {who}: {s['failures']} of {s['rows']} judgements unparseable (scored 1, the lowest)"
        for who, found in judged.items()
        for s in found
        if s.get("failures")
    ]
