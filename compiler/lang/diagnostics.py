"""Diagnostics: one finding with a stable code, a severity, a message, a span and a hint.

Every code is registered, with its doc, in ``compiler.lang.codes`` (FTR0xx syntax, FTR1xx
semantic, FTR2xx lint, FTR3xx plan). ``render`` prints diagnostics the way rustc does, with the
offending line and a caret underline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ftc.compiler.lang.recipe import Span

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None
    # The text that replaces the whole span to apply the hint's did-you-mean (`lr` for `lrr`), for
    # tools that edit (the language server's quick fixes). Never rendered: the hint says it in words.
    fix: str | None = None

    @property
    def location(self) -> str:
        return f"{self.span.file}:{self.span.line}:{self.span.col}"

    def with_severity(self, severity: Severity) -> Diagnostic:
        return replace(self, severity=severity)


def error(code: str, message: str, span: Span, hint: str | None = None, fix: str | None = None) -> Diagnostic:
    return Diagnostic(code, "error", message, span, hint, fix)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, hint)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
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
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        # the parser's line ends (see parser.normalize_newlines): a lone CR ends a line too
        return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    except OSError:
        return None


# --- rendering -------------------------------------------------------------------------------
_COLORS = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "note": "\x1b[1;36m",
    "blue": "\x1b[1;34m",
    "bold": "\x1b[1m",
}
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
