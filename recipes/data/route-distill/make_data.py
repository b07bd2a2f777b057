"""Writes tickets.jsonl for recipes/route-distill.ftr: each support ticket of the quickstart's data
(recipes/data/tickets.jsonl, made by tickets_gen.py) with the team it goes to as the whole answer.
Deterministic: `python make_data.py` rewrites the same file."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "tickets.jsonl"


def main() -> None:
    out = []
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        team = json.loads(messages[-1]["content"])["category"]
        out.append({"messages": [messages[0], {"role": "assistant", "content": team}]})
    (HERE / "tickets.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
