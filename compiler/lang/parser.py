"""Text -> syntax tree (``compiler.lang.ast``), or located syntax diagnostics (FTR0xx). Never raises.

One LALR parser (lark, basic lexer) whose reductions build the AST directly (an inline
transformer): no intermediate parse tree and no recursion, so deep input cannot overflow the
stack. Nesting is also bounded up front (``MAX_DEPTH``) so every later tree walk stays shallow.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ftc.compiler.lang import ast
from ftc.compiler.lang.diagnostics import Diagnostic, error
from ftc.compiler.lang.recipe import Span
from ftc.compiler.lang.thresholds import MAX_BYTES, MAX_DEPTH, MAX_TOKENS

if TYPE_CHECKING:  # lark is imported lazily (cold start); only its types are needed here
    from lark import Lark, Token

__all__ = ["parse", "decode", "normalize_newlines", "MAX_BYTES", "MAX_DEPTH", "MAX_TOKENS"]


class _Context(threading.local):
    """The state of the parse under way (one per thread; ``_lock`` also serialises parses)."""

    file: str
    diags: list[Diagnostic]
    comments: list[ast.Comment]
    tokens: int


_lock = threading.Lock()
_parser: Lark | None = None
_ctx = _Context()


# --- spans -----------------------------------------------------------------------------------
class _Spanned(Protocol):
    """An AST node: anything the reductions built, as opposed to a lark Token."""

    @property
    def span(self) -> Span: ...


def _tok_pos(tok: Token) -> tuple[int, int, int, int]:
    """line, column, end line, end column. lark types them Optional (a Token made by hand has
    none); every token its lexer produces has them all."""
    return cast(int, tok.line), cast(int, tok.column), cast(int, tok.end_line), cast(int, tok.end_column)


def _start(x: Token | _Spanned) -> tuple[int, int]:
    if hasattr(x, "span"):
        return x.span.line, x.span.col
    line, col, _, _ = _tok_pos(x)
    return line, col


def _end(x: Token | _Spanned) -> tuple[int, int]:
    if hasattr(x, "span"):
        return x.span.end_line, x.span.end_col
    _, _, end_line, end_col = _tok_pos(x)
    return end_line, end_col


def _span_of(first: Token | _Spanned, last: Token | _Spanned) -> Span:
    (l1, c1), (l2, c2) = _start(first), _end(last)
    return Span(_ctx.file, l1, c1, l2, c2)


def _tok_span(tok: Token) -> Span:
    return Span(_ctx.file, *_tok_pos(tok))


# --- literal decoding ------------------------------------------------------------------------
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "/": "/"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _decode_string(tok: Token) -> str:
    raw = str(tok)[1:-1]
    if "\\" not in raw:
        return raw

    def repl(m: re.Match[str]) -> str:
        esc: str = m.group(1)
        if esc in _ESCAPES:
            return _ESCAPES[esc]
        if len(esc) == 5 and esc[0] == "u":
            return chr(int(esc[1:], 16))
        line, column, _, _ = _tok_pos(tok)
        col = column + 1 + m.start()
        _ctx.diags.append(
            error(
                "FTR006",
                f"unknown escape `\\{esc}` in a string",
                Span(_ctx.file, line, col, line, col + 2),
                'strings take \\" \\\\ \\n \\t \\r and \\uXXXX; write \\\\ for a backslash',
            )
        )
        return esc

    return _ESCAPE_RE.sub(repl, raw)


_NUMBER_RE = re.compile(r"(-?[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(.*)", re.S)


def _decode_number(text: str) -> tuple[str, str, float | int]:
    m = _NUMBER_RE.fullmatch(text)
    assert m is not None  # the token regex guarantees a match
    number, unit = m.groups()
    plain = number.replace("_", "")
    try:
        value: float | int = float(plain) if any(c in plain for c in ".eE") else int(plain)
    except ValueError:  # more digits than Python converts: no recipe needs such a number
        value = float("inf")
    return number, unit, value


# --- the reductions --------------------------------------------------------------------------
# What lark hands each reduction: the Tokens and the AST nodes of earlier reductions, in the
# grammar's order. The grammar, not the type, says which is where, hence Any; each reduction
# names the type of what it takes out.
_Children = list[Any]


def _values(children: _Children) -> list[Any]:
    """Children that are AST nodes (punctuation tokens dropped)."""
    return [c for c in children if hasattr(c, "span")]


class _Builder:
    """Called by lark at each reduction with all tokens kept (``keep_all_tokens``) for spans."""

    def start(self, children: _Children) -> tuple[ast.Item, ...]:
        return tuple(c for c in children if hasattr(c, "span"))

    def string(self, children: _Children) -> ast.Str:
        tok: Token = children[0]
        return ast.Str(_decode_string(tok), _tok_span(tok))

    def number(self, children: _Children) -> ast.Number:
        tok: Token = children[0]
        text, unit, value = _decode_number(str(tok))
        return ast.Number(text, unit, value, _tok_span(tok))

    def money(self, children: _Children) -> ast.Money:
        tok: Token = children[0]
        text = str(tok)[1:]
        return ast.Money(text, float(text.replace("_", "")), _tok_span(tok))

    def ident(self, children: _Children) -> ast.Ident:
        tok: Token = children[0]
        return ast.Ident(str(tok), _tok_span(tok))

    def arg(self, children: _Children) -> ast.Arg:
        value: ast.Value = children[-1]
        name = str(children[0]) if len(children) == 3 else None
        return ast.Arg(name, value, _span_of(children[0], value))

    def call(self, children: _Children) -> ast.Call:
        name: Token = children[0]
        args = tuple(c for c in children if isinstance(c, ast.Arg))
        return ast.Call(str(name), args, _span_of(name, children[-1]), _tok_span(name))

    def list(self, children: _Children) -> ast.List:
        return ast.List(tuple(_values(children)), _span_of(children[0], children[-1]))

    def entry(self, children: _Children) -> ast.Entry:
        key: Token = children[0]
        value: ast.Value = children[-1]
        quoted = key.type == "STRING"
        text = _decode_string(key) if quoted else str(key)
        return ast.Entry(text, value, quoted, _span_of(key, value), _tok_span(key))

    def map(self, children: _Children) -> ast.Map:
        entries = tuple(c for c in children if isinstance(c, ast.Entry))
        return ast.Map(entries, _span_of(children[0], children[-1]))

    def attribute(self, children: _Children) -> ast.Attribute:
        key: Token = children[0]
        value: ast.Value = children[-1]
        return ast.Attribute(str(key), value, _span_of(key, value), _tok_span(key))

    def block(self, children: _Children) -> ast.Block:
        kind: Token = children[0]
        label = None
        if len(children) > 1 and getattr(children[1], "type", None) == "STRING":
            label = ast.Str(_decode_string(children[1]), _tok_span(children[1]))
        items = tuple(c for c in children[1:] if hasattr(c, "span") and c is not label)
        return ast.Block(str(kind), label, items, _span_of(kind, children[-1]), _tok_span(kind))

    def expect(self, children: _Children) -> ast.Expect:
        metric: ast.Ident | ast.Call
        threshold: ast.Value
        _kw, metric, op, threshold = children
        return ast.Expect(metric, str(op), threshold, _span_of(children[0], threshold))

    def beat(self, children: _Children) -> ast.Beat:
        kw: Token
        target: Token
        word: Token
        amount: ast.Value
        kw, target, word, amount = children
        return ast.Beat(
            ast.Ident(str(target), _tok_span(target)),
            ast.Ident(str(word), _tok_span(word)),
            amount,
            _span_of(kw, amount),
        )


def _get_parser() -> Lark:
    global _parser
    if _parser is None:
        from lark import Lark

        import ftc.grammar

        # Path(__file__) rather than importlib.resources: the same file, 10 ms less cold start.
        grammar = (Path(ftc.grammar.__file__).parent / "ftr.lark").read_text(encoding="utf-8")
        _parser = Lark(
            grammar,
            parser="lalr",
            lexer="basic",
            transformer=_Builder(),
            keep_all_tokens=True,
            maybe_placeholders=False,
            lexer_callbacks={"COMMENT": _on_comment, "NAME": _count, "STRING": _count, "NUMBER": _count},
            propagate_positions=False,
            cache=_cache_path(),
        )
    return _parser


def _cache_path() -> str | bool:
    """lark's grammar-analysis cache (about 2x faster start) in the user's cache folder; lark
    keys it by the grammar's hash, so an edited grammar is never served stale."""
    import os

    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ftc"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return str(folder / "lark-ftr.cache")


