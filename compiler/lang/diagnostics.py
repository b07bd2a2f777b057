"""Diagnostics: one finding with a stable code, a severity, a message, a span and a hint.

Codes: FTR0xx syntax (the file could not be read or parsed), FTR1xx semantic (the recipe is
well-formed but wrong), FTR2xx advice (``compiler.lint_rules``), FTR3xx plan-time (the planner).
``render`` prints them the way rustc does, with the offending line and a caret underline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Iterable, Literal

from ftc.compiler.lang.recipe import Span

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def location(self) -> str:
        return f"{self.span.file}:{self.span.line}:{self.span.col}"

    def with_severity(self, severity: Severity) -> "Diagnostic":
        return replace(self, severity=severity)


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, "error", message, span, hint)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, hint)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.col, d.code, d.message)


# --- sources for excerpts --------------------------------------------------------------------
# render() shows the offending line. Texts parsed from memory (stdin, tests) are registered here;
# anything else is read from disk when rendered. Bounded so a long lint run does not hoard text.
_SOURCES: dict[str, list[str]] = {}
_MAX_SOURCES = 64


def register_source(file: str, text: str) -> None:
    if len(_SOURCES) >= _MAX_SOURCES:
        _SOURCES.pop(next(iter(_SOURCES)))
    _SOURCES[file] = text.split("\n")


def _source_line(file: str, line: int) -> str | None:
    lines = _SOURCES.get(file)
    if lines is None:
        lines = _read_lines(file)
        if lines is None:
            return None
        register_source(file, "\n".join(lines))
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return None


def _read_lines(file: str) -> list[str] | None:
    try:
        if not os.path.isfile(file) or os.path.getsize(file) > 10_000_000:
            return None
        with open(file, "rb") as fh:
            data = fh.read()
        return data.decode("utf-8", errors="replace").lstrip("\ufeff").split("\n")
    except OSError:
        return None


# --- rendering -------------------------------------------------------------------------------
_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "note": "\x1b[1;36m", "blue": "\x1b[1;34m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"
_EXCERPT_WIDTH = 100  # a 2 MB line is shown as a window around the column


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_COLORS[style]}{text}{_RESET}" if color else text


def _printable(text: str) -> str:
    # Control characters would garble a terminal; tabs become one space so the caret lines up.
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _excerpt(line_text: str, col: int, width: int) -> tuple[str, int, int]:
    """Cut a window of a long line around the column; returns (text, caret column, caret width)."""
    col = max(col, 1)
    if len(line_text) <= _EXCERPT_WIDTH:
        return line_text, col, width
    start = max(0, col - 1 - _EXCERPT_WIDTH // 2)
    window = line_text[start : start + _EXCERPT_WIDTH]
    prefix = "..." if start else ""
    suffix = "..." if start + _EXCERPT_WIDTH < len(line_text) else ""
    return prefix + window + suffix, col - start + len(prefix), min(width, _EXCERPT_WIDTH)


def render_one(d: Diagnostic, color: bool = False) -> str:
    head = _paint(f"{d.severity}[{d.code}]", d.severity, color) + _paint(f": {d.message}", "bold", color)
    line_no = str(d.span.line)
    pad = " " * len(line_no)
    bar = _paint(f"{pad} |", "blue", color)
    out = [head, _paint(f"{pad}--> ", "blue", color) + d.location]
    text = _source_line(d.span.file, d.span.line)
    if text is not None:
        end = d.span.end_col if d.span.end_line == d.span.line else len(text) + 1
        width = max(1, end - d.span.col)
        shown, caret_col, width = _excerpt(text, d.span.col, width)
        shown = _printable(shown)
        width = max(1, min(width, len(shown) - caret_col + 2))
        out += [bar, _paint(f"{line_no} |", "blue", color) + f" {shown}"]
        out.append(bar + " " + " " * (caret_col - 1) + _paint("^" * width, d.severity, color))
    if d.hint:
        out += [bar, _paint(f"{pad} = ", "blue", color) + _paint("hint", "bold", color) + f": {d.hint}"]
    return "\n".join(out)


def render(diagnostics: Iterable[Diagnostic], color: bool = False) -> str:
    """rustc-style text for a person: header, location, the line with a caret underline, hint."""
    items = list(diagnostics)
    if not items:
        return ""
    parts = [render_one(d, color) for d in items]
    # Lone surrogates (from \uD800 escapes) cannot be printed; every caller gets printable text.
    return ("\n\n".join(parts) + "\n").encode("utf-8", "replace").decode("utf-8")


def summary(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(d.severity == "error" for d in items)
    warnings = sum(d.severity == "warning" for d in items)
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


# --- the code registry (FTR0xx, FTR1xx; FTR2xx live in compiler.lint_rules) ------------------
@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str
    example: str  # a line that triggers it (where a line can)


CODES: dict[str, Code] = {
    c.code: c
    for c in (
        Code("FTR001", "cannot-read", "The recipe file cannot be read: it is missing, a directory or not permitted.", "ftc lint recipes/missing.ftr"),
        Code("FTR002", "not-text", "The file is not UTF-8 text (binary, NUL bytes or another encoding).", "ftc lint model.safetensors"),
        Code("FTR003", "unexpected-character", "A character that cannot start any token (`:` `'` `@` ...).", "format: chat"),
        Code("FTR004", "unexpected-token", "A token where the grammar expects something else, or an early end of file.", "lr = 2e-4 * 2"),
        Code("FTR005", "unbalanced-brackets", "A `{`, `[` or `(` that is never closed, or a closer without an opener.", 'recipe "x" {\n  eval { holdout = 20%\n}'),
        Code("FTR006", "bad-string", "An unterminated string or an unknown escape (strings take \\\" \\\\ \\n \\t \\r \\uXXXX).", 'path = "C:\\data"'),
        Code("FTR008", "too-deep", "Nesting deeper than 32 levels: no recipe needs it, so the input is refused early.", "x = [[[[[[[[ ... ]]]]]]]]"),
        Code("FTR009", "foreign-format", "A JSON or YAML file was given where a .ftr recipe was expected.", '{"recipe": "x"}'),
        Code("FTR010", "too-large", "The file is larger than 10 MB or holds more than 50,000 tokens; a recipe is a few KB.", ""),
        Code("FTR011", "too-many-findings", "More than 100 findings in one file: the rest are counted, not shown.", ""),
        Code("FTR101", "unknown-block", "A block that does not exist (or is misplaced), with a did-you-mean.", 'dta "tickets" { ... }'),
        Code("FTR102", "unknown-key", "A key that the block does not know, with a did-you-mean; typos never fall back to defaults.", "learning_rate = 2e-4"),
        Code("FTR103", "wrong-type", "A value of the wrong type: a string where a name is expected, a float where a whole number is.", 'format = "chat"'),
        Code("FTR104", "bad-unit", "A missing or wrong unit: sizes need KB..TiB, durations ms..d, parameter counts K M B T.", "gpu_memory = 24"),
        Code("FTR105", "out-of-range", "A value outside its sane range (percentages 0-100, sizes and durations > 0, ...).", "holdout = 120%"),
        Code("FTR106", "missing-part", "A required part is missing: goal, base, a data source, an eval block, a source's path or format.", 'data "t" { format = chat }'),
        Code("FTR107", "duplicate", "A key set twice, a second singleton block, two sources with one name.", 'data "t" { ... }\ndata "t" { ... }'),
        Code("FTR108", "file-not-found", "A data file, folder or schema that does not exist (paths are relative to the recipe).", 'path = "data/tickts.jsonl"'),
        Code("FTR109", "outside-project", "A path that leaves the recipe's project (nearest folder with pyproject.toml or .git); allow with --allow-outside.", 'path = "../../home/me/data.jsonl"'),
        Code("FTR110", "unknown-choice", "A name that is not one of the allowed choices (format, device, method, goal kind ...).", "device = gpu"),
        Code("FTR111", "bad-metric", "An unknown metric, wrong metric arguments, a bad regex or schema, or a malformed `beat baseline by`.", 'expect exact_mach(field = "category") >= 0.8'),
        Code("FTR112", "threshold-range", "A threshold outside the metric's range (rates 0..1 or 0%..100%, perplexity > 0).", "expect json_valid >= 1.5"),
        Code("FTR113", "unknown-source", "eval `data` names a data source that the recipe does not define.", 'data = "tickets-evl"'),
        Code("FTR114", "block-name", "A block's name is missing, not allowed, or not a valid name.", "data { path = ... }"),
        Code("FTR115", "misplaced", "Something outside the one recipe block, a second recipe, or expect/beat outside eval.", 'recipe "a" { ... }\nrecipe "b" { ... }'),
        Code("FTR116", "bad-columns", "A columns map names a field that the data format does not have.", "columns = { mesages = \"conversation\" }"),
    )
}  # fmt: skip

_DOCS = {
    "FTR0": "A syntax error: the file could not be read or parsed, so nothing else was checked.",
    "FTR1": "A semantic error: the recipe parses but is wrong. Every such error in a file is reported, not only the first.",
}


def explain(code: str) -> str | None:
    """Name, what it means and an example, for `ftc explain FTR1xx`; None for an unknown code."""
    c = CODES.get(code.upper())
    if c is None:
        return None
    text = f"{c.code} {c.name} (error)\n\n{c.summary}\n{_DOCS[c.code[:4]]}\n"
    if c.example:
        text += "\nExample:\n" + "\n".join("    " + line for line in c.example.split("\n")) + "\n"
    return text
