"""Generated tasks of the shapes users bring, for checking ftc's decisions on data nobody tuned for.

    .venv/bin/python bench/task_shapes.py OUT_DIR [--rows 300] [--seed 1]

writes one project per shape into OUT_DIR (``<shape>/data.jsonl`` in chat format and a
``<shape>/recipe.ftr`` that states only the goal, the data and the bar, as a new user would):

- ``labels2``: a two-label decision under a house rule (escalate or not), short texts;
- ``labels8``: eight team codes that a prompt cannot guess (the mapping must be learned);
- ``extract_json``: a sentence to a JSON object with four fields;
- ``short_answer``: a duration phrase to a number of minutes (a short free-text answer).

Each row's answer follows a deterministic rule of the row's text, so a tune can learn it; the
labels are names a prompt cannot infer without examples, so the prompted baseline stays honest.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

Row = tuple[str, str]  # (user text, assistant answer)

PRODUCTS = [
    "kettle",
    "desk lamp",
    "backpack",
    "blender",
    "monitor",
    "office chair",
    "headphones",
    "toaster",
    "router",
    "coffee grinder",
    "keyboard",
    "air purifier",
]
CITIES = ["Lyon", "Porto", "Krakow", "Ghent", "Turin", "Leeds", "Bilbao", "Aarhus", "Graz", "Utrecht"]
NAMES = ["Ana", "Tomasz", "Ines", "Malik", "Sofia", "Jonas", "Priya", "Luca", "Mei", "Oskar"]


def labels2(rng: random.Random) -> Row:
    """Escalate when the customer is on the business plan OR mentions a safety issue; else routine."""
    plan = rng.choice(["business", "free", "plus", "business", "free"])
    product = rng.choice(PRODUCTS)
    issue = rng.choice(
        [
            "stopped working after a week",
            "smells of burning plastic",
            "arrived scratched",
            "sparks when switched on",
            "is louder than expected",
            "gets very hot to the touch",
            "has a loose cable",
            "came without the manual",
        ]
    )
    safety = any(w in issue for w in ("burning", "sparks", "hot"))
    text = f"{rng.choice(NAMES)} ({plan} plan): my {product} {issue}. {rng.choice(['Please help.', 'What now?', 'Thanks.', ''])}"
    return text.strip(), "escalate" if plan == "business" or safety else "routine"


TEAMS = {  # keyword -> team code; the codes carry no meaning a prompt could use
    "invoice": "T-ALDER",
    "charged twice": "T-ALDER",
    "refund": "T-BIRCH",
    "return label": "T-BIRCH",
    "password": "T-CEDAR",
    "two-factor": "T-CEDAR",
    "tracking number": "T-DOGWOOD",
    "courier": "T-DOGWOOD",
    "api key": "T-ELM",
    "webhook": "T-ELM",
    "bulk order": "T-FIR",
    "quote": "T-FIR",
    "gdpr": "T-GINKGO",
    "contract": "T-GINKGO",
    "app crashes": "T-HAZEL",
    "error 500": "T-HAZEL",
}


def labels8(rng: random.Random) -> Row:
    key = rng.choice(sorted(TEAMS))
    opener = rng.choice(["Hi,", "Hello team,", "Good morning,", "Hey,", ""])
    middle = rng.choice(
        [
            f"I have a question about the {key}.",
            f"Something is wrong with my {key}.",
            f"Can someone look at the {key} issue?",
            f"Regarding the {key}: please advise.",
        ]
    )
    closer = rng.choice(["Thanks!", f"Regards, {rng.choice(NAMES)}", "Urgent.", ""])
    return " ".join(p for p in (opener, middle, closer) if p), TEAMS[key]


def extract_json(rng: random.Random) -> Row:
    order, qty = rng.randint(1000, 9999), rng.randint(1, 9)
    item, city = rng.choice(PRODUCTS), rng.choice(CITIES)
    day = f"{rng.randint(1, 28)} {rng.choice(['March', 'April', 'May', 'June'])}"
    text = rng.choice(
        [
            f"Order #{order} for {qty} x {item} shipped to {city} on {day}.",
            f"On {day} we sent {qty} x {item} to {city} (order #{order}).",
            f"{city}: order #{order}, {qty} x {item}, dispatched {day}.",
        ]
    )
    return text, json.dumps({"order": order, "item": item, "quantity": qty, "city": city})


def short_answer(rng: random.Random) -> Row:
    hours, minutes = rng.randint(0, 5), rng.choice([0, 5, 10, 15, 20, 30, 40, 45, 50])
    if hours == 0 and minutes == 0:
        minutes = 25
    parts = ([f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []) + (
        [f"{minutes} minutes"] if minutes else []
    )
    phrase = " and ".join(parts)
    text = rng.choice([f"How many minutes is {phrase}?", f"Convert {phrase} to minutes.", f"{phrase} in minutes?"])
    return text, str(hours * 60 + minutes)


SHAPES: dict[str, tuple[Callable[[random.Random], Row], str, str]] = {
    # shape: (generator, goal, expect)
    "labels2": (
        labels2,
        "Decide whether a support message must be escalated; answer escalate or routine",
        "exact_match >= 0.8",
    ),
    "labels8": (labels8, "Route a support message to its team; answer with the team code only", "exact_match >= 0.8"),
    "extract_json": (
        extract_json,
        "Extract order, item, quantity and city from a shipping note as a JSON object",
        "exact_match >= 0.8",
    ),
    "short_answer": (
        short_answer,
        "Answer with the number of minutes in a duration, digits only",
        "exact_match >= 0.8",
    ),
}


def rows(shape: str, n: int, seed: int) -> list[dict]:
    gen = SHAPES[shape][0]
    rng = random.Random(f"{shape}:{seed}")
    out, seen, tries = [], set(), 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n:  # a small shape has only so many distinct rows (short_answer: ~160)
            raise SystemExit(f"{shape}: only {len(out)} distinct rows after {tries - 1} draws; ask for fewer")
        user, answer = gen(rng)
        if user in seen:  # exact duplicates would be dropped by dedup anyway; keep the count honest
            continue
        seen.add(user)
        out.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]})
    return out


RECIPE = """recipe "{shape}" {{
  goal = behavior("{goal}")
  base = model("smollm2-135m-instruct")

  data "rows" {{
    path   = "data.jsonl"
    format = chat
  }}

  eval {{
    holdout = 20%
    expect {expect}
    beat baseline by 10%
  }}
}}
"""


def write_project(out: Path, shape: str, n: int, seed: int) -> Path:
    folder = out / shape
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(shape, n, seed)), encoding="utf-8")
    _, goal, expect = SHAPES[shape]
    (folder / "recipe.ftr").write_text(RECIPE.format(shape=shape, goal=goal, expect=expect), encoding="utf-8")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shapes", nargs="*", default=sorted(SHAPES))
    args = ap.parse_args()
    for shape in args.shapes:
        print(write_project(args.out, shape, args.rows, args.seed))


if __name__ == "__main__":
    main()
