"""Generate recipes/data/tickets.jsonl: the quickstart's support-ticket triage data.

The task is built so that the strongest prompt cannot solve it and the data can teach it: the
labels follow this company's *house rules*, and the priority rule reads the customer's plan, which
the tickets most similar to an input do not share.

- category: billing, account, technical, shipping or other, by topic, with house twists:
  a damaged or lost parcel is `shipping` even when the customer asks for a refund; anything
  about an invoice document (VAT number, PDF, company address) is `billing` even when it
  reports an error; a question about data export or deletion is `account`. The nearest
  tickets (by the embedded MiniLM) share the topic, so nearest-neighbour shots get it right.
- priority, the service levels: every enterprise ticket is `high`; a pro customer's outage or
  lock-out is `high`, the rest `normal`; a free customer's outage or lock-out is `normal`, the
  rest `low`. The plan is one word in the header: the nearest tickets are about the same topic
  from customers on other plans, so their priorities mislead (3 nearest shots: 0.42 on the
  validation slice); a tune reads the rule off all 288 train tickets.
- reply: "Hi <first name>, <one fixed sentence per category> <'Marked urgent.' when high> — Ada"

Run it again to regenerate the same file (seeded): python recipes/data/tickets_gen.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261125
ROWS = 360
SYSTEM = None  # the plan's system prompt is used; rows carry none

FIRST = [
    "Maria",
    "Tom",
    "Aisha",
    "Kenji",
    "Lena",
    "Omar",
    "Priya",
    "Lucas",
    "Sofia",
    "Daniel",
    "Mei",
    "Jonas",
    "Fatima",
    "Ivan",
    "Chloe",
    "Mateo",
    "Hannah",
    "Ravi",
    "Elena",
    "Noah",
    "Zara",
    "Felix",
    "Amara",
    "Leo",
    "Yuki",
    "Carlos",
    "Nina",
    "Samuel",
    "Ines",
    "Arjun",
    "Greta",
    "Tariq",
]
LAST = [
    "Lopez",
    "Becker",
    "Khan",
    "Sato",
    "Novak",
    "Haddad",
    "Iyer",
    "Silva",
    "Rossi",
    "Meyer",
    "Chen",
    "Berg",
    "Ali",
    "Petrov",
    "Martin",
    "Garcia",
    "Schmidt",
    "Patel",
    "Costa",
    "Kim",
    "Okafor",
    "Weber",
]
TIERS = ["free", "pro", "enterprise"]
PRODUCTS = [
    "the mobile app",
    "the web dashboard",
    "the desktop client",
    "the API",
    "the reporting module",
    "the sync service",
    "the browser extension",
    "the admin console",
]

# topic -> (category, kind, sentences); kind drives priority: outage / locked / request / question / normal
TOPICS = {
    "double_charge": (
        "billing",
        "normal",
        [
            "I was charged twice for my subscription this month.",
            "My card shows two identical payments for the same plan.",
            "You billed me twice on {date}, please fix this.",
        ],
    ),
    "refund_plan": (
        "billing",
        "normal",
        [
            "I cancelled my plan but was still charged, I want a refund.",
            "Please refund the annual renewal, I forgot to cancel it.",
            "I downgraded last week and still paid the old price.",
        ],
    ),
    "invoice_error": (
        "billing",
        "normal",
        [
            "The invoice PDF shows an error and the VAT number is missing.",
            "Our company address on invoice {inv} is wrong, can you reissue it?",
            "The invoice download fails with an error message every time.",
        ],
    ),
    "password": (
        "account",
        "normal",
        [
            "The password reset email never arrives.",
            "I want to change the email address on my account.",
            "How do I turn on two-factor authentication for my team?",
        ],
    ),
    "locked": (
        "account",
        "locked",
        [
            "I am locked out of my account after too many login attempts.",
            "I cannot log in at all, it says my account is suspended.",
            "My 2FA device was lost and now I cannot sign in.",
        ],
    ),
    "data_export": (
        "account",
        "normal",
        [
            "Please delete all my personal data from your systems.",
            "How can I export all of my data before I leave?",
            "I need a copy of everything you store about me.",
        ],
    ),
    "crash": (
        "technical",
        "normal",
        [
            "{product} crashes as soon as I open a large project.",
            "{product} freezes when I upload a file bigger than 10 MB.",
            "I get error 500 when I save changes in {product}.",
        ],
    ),
    "outage": (
        "technical",
        "outage",
        [
            "{product} is completely down for our whole team.",
            "Nothing loads since this morning, all users are affected.",
            "We have a full outage of {product} and cannot work.",
        ],
    ),
    "slow": (
        "technical",
        "normal",
        [
            "{product} has become very slow since the last update.",
            "Sync in {product} takes minutes instead of seconds.",
            "Search results in {product} time out most of the time.",
        ],
    ),
    "late_parcel": (
        "shipping",
        "normal",
        [
            "My order {order} has not arrived and tracking has not moved for a week.",
            "The parcel for order {order} is late, the tracking page shows nothing.",
            "Where is my package? Order {order} was due on {date}.",
        ],
    ),
    "damaged": (
        "shipping",
        "normal",
        [
            "The device in order {order} arrived broken, I want a refund.",
            "My parcel was damaged in transit and the screen is cracked, please refund me.",
            "Order {order} was lost by the courier, I would like my money back.",
        ],
    ),
    "address": (
        "shipping",
        "normal",
        [
            "Can I change the delivery address for order {order}?",
            "I moved, please send order {order} to my new address.",
            "The courier has the wrong address for order {order}.",
        ],
    ),
    "feature": (
        "other",
        "request",
        [
            "It would be great if {product} had a dark mode.",
            "Please add an export to Excel in {product}.",
            "Could you support keyboard shortcuts in {product}?",
        ],
    ),
    "question": (
        "other",
        "question",
        [
            "Do you offer a discount for non-profit organisations?",
            "Is there a student plan?",
            "Which languages does {product} support?",
        ],
    ),
}
# Requests and questions about a category keep that category; these two live under "other".

OPENERS = ["Hi,", "Hello,", "Hey team,", "Good morning,", "Dear support,", "Hi there,", "", "Hello support team,"]
DETAILS = [
    "This started on {date}.",
    "I tried twice already.",
    "My colleague sees the same thing.",
    "I am on {product} version 4.{minor}.",
    "I attached a screenshot.",
    "This is the second time this month.",
    "We rely on this every day.",
    "I already restarted everything.",
    "Ticket reference {inv}.",
    "I use it from Berlin.",
    "It worked fine last month.",
    "",
    "",
    "",
]
CLOSERS = ["Thanks.", "Thank you!", "Regards,", "Cheers,", "Please help.", "Best,", "", "Thanks in advance."]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]

CATEGORY_SENTENCE = {
    "billing": "billing will review your charges.",
    "account": "account support will help you.",
    "technical": "our engineers are on it.",
    "shipping": "logistics will check your delivery.",
    "other": "I passed this to the product team.",
}


def priority_for(tier: str, kind: str) -> str:
    urgent = kind in ("outage", "locked")
    if tier == "enterprise":
        return "high"
    if tier == "pro":
        return "high" if urgent else "normal"
    return "normal" if urgent else "low"


def reply_for(first: str, category: str, priority: str) -> str:
    urgent = " Marked urgent." if priority == "high" else ""
    return f"Hi {first}, {CATEGORY_SENTENCE[category]}{urgent} — Ada"


def fill(text: str, rng: random.Random) -> str:
    return text.format(
        product=rng.choice(PRODUCTS),
        order=f"#{rng.randint(10000, 99999)}",
        inv=f"INV-{rng.randint(1000, 9999)}",
        date=f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        minor=rng.randint(0, 19),
    )


def ticket(rng: random.Random) -> dict:
    topic = rng.choice(sorted(TOPICS))
    category, kind, sentences = TOPICS[topic]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    tier = rng.choice(TIERS)
    body = " ".join(
        part
        for part in (
            rng.choice(OPENERS),
            fill(rng.choice(sentences), rng),
            *(fill(d, rng) for d in rng.sample(DETAILS, 2)),
            rng.choice(CLOSERS),
            first if rng.random() < 0.6 else "",
        )
        if part
    )
    if rng.random() < 0.15:
        body = body.lower()
    user = f"Customer: {first} {last} (plan: {tier})\n{body}"
    priority = priority_for(tier, kind)
    answer = {"category": category, "priority": priority, "reply": reply_for(first, category, priority)}
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)},
        ]
    }


def main() -> None:
    rng = random.Random(SEED)
    rows, seen = [], set()
    while len(rows) < ROWS:
        row = ticket(rng)
        key = row["messages"][0]["content"]
        if key not in seen:
            seen.add(key)
            rows.append(row)
    out = Path(__file__).with_name("tickets.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