def _on_comment(tok: Token) -> None:
    _ctx.comments.append(ast.Comment(str(tok).rstrip(), _tok_span(tok)))


class _TooManyTokens(Exception):
    def __init__(self, tok: Token) -> None:
        super().__init__("too many tokens")
        self.tok = tok


def _count(tok: Token) -> Token:
    # Every attribute has a NAME, so counting names, strings and numbers bounds the parse's work.
    _ctx.tokens += 1
    if _ctx.tokens > MAX_TOKENS:
        raise _TooManyTokens(tok)
    return tok


# --- syntax errors ---------------------------------------------------------------------------
_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "MONEY": "an amount like $20",
    "CMP": "a comparison (>=, >, <=, <, ==)",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "EXPECT": "`expect`",
    "BEAT": "`beat`",
    "$END": "the end of the file",
}


def _describe(expected: set[str] | frozenset[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(t, t.lower()) for t in expected})
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _point(file: str, line: int, col: int, width: int = 1) -> Span:
    return Span(file, line, col, line, col + width)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


_LOOKS_JSON = re.compile(r'\A\s*(\{\s*"|\[)')
_LOOKS_YAML = re.compile(r"\A\s*(---|[A-Za-z_][\w-]*\s*:(\s|$))")


def _foreign_format(text: str, file: str) -> Diagnostic | None:
    """A JSON or YAML file handed to ftc by mistake gets one clear error instead of a token soup."""
    kind = "JSON" if _LOOKS_JSON.match(text) else "YAML" if _LOOKS_YAML.match(text) else None
    if kind is None:
        return None
    return error(
        "FTR009",
        f"this looks like a {kind} file, not an ftc recipe",
        _point(file, 1, 1),
        'a recipe starts with `recipe "name" {` and uses `key = value`; see recipes/quickstart.ftr',
    )


