"""``ftc fmt``: the one canonical layout of a recipe.

Two-space indentation, one attribute or statement per line, ``=`` aligned within a block, values
on one line, strings re-escaped canonically; the order of everything and every comment are kept,
and a run of blank lines between items becomes one. Formatting is idempotent and
``parse(format(x)) == parse(x)`` (spans aside). Depth is bounded by the parser, so the small
recursion over values here is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ftc.compiler.lang import ast

if TYPE_CHECKING:
    from ftc.compiler.lang.diagnostics import Diagnostic

INDENT = "  "
WIDTH = 100  # a value that would make a longer line is broken over lines (calls, lists, maps)
_ALIGN = "\x00"  # marks the end of a key in an output line until `=` is aligned


def quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable() and ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def value(v: ast.Value) -> str:
    if isinstance(v, ast.Str):
        return quote(v.value)
    if isinstance(v, ast.Number):
        return v.text + v.unit
    if isinstance(v, ast.Money):
        return "$" + v.text
    if isinstance(v, ast.Ident):
        return v.name
    if isinstance(v, ast.Call):
        args = ", ".join(f"{a.name} = {value(a.value)}" if a.name else value(a.value) for a in v.args)
        return f"{v.name}({args})"
    if isinstance(v, ast.List):
        return "[" + ", ".join(value(i) for i in v.items) + "]"
    if not v.entries:
        return "{}"
    entries = ", ".join(f"{quote(e.key) if e.quoted else e.key} = {value(e.value)}" for e in v.entries)
    return "{ " + entries + " }"


def _start_line(item: ast.Item) -> int:
    return item.span.line


@dataclass
class _Writer:
    comments: list[ast.Comment]
    lines: list[str] = field(default_factory=list)
    pos: int = 0  # next comment to place
    last: int = 0  # last source line written

    def _gap(self, line: int, first: bool) -> None:
        if not first and line > self.last + 1:
            self.lines.append("")

    def leading(self, before: int, depth: int, first: bool, start: int | None = None) -> bool:
        """Comments that stand on their own lines before source line ``before``; ``start`` is the
        first line of the item they precede (a blank line is kept only if the source had one)."""
        while self.pos < len(self.comments) and self.comments[self.pos].span.line < before:
            c = self.comments[self.pos]
            self._gap(min(c.span.line, start or c.span.line), first)
            self.lines.append(INDENT * depth + c.text)
            self.last, self.pos, first = c.span.line, self.pos + 1, False
        return first

    def trailing(self, line: int) -> str:
        if self.pos < len(self.comments) and self.comments[self.pos].span.line == line:
            self.pos += 1
            return "  " + self.comments[self.pos - 1].text
        return ""

    def items(self, items: tuple[ast.Item, ...], depth: int) -> None:
        first = True
        for n, item in enumerate(items):
            # Comments inside a multi-line value cannot stay there (values print on one line):
            # they go just above their item.
            until = item.span.line if isinstance(item, ast.Block) else item.span.end_line
            first = self.leading(until, depth, first, item.span.line)
            self._gap(_start_line(item), first)
            first = False
            nxt = items[n + 1] if n + 1 < len(items) else None
            shares_line = nxt is not None and _start_line(nxt) == item.span.end_line
            if isinstance(item, ast.Block):
                self.block(item, depth)
            else:
                text = _statement(item, depth)
                self.lines.append(text + ("" if shares_line else self.trailing(item.span.end_line)))
                self.last = item.span.end_line

    def block(self, b: ast.Block, depth: int) -> None:
        head = INDENT * depth + b.kind + (" " + quote(b.label.value) if b.label else "")
        has_inner = self.pos < len(self.comments) and self.comments[self.pos].span.line < b.span.end_line
        if not b.items and not has_inner:
            self.lines.append(head + " {}" + self.trailing(b.span.end_line))
            self.last = b.span.end_line
            return
        first_child = b.items[0].span.line if b.items else None
        one_line = b.span.line == b.span.end_line
        open_comment = "" if first_child == b.span.line or one_line else self.trailing(b.span.line)
        self.lines.append(head + " {" + open_comment)
        self.last = b.span.line
        self.items(b.items, depth + 1)
        self.leading(b.span.end_line, depth + 1, False)
        self.lines.append(INDENT * depth + "}" + self.trailing(b.span.end_line))
        self.last = b.span.end_line


def _statement(item: ast.Item, depth: int) -> str:
    pad = INDENT * depth
    if isinstance(item, ast.Attribute):
        one_line = value(item.value)
        if len(pad) + len(item.key) + 3 + len(one_line) > WIDTH:
            one_line = _broken(item.value, depth)
        return f"{pad}{item.key}{_ALIGN} = {one_line}"
    if isinstance(item, ast.Expect):
        return f"{pad}expect {value(item.metric)} {item.op} {value(item.threshold)}"
    assert isinstance(item, ast.Beat)
    return f"{pad}beat {item.target.name} {item.word.name} {value(item.amount)}"


def _broken(v: ast.Value, depth: int) -> str:
    """A long call, list or map with one element per line; the elements themselves stay inline."""
    inner, pad = INDENT * (depth + 1), INDENT * depth
    if isinstance(v, ast.Call) and len(v.args) > 1:
        width = max((len(a.name) for a in v.args if a.name), default=0)
        parts = [f"{a.name.ljust(width)} = {value(a.value)}" if a.name else value(a.value) for a in v.args]
        return f"{v.name}(\n" + ",\n".join(inner + p for p in parts) + f"\n{pad})"
    if isinstance(v, ast.List) and len(v.items) > 1:
        return "[\n" + ",\n".join(inner + value(i) for i in v.items) + f"\n{pad}]"
    if isinstance(v, ast.Map) and len(v.entries) > 1:
        width = max(len(quote(e.key) if e.quoted else e.key) for e in v.entries)
        parts = [f"{(quote(e.key) if e.quoted else e.key).ljust(width)} = {value(e.value)}" for e in v.entries]
        return "{\n" + ",\n".join(inner + p for p in parts) + f"\n{pad}}}"
    return value(v)


def _align(lines: list[str]) -> list[str]:
    """Align `=` over runs of attribute lines at one indentation; blank lines and other
    statements end a run, comment lines do not (as gofmt does)."""
    out = list(lines)
    run: list[int] = []

    def flush() -> None:
        width = max((out[i].index(_ALIGN) for i in run), default=0)
        for i in run:
            key, rest = out[i].split(_ALIGN, 1)
            out[i] = key.ljust(width) + rest
        run.clear()

    for n, line in enumerate(lines):
        head = line.split("\n", 1)[0]
        indent = len(head) - len(head.lstrip(" "))
        if _ALIGN in head:
            if run and indent != len(out[run[0]]) - len(out[run[0]].lstrip(" ")):
                flush()
            run.append(n)
        elif head.strip().startswith("#") and run and indent == len(out[run[0]]) - len(out[run[0]].lstrip(" ")):
            continue
        else:
            flush()
        if "\n" in line and run:  # a value broken over lines ends the run after itself
            flush()
    flush()
    return out


def format_tree(tree: ast.RecipeFile) -> str:
    w = _Writer(sorted(tree.comments, key=lambda c: (c.span.line, c.span.col)))
    w.items(tree.items, 0)
    w.leading(10**12, 0, not w.lines)
    text = "\n".join(_align(w.lines)).strip("\n")
    return text + "\n" if text else ""


def format_text(text: str, file: str = "<recipe>") -> tuple[str | None, list[Diagnostic]]:
    """Formatted text, or None and the syntax diagnostics."""
    from ftc.compiler.lang.frontend import parse_text

    tree, diags = parse_text(text, file)
    if tree is None:
        return None, diags
    return format_tree(tree), diags
