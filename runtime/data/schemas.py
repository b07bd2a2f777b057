"""One JSON Schema per data format, shipped with ftc (`ftc schema data FMT` prints one).

The schemas describe a row *after* the column map. Two rules JSON Schema cannot say simply are
checked in ``validate.py`` and stated in the descriptions: a chat row ends with the assistant's
turn, and a preference pair's chosen and rejected differ.
"""

from __future__ import annotations

import copy
from functools import cache

from ftc.shared.contract import FORMAT_FIELDS
from ftc.shared.shapes import ROLE_NAMES

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
    "kto": {
        "title": "ftc KTO row (unpaired preference)",
        "description": "prompt and completion: each a string or a list of messages; label: true for a "
        "desirable answer, false for an undesirable one (trained with KTO, never as SFT targets).",
        "type": "object",
        "required": ["prompt", "completion", "label"],
        "properties": {"prompt": _TEXT_OR_MESSAGES, "completion": _TEXT_OR_MESSAGES, "label": {"type": "boolean"}},
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

# The peers' shapes the loader also accepts (``ftc.shared.shapes`` converts them): name -> the
# format a recipe reads it with, and the JSON Schema of one row as it is in the file.
_SHAREGPT_TURN = {
    "type": "object",
    "required": ["from", "value"],
    "properties": {"from": {"enum": list(ROLE_NAMES)}, "value": _NONBLANK},
}
_SHAREGPT = {"type": "array", "minItems": 1, "items": _SHAREGPT_TURN}
_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
_PEER_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"enum": list(ROLE_NAMES)},
        # a string, or OpenAI's list of text parts (joined into one string)
        "content": {"anyOf": [_NONBLANK, {"type": "array", "minItems": 1, "items": _TEXT_PART}]},
    },
}
_PEER_MESSAGES = {"type": "array", "minItems": 1, "items": _PEER_MESSAGE}
_ANSWER = {"anyOf": [_NONBLANK, _PEER_MESSAGE, _PEER_MESSAGES]}
_SHAREGPT_ANSWER = {"anyOf": [_SHAREGPT_TURN, _SHAREGPT]}

SHAPES: dict[str, tuple[str, dict]] = {
    "sharegpt": (
        "chat",
        {
            "title": "ShareGPT conversation (format = chat)",
            "description": "conversations of {from, value}: from human/user, gpt/assistant/model or system (optional); "
            "the last turn the assistant's.",
            "type": "object",
            "required": ["conversations"],
            "properties": {"conversations": _SHAREGPT},
        },
    ),
    "conversational-prompt-completion": (
        "chat",
        {
            "title": "TRL conversational prompt/completion (format = chat)",
            "description": "prompt: the messages before the answer; completion: the assistant turn(s). Trained as one "
            "conversation, the loss on the final assistant turn.",
            "type": "object",
            "required": ["prompt", "completion"],
            "properties": {"prompt": _PEER_MESSAGES, "completion": _PEER_MESSAGES},
        },
    ),
    "preference-messages": (
        "preference",
        {
            "title": "Preference pair with message sides (TRL conversational, format = preference)",
            "description": "prompt a string or messages; chosen and rejected each a string, one message or a message list.",
            "type": "object",
            "required": ["prompt", "chosen", "rejected"],
            "properties": {"prompt": {"anyOf": [_NONBLANK, _PEER_MESSAGES]}, "chosen": _ANSWER, "rejected": _ANSWER},
        },
    ),
    "preference-implicit-prompt": (
        "preference",
        {
            "title": "TRL implicit-prompt preference pair (format = preference)",
            "description": "chosen and rejected are whole conversations; the opening turns they share are the prompt.",
            "type": "object",
            "required": ["chosen", "rejected"],
            "properties": {"chosen": _PEER_MESSAGES, "rejected": _PEER_MESSAGES},
        },
    ),
    "preference-sharegpt": (
        "preference",
        {
            "title": "LLaMA-Factory ShareGPT DPO pair (format = preference)",
            "description": "conversations (the prompt turns) of {from, value}; chosen and rejected one {from, value} turn.",
            "type": "object",
            "required": ["conversations", "chosen", "rejected"],
            "properties": {"conversations": _SHAREGPT, "chosen": _SHAREGPT_ANSWER, "rejected": _SHAREGPT_ANSWER},
        },
    ),
    "preference-axolotl": (
        "preference",
        {
            "title": "axolotl chat-template DPO pair (format = preference)",
            "description": "messages (the prompt turns); chosen and rejected one message each (or a list).",
            "type": "object",
            "required": ["messages", "chosen", "rejected"],
            "properties": {"messages": _PEER_MESSAGES, "chosen": _ANSWER, "rejected": _ANSWER},
        },
    ),
    "preference-transcripts": (
        "preference",
        {
            "title": "Anthropic hh-rlhf transcript pair (format = preference)",
            "description": "chosen and rejected are whole dialogues as text, each turn starting '\\n\\nHuman: ' or "
            "'\\n\\nAssistant: '; the turns they share are the prompt, the rest of each side is its answer.",
            "type": "object",
            "required": ["chosen", "rejected"],
            "properties": {
                "chosen": {"type": "string", "pattern": r"^\s*Human:"},
                "rejected": {"type": "string", "pattern": r"^\s*Human:"},
            },
        },
    ),
    "preference-alpaca": (
        "preference",
        {
            "title": "LLaMA-Factory alpaca DPO pair (format = preference)",
            "description": "instruction (+ optional input) is the prompt; chosen and rejected strings.",
            "type": "object",
            "required": ["instruction", "chosen", "rejected"],
            "properties": {
                "instruction": _NONBLANK,
                "input": {"type": "string"},
                "chosen": _NONBLANK,
                "rejected": _NONBLANK,
            },
        },
    ),
}


def schema_names() -> list[str]:
    """Every name ``ftc schema data`` takes: the formats, then the peers' shapes."""
    return [*_SCHEMAS, *SHAPES]


def format_schema(fmt: str) -> dict:
    """The JSON Schema of one format or accepted shape (a fresh copy the caller may change)."""
    if fmt in SHAPES:
        body = SHAPES[fmt][1]
    elif fmt in _SCHEMAS:
        body = _SCHEMAS[fmt]
    else:
        raise KeyError(fmt)
    doc = {"$schema": _DRAFT, "$id": f"https://ftc.dev/schemas/data/{fmt}.json"}
    doc.update(copy.deepcopy(body))
    return doc


@cache
def validator(fmt: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(format_schema(fmt))