_BRACKETS = re.compile(r'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"|#[^\n]*|[\[\]{}()"]')
_PAIRS = {"}": "{", "]": "[", ")": "("}


def _check_nesting(text: str, file: str) -> Diagnostic | None:
    """Bracket matching and depth in one linear scan, before the parser builds anything."""
    stack: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(text):
        ch = m.group()
        if ch == '"':  # a quote that starts no complete string: the string runs off its line
            line, col = _position(text, m.start())
            return error(
                "FTR006",
                "unterminated string",
                _point(file, line, col),
                'close the string with `"` on the same line; write \\n for a line break',
            )
        if ch in "{[(":
            stack.append((ch, m.start()))
            if len(stack) > MAX_DEPTH:
                line, col = _position(text, m.start())
                return error(
                    "FTR008",
                    f"nesting deeper than {MAX_DEPTH} levels",
                    _point(file, line, col),
                    "a recipe nests a few blocks, maps and calls; this input is not a recipe",
                )
        elif ch in _PAIRS:
            if not stack or stack[-1][0] != _PAIRS[ch]:
                line, col = _position(text, m.start())
                what = (
                    f"`{ch}` does not match the `{stack[-1][0]}` opened at line {_position(text, stack[-1][1])[0]}"
                    if stack
                    else f"unmatched `{ch}`"
                )
                return error("FTR005", what, _point(file, line, col), "check the brackets above this line")
            stack.pop()
    if stack:
        ch, offset = stack[-1]
        line, col = _position(text, offset)
        closer = {"{": "}", "[": "]", "(": ")"}[ch]
        return error(
            "FTR005",
            f"`{ch}` is never closed",
            _point(file, line, col),
            f"add the matching `{closer}`",
        )
    return None


