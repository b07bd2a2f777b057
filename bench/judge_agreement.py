"""How often does the judge metric agree with exact match, on a task where both apply?

    FTC_NUM_THREADS=1 .venv/bin/python bench/judge_agreement.py [--judge smollm2-135m-instruct]

The task: name a country's capital (one word, so exact match is the ground truth). The embedded
model answers each question greedily under a short system prompt and two shots (a mix of right
and wrong one-word answers); then ftc's own metrics score the same predictions twice: ``exact_match`` and
``judge(rubric, teacher = --judge, scale = 5)``. A row agrees when the judge's score is >= 4
exactly when the answer matches. Prints one JSON line: rows, exact-match rate, judge mean score,
judge parse failures, agreement, Cohen's kappa, and the score distribution.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

CAPITALS = [
    ("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"), ("Japan", "Tokyo"),
    ("Egypt", "Cairo"), ("Peru", "Lima"), ("Kenya", "Nairobi"), ("Canada", "Ottawa"), ("Australia", "Canberra"),
    ("Brazil", "Brasilia"), ("Turkey", "Ankara"), ("Norway", "Oslo"), ("Poland", "Warsaw"), ("Greece", "Athens"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Chile", "Santiago"), ("Cuba", "Havana"), ("Nigeria", "Abuja"),
    ("Morocco", "Rabat"), ("Vietnam", "Hanoi"), ("Thailand", "Bangkok"), ("Sweden", "Stockholm"),
]  # fmt: skip
RUBRIC = "The answer is the capital city of the country asked about, and nothing else."
SYSTEM = "Answer with the name of the capital city only, one word."
# Two shots so the model answers in one word (exact match then applies); the judge sees the last
# user turn only.
SHOTS = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "What is the capital of Ireland?"},
    {"role": "assistant", "content": "Dublin"},
    {"role": "user", "content": "What is the capital of Denmark?"},
    {"role": "assistant", "content": "Copenhagen"},
]


def kappa(a: list[bool], b: list[bool]) -> float | None:
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return None if chance == 1 else (observed - chance) / (1 - chance)


def main() -> None:
    from ftc.runtime.generate import generate, load_model
    from ftc.runtime.metrics import score
    from ftc.runtime.models import resolve_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--judge", default="smollm2-135m-instruct")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="the model whose answers are judged")
    args = parser.parse_args()
    prompts = [[*SHOTS, {"role": "user", "content": f"What is the capital of {c}?"}] for c, _ in CAPITALS]
    refs = [a for _, a in CAPITALS]
    preds = generate(load_model(resolve_model(args.model)), prompts, max_new_tokens=8)
    preds = [p.strip().rstrip(".") for p in preds]
    em = score({"metric": "exact_match", "args": {}}, preds, refs).per_row
    judged = score(
        {"label": "judge", "metric": "judge", "args": {"rubric": RUBRIC, "teacher": args.judge, "scale": 5}},
        preds,
        refs,
        prompts=prompts,
    )
    right = [v == 1.0 for v in em]
    good = [(v or 0) >= 4 for v in judged.per_row]
    agree = sum(x == y for x, y in zip(right, good, strict=True)) / len(right)
    print(
        json.dumps(
            {
                "rows": len(refs),
                "judge": args.judge,
                "exact_match": sum(right) / len(right),
                "judge_mean": round(judged.value, 3),
                "judge_failures": judged.failures,
                "agreement": round(agree, 3),
                "kappa": kappa(right, good),
                "scores": dict(sorted(Counter(judged.per_row).items())),  # type: ignore[arg-type]
                "predictions": preds,
            }
        )
    )


if __name__ == "__main__":
    main()
