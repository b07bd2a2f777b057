"""One JSON Schema per data format, shipped with ftc (`ftc schema data FMT` prints one).

The schemas describe a row *after* the column map. Two rules JSON Schema cannot say simply are
checked in ``validate.py`` and stated in the descriptions: a chat row ends with the assistant's
turn, and a preference pair's chosen and rejected differ.
"""

from __future__ import annotations

import copy
from functools import cache

from ftc.shared.contract import FORMAT_FIELDS

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_NONBLANK = {"type": "string", "minLength": 1, "pattern": r"\S"}
ROLES = ("system", "user", "assistant")

_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {"role": {"enum": list(ROLES)}, "content": _NONBLANK},
}
_MESSAGES = {"type": "array", "minItems": 1, "items": _MESSAGE}
_TEXT_OR_MESSAGES = {"anyOf": [_NONBLANK, _MESSAGES]}

_SCHEMAS: dict[str, dict] = {
    "chat": {
        "title": "ftc chat row",
        "description": "OpenAI-style messages: roles system/user/assistant, non-empty content, "
        "the last turn the assistant's.",
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": _MESSAGES},
    },
    "instruction": {
        "title": "ftc instruction row (alpaca)",
        "description": "instruction and output required; input optional (may be empty).",
        "type": "object",
        "required": ["instruction", "output"],
        "properties": {"instruction": _NONBLANK, "input": {"type": "string"}, "output": _NONBLANK},
    },
    "completion": {
        "title": "ftc completion row",
        "type": "object",
        "required": ["prompt", "completion"],
        "properties": {"prompt": _NONBLANK, "completion": _NONBLANK},
    },
    "preference": {
        "title": "ftc preference pair",
        "description": "prompt, chosen and rejected: each a string or a list of messages; "
        "chosen and rejected must differ.",
        "type": "object",
        "required": ["prompt", "chosen", "rejected"],
        "properties": {"prompt": _TEXT_OR_MESSAGES, "chosen": _TEXT_OR_MESSAGES, "rejected": _TEXT_OR_MESSAGES},
    },
    "text": {
        "title": "ftc text row",
        "type": "object",
        "required": ["text"],
        "properties": {"text": _NONBLANK},
    },
    "documents": {
        "title": "ftc document",
        "description": "One Markdown or text file: its text and its path under the source folder.",
        "type": "object",
        "required": ["text", "path"],
        "properties": {"text": _NONBLANK, "path": {"type": "string", "minLength": 1}},
    },
}

# Canonical fields per format, in order: the column map renames file columns to these.
FIELDS = FORMAT_FIELDS


def format_schema(fmt: str) -> dict:
    """The JSON Schema of one format (a fresh copy the caller may change)."""
    if fmt not in _SCHEMAS:
        raise KeyError(fmt)
    doc = {"$schema": _DRAFT, "$id": f"https://ftc.dev/schemas/data/{fmt}.json"}
    doc.update(copy.deepcopy(_SCHEMAS[fmt]))
    return doc


@cache
def validator(fmt: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(format_schema(fmt))
