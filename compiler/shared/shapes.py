"""The peers' data shapes, turned into ftc's canonical fields: one place for the loader
(``ftc.runtime.data``), the planner's facts and ``ftc init``.

A file is read in the shape of its first row that has one (ShareGPT ``conversations`` of
``{from, value}``, OpenAI ``messages``, TRL's conversational prompt/completion, preference pairs
whose sides are strings, message lists or single message dicts, TRL's implicit-prompt pairs...);
every row is converted to the format's canonical fields, and a row of another shape in the same
file is a bad row, never a guess. KTO rows (a boolean ``label``) are read by ``format = kto`` and
trained with KTO; in any other format they are refused per row (training them as plain SFT would
teach the undesirable answers), as are tool calls (no chat template ftc renders has a tool
format it trains). No turn is ever dropped: OpenAI's lists of text content parts are joined and an
image/audio part is refused; a "system" column becomes the system message; an alpaca "history"
is refused under format = instruction. Preference pairs also come as Anthropic hh-rlhf
Human:/Assistant: transcripts (split at the turns they share) and as ultrafeedback_binarized's
sides that repeat the prompt (the repeat is cut, so the prompt is said once).

Torch-free and runtime-free: the compiler imports it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Role names of the peers' message lists -> ftc's roles.
ROLE_NAMES: dict[str, str] = {
    "system": "system",
    "user": "user", "human": "user",
    "prompter": "user",  # OpenAssistant (oasst1/oasst2)
    "assistant": "assistant", "gpt": "assistant", "model": "assistant",
    "chatgpt": "assistant", "bing": "assistant", "bard": "assistant",  # the raw ShareGPT scrape
}  # fmt: skip
# Roles and message keys of tool use: refused (see the module doc), named in the reason.
TOOL_ROLES: frozenset[str] = frozenset({"tool", "function", "observation", "function_call", "ipython"})
TOOL_KEYS: tuple[str, ...] = ("tool_calls", "function_call", "tool_call_id")
# A boolean column that marks a row desirable or not: KTO data.
LABEL_KEYS: tuple[str, ...] = ("label", "kto_tag")
CONTAINERS: tuple[str, ...] = ("messages", "conversations")
NESTED: tuple[str, ...] = ("role", "content")  # message keys a column map may rename
TRANSCRIPT = "transcript"  # the Shape.container of preference pairs written as Human:/Assistant: text
# A system prompt beside a preference prompt (Intel/orca_dpo_pairs' "system", LLaMA-Factory's
# "system"): it becomes the prompt's system message, never silently dropped.
SYSTEM_KEYS: tuple[str, ...] = ("system", "system_prompt")

KTO_REASON = (
    "a KTO row (a boolean '{key}' marks the answer desirable or not): training it as plain SFT would "
    "teach the undesirable answers too; read the file with format = kto (prompt, completion, {key}), "
    "which ftc trains with the KTO objective"
)
HISTORY_REASON = (
    "a 'history' of {n} earlier turn(s) (LLaMA-Factory's alpaca multi-turn rows): the instruction format has "
    "one turn, and dropping the earlier ones would change the conversation; write such rows as chat "
    "(messages) or leave them out"
)
PART_REASON = (
    "a '{kind}' content part (message {n}): ftc trains text-only models, so it cannot learn from an image, "
    "audio or file; remove the non-text parts from this row or leave such rows out"
)
TOOL_REASON = (
    "{what} (message {n}): ftc does not train tool calls (the chat template it trains with has no tool "
    "format, and dropping the turns would change the conversation); remove the tool turns from this row "
    "or leave such rows out"
)


@dataclass(frozen=True)
class Shape:
    """How one file writes its rows: a name a person recognises and where the messages are."""

    name: str
    container: str = "messages"  # the key holding the message list (chat, preference context)
    role_key: str = "role"
    content_key: str = "content"


Row = dict[str, object]


def kto_key(row: Mapping[str, object]) -> str | None:
    """The label column that makes a row KTO data, if any: a boolean, or the text true/false a
    CSV cell holds (a CSV file has no booleans, and its KTO rows must not pass as plain SFT)."""
    for key in LABEL_KEYS:
        value = row.get(key)
        if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in ("true", "false")):
            return key
    return None


def rename_columns(row: Mapping[str, object], fields: tuple[str, ...], columns: Mapping[str, str]) -> Row | str:
    """Apply a column map (canonical field -> column in the file); unmapped fields keep their
    own name, so a partial map never drops a default column (the LLaMA-Factory #5294 trap)."""
    out: Row = {k: v for k, v in row.items() if k not in {columns[f] for f in fields if f in columns}}
    for key in fields:
        col = columns.get(key, key)
        if col in row:
            out[key] = row[col]
        elif key in columns:
            return f"missing column '{col}' (mapped to {key})"
    return out


def _message_keys(messages: object, columns: Mapping[str, str]) -> tuple[str, str]:
    """role/content, from/value (ShareGPT), or what the column map names."""
    if "role" in columns or "content" in columns:
        return columns.get("role", "role"), columns.get("content", "content")
    first = messages[0] if isinstance(messages, list) and messages else messages
    if isinstance(first, dict) and "role" not in first and ("from" in first or "value" in first):
        return "from", "value"
    return "role", "content"


def detect(row: Mapping[str, object], fmt: str, columns: Mapping[str, str] | None = None) -> Shape | None:
    """The shape of one row (after the column map) for a format, or None if it has none ftc
    knows (the format's schema then names what is missing)."""
    columns = columns or {}
    if fmt in ("text", "documents"):
        return Shape(fmt)
    key = kto_key(row)
    if fmt == "kto":
        return Shape("prompt/completion/label", container=key or "label")
    if key is not None:
        return Shape("kto", container=key)
    if fmt == "chat":
        return _detect_chat(row, columns)
    if fmt == "preference":
        return _detect_preference(row, columns)
    if fmt == "completion" and isinstance(row.get("prompt"), list):
        return Shape("conversational prompt/completion", container="prompt")
    return Shape(fmt) if fmt in ("instruction", "completion") else None


def _detect_chat(row: Mapping[str, object], columns: Mapping[str, str]) -> Shape | None:
    container = next((c for c in CONTAINERS if c in row), None)
    if container is None:
        if isinstance(row.get("prompt"), list) and isinstance(row.get("completion"), list):
            role, content = _message_keys(row["prompt"], columns)
            return Shape("conversational prompt/completion", "prompt", role, content)
        return None
    role, content = _message_keys(row[container], columns)
    return Shape("sharegpt" if role == "from" else "openai messages", container, role, content)


def _detect_preference(row: Mapping[str, object], columns: Mapping[str, str]) -> Shape | None:
    if "chosen" not in row and "rejected" not in row:
        return None
    sample = row.get("chosen")
    if "prompt" in row:
        role, content = _message_keys(row.get("prompt") if isinstance(row.get("prompt"), list) else sample, columns)
        return Shape("prompt/chosen/rejected", "prompt", role, content)
    if "instruction" in row:  # LLaMA-Factory's alpaca DPO: instruction (+ input) is the prompt
        return Shape("alpaca pairs", "instruction")
    container = next((c for c in CONTAINERS if c in row), None)
    if container is not None:  # LLaMA-Factory (conversations) and axolotl (messages) DPO files
        role, content = _message_keys(row[container], columns)
        return Shape(f"{container} + chosen/rejected", container, role, content)
    if isinstance(sample, str) and isinstance(row.get("rejected"), str):  # Anthropic hh-rlhf's transcripts
        return Shape("Human/Assistant transcript pairs", TRANSCRIPT)
    role, content = _message_keys(sample, columns)
    return Shape("implicit-prompt pairs", "", role, content)


class Normaliser:
    """Converts the rows of one file to canonical fields. The shape is fixed by the first row
    that has one; a later row of another shape is a bad row (a mixed file is a mistake to fix,
    not something to guess through)."""

    def __init__(self, fmt: str, fields: tuple[str, ...], columns: Mapping[str, str] | None = None) -> None:
        self.fmt = fmt
        self.fields = fields
        self.columns = dict(columns or {})
        self.shape: Shape | None = None

    def __call__(self, row: Mapping[str, object]) -> Row | str:
        """Canonical fields (not yet schema-checked), or the reason the row is bad."""
        renamed = rename_columns(row, self.fields, self.columns)
        if isinstance(renamed, str):
            return renamed
        shape = detect(renamed, self.fmt, self.columns)
        if shape is None:
            return _canonical(renamed, self.fields)  # the schema names what is missing
        if shape.name == "kto":  # named as KTO whatever the file's shape: its label is the problem
            return convert(renamed, self.fmt, shape, self.fields)
        if self.shape is None:
            self.shape = shape
        elif shape.name != self.shape.name:
            return f"this row is {shape.name} data but the file's first row was {self.shape.name} (one shape per file)"
        return convert(renamed, self.fmt, shape, self.fields)


def _canonical(row: Row, fields: tuple[str, ...]) -> Row:
    return {k: row[k] for k in fields if k in row}


def convert(row: Row, fmt: str, shape: Shape, fields: tuple[str, ...]) -> Row | str:
    """One row of a known shape -> canonical fields, or the reason it cannot be used."""
    if shape.name == "kto":
        return KTO_REASON.format(key=shape.container)
    if fmt == "kto":
        return _convert_kto(row, shape)
    try:
        if fmt == "chat":
            return _convert_chat(row, shape)
        if fmt == "preference":
            return _convert_preference(row, shape)
    except Refused as refused:
        return str(refused)
    if fmt == "completion" and shape.container == "prompt":
        return "a conversational prompt/completion row (message lists): read it with format = chat"
    out = _canonical(row, fields)
    if fmt == "instruction" and out.get("input") is None:
        out["input"] = ""
    history = row.get("history")
    if fmt == "instruction" and isinstance(history, list) and history:
        return HISTORY_REASON.format(n=len(history))
    return out


def _convert_kto(row: Row, shape: Shape) -> Row | str:
    """prompt, completion (text or messages) and the label as a boolean: a CSV cell's text
    true/false is read as one; anything else stays as it is and the schema names it."""
    label = row.get(shape.container)
    if isinstance(label, str) and label.strip().lower() in ("true", "false"):
        label = label.strip().lower() == "true"
    out: Row = {}
    try:
        for key in ("prompt", "completion"):
            if key in row:
                out[key] = messages(row[key], Shape("messages"))
    except Refused as refused:
        return str(refused)
    if label is not None:
        out["label"] = label
    return out


class Refused(ValueError):
    """A row ftc cannot use as it is; the message is the row's reason."""


def messages(value: object, shape: Shape) -> object:
    """A message list with ftc's keys and role names, or the value untouched when it is not a list
    of messages (the schema then says what it should be). Raises Refused for tool use."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        return value
    out: list[object] = []
    for n, m in enumerate(items, 1):
        if not isinstance(m, dict):
            out.append(m)
            continue
        reason = _tool_use(m, shape, n)
        if reason:
            raise Refused(reason)
        out.append(_message(m, shape, n))
    return out


def _tool_use(m: Mapping[str, object], shape: Shape, n: int) -> str | None:
    role = m.get(shape.role_key)
    if isinstance(role, str) and role.lower() in TOOL_ROLES:
        return TOOL_REASON.format(what=f"a '{role}' turn", n=n)
    key = next((k for k in TOOL_KEYS if m.get(k)), None)
    return TOOL_REASON.format(what=f"a message with '{key}'", n=n) if key else None


def _message(m: Mapping[str, object], shape: Shape, n: int) -> Row:
    """ftc's keys; known role names mapped, unknown ones kept (the schema names them)."""
    rest = {k: v for k, v in m.items() if k not in (shape.role_key, shape.content_key)}
    role = m.get(shape.role_key)
    if isinstance(role, str):
        role = ROLE_NAMES.get(role.strip().lower(), role)
    out: Row = {**rest}
    if role is not None:
        out["role"] = role
    if m.get(shape.content_key) is not None:
        out["content"] = content_text(m[shape.content_key], n)
    return out


def _part_kind(part: object) -> str | None:
    """'text' for a text part ({"type": "text", "text": ...}, or a typeless {"text": ...}), the
    part's type for any other part, None when the item is no content part at all."""
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind is None and isinstance(part.get("text"), str):
        return "text"
    return kind if isinstance(kind, str) else None


def content_text(content: object, n: int) -> object:
    """A message's content as text. OpenAI's and the multimodal datasets' list of content parts
    ([{"type": "text", "text": ...}]) is joined into one string when every part is text (a
    Parquet row's parts carry the other kinds' keys as null, e.g. "image": null, so only the type
    counts); a non-text part (image, audio, file) is refused, since dropping it would change what
    the answer is about. Anything else stays as it is and the schema names it."""
    if not isinstance(content, list) or not content:
        return content
    kinds = [_part_kind(part) for part in content]
    if any(kind is None for kind in kinds):
        return content
    other = next((kind for kind in kinds if kind != "text"), None)
    if other is not None:
        raise Refused(PART_REASON.format(kind=other, n=n))
    texts = [part.get("text") if isinstance(part, dict) else None for part in content]
    strings = [text for text in texts if isinstance(text, str)]
    return "\n".join(strings) if len(strings) == len(texts) else content


def _convert_chat(row: Row, shape: Shape) -> Row | str:
    if shape.container == "prompt":  # TRL conversational prompt/completion: the whole conversation
        prompt, completion = messages(row.get("prompt"), shape), messages(row.get("completion"), shape)
        if not (isinstance(prompt, list) and isinstance(completion, list)):
            return "prompt and completion must both be lists of messages"
        return _unweighted_answer(_system_first(prompt + completion, row))
    converted = messages(row.get(shape.container), shape)
    if not isinstance(converted, list):
        return {"messages": converted}
    return _unweighted_answer(_system_first(converted, row))  # LLaMA-Factory's ShareGPT "system" column


def _unweighted_answer(turns: list[object]) -> Row | str:
    """axolotl and LLaMA-Factory mark turns not to train on with ``weight: 0``. ftc trains on the
    final assistant turn only (earlier turns are prompt), so a weight there must be used or refused:
    a final answer marked "do not train" is refused rather than trained."""
    answers = [(n, m) for n, m in enumerate(turns, 1) if isinstance(m, dict) and m.get("role") == "assistant"]
    if answers and answers[-1][1].get("weight") in (0, False):
        return (
            f"the final assistant turn has weight 0 (message {answers[-1][0]}), a turn not to train on, and ftc "
            "trains on the final answer only; drop the row or end it with a turn to learn"
        )
    return {"messages": turns}


def _convert_preference(row: Row, shape: Shape) -> Row | str:
    if shape.container == TRANSCRIPT:
        return _transcript_pair(row)
    sides: dict[str, object] = {}
    for key in ("chosen", "rejected"):
        if key in row:  # a missing side stays missing: the schema names it
            sides[key] = messages(row[key], shape)
    if shape.container == "":
        return _implicit_prompt(sides.get("chosen"), sides.get("rejected"))
    if shape.container == "instruction":
        instruction, extra = row.get("instruction"), row.get("input")
        prompt = (
            f"{instruction}\n\n{extra}"
            if isinstance(instruction, str) and isinstance(extra, str) and extra.strip()
            else instruction
        )
    else:
        prompt = messages(row.get(shape.container), shape)
    pair = _without_repeated_prompt({"prompt": prompt, **sides})
    return {**pair, "prompt": _with_system(pair["prompt"], row)}


def _with_system(prompt: object, row: Row) -> object:
    """The prompt with the row's system column as its first message (a prompt that already
    opens with a system message keeps its own); a blank or absent system leaves it as it is."""
    system = next((v for v in (row.get(k) for k in SYSTEM_KEYS) if isinstance(v, str) and v.strip()), None)
    if system is None:
        return prompt
    if isinstance(prompt, str):
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    if isinstance(prompt, list) and not (prompt and isinstance(prompt[0], dict) and prompt[0].get("role") == "system"):
        return [{"role": "system", "content": system}, *prompt]
    return prompt


def _system_first(turns: list[object], row: Row) -> list[object]:
    """``_with_system`` for a conversation (a list in, a list out)."""
    out = _with_system(turns, row)
    return out if isinstance(out, list) else turns


def _role(m: object) -> object:
    return m.get("role") if isinstance(m, dict) else None


def _turn(m: object) -> tuple[object, object]:
    """(role, content with its ends stripped): two turns that say the same thing compare equal."""
    if not isinstance(m, dict):
        return (None, m)
    content = m.get("content")
    return (m.get("role"), content.strip() if isinstance(content, str) else content)


def _repeats_prompt(prompt: object, opening: list[object]) -> bool:
    """Whether the turns both sides open with are the prompt again: the same messages, or (a text
    prompt) turns whose last user message is that text."""
    if isinstance(prompt, list):
        return [_turn(m) for m in prompt] == [_turn(m) for m in opening]
    users = [m for m in opening if isinstance(m, dict) and m.get("role") == "user"]
    return isinstance(prompt, str) and bool(users) and _turn(users[-1]) == ("user", prompt.strip())


def _without_repeated_prompt(pair: Row) -> Row:
    """HuggingFaceH4/ultrafeedback_binarized and its kin give a prompt and also write it at the
    start of chosen and rejected (each side a whole conversation). Read as it is, the prompt would
    be said twice in every pair; the shared opening turns become the prompt (they hold the same
    text, plus any system turn) and each side keeps only its answer."""
    prompt, chosen, rejected = pair.get("prompt"), pair.get("chosen"), pair.get("rejected")
    if not (isinstance(chosen, list) and isinstance(rejected, list)):
        return pair
    k = _shared_opening(chosen, rejected)
    if k == 0 or k == len(chosen) or k == len(rejected) or not _repeats_prompt(prompt, chosen[:k]):
        return pair
    return {**pair, "prompt": chosen[:k], "chosen": chosen[k:], "rejected": rejected[k:]}


def _shared_opening(chosen: list[object], rejected: list[object]) -> int:
    """How many opening turns the two sides share, up to the last one that is not an answer."""
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    while k > 0 and _role(chosen[k - 1]) == "assistant":
        k -= 1  # a shared earlier answer is context, but the prompt ends at a user turn
    return k


def _implicit_prompt(chosen: object, rejected: object) -> Row | str:
    """TRL's implicit prompt: both sides are whole conversations; the turns they share are the
    prompt, the rest of each is its answer."""
    if not (isinstance(chosen, list) and isinstance(rejected, list)):
        return "missing field 'prompt' (chosen and rejected are not conversations sharing a prompt)"
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    if k == 0:
        return "chosen and rejected share no opening turn: an implicit-prompt pair needs the same prompt turns on both sides"
    if k == len(chosen) or k == len(rejected):
        return "chosen and rejected are the same conversation up to the end of one of them: nothing to prefer"
    return {"prompt": chosen[:k], "chosen": chosen[k:], "rejected": rejected[k:]}


_SPEAKER = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
_SPEAKER_ROLES = {"Human": "user", "Assistant": "assistant"}


def transcript(text: str) -> list[Row] | None:
    """Anthropic's hh-rlhf text ("\\n\\nHuman: ...\\n\\nAssistant: ...") as messages, or None when
    the text is not such a transcript (something other than blank space before its first turn)."""
    turns = list(_SPEAKER.finditer(text))
    if not turns or text[: turns[0].start()].strip():
        return None
    ends = [m.start() for m in turns[1:]] + [len(text)]
    return [
        {"role": _SPEAKER_ROLES[m.group(1)], "content": text[m.end() : end].strip()}
        for m, end in zip(turns, ends, strict=True)
    ]


def _transcript_pair(row: Row) -> Row | str:
    """A pair of whole Human:/Assistant: transcripts: the turns they share are the prompt."""
    sides = [transcript(s) if isinstance(s, str) else None for s in (row.get("chosen"), row.get("rejected"))]
    if sides[0] is None or sides[1] is None:
        hint = column_hint(row, "preference", "prompt") or (
            '; map the column that holds it with --columns prompt=COLUMN (a recipe: columns = { prompt = "COLUMN" })'
        )
        return f"missing field 'prompt' (chosen and rejected are text, not Human:/Assistant: transcripts){hint}"
    return _implicit_prompt(sides[0], sides[1])


def normalise_sample(
    rows: list[object], fmt: str, fields: tuple[str, ...], columns: Mapping[str, str] | None = None
) -> list[object]:
    """The planner's sample in canonical fields (a row that cannot be converted stays as it was:
    the data step reports it; the sample only measures lengths)."""
    norm = Normaliser(fmt, fields, columns)
    out: list[object] = []
    for row in rows:
        fields_or_reason = norm(row) if isinstance(row, dict) else row
        out.append(row if isinstance(fields_or_reason, str) else fields_or_reason)
    return out


# --- guessing a file's format (``ftc init``) --------------------------------------------------
# Column names the peers use for a canonical field, most usual first: ``ftc init`` writes the
# column map it needed (e.g. { output = "response" }) into the recipe.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "chat": {"messages": ("messages", "conversations", "conversation", "dialog", "chat")},
    "instruction": {"instruction": ("instruction", "question", "query"), "output": ("output", "response", "answer")},
    "completion": {
        "prompt": ("prompt", "question", "input", "query"),
        "completion": ("completion", "response", "answer", "output", "target"),
    },
    "text": {"text": ("text", "content", "document")},
}
# Columns a format can do without, mapped when the file has one (dolly's "context" is the input:
# left unmapped, it would be silently dropped from every row).
OPTIONAL_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "instruction": {"input": ("input", "context")},
}
# The prompt column of preference pairs whose sides are text (Intel/orca_dpo_pairs: "question").
PROMPT_ALIASES: tuple[str, ...] = ("prompt", "question", "query", "input")
GUESS_ORDER: tuple[str, ...] = ("chat", "instruction", "completion", "text")
MESSAGE_TEXT_KEYS: tuple[str, ...] = ("text", "content", "value")


