"""Optional PII redaction: e-mail addresses, phone numbers, payment card numbers (Luhn-checked)
and IP addresses become [EMAIL], [PHONE], [CARD], [IP]. Counted by kind.

Order matters: cards and IPs are digit runs a phone pattern would also take, so they go first.
A phone must look like one (a leading + or separators, 7-15 digits) so order ids and years stay.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

KINDS = ("email", "card", "ip", "phone")

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?:::?[0-9A-Fa-f]{1,4})*(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])|(?<![\w+])\+\d{7,15}(?!\w)"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(m: re.Match) -> str | None:
    digits = re.sub(r"\D", "", m.group())
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else None


def _ip(m: re.Match) -> str | None:
    try:
        ipaddress.ip_address(m.group())
    except ValueError:
        return None
    return "[IP]"


def _phone(m: re.Match) -> str | None:
    text = m.group()
    digits = re.sub(r"\D", "", text)
    formatted = text.startswith("+") or "(" in text or re.search(r"\d[ .-]\d", text)
    if not (7 <= len(digits) <= 15 and formatted):
        return None
    if re.fullmatch(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}", text):  # dates, not phones
        return None
    return "[PHONE]"


_RULES = (
    ("email", _EMAIL, lambda m: "[EMAIL]"),
    ("card", _CARD, _card),
    ("ip", _IPV4, _ip),
    ("ip", _IPV6, _ip),
    ("phone", _PHONE, _phone),
)


def redact(text: str, counts: Counter) -> str:
    for kind, pattern, repl in _RULES:

        def sub(m: re.Match, kind=kind, repl=repl) -> str:
            out = repl(m)
            if out is None:
                return m.group()
            counts[kind] += 1
            return out

        text = pattern.sub(sub, text)
    return text
