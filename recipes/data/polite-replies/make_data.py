"""Writes replies.jsonl (chat rows for SFT) and pairs.jsonl (preference pairs for DPO).

The task: answer a customer complaint politely, apologise once, and offer one concrete next
step. A chosen reply does exactly that; a rejected reply is curt, blames the customer or offers
nothing. Seeded, so the files are stable. Run: python make_data.py
"""

import json
import random
from pathlib import Path

COMPLAINTS = [
    (
        "My order #{n} arrived with a cracked mug.",
        "arrange a free replacement that ships today",
        "Breakage happens in transit.",
    ),
    (
        "I was charged twice for order #{n}.",
        "refund the duplicate charge within 3 working days",
        "Check your bank, it's probably a pending hold.",
    ),
    (
        "Order #{n} is a week late and nobody answers.",
        "check with the courier and send you tracking by tonight",
        "Deliveries take as long as they take.",
    ),
    (
        "The size M jacket from order #{n} is far too small.",
        "email you a free return label so you can swap it for an L",
        "You should have checked the size chart.",
    ),
    (
        "I cancelled order #{n} but it still shipped.",
        "send a prepaid return label and refund you once it's back",
        "It was already packed, nothing we can do.",
    ),
    (
        "The discount code didn't apply to order #{n}.",
        "refund the 10% difference to your card",
        "Codes can't be applied after checkout.",
    ),
    (
        "Your chat agent hung up on me about order #{n}.",
        "have a team lead call you tomorrow morning",
        "Maybe your connection dropped.",
    ),
    (
        "Order #{n} came without the charger.",
        "post the missing charger by first-class mail",
        "Are you sure it wasn't in the box?",
    ),
]
NAMES = ["Priya", "Tom", "Amara", "Jonas", "Lucía", "Wei", "Fatima", "Oliver", "Sofia", "Kenji"]
APOLOGIES = ["I'm sorry about this", "I'm really sorry for the trouble", "Sorry for the hassle"]


def chosen(name: str, step: str, rng: random.Random) -> str:
    return f"Hi {name}, {rng.choice(APOLOGIES)}. I'll {step}, and I'll confirm by email once it's done."


def main() -> None:
    rng = random.Random(5)
    here = Path(__file__).parent
    sft, pairs = [], []
    for i in range(64):
        text, step, curt = COMPLAINTS[i % len(COMPLAINTS)]
        name = NAMES[(i * 7) % len(NAMES)]
        complaint = f"{text.format(n=40100 + i * 37)} - {name}"
        reply = chosen(name, step, rng)
        if i % 2 == 0:
            sft.append({"messages": [{"role": "user", "content": complaint}, {"role": "assistant", "content": reply}]})
        else:
            pairs.append({"prompt": complaint, "chosen": reply, "rejected": curt})
    for name, rows in (("replies.jsonl", sft), ("pairs.jsonl", pairs)):
        with open(here / name, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


if __name__ == "__main__":
    main()
