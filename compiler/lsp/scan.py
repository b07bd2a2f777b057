"""Where the cursor is in a recipe: in which block, at a key, after `key =`, inside a string.

The parser gives no tree for text that does not parse, and while someone types, the text rarely
parses. So this module reads the tokens the grammar has (names, strings, numbers, brackets, `=`),
tolerating anything else, and keeps the stack of blocks, maps, calls and lists open at the
cursor. One path serves finished and half-typed recipes alike: an unclosed brace or string only
means the frame or string runs on to the cursor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# The grammar's tokens (grammar/ftr.lark), plus an unterminated string (it runs to the end of its
# line, as the one being typed does) and any other character, so the scan never fails.
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\\n]|\\[^\n])*(?P<close>")?)
  | (?P<comment>\#[^\n]*)
  | (?P<money>\$[0-9][0-9_]*(?:\.[0-9]+)?)
  | (?P<number>-?[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[A-Za-z%]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<cmp>>=|<=|==|>|<)
  | (?P<punct>[{}()\[\]=,])
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_KINDS = ("string", "comment", "money", "number", "name", "cmp", "punct", "other")
_CLOSERS = {"}": ("block", "map"), ")": ("call",), "]": ("list",)}

Where = Literal["top", "key", "value", "metric", "arg", "string", "none"]


@dataclass(frozen=True)
class Token:
    kind: str  # one of _KINDS
    text: str
    start: int  # offsets into the text; end is exclusive
    end: int
    closed: bool = True  # strings only: the closing quote is there

    def is_punct(self, text: str) -> bool:
        return self.kind == "punct" and self.text == text


@dataclass(frozen=True)
class Frame:
    """An open bracket: a block (`train {`), a map value, a call (`model(`) or a list."""

    kind: Literal["block", "map", "call", "list"]
    name: str  # the block's kind, the call's name, or the key a map or list is assigned to
    index: int  # the opening bracket's index among the significant tokens


@dataclass(frozen=True)
class Cursor:
    """What the cursor is at, for completion; for hover and go-to-definition, what a token is."""

    where: Where
    block: str = ""  # the innermost block's kind; "" outside every block
    key: str = ""  # the attribute or argument a value or string belongs to
    call: str = ""  # the call a string or argument is in (json_schema, both)
    start: int = 0  # where the word or string content being typed starts
    block_open: int = -1  # the innermost block's `{` among the significant tokens


@dataclass(frozen=True)
class Symbol:
    """The token under the cursor and its role: a key, a block's kind, a value or a string."""

    role: Literal["key", "block", "value", "metric", "string"]
    token: Token
    cursor: Cursor


