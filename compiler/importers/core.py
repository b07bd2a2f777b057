"""The shared core of `ftc import`: key-table entries, the recipe under construction, the walk.

Each source tool (axolotl, LLaMA-Factory, torchtune, oumi) is a module with a data-driven key
table: source key -> an entry that says what happens to it. Four kinds of entry:

- ``Carry``: the value goes to a recipe key (``train.lr``); when it cannot (null, out of the
  language's range, or the language has no such key yet) its ``otherwise`` entry applies, with why.
- ``Decide``: ftc's planner decides this instead; the entry names the rule and what it will choose.
- ``Drop``: nothing in ftc corresponds; the entry says why.
- ``Handle``: the tool module's code reads the key (data sources, the tuning method), because its
  meaning depends on other keys.

Every key of the source file becomes a ``Row`` of the key table, nested keys by dotted path
(``datasets[0].path``): nothing is dropped silently. Keys a table does not list are dropped as
"not a key ftc knows from <tool>".
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ftc.compiler.lang import keys as language_keys
from ftc.compiler.lang.formatter import quote
from ftc.shared.templates import CHAT_TEMPLATES

Status = Literal["carried", "decided", "dropped"]


class Refuse(Exception):
    """A converter cannot carry this value; the message says why (shown in the key table)."""


@dataclass(frozen=True)
class Decide:
    rule: str  # the decision rule id (`ftc explain RULE`) or the recipe key that decides it
    what: str  # what the plan will choose instead

    def doc(self) -> str:
        return f"decided by ftc ({self.rule}): {self.what}"


@dataclass(frozen=True)
class Drop:
    reason: str

    def doc(self) -> str:
        return f"dropped: {self.reason}"


Fallback = Decide | Drop


def same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Carry:
    target: str  # block.key in the language, e.g. "train.lr"
    otherwise: Fallback  # what happens when the value cannot be carried
    convert: Callable[[Any], Any] = same  # source value -> recipe value; raises Refuse
    note: str = ""  # how the value is translated, when not one to one

    def doc(self) -> str:
        how = f" ({self.note})" if self.note else ""
        return f"carried to `{self.target}`{how}; otherwise {self.otherwise.doc()}"


@dataclass(frozen=True)
class Handle:
    fn: Callable[[Draft, str, Any, dict[str, Any]], list[Row]]  # (draft, path, value, whole doc) -> rows
    what: str  # for docs/import.md

    def doc(self) -> str:
        return self.what


Entry = Carry | Decide | Drop | Handle


@dataclass(frozen=True)
class Spec:
    """One source tool: its name, how to recognise its files, its key table."""

    name: str  # the --from value
    label: str  # how people write it
    keys: dict[str, Entry]  # dotted paths; `[]` stands for any list index
    subtrees: frozenset[str]  # paths whose whole value goes to one entry (not walked further)
    detect: Callable[[dict[str, Any]], int]  # a score: how many of the tool's distinctive keys the file has
    prepare: Callable[[Draft, dict[str, Any]], None]  # reads the whole file before the walk (method, stage)
    entry_keys: dict[str, Entry | str] = field(default_factory=dict)  # keys inside one dataset entry (a str: its doc)
    formats: dict[str, str] = field(default_factory=dict)  # the tool's row shapes -> ftc's format (for the docs)
    # (the key that tells, what the file is) when a config of the tool trains nothing (generation, eval)
    other: Callable[[dict[str, Any]], tuple[str, str] | None] = lambda doc: None


# --- the key table's rows --------------------------------------------------------------------
@dataclass
class Row:
    key: str
    value: str  # as shown (secrets masked, long values shortened)
    status: Status
    target: str  # the recipe key, or the rule id, or "-"
    note: str
    attention: bool = False  # the user must act (a placeholder path, an edited goal...)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "status": self.status,
            "target": self.target,
            "note": self.note,
            "attention": self.attention,
        }


SECRET_WORDS = {"token", "secret", "password", "passwd", "apikey", "credential", "credentials"}


def secret(key: str) -> bool:
    """`hf_hub_token`, `api_key`, `wandb_api_key`: names whose value is a credential."""
    name = key.rsplit(".", 1)[-1].lower()
    words = set(re.split(r"[_\-]", name))
    return bool(words & SECRET_WORDS) or "api_key" in name


def show(key: str, value: Any) -> str:
    """A value for the table: secrets masked (the table lands in CI logs), long values cut."""
    if secret(key) and value not in (None, "", False):
        return "***"
    if isinstance(value, dict):
        return f"{{{len(value)} keys}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return f"[{len(value)} items]"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    except (ValueError, TypeError, RecursionError):  # a YAML alias can make a list contain itself
        text = repr(value)
    return text if len(text) <= 48 else text[:45] + "..."


# --- the recipe under construction -----------------------------------------------------------
@dataclass
class Source:
    name: str
    path: str  # relative to the recipe's folder
    format: str
    columns: dict[str, str] = field(default_factory=dict)
    comment: str = ""  # written above the block: where it came from, what to do
    hub: str | None = None  # owner/name when the path is "hf://owner/name"
    config: str | None = None  # hub only: the dataset's configuration (subset)
    split: str | None = None  # hub only: the split, with its slice
    max_rows: int | None = None  # a per-source cap the source tool set
    weight: float | None = None  # the source's share of the training mixture


@dataclass
class Draft:
    tool: str
    name: str
    cwd: str  # the folder the source tool ran in: its relative paths start here
    recipe_dir: str  # where the recipe is written: its paths are relative to this
    text: str = ""  # the config as written: some facts live only in its comments
    base: str | None = None
    teacher: str | None = None
    sources: list[Source] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # "train.lr" -> the literal as written
    set_by: dict[str, str] = field(default_factory=dict)  # "train.lr" -> the source key that set it
    comments: dict[str, list[str]] = field(default_factory=dict)  # block -> comment lines
    notes: list[str] = field(default_factory=list)  # what the user must do after the import
    context: dict[str, Any] = field(default_factory=dict)  # facts prepare() found (stage, method)
    rows: list[Row] = field(default_factory=list)

    # -- values --
    def set(self, target: str, literal: str, key: str) -> str | None:
        """Set a recipe key; the reason it was not set when another key already set it."""
        if target in self.values:
            return f"`{target}` is already set from `{self.set_by[target]}`"
        self.values[target] = literal
        self.set_by[target] = key
        return None

    def comment(self, block: str, text: str) -> None:
        if text not in self.comments.setdefault(block, []):
            self.comments[block].append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- paths --
    def local_path(self, text: str) -> str:
        """A path the source tool would read (relative to where it ran), relative to the recipe."""
        absolute = os.path.abspath(os.path.join(self.cwd, os.path.expanduser(text)))
        return os.path.relpath(absolute, self.recipe_dir).replace(os.sep, "/")

    def add_source(
        self, stem: str, path: str, fmt: str, columns: dict[str, str] | None = None, comment: str = ""
    ) -> Source:
        name = unique_name(slug(stem) or "data", {s.name for s in self.sources})
        src = Source(name, path, fmt, dict(columns or {}), comment)
        self.sources.append(src)
        return src

    def hub_source(self, repo: str, fmt: str, columns: dict[str, str] | None, comment: str = "") -> Source:
        """A data block that reads Hugging Face dataset ``repo`` (owner/name) as ``hf://owner/name``."""
        src = self.add_source(repo.rsplit("/", 1)[-1], f"hf://{repo}", fmt, columns, comment)
        src.hub = repo
        return src

    def placeholder(self, dataset: str, fmt: str, columns: dict[str, str] | None, why: str) -> Source:
        """A data block for data ftc cannot read where it is (a hub id, a name): a path to fill."""
        stem = slug(dataset.rsplit("/", 1)[-1]) or "data"
        taken = {s.path for s in self.sources}
        path = next(p for i in range(1, 1000) if (p := f"data/{stem}{'' if i == 1 else f'-{i}'}.jsonl") not in taken)
        src = self.add_source(stem, path, fmt, columns, f"PLACEHOLDER: {why}, as {fmt} rows at this path")
        self.note(f"data `{src.name}`: {why}, as {fmt} rows at {path} (beside the recipe)")
        return src


