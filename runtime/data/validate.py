"""Turn one raw row into canonical fields, or a reason a person understands.

The column map and the file's shape (``ftc.shared.shapes``: ShareGPT, preference pairs of
message lists, ...) are applied first (canonical field -> column in the file; unmapped fields keep
their own name, so a partial map never drops a default column). jsonschema then checks the row;
its errors are translated ("role 'robot' is not one of system, user, assistant (message 2)"),
never printed raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ftc.shared.files import NOT_JSON, RowParser
from ftc.shared.shapes import NESTED, Normaliser, column_hint

from .records import DataError
from .schemas import FIELDS, ROLES, validator

_GUESS = (
    ({"messages"}, "chat"),
    ({"conversations"}, "chat"),
    ({"prompt", "chosen", "rejected"}, "preference"),
    ({"chosen", "rejected"}, "preference"),
    ({"instruction", "output"}, "instruction"),
    ({"prompt", "completion", "label"}, "kto"),
    ({"prompt", "completion"}, "completion"),
    ({"text"}, "text"),
)


def check_columns(fmt: str, columns: Mapping[str, str] | None) -> None:
    """A column map may only name canonical fields (and role/content for message lists)."""
    allowed = set(FIELDS[fmt]) | (set(NESTED) if fmt in ("chat", "preference") else set())
    for key in columns or {}:
        if key not in allowed:
            raise DataError(
                f"error: columns: '{key}' is not a field of the {fmt} format (fields: {', '.join(sorted(allowed))})", 2
            )


class CellProblem(ValueError):
    """A CSV cell's JSON that parses but must not be used (NaN, a duplicate key, too deep)."""


_CELLS = RowParser()