def message_row(row: Mapping[str, object]) -> bool:
    """Whether a row is one message of a conversation rather than a conversation: a role (user,
    assistant, OpenAssistant's prompter...) beside the text, as in oasst1's flat message trees.
    Read as text or instruction data, each message would train on its own, out of its dialogue."""
    if any(c in row for c in CONTAINERS):
        return False
    role = row.get("role", row.get("from"))
    return (
        isinstance(role, str)
        and role.strip().lower() in ROLE_NAMES
        and any(isinstance(row.get(k), str) for k in MESSAGE_TEXT_KEYS)
    )


def column_hint(row: Mapping[str, object], fmt: str, missing: str) -> str:
    """'; the file has a 'question' column: map it with ...' when a column the peers use for the
    missing canonical field is there (with the other fields the map also needs), else ''."""
    found = _alias_of(row, fmt, missing)
    if found is None:
        return ""
    pairs = {missing: found}
    for field in ALIASES.get(fmt, {}) | OPTIONAL_ALIASES.get(fmt, {}):
        other = _alias_of(row, fmt, field) if field not in row and field != missing else None
        if other is not None and other not in pairs.values():
            pairs[field] = other
    columns = ", ".join(f'{k} = "{v}"' for k, v in pairs.items())
    flags = " ".join(f"--columns {k}={v}" for k, v in pairs.items())
    them = "it" if len(pairs) == 1 else "them"
    named = " and ".join(f"'{v}'" for v in pairs.values())
    return f"; the file has {named}: map {them} with {flags} (a recipe: columns = {{ {columns} }})"


