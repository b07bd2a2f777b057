"""Writes replies.jsonl (chat rows for SFT) and pairs.jsonl (preference pairs for DPO): refund
requests to an online shop and the refunds team's replies.

The house reply is one line of fixed shape, one apology and one step, no blame, no extras:

    Hi <first name>, sorry about <the problem>. I've refunded $<amount> to your <destination>;
    it will show within <time>. — Refunds team

The destination and time follow the customer's payment method (a card -> "card", 5 working days;
PayPal -> "PayPal account", 24 hours; a gift card -> "gift card balance", a few minutes; a bank
transfer -> "bank account", 3 working days). The payment method is one clause among the item, the
problem and the order number, so the requests most similar to an input (what nearest-neighbour
shots pick) are about the same problem paid another way, and their times mislead.

A rejected reply is a plausible near miss of a chosen one. Half of them promise the right
destination with another payment method's time ("to your PayPal account; it will show within 3
working days"): the error an SFT-only model kept making in a first run of the recipe (its only
misses on the holdout). The rest blame the customer, add a second step, sign off another way, pad
the reply, drop the amount, greet "Dear customer", or name another method's destination and time.

SFT rows and pairs are drawn from the same generator with different requests (no request is in
both files). Seeded, so the files are stable. Run: python make_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 1616
SFT_ROWS = 200
PAIRS = 160

FIRST = [
    "Priya", "Tom", "Amara", "Jonas", "Lucia", "Wei", "Fatima", "Oliver", "Sofia", "Kenji",
    "Maria", "Aisha", "Lena", "Omar", "Lucas", "Daniel", "Mei", "Ivan", "Chloe", "Mateo",
    "Hannah", "Ravi", "Elena", "Noah", "Zara", "Felix", "Leo", "Yuki", "Carlos", "Nina",
    "Samuel", "Ines", "Arjun", "Greta", "Tariq", "Emma", "Hugo", "Anya", "Marco", "Freya",
]  # fmt: skip
LAST = [
    "Lopez", "Becker", "Khan", "Sato", "Novak", "Haddad", "Iyer", "Silva", "Rossi", "Meyer",
    "Chen", "Berg", "Ali", "Petrov", "Martin", "Garcia", "Schmidt", "Patel", "Costa", "Kim",
    "Okafor", "Weber", "Dubois", "Nowak", "Larsen", "Moreau", "Tanaka", "Fischer",
]  # fmt: skip
ITEMS = [
    "desk lamp", "kettle", "pair of running shoes", "rain jacket", "coffee grinder", "phone case",
    "wool blanket", "blender", "backpack", "set of mugs", "bike light", "yoga mat", "toaster",
    "wireless mouse", "cookware set", "table fan", "winter boots", "headphones", "jigsaw puzzle",
    "water bottle", "office chair cushion", "bath towel set", "travel adapter", "watering can",
]  # fmt: skip

# problem -> (request sentences, the apology's object). {item}, {order}, {amount}, {date}.
PROBLEMS = {
    "return": (
        [
            "I sent the {item} from order {order} back on {date} and the {amount} still hasn't come back.",
            "You confirmed the return of my {item} (order {order}) on {date}, but no refund of {amount} yet.",
            "My return for order {order}, a {item}, was delivered to you on {date}. Where is my {amount}?",
        ],
        "the wait for your refund",
    ),
    "damaged": (
        [
            "The {item} in order {order} arrived broken. I'd like the {amount} back, not a replacement.",
            "Order {order} came today and the {item} is smashed. Please refund the {amount}.",
            "The {item} from order {order} was damaged in the box, so I want my {amount} refunded.",
        ],
        "the damaged {item}",
    ),
    "double": (
        [
            "I was charged {amount} twice for order {order} ({item}).",
            "My statement shows two payments of {amount} for order {order}, the {item}. I only ordered once.",
            "Order {order} for a {item} was billed twice, {amount} each time, on {date}.",
        ],
        "the double charge",
    ),
    "cancelled": (
        [
            "I cancelled order {order} (a {item}) an hour after placing it and was still charged {amount}.",
            "Order {order} was cancelled on {date} but the {amount} for the {item} was taken anyway.",
            "I got a cancellation email for order {order}, the {item}, yet {amount} left my account.",
        ],
        "the charge after you cancelled",
    ),
    "missing": (
        [
            "Order {order} arrived without the {item}, which cost {amount}.",
            "The {item} was missing from order {order}. Please refund its {amount}.",
            "My parcel for order {order} had everything except the {item} ({amount}).",
        ],
        "the missing {item}",
    ),
    "late": (
        [
            "I paid {amount} for express delivery on order {order} ({item}) and it came a week late.",
            "Order {order} with my {item} arrived on {date}, five days after the express date. I want the {amount} shipping back.",
            "The express shipping on order {order} ({amount}) was pointless, the {item} took ten days.",
        ],
        "the late delivery",
    ),
}

# payment method -> (how the customer says it, the reply's destination, the reply's time)
PAYMENTS = {
    "card": (
        ["I paid with my Visa card.", "It went on my Mastercard.", "I paid by debit card.", "I used my credit card."],
        "card",
        "5 working days",
    ),
    "paypal": (
        ["I paid with PayPal.", "I used PayPal for this one.", "Payment was through PayPal."],
        "PayPal account",
        "24 hours",
    ),
    "gift": (
        ["I paid with a gift card.", "I used a gift card for it.", "It was paid with my gift card balance."],
        "gift card balance",
        "a few minutes",
    ),
    "bank": (
        ["I paid by bank transfer.", "I sent the money by bank transfer.", "Payment was a direct bank transfer."],
        "bank account",
        "3 working days",
    ),
}
OPENERS = ["Hi,", "Hello,", "Hi there,", "Good morning,", "Hello refunds team,", "Dear team,", "", ""]
EXTRAS = [
    "This is the first time I've had a problem with you.",
    "I've been waiting a while now.",
    "I'd rather not have to call.",
    "Can you sort this out quickly?",
    "I've attached the receipt.",
    "",
    "",
    "",
]
SIGNATURES = ["Thanks,\n{first}", "Regards,\n{first} {last}", "- {first}", "Cheers, {first}", "{first} {last}"]
MONTHS = ["March", "April", "May", "June", "July", "August"]


def request(rng: random.Random) -> dict:
    problem = rng.choice(list(PROBLEMS))
    method = rng.choice(list(PAYMENTS))
    first, last = rng.choice(FIRST), rng.choice(LAST)
    item = rng.choice(ITEMS)
    cents = rng.choice([0, 49, 50, 95, 99]) if rng.random() < 0.7 else rng.randrange(100)
    amount = f"${rng.randrange(6, 240)}.{cents:02d}"
    if problem == "late":
        amount = f"${rng.choice([7, 9, 12, 14, 19])}.{rng.choice([0, 50, 95, 99]):02d}"
    slots = {
        "item": item,
        "order": f"#{rng.randrange(40000, 99999)}",
        "amount": amount,
        "date": f"{rng.randrange(1, 29)} {rng.choice(MONTHS)}",
    }
    sentences, ack = PROBLEMS[problem]
    says, destination, time = PAYMENTS[method]
    opener = rng.choice(OPENERS)
    parts = [rng.choice(sentences).format(**slots), rng.choice(says), rng.choice(EXTRAS)]
    body = " ".join(p for p in parts if p)
    message = (opener + "\n" if opener else "") + body + "\n" + rng.choice(SIGNATURES).format(first=first, last=last)
    return {
        "message": message,
        "first": first,
        "problem": problem,
        "method": method,
        "ack": ack.format(**slots),
        "amount": amount,
        "destination": destination,
        "time": time,
        "item": item,
    }


def reply(r: dict, *, destination: str | None = None, time: str | None = None) -> str:
    return (
        f"Hi {r['first']}, sorry about {r['ack']}. I've refunded {r['amount']} to your "
        f"{destination or r['destination']}; it will show within {time or r['time']}. — Refunds team"
    )


BLAME = {
    "return": "returns sent without the form take longer",
    "damaged": "the box should have been checked with the courier",
    "double": "this happens when the pay button is pressed twice",
    "cancelled": "cancelling after checkout is not guaranteed",
    "missing": "the packing list should have been checked on arrival",
    "late": "express dates are only estimates",
}
SECOND_STEPS = [
    "I've also sent you a 10% discount code for your next order.",
    "I've also emailed a prepaid return label just in case.",
    "I've also asked the warehouse to check your parcel.",
    "I've also added a note to your account.",
]
PADDING = [
    "We truly value you as a customer and always aim to put things right as quickly as possible.",
    "Thank you for your patience and for shopping with us, it really means a lot to the whole team.",
    "Please don't hesitate to get in touch again if there is anything else at all we can help with.",
]
SIGN_OFFS = ["Best regards, Customer Service", "Kind regards, the Support Team", "Thanks!", "Have a great day!"]


def near_miss(r: dict, kind: str, rng: random.Random) -> str:
    """One way of breaking the house rule, close to the chosen reply."""
    good = reply(r)
    body, sign = good[: -len(" — Refunds team")], " — Refunds team"
    if kind == "blame":
        return (
            f"Hi {r['first']}, {BLAME[r['problem']]}, but I've refunded {r['amount']} to your "
            f"{r['destination']}; it will show within {r['time']}." + sign
        )
    if kind == "two_steps":
        return f"{body} {rng.choice(SECOND_STEPS)}{sign}"
    if kind == "sign_off":
        return f"{body} {rng.choice(SIGN_OFFS)}"
    if kind == "padded":
        return f"{body} {rng.choice(PADDING)}{sign}"
    if kind == "no_amount":
        return f"Hi {r['first']}, sorry about {r['ack']}. We'll look into your refund and get back to you soon.{sign}"
    if kind == "dear_customer":
        return "Dear customer" + good[len(f"Hi {r['first']}") :]
    if kind == "wrong_time":
        return reply(r, time=rng.choice([PAYMENTS[m][2] for m in PAYMENTS if m != r["method"]]))
    if kind == "wrong_method":
        other = rng.choice([m for m in PAYMENTS if m != r["method"]])
        return reply(r, destination=PAYMENTS[other][1], time=PAYMENTS[other][2])
    raise ValueError(kind)


# Every other pair is the wrong time; the other kinds take turns in between.
OTHER_KINDS = ["blame", "two_steps", "sign_off", "padded", "no_amount", "dear_customer", "wrong_method"]
KINDS = [kind for other in OTHER_KINDS for kind in ("wrong_time", other)]


def main() -> None:
    rng = random.Random(SEED)
    here = Path(__file__).parent
    seen: set[str] = set()
    requests = []
    while len(requests) < SFT_ROWS + PAIRS:
        r = request(rng)
        if r["message"] not in seen:
            seen.add(r["message"])
            requests.append(r)
    sft = [
        {"messages": [{"role": "user", "content": r["message"]}, {"role": "assistant", "content": reply(r)}]}
        for r in requests[:SFT_ROWS]
    ]
    pairs = [
        {"prompt": r["message"], "chosen": reply(r), "rejected": near_miss(r, KINDS[i % len(KINDS)], rng)}
        for i, r in enumerate(requests[SFT_ROWS:])
    ]
    for name, rows in (("replies.jsonl", sft), ("pairs.jsonl", pairs)):
        with open(here / name, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    main()