def _maybe_json(value: object) -> object:
    """CSV cells hold message lists as JSON text; text that is not JSON stays text (the schema then
    says what is wrong), but JSON with a row problem is that problem."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        parsed, reason = _CELLS.parse(value)
        if reason is None:
            return parsed
        if not reason.startswith(NOT_JSON):
            raise CellProblem(reason)
    return value


def _guess_format(row: dict) -> str | None:
    keys = set(row)
    for needed, fmt in _GUESS:
        if needed <= keys:
            return fmt
    return None


def _parse_cells(row: dict, fmt: str) -> dict:
    """CSV cells hold message lists (and message dicts) as JSON text: parse those that are."""
    if fmt not in ("chat", "preference"):
        return row
    return {k: _maybe_json(v) for k, v in row.items()}


def map_columns(
    row: dict, fmt: str, columns: Mapping[str, str] | None, from_text: bool, normaliser: Normaliser | None = None
) -> dict | str:
    """The column map, then the file's shape (ShareGPT, preference message dicts...) to canonical
    fields: ``ftc.shared.shapes``, the one place the planner and ``ftc init`` share."""
    if from_text:
        row = _parse_cells(row, fmt)
    norm = normaliser or Normaliser(fmt, FIELDS[fmt], columns)
    return norm(row)


def _name(path: list) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "row"


def _where(path: list) -> str:
    """'(message 2)' for messages[1].role; '(chosen, message 1)' for preference lists."""
    bits = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            owner = path[i - 1] if i else ""
            bits.append(
                f"message {part + 1}" if owner in ("messages", "chosen", "rejected", "prompt") else f"item {part + 1}"
            )
        elif part not in ("messages",) and i < len(path) - 1:
            bits.append(str(part))
    return f" ({', '.join(bits)})" if bits else ""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def humanize(err, row: dict, fmt: str) -> str:
    path = list(err.absolute_path)
    name, where, kind, value = _name(path), _where(path), err.validator, err.instance
    if kind == "required":
        missing = next((k for k in err.validator_value if k not in (value or {})), "?")
        if not path:
            guess = _guess_format(row)
            hint = f"; this row looks like {guess} data (format = {guess}?)" if guess and guess != fmt else ""
            return f"missing field '{missing}'{hint or column_hint(row, fmt, missing)}"
        return f"missing '{missing}'{_where(path + ['_'])}"
    if kind == "enum":
        allowed = ", ".join(str(v) for v in err.validator_value)
        return f"{name} {_short(value)} is not one of {allowed}{where}"
    if kind == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        article = "an" if want[0] in "aeiou" else "a"
        if path and isinstance(path[-1], int):  # an element of a list: name it by position
            return f"{_where(path).strip(' ()')} must be {article} {want}, not {_type_name(value)}"
        label = "row" if not path else name
        return f"{label} must be {article} {want}, not {_type_name(value)}{where}"
    if kind in ("minLength", "pattern"):
        return f"{name} is empty{where}"
    if kind == "minItems":
        return f"{name} is empty{where}"
    if kind in ("anyOf", "oneOf"):
        return f"{name} must be a non-empty string or a list of messages{where}"
    return f"{name}: {err.message[:120]}{where}"


def _extra_checks(fields: dict, fmt: str) -> str | None:
    if fmt == "chat":
        messages = fields["messages"]
        last = messages[-1]["role"]
        if last != "assistant":
            return f"the last message is from the {last}, not the assistant (message {len(messages)})"
        if not any(m["role"] == "user" for m in messages):
            return "no user message"
    if fmt == "preference" and fields["chosen"] == fields["rejected"]:
        return "chosen and rejected are the same"
    return None


_NONBLANK = re.compile(r"\S")  # the schemas' pattern, so both paths agree


def _text(v: object) -> bool:
    return type(v) is str and _NONBLANK.search(v) is not None


def _messages(v: object) -> bool:
    return (
        type(v) is list
        and len(v) > 0
        and all(
            type(m) is dict and m.get("role") in ROLES and type(m.get("role")) is str and _text(m.get("content"))
            for m in v
        )
    )


def _fast_valid(fields: dict, fmt: str) -> bool:
    """A plain-Python check that says True only for rows the schema accepts: jsonschema costs
    ~0.2 ms a row, too slow for 100k rows, so it runs only on rows this cannot vouch for (and
    then it is jsonschema that names the problem)."""
    if fmt == "chat":
        return _messages(fields.get("messages"))
    if fmt == "instruction":
        return _text(fields.get("instruction")) and _text(fields.get("output")) and type(fields.get("input", "")) is str
    if fmt == "completion":
        return _text(fields.get("prompt")) and _text(fields.get("completion"))
    if fmt == "preference":
        return all(_text(fields.get(k)) or _messages(fields.get(k)) for k in ("prompt", "chosen", "rejected"))
    if fmt == "kto":
        return type(fields.get("label")) is bool and all(
            _text(fields.get(k)) or _messages(fields.get(k)) for k in ("prompt", "completion")
        )
    if fmt == "text":
        return _text(fields.get("text"))
    return _text(fields.get("text")) and type(fields.get("path")) is str and len(fields["path"]) > 0


def is_valid(fields: dict, fmt: str) -> bool:
    return _fast_valid(fields, fmt) or validator(fmt).is_valid(fields)


def validate_row(
    row: object,
    fmt: str,
    columns: Mapping[str, str] | None = None,
    from_text: bool = False,
    normaliser: Normaliser | None = None,
) -> dict | str:
    """Canonical fields for a good row, else the reason (a string) it is bad. Pass one
    ``Normaliser`` per file so every row is held to the shape of the file's first row."""
    if not isinstance(row, dict):
        return f"row must be a JSON object, not {_type_name(row)}"
    try:
        fields = map_columns(row, fmt, columns, from_text, normaliser)
    except CellProblem as problem:
        return str(problem)
    if isinstance(fields, str):
        return fields
    v = validator(fmt)
    if not is_valid(fields, fmt):
        errors = sorted(
            v.iter_errors(fields), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path)))
        )
        deepest = max(errors, key=lambda e: len(list(e.absolute_path)))
        return humanize(deepest if deepest.validator != "anyOf" else errors[0], row, fmt)
    return _extra_checks(fields, fmt) or fields


__all__ = ["validate_row", "check_columns", "map_columns", "ROLES"]