def _alias_of(row: Mapping[str, object], fmt: str, field: str) -> str | None:
    """The column of ``row`` the peers would use for ``field`` (never the field itself)."""
    names = PROMPT_ALIASES if (fmt, field) == ("preference", "prompt") else ()
    names = names or (ALIASES.get(fmt, {}) | OPTIONAL_ALIASES.get(fmt, {})).get(field, ())
    return next((n for n in names if n != field and n in row), None)


@dataclass(frozen=True)
class Guess:
    """What ``ftc init`` reads a file as: the format, the column map it needs, the shape's name."""

    format: str
    columns: dict[str, str]
    shape: str


def guess_format(row: Mapping[str, object]) -> Guess | None:
    """The format (and column map) a row reads as, or None. KTO rows guess as ``kto`` (refused by
    the caller, with the reason); preference pairs before chat, since axolotl and LLaMA-Factory
    pairs carry ``messages`` / ``conversations`` as their prompt."""
    if kto_key(row) is not None:
        return Guess("kto", {}, "kto")
    if "chosen" in row and "rejected" in row:
        return _named(row, "preference", _prompt_column(row))
    if message_row(row):
        return None  # one message, not a conversation: the caller says so
    if isinstance(row.get("prompt"), list) and isinstance(row.get("completion"), list):
        return _named(row, "chat", {})
    for fmt in GUESS_ORDER:
        columns = _alias_columns(row, fmt)
        if columns is not None:
            return _named(row, fmt, columns)
    return None


