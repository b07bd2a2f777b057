"""Offsets in a document's text <-> LSP positions, and diagnostic spans -> LSP ranges.

The front end counts lines from 1 and columns in code points from 1, on the text without its
byte-order mark, with an exclusive end column. LSP counts both from 0, and columns in the units of
the negotiated position encoding: UTF-16 code units unless the client offers UTF-8 or UTF-32. A
character outside the Basic Multilingual Plane (an emoji in a goal) is one code point but two
UTF-16 units, so every column is converted, never copied.
"""

from __future__ import annotations

import bisect
import re

from lsprotocol import types

from ftc.compiler.lang.recipe import Span

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str) -> int:
    """The length of ``text`` in the position encoding's units."""
    if encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class TextIndex:
    """One document's text with its line starts, for conversions in both directions."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # Spans are computed on the text after its BOM: line 1 is one code point further along.
        self._bom = 1 if text.startswith("\ufeff") else 0

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_end(self, line: int) -> int:
        """The offset of the end of a 0-based line (before its newline)."""
        return self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)

    def position(self, offset: int) -> types.Position:
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self._starts, offset) - 1
        return types.Position(line=line, character=units(self.text[self._starts[line] : offset], self.encoding))

    def offset(self, position: types.Position) -> int:
        """The offset of an LSP position; past the end of a line is its end, past the last line the end."""
        if position.line >= len(self._starts):
            return len(self.text)
        start, end = self._starts[position.line], self.line_end(position.line)
        seen = 0
        for i in range(start, end):
            if seen >= position.character:
                return i
            seen += units(self.text[i], self.encoding)
        return end

    def span_offset(self, line: int, col: int) -> int:
        """The offset of a front-end position (1-based line, 1-based code-point column)."""
        if line > len(self._starts):
            return len(self.text)
        row = max(line, 1) - 1
        start = self._starts[row] + (self._bom if row == 0 else 0)
        return min(start + max(col, 1) - 1, self.line_end(row))

    def span_range(self, span: Span) -> types.Range:
        """The LSP range of a diagnostic's span. An empty span covers one character where there is
        one, as `ftc lint`'s caret does, so an editor has something to underline."""
        start = self.span_offset(span.line, span.col)
        end = self.span_offset(span.end_line, span.end_col) if span.end_line >= span.line else start
        if end <= start:
            end = start + 1 if start < len(self.text) and self.text[start] != "\n" else start
        return types.Range(start=self.position(start), end=self.position(end))

    def whole(self) -> types.Range:
        """The range of the whole document."""
        return types.Range(start=types.Position(line=0, character=0), end=self.position(len(self.text)))
