"""Clean step: Unicode NFC, whitespace normalised, control characters stripped, empty rows
dropped, rows over the token budget dropped or truncated, optional PII redaction.

Whitespace: CRLF/CR become LF, Unicode spaces become a plain space, trailing spaces on each line
go, three or more newlines become two, and the ends are stripped. Leading indentation inside a
line is kept: chat replies often hold code.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from .pii import KINDS, redact
from .records import Record, record_text
from .validate import is_valid

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"[^\S\n\t]")  # any whitespace but newline and tab (NBSP, thin space, ...)
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")


# Most rows need none of the steps below (printable ASCII, no trailing spaces, no blank-line runs,
# nothing to strip at the ends): a few C-speed tests tell, instead of five regex passes.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _needs_work(text: str) -> bool:
    if not text or not text.isascii():
        return bool(text)
    return (
        text[0].isspace()
        or text[-1].isspace()
        or " \n" in text
        or "\t\n" in text
        or "\n\n\n" in text
        or _ASCII_CONTROL.search(text) is not None
    )


def normalize_text(text: str) -> str:
    return _normalize(text) if _needs_work(text) else text


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


def chars_over_4(text: str) -> int:
    return math.ceil(len(text) / 4)


def _map_strings(fields: dict, fmt: str, fn: Callable[[str], str]) -> dict:
    def walk(value: object, key: str) -> object:
        if isinstance(value, str):
            return value if key in ("role", "path") else fn(value)
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        return value

    return {k: walk(v, k) for k, v in fields.items()}


def _last_text_key(fields: dict, fmt: str) -> tuple | None:
    """Where truncation cuts: the final answer (chat's last turn, output, completion, text)."""
    if fmt == "chat":
        return ("messages", len(fields["messages"]) - 1, "content")
    return {"instruction": ("output",), "completion": ("completion",), "text": ("text",), "documents": ("text",)}.get(
        fmt
    )


def _with_text(fields: dict, key: tuple, text: str) -> dict:
    if key[0] == "messages":
        msgs = [dict(m) for m in fields["messages"]]
        msgs[key[1]]["content"] = text
        return {**fields, "messages": msgs}
    return {**fields, key[0]: text}


def _get_text(fields: dict, key: tuple) -> str:
    return fields["messages"][key[1]]["content"] if key[0] == "messages" else fields[key[0]]


def truncate(record: Record, budget: int, count: Callable[[str], int]) -> Record | None:
    """Cut the final answer (binary search on characters) until the row fits; None if it cannot."""
    key = _last_text_key(record.fields, record.format)
    if key is None:
        return None
    full = _get_text(record.fields, key)
    lo, hi, best = 1, len(full) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = replace(record, fields=_with_text(record.fields, key, full[:mid].rstrip()))
        if count(record_text(candidate)) <= budget:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best if best and _get_text(best.fields, key) else None


class Cleaner:
    """The clean step one row at a time (``ftc data check`` streams rows through it); ``stats``
    counts as it goes."""

    def __init__(self, cfg: dict, count_tokens: Callable[[str], int] | None = None) -> None:
        self.count = count_tokens or chars_over_4
        self.pii, self.budgets = cfg.get("redact_pii") or {}, cfg.get("max_tokens") or {}
        self.overlong = cfg.get("overlong") or {}
        self.redacted: Counter = Counter()
        self.stats = {
            "in": 0,
            "out": 0,
            "changed": 0,
            "empty_dropped": 0,
            "overlong_dropped": 0,
            "overlong_truncated": 0,
        }

    def __call__(self, record: Record) -> Record | None:
        """The cleaned row, or None when it is dropped (empty after cleaning, or over budget)."""
        self.stats["in"] += 1
        fields = _map_strings(record.fields, record.format, normalize_text)
        if self.pii.get(record.source):
            fields = _map_strings(fields, record.format, lambda s: redact(s, self.redacted))
        if not is_valid(fields, record.format):
            self.stats["empty_dropped"] += 1  # cleaning left a required text empty
            return None
        cleaned = replace(record, fields=fields) if fields != record.fields else record
        self.stats["changed"] += cleaned is not record
        budget = self.budgets.get(record.source)
        if budget and self.count(record_text(cleaned)) > budget:
            cut = (
                truncate(cleaned, budget, self.count)
                if self.overlong.get(record.source, "drop") == "truncate"
                else None
            )
            if cut is None:
                self.stats["overlong_dropped"] += 1
                return None
            self.stats["overlong_truncated"] += 1
            cleaned = cut
        self.stats["out"] += 1
        return cleaned

    def final_stats(self) -> dict:
        return {**self.stats, "redacted": {k: self.redacted.get(k, 0) for k in KINDS}}


def clean(records, cfg: dict, count_tokens: Callable[[str], int] | None = None) -> tuple[list[Record], dict]:
    cleaner = Cleaner(cfg, count_tokens)
    out = [r for r in map(cleaner, records) if r is not None]
    return out, cleaner.final_stats()
