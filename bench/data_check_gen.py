"""Generate N chat rows for the data-check bench: varied support tickets, a few exact and near
duplicates, deterministic by seed. `python bench/data_check_gen.py OUT.jsonl [N]`."""

from __future__ import annotations

import json
import random
import sys

WORDS = ("account billing invoice refund password login error browser extension slow crash update "
         "order package delivery shipping address charge card plan upgrade downgrade export report "
         "dashboard settings email notification sync mobile app desktop server timeout page button "
         "customer team weekend morning yesterday today week month price discount receipt tracking").split()
GREETINGS = ("Hi", "Hello", "Good morning", "Dear support", "Hey there")
CATEGORIES = ("billing", "technical", "account", "shipping", "other")


def row(rng: random.Random, i: int) -> dict:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 70)))
    user = f"{rng.choice(GREETINGS)}, ticket {i}: {body}. Thanks"
    reply = json.dumps({"category": rng.choice(CATEGORIES), "priority": rng.choice(("low", "normal", "high")),
                        "reply": "Thanks for reaching out, " + " ".join(rng.choice(WORDS) for _ in range(12))})
    return {"messages": [{"role": "system", "content": "You triage support tickets."},
                         {"role": "user", "content": user}, {"role": "assistant", "content": reply}]}


def generate(path: str, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    rows: list[dict] = []
    for i in range(n):
        r = rng.random()
        if rows and r < 0.02:
            rows.append(rng.choice(rows))  # exact duplicate
        elif rows and r < 0.04:
            base = json.loads(json.dumps(rng.choice(rows)))
            base["messages"][1]["content"] += " please"  # near duplicate
            rows.append(base)
        else:
            rows.append(row(rng, i))
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    generate(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