def mapping(value: Any) -> dict[str, Any]:
    """A section of the config when it is a mapping; an empty one otherwise (its row says why)."""
    return value if isinstance(value, dict) else {}


def slug(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return out[:64]


def unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    return next(f"{name[:60]}-{i}" for i in range(2, 10_000) if f"{name[:60]}-{i}" not in taken)


# --- values: source value -> recipe literal, checked against the language's key table --------
def key_spec(target: str) -> language_keys.Key | None:
    block, _, name = target.partition(".")
    spec = language_keys.BLOCKS.get(block)
    return spec.key(name) if spec else None


def number(value: Any) -> float:
    """YAML reads `2e-4` (no dot) as a string: accept numeric strings, refuse anything else."""
    if isinstance(value, bool):
        raise Refuse(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise Refuse(f"{show('', value)} is not a number")


def literal(target: str, value: Any) -> str:
    """The recipe text for ``value`` under ``target``; Refuse when the language would reject it."""
    key = key_spec(target)
    if key is None:
        raise Refuse(f"the language has no `{target}` yet")
    kind = key.kind
    if kind in ("int", "float", "float_or_auto"):
        x = number(value)
        if kind == "int" and not x.is_integer():
            raise Refuse(f"`{target}` takes a whole number, not {value}")
        _in_range(key, target, x)
        return str(int(x)) if kind == "int" else _float(x)  # float_or_auto: an imported lr is a number
    if kind == "bool":
        if not isinstance(value, bool):
            raise Refuse(f"{show('', value)} is not true or false")
        return "true" if value else "false"
    if kind == "choice":
        if value not in key.choices:
            raise Refuse(f"`{value}` is not one of {', '.join(key.choices)}")
        return str(value)
    if kind == "fraction":
        x = number(value)
        if not 0 < x < 1:
            raise Refuse(f"{value} is not a fraction between 0 and 1")
        return f"{round(x * 100, 6):g}%"
    if kind == "string" or kind == "source":
        return quote(str(value))
    if kind == "model":
        return f"model({quote(str(value))})"
    if kind == "warmup":  # a share below 1, or a whole number of steps
        x = number(value)
        if x < 0 or (x >= 1 and not x.is_integer()):
            raise Refuse(f"{value} is neither a share below 1 nor a whole number of steps")
        return _float(x) if x < 1 else str(int(x))
    if kind == "cadence":  # the tools' step counts, or a share of an epoch ("25%": four an epoch)
        if isinstance(value, str) and value.endswith("%") and 0 < number(value[:-1]) <= 100:
            return f"{number(value[:-1]):g}%"
        x = number(value)
        if not x.is_integer() or x < 1:
            raise Refuse(f"{value} is not a whole number of steps")
        return str(int(x))
    if kind == "modules":
        if value == "all-linear":
            return quote("all-linear")
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
            return "[" + ", ".join(quote(v) for v in value) + "]"
        raise Refuse(f"{show('', value)} is not a list of module names")
    if kind == "template":
        if value in CHAT_TEMPLATES:
            return str(value)
        raise Refuse(f"`{value}` is not a standard template ftc knows ({', '.join(CHAT_TEMPLATES)})")
    raise Refuse(f"`{target}` ({kind}) is not written by ftc import")


def _in_range(key: language_keys.Key, target: str, x: float) -> None:
    if math.isnan(x) or (key.lo is not None and x < key.lo) or (key.hi is not None and x > key.hi):
        raise Refuse(f"{x:g} is outside the range ftc accepts for `{target}` ({key.lo:g}..{key.hi:g})")


def _float(x: float) -> str:
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


# --- walking the source file -----------------------------------------------------------------
def pattern(path: str) -> str:
    """`datasets[3].path` -> `datasets[].path`: the form key tables use."""
    return re.sub(r"\[\d+\]", "[]", path)


MAX_DEPTH = 12  # configs nest three or four levels; a YAML alias can nest without end


def walk(doc: Any, subtrees: frozenset[str], prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf; a subtree path yields its whole value once."""
    if (prefix and pattern(prefix) in subtrees) or depth > MAX_DEPTH:
        yield prefix, doc
        return
    if isinstance(doc, dict) and doc:
        for key, value in doc.items():
            yield from walk(value, subtrees, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(doc, list) and doc and all(isinstance(v, dict) for v in doc):
        for i, value in enumerate(doc):
            yield from walk(value, subtrees, f"{prefix}[{i}]", depth + 1)
    else:
        yield prefix, doc


def row(
    path: str, value: Any, entry: Entry | Fallback, why: str = "", target: str | None = None, attention: bool = False
) -> Row:
    """A row for a Decide or Drop outcome (``why`` says why a Carry fell back to it)."""
    prefix = f"{why}; " if why else ""
    if isinstance(entry, Decide):
        return Row(path, show(path, value), "decided", entry.rule, prefix + entry.what, attention)
    if isinstance(entry, Drop):
        return Row(path, show(path, value), "dropped", target or "-", prefix + entry.reason, attention)
    raise TypeError(f"row() takes a Decide or a Drop, not {type(entry).__name__}")


def carried(path: str, value: Any, target: str, note: str = "", attention: bool = False) -> Row:
    return Row(path, show(path, value), "carried", target, note, attention)


def apply(draft: Draft, spec: Spec, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    entry = spec.keys.get(pattern(path))
    if entry is None:
        return [Row(path, show(path, value), "dropped", "-", f"not a key ftc knows from {spec.label}")]
    if isinstance(entry, Handle):
        return entry.fn(draft, path, value, doc)
    if isinstance(entry, Carry):
        return [carry(draft, path, value, entry)]
    return [row(path, value, entry, "null in the source" if value is None else "")]


def carry(draft: Draft, path: str, value: Any, entry: Carry) -> Row:
    if value is None:
        return row(path, value, entry.otherwise, "null in the source")
    try:
        text = literal(entry.target, entry.convert(value))
    except Refuse as why:
        return row(path, value, entry.otherwise, str(why))
    taken = draft.set(entry.target, text, path)
    if taken:
        return row(path, value, Drop(taken))
    return carried(path, value, f"{entry.target} = {text}", entry.note)


def run(spec: Spec, doc: dict[str, Any], draft: Draft) -> Draft:
    spec.prepare(draft, doc)
    for path, value in walk(doc, spec.subtrees):
        draft.rows.extend(apply(draft, spec, path, value, doc))
    return draft
