"""Generate N chat rows for the data-check bench: varied support tickets, a few exact and near
duplicates, deterministic by seed. `python bench/data_check_gen.py OUT.jsonl [N] [--small]`.

``--small`` writes short two-turn rows (about 86 bytes each, 1M rows ~ 86 MB): the shape of the
issue-9 memory report, where per-row overhead, not text, decides the peak."""

from __future__ import annotations

import json
import random
import sys

WORDS = (
    "account billing invoice refund password login error browser extension slow crash update "
    "order package delivery shipping address charge card plan upgrade downgrade export report "
    "dashboard settings email notification sync mobile app desktop server timeout page button "
    "customer team weekend morning yesterday today week month price discount receipt tracking"
).split()
GREETINGS = ("Hi", "Hello", "Good morning", "Dear support", "Hey there")
CATEGORIES = ("billing", "technical", "account", "shipping", "other")


def row(rng: random.Random, i: int) -> dict:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 70)))
    user = f"{rng.choice(GREETINGS)}, ticket {i}: {body}. Thanks"
    reply = json.dumps(
        {
            "category": rng.choice(CATEGORIES),
            "priority": rng.choice(("low", "normal", "high")),
            "reply": "Thanks for reaching out, " + " ".join(rng.choice(WORDS) for _ in range(12)),
        }
    )
    return {
        "messages": [
            {"role": "system", "content": "You triage support tickets."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": reply},
        ]
    }


def small_row(rng: random.Random, i: int) -> dict:
    user = f"{i} " + " ".join(rng.choice(WORDS) for _ in range(3))
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": rng.choice(CATEGORIES)}]}


def generate(path: str, n: int, seed: int = 0, small: bool = False) -> None:
    """Rows are kept as their JSON text (not dicts) for picking duplicates, so the generator stays
    small at 1M rows; the output is the same as when it kept dicts."""
    rng = random.Random(seed)
    make = small_row if small else row
    separators = (",", ":") if small else (", ", ": ")
    lines: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = rng.random()
            if lines and r < 0.02:
                line = rng.choice(lines)  # exact duplicate
            else:
                if lines and r < 0.04:
                    out = json.loads(rng.choice(lines))
                    out["messages"][-2]["content"] += " please"  # near duplicate (the user turn)
                else:
                    out = make(rng, i)
                line = json.dumps(out, separators=separators)
            lines.append(line)
            f.write(line + "\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--small"]
    generate(args[0], int(args[1]) if len(args) > 1 else 100_000, small="--small" in sys.argv)