def _syntax_error(exc: Exception, text: str, file: str) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        line, col = exc.line, exc.column
        # lark declares pos_in_stream None on the base class; UnexpectedCharacters sets the offset.
        pos = cast(int, exc.pos_in_stream)
        ch = text[pos] if pos < len(text) else ""
        if ch == '"':
            return error(
                "FTR006",
                "unterminated string",
                _point(file, line, col),
                'close the string with `"` on the same line; write \\n for a line break',
            )
        hint = None
        if ch == ":":
            hint = "attributes are written `key = value`, not `key: value`"
        elif ch == "'":
            hint = "strings use double quotes"
        elif ch in "*+/^&|!":
            hint = "a recipe evaluates nothing: write the value itself (2e-4, not 1e-4 * 2)"
        elif ch == ".":
            hint = "write numbers with a leading digit (0.5); dotted names are not part of the language"
        shown = repr(ch) if ch and not ch.isprintable() else f"`{ch}`"
        return error("FTR003", f"unexpected character {shown}", _point(file, line, col), hint)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = _describe(exc.expected)
        if tok.type == "$END":
            line, col = _position(text, len(text.rstrip()))
            return error("FTR004", f"unexpected end of file; expected {expected}", _point(file, line, col))
        hint = None
        if tok.type == "EQUAL" or (tok.type in ("NUMBER", "STRING", "MONEY") and "EQUAL" not in exc.expected):
            hint = "a value holds one term: a string, number, name, list, map or call; nothing is evaluated"
        elif tok.type == "NAME" and "EQUAL" in exc.expected:
            hint = "an attribute is `key = value`"
        elif tok.type in ("EXPECT", "BEAT"):
            hint = "`expect` and `beat` are statements of the eval block"
        width = max(1, min(tok.end_column - tok.column, 200)) if tok.end_line == tok.line else 1
        shown = str(tok)[:40]
        return error(
            "FTR004", f"unexpected `{shown}`; expected {expected}", _point(file, tok.line, tok.column, width), hint
        )
    return error("FTR004", f"cannot parse: {type(exc).__name__}", _point(file, 1, 1))


# --- entry points ----------------------------------------------------------------------------
def normalize_newlines(text: str) -> str:
    """CRLF and lone CR (classic Mac) line ends as LF. Editors show a lone CR as a line break; left
    alone, the lexer would see one long line and a leading comment would swallow the whole recipe."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, file: str = "<recipe>") -> tuple[ast.RecipeFile | None, list[Diagnostic]]:
    """Parse recipe text. Returns the tree (None on a syntax error) and the diagnostics."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = normalize_newlines(text)
    if "\x00" in text:
        line, col = _position(text, text.index("\x00"))
        return None, [
            error("FTR002", "the file contains NUL bytes: it is binary, not a recipe", _point(file, line, col))
        ]
    found = _check_nesting(text, file)
    if found is not None:
        return None, [_foreign_format(text, file) or found]
    from lark.exceptions import LarkError

    with _lock:
        _ctx.file, _ctx.diags, _ctx.comments, _ctx.tokens = file, [], [], 0
        try:
            # With an inline transformer, parse returns what _Builder.start built, not lark's Tree.
            items = cast("tuple[ast.Item, ...]", _get_parser().parse(text))
        except _TooManyTokens as exc:
            line, col, _, _ = _tok_pos(exc.tok)
            where = _point(file, line, col)
            return None, [error("FTR010", f"more than {MAX_TOKENS:,} tokens; a recipe has a few hundred", where)]
        except LarkError as exc:
            return None, [_foreign_format(text, file) or _syntax_error(exc, text, file)]
        except RecursionError:  # defensive: MAX_DEPTH should make this impossible
            return None, [error("FTR008", "nesting too deep", _point(file, 1, 1))]
        diags, comments = list(_ctx.diags), tuple(_ctx.comments)
    if any(d.severity == "error" for d in diags):
        return None, diags
    return ast.RecipeFile(items, comments, file), diags


def decode(data: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    """Bytes -> text, or FTR002/FTR010 for what is not a UTF-8 text recipe."""
    if len(data) > MAX_BYTES:
        return None, [
            error(
                "FTR010",
                f"the file is larger than {MAX_BYTES // 1_000_000} MB; a recipe is a few KB",
                _point(file, 1, 1),
            )
        ]
    nul = data.find(b"\x00")
    if nul >= 0:
        prefix = data[:nul].decode("utf-8", "replace")
        line, col = _position(prefix, len(prefix))
        return None, [
            error("FTR002", "the file contains NUL bytes: it is binary, not a recipe", _point(file, line, col))
        ]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", "replace")
        line, col = _position(prefix, len(prefix))
        return None, [
            error(
                "FTR002",
                f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                _point(file, line, col),
                "save the recipe as UTF-8",
            )
        ]