def tokenize(text: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup if m.lastgroup != "close" else "string"
        if kind == "space" or kind is None:
            continue
        out.append(Token(kind, m.group(), m.start(), m.end(), m.group("close") is not None or kind != "string"))
    return out


class Scan:
    """The tokens of one text, with the queries the language server asks of them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.sig = [t for t in self.tokens if t.kind != "comment"]
        self._index = {id(t): i for i, t in enumerate(self.sig)}

    # --- completion --------------------------------------------------------------------------
    def cursor(self, offset: int) -> Cursor:
        """Where a completion at ``offset`` is asked: the word or string being typed ends there."""
        tok = next((t for t in self.tokens if t.start < offset <= t.end), None)
        if tok is not None and tok.kind == "string" and (offset < tok.end or not tok.closed):
            return self._string(self._index[id(tok)], tok)
        if tok is not None and tok.kind == "name":
            return self._classify(self._index[id(tok)], tok.start)
        if tok is not None and tok.kind != "punct" and tok.kind != "cmp":
            return Cursor("none")  # inside a comment, a number or a closed string's end
        return self._classify(sum(1 for t in self.sig if t.end <= offset), offset)

    # --- hover and go-to-definition ---------------------------------------------------------
    def symbol(self, offset: int) -> Symbol | None:
        """The name or string at ``offset`` (a cursor just after a word is on it) and its role."""
        tok = next((t for t in self.sig if t.start <= offset < t.end), None)
        if tok is None or tok.kind not in ("name", "string"):
            tok = next((t for t in self.sig if t.kind == "name" and t.end == offset), None)
        if tok is None or tok.kind not in ("name", "string"):
            return None
        i = self._index[id(tok)]
        if tok.kind == "string":
            return Symbol("string", tok, self._string(i, tok))
        cursor = self._classify(i, tok.start)
        role = self._role(i)
        if role == "key":
            return Symbol("key", tok, cursor)
        if role == "block":
            return Symbol("block", tok, cursor)
        if cursor.where == "value":
            return Symbol("value", tok, cursor)
        if cursor.where == "metric":
            return Symbol("metric", tok, cursor)
        return None

    def members(self, open_index: int, skip: int = -1) -> tuple[set[str], set[str]]:
        """The keys set and the blocks written directly in the block opened at ``open_index`` (all
        of it, not only the part before the cursor), leaving out the name starting at ``skip``."""
        keys: set[str] = set()
        blocks: set[str] = set()
        depth = 0
        for i in range(open_index + 1, len(self.sig)):
            tok = self.sig[i]
            if tok.kind == "punct" and tok.text in "{([":
                depth += 1
            elif tok.kind == "punct" and tok.text in "})]":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and tok.kind == "name" and tok.start != skip:
                role = self._role(i)
                if role == "key":
                    keys.add(tok.text)
                elif role == "block":
                    blocks.add(tok.text)
        return keys, blocks

    def _role(self, i: int) -> str:
        """What the name at token ``i`` starts: "key" (`name =`), "block" (`name {`, `name "x" {`) or ""."""
        after = self.sig[i + 1 : i + 3]
        if after and after[0].is_punct("="):
            return "key"
        if after and (
            after[0].is_punct("{") or (after[0].kind == "string" and len(after) > 1 and after[1].is_punct("{"))
        ):
            return "block"
        return ""

    def labels(self, kind: str) -> list[str]:
        """The names of the blocks of one kind: `data "tickets" {` -> tickets."""
        out = []
        for a, b, c in zip(self.sig, self.sig[1:], self.sig[2:], strict=False):  # windows of three
            if a.kind == "name" and a.text == kind and b.kind == "string" and b.closed and c.is_punct("{"):
                out.append(b.text[1:-1])
        return out

    # --- the frame stack ---------------------------------------------------------------------
    def frames(self, stop: int, at: int | None = None) -> list[Frame]:
        """The brackets open before the ``stop``-th significant token (and at offset ``at``)."""
        frames: list[Frame] = []
        for i, tok in enumerate(self.sig[:stop]):
            if i and self._abandoned(frames, self.sig[i - 1], tok.start, tok):
                _drop_calls(frames)
            if tok.kind != "punct":
                continue
            if tok.text == "{":
                frames.append(self._brace(i))
            elif tok.text == "(":
                before = self.sig[i - 1] if i else None
                frames.append(Frame("call", before.text if before and before.kind == "name" else "", i))
            elif tok.text == "[":
                frames.append(Frame("list", self._assigned(i), i))
            elif tok.text in _CLOSERS:
                _close(frames, _CLOSERS[tok.text])
        if stop and at is not None and self._abandoned(frames, self.sig[stop - 1], at, None):
            _drop_calls(frames)
        return frames

    def _abandoned(self, frames: list[Frame], prev: Token, where: int, tok: Token | None) -> bool:
        """Whether the innermost call or list was left unfinished on an earlier line: that line
        ended where no argument goes on (after a name or a value, not after `(`, `[`, `,` or
        `=`), and what follows does not close it. Someone typing `exact_match(fi` and moving on
        to the next line is not still inside the call."""
        if not frames or frames[-1].kind not in ("call", "list"):
            return False
        if prev.kind == "punct" and prev.text in "([,=":
            return False
        if tok is not None and tok.kind == "punct" and tok.text in ")]":
            return False
        return "\n" in self.text[prev.end : where]

    def _brace(self, i: int) -> Frame:
        prev = self.sig[i - 1] if i else None
        if prev is not None and prev.is_punct("="):
            return Frame("map", self._assigned(i), i)
        if prev is not None and prev.kind == "name" and not self._after_equals(i - 1):
            return Frame("block", prev.text, i)
        if (
            prev is not None
            and prev.kind == "string"
            and i >= 2
            and self.sig[i - 2].kind == "name"
            and not self._after_equals(i - 2)
        ):
            return Frame("block", self.sig[i - 2].text, i)
        return Frame("map", "", i)

    def _after_equals(self, i: int) -> bool:
        return i > 0 and self.sig[i - 1].is_punct("=")

    def _assigned(self, i: int) -> str:
        """The key a value starting at token ``i`` is assigned to (``key = {``), or ""."""
        if i >= 2 and self.sig[i - 1].is_punct("=") and self.sig[i - 2].kind == "name":
            return self.sig[i - 2].text
        return ""

    # --- what the position before token ``n`` is ----------------------------------------------
    def _classify(self, n: int, start: int) -> Cursor:
        frames = self.frames(n, start)
        block = next((f for f in reversed(frames) if f.kind == "block"), None)
        name, open_index = (block.name, block.index) if block else ("", -1)
        top = frames[-1] if frames else None
        prev = self.sig[(top.index + 1 if top else 0) : n]
        last = prev[-1] if prev else None
        if top is None:
            return Cursor("top", start=start) if _item_ends(prev) else Cursor("none")
        if last is not None and last.is_punct("="):
            key = prev[-2].text if len(prev) >= 2 and prev[-2].kind == "name" else ""
            call = top.name if top.kind == "call" else ""
            return Cursor("value", name, key, call, start) if top.kind in ("block", "call") else Cursor("none")
        if top.kind == "call" and (last is None or last.is_punct(",")):
            return Cursor("arg", name, call=top.name, start=start)
        if top.kind != "block":
            return Cursor("none")
        if last is not None and last.kind == "name" and last.text == "expect" and _item_ends(prev[:-1]):
            return Cursor("metric", name, start=start, block_open=open_index)
        if _item_ends(prev):
            return Cursor("key", name, start=start, block_open=open_index)
        return Cursor("none")

    def _string(self, i: int, tok: Token) -> Cursor:
        """The string token ``i``: which key or call argument it is the value of."""
        cursor = self._classify(i, tok.start + 1)
        if cursor.where == "value":
            return Cursor("string", cursor.block, cursor.key, cursor.call, tok.start + 1)
        if cursor.where == "arg":  # a positional argument: json_schema("schemas/ticket.json")
            return Cursor("string", cursor.block, "", cursor.call, tok.start + 1)
        return Cursor("none", cursor.block, start=tok.start + 1)


def _close(frames: list[Frame], kinds: tuple[str, ...]) -> None:
    """Close the innermost frame of one of ``kinds``, and every frame left open inside it; a closer
    with no opener of its kind is ignored, as the half-typed text it comes from deserves."""
    for j in range(len(frames) - 1, -1, -1):
        if frames[j].kind in kinds:
            del frames[j:]
            return


def _drop_calls(frames: list[Frame]) -> None:
    while frames and frames[-1].kind in ("call", "list"):
        frames.pop()


def _item_ends(prev: list[Token]) -> bool:
    """Whether the tokens before a position end an item, so that a new key or block may start."""
    if not prev:
        return True
    last = prev[-1]
    if last.kind in ("string", "number", "money"):
        return True
    if last.kind == "punct":
        return last.text in "}),]"
    if last.kind == "name":  # a bare value: `format = chat`, `beat baseline by` is not one
        return len(prev) >= 2 and (prev[-2].is_punct("=") or prev[-2].kind == "cmp")
    return False