def _alias_columns(row: Mapping[str, object], fmt: str) -> dict[str, str] | None:
    columns: dict[str, str] = {}
    for field, names in ALIASES[fmt].items():
        found = next((n for n in names if n in row), None)
        if found is None:
            return None
        if found != field and not (fmt == "chat" and found == "conversations"):  # read natively
            columns[field] = found
    for field, names in OPTIONAL_ALIASES.get(fmt, {}).items():
        found = next((n for n in names if n in row and n not in columns.values()), None)
        if found is not None and found != field:
            columns[field] = found
    return columns


def _prompt_column(row: Mapping[str, object]) -> dict[str, str]:
    """The column map preference pairs need: {prompt = "question"} when their prompt sits under
    another name; none when it is "prompt" or comes from instruction / messages / conversations."""
    if any(k in row for k in ("prompt", "instruction", *CONTAINERS)):
        return {}
    found = next((n for n in PROMPT_ALIASES if n in row), None)
    return {"prompt": found} if found else {}


def _named(row: Mapping[str, object], fmt: str, columns: dict[str, str]) -> Guess:
    renamed: Row = {**row, **{field: row[col] for field, col in columns.items()}}
    shape = detect(renamed, fmt, {})
    return Guess(fmt, columns, shape.name if shape is not None else fmt)
