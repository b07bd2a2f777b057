"""Writes questions.jsonl: questions about a small shop database and a reference SQLite query.

Instruction rows: the question, the schema as input, the query as output. In the distillation
recipe the teacher answers every question and the small student learns from those answers;
these reference queries are what the eval holdout scores against. Run: python make_questions.py
"""

import json
import random
from pathlib import Path

SCHEMA = (
    "customers(id, name, city, joined_on); products(id, name, category, price); "
    "orders(id, customer_id, ordered_on, status); order_items(order_id, product_id, quantity)"
)
CITIES = ["Leeds", "Bristol", "Glasgow", "Cardiff", "York"]
CATEGORIES = ["books", "garden", "kitchen", "toys"]
STATUSES = ["shipped", "pending", "cancelled"]
TEMPLATES = [
    ("How many customers live in {city}?", "SELECT COUNT(*) FROM customers WHERE city = '{city}';"),
    ("List the names of products in the {cat} category.", "SELECT name FROM products WHERE category = '{cat}';"),
    ("What is the average price of {cat} products?", "SELECT AVG(price) FROM products WHERE category = '{cat}';"),
    ("How many orders are {status}?", "SELECT COUNT(*) FROM orders WHERE status = '{status}';"),
    (
        "Which customers from {city} joined after {year}-01-01?",
        "SELECT name FROM customers WHERE city = '{city}' AND joined_on > '{year}-01-01';",
    ),
    (
        "What is the most expensive product in {cat}?",
        "SELECT name FROM products WHERE category = '{cat}' ORDER BY price DESC LIMIT 1;",
    ),
    (
        "How many items were sold in total for product {pid}?",
        "SELECT SUM(quantity) FROM order_items WHERE product_id = {pid};",
    ),
    (
        "List the ids of {status} orders placed by customer {cid}.",
        "SELECT id FROM orders WHERE customer_id = {cid} AND status = '{status}';",
    ),
]


def main() -> None:
    rng = random.Random(3)
    rows, seen = [], set()
    while len(rows) < 48:
        question, query = rng.choice(TEMPLATES)
        values = {
            "city": rng.choice(CITIES),
            "cat": rng.choice(CATEGORIES),
            "status": rng.choice(STATUSES),
            "year": rng.randint(2019, 2024),
            "pid": rng.randint(1, 250),
            "cid": rng.randint(1, 900),
        }
        q = question.format(**values)
        if q in seen:
            continue
        seen.add(q)
        rows.append({"instruction": q, "input": SCHEMA, "output": query.format(**values)})
    with open(Path(__file__).with_name("questions.jsonl"), "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
