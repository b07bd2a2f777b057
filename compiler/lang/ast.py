"""The syntax tree of a ``.ftr`` recipe: frozen dataclasses that mirror the text.

Nothing here is checked yet: a ``Block`` may have any name and an ``Attribute`` any value. The
semantic checks (``compiler.lang.checks``) turn this tree into a ``compiler.lang.recipe.Recipe``. Spans never
take part in equality, so two trees that differ only in layout compare equal (the formatter's
round-trip property relies on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftc.compiler.lang.recipe import Span


def _span() -> Span:
    return field(default_factory=Span.unknown, compare=False, repr=False)


@dataclass(frozen=True)
class Str:
    value: str  # decoded (escapes resolved)
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    """A number with an optional unit suffix, as written: ``24GB``, ``20%``, ``2e-4``, ``7B``."""

    text: str  # the number part as written (kept for the formatter): "24", "2e-4", "1_000"
    unit: str  # "" when none
    value: float | int
    span: Span = _span()


@dataclass(frozen=True)
class Money:
    text: str  # as written without the "$": "20", "1.50"
    amount: float
    span: Span = _span()


@dataclass(frozen=True)
class Ident:
    """A bare word: ``cpu``, ``chat``, ``true``, ``json_valid``."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class Arg:
    name: str | None  # None for a positional argument
    value: Value
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """A call-like value: ``model("x")``, ``exact_match(field = "category")``. Nothing is called."""

    name: str
    args: tuple[Arg, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class List:
    items: tuple[Value, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Entry:
    key: str
    value: Value
    quoted: bool = False  # the key was written as a string: { "a b" = ... }
    span: Span = _span()
    key_span: Span = _span()


@dataclass(frozen=True)
class Map:
    entries: tuple[Entry, ...]
    span: Span = _span()


Value = Str | Number | Money | Ident | Call | List | Map


@dataclass(frozen=True)
class Attribute:
    key: str
    value: Value
    span: Span = _span()
    key_span: Span = _span()


@dataclass(frozen=True)
class Expect:
    """``expect METRIC OP THRESHOLD`` inside ``eval``."""

    metric: Ident | Call
    op: str
    threshold: Value
    span: Span = _span()


@dataclass(frozen=True)
class Beat:
    """``beat baseline by 10%``: ``target`` should be ``baseline`` and ``word`` should be ``by``."""

    target: Ident
    word: Ident
    amount: Value
    span: Span = _span()


@dataclass(frozen=True)
class Block:
    kind: str
    label: Str | None
    items: tuple[Item, ...]
    span: Span = _span()
    kind_span: Span = _span()


Item = Attribute | Block | Expect | Beat


@dataclass(frozen=True)
class Comment:
    text: str  # including the leading "#", trailing whitespace removed
    span: Span = _span()


@dataclass(frozen=True)
class RecipeFile:
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = ()
    file: str = field(default="<recipe>", compare=False)
