"""Writes questions.jsonl: held-out questions about the handbook with reference answers.

Each pair is written by hand from the Markdown files in handbook/; the script only fixes the
row format (chat) so the file can be regenerated after an edit. Run: python make_questions.py
"""

import json
from pathlib import Path

PAIRS = [
    (
        "How many days of paid annual leave do full-time employees get?",
        "Full-time employees get 28 days of paid annual leave per year, plus public holidays.",
    ),
    (
        "Can I carry unused leave into next year?",
        "Yes, up to 5 unused days can be carried over; they expire on 31 March.",
    ),
    (
        "How far in advance do I need to request a week off?",
        "Absences longer than three days must be requested in the HR portal at least two weeks in advance.",
    ),
    (
        "How long is parental leave for the primary carer?",
        "The primary carer gets 20 weeks of parental leave at full pay.",
    ),
    ("How long is parental leave for the secondary carer?", "The secondary carer gets 6 weeks of parental leave."),
    (
        "When do I need a doctor's note for sick leave?",
        "A doctor's note is required from the fourth consecutive sick day.",
    ),
    (
        "Which days do we have to be in the office?",
        "Teams agree on two anchor days per week, usually Tuesday and Thursday, in the Leeds office.",
    ),
    (
        "Can I work from abroad?",
        "Yes, for up to 30 working days per year; tell HR at least one week before you travel.",
    ),
    (
        "Is there a home office allowance?",
        "Yes, a one-off home office allowance of 450 GBP, claimable in your first three months.",
    ),
    ("Does the company pay for my internet at home?", "Yes, the company pays 30 GBP per month towards internet costs."),
    (
        "How long do I have to submit an expense claim?",
        "Submit expenses in the finance app within 60 days, with a photo of the receipt.",
    ),
    ("Can I claim an expense without a receipt?", "Only up to 25 GBP; larger claims need a receipt."),
    (
        "Can I travel first class by train?",
        "First class is allowed only for journeys longer than four hours; otherwise standard class.",
    ),
    ("What is the hotel limit in London?", "Hotel nights are reimbursed up to 150 GBP in London."),
    ("What is the meal allowance on business trips?", "The daily meal allowance is 40 GBP; alcohol is not reimbursed."),
    ("When are expenses paid back?", "Reimbursements are paid with the next monthly salary."),
    (
        "How long must a password be?",
        "Passwords must be at least 14 characters long, kept in the company password manager.",
    ),
    (
        "I lost my laptop. What do I do?",
        "Report it to the IT service desk within one hour, on extension 4040 or at it-help@northwind.example.",
    ),
    (
        "Can I copy customer data to a USB stick?",
        "No. Customer data never leaves approved systems: no USB sticks and no personal cloud drives.",
    ),
    (
        "What is my yearly learning budget?",
        "Each employee has a learning budget of 1,200 GBP per year and five learning days.",
    ),
    ("Do I need approval to buy a 200 GBP course?", "No, only purchases over 300 GBP need your manager's approval."),
    ("Does unused learning budget roll over?", "No, unused learning budget does not roll over to the next year."),
    (
        "What happens if I leave after a paid certification?",
        "If you leave within 12 months of a certification costing over 1,000 GBP, you repay half of its cost.",
    ),
    (
        "Who meets me on my first day?",
        "Your buddy, named in the welcome email, meets you at reception at 9:30 on day one.",
    ),
    (
        "How long is the probation period?",
        "The probation period is three months, ending with a review meeting with your manager.",
    ),
    (
        "When should I agree my first goals?",
        "Agree your 30-60-90 day goals with your manager by the end of your first week.",
    ),
]

with open(Path(__file__).with_name("questions.jsonl"), "w", encoding="utf-8") as fh:
    for question, answer in PAIRS:
        row = {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
