"""Data paths as the semantic checks see them: relative to the recipe's folder and inside its
project (unless the server runs with --allow-outside), for go-to-definition and completion."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ftc.compiler.lang.check_base import Context, find_project_root, resolve_path
from ftc.compiler.lang.recipe import Span
from ftc.compiler.lsp.scan import Symbol

MAX_ENTRIES = 500  # a completion list longer than this helps nobody, and a huge folder costs time

# The string values that name a file: a data source's path and json_schema's schema argument.
PATH_KEYS = {("data", "path"), ("documents", "path")}
PATH_CALLS = {"json_schema"}


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool


def names_a_file(block: str, key: str, call: str) -> bool:
    """Whether a string at this place in a recipe is a path the checks resolve."""
    if call:
        return call in PATH_CALLS and key in ("", "schema")
    return (block, key) in PATH_KEYS


def _context(recipe_path: str, allow_outside: bool) -> Context:
    folder = Path(os.path.dirname(os.path.abspath(recipe_path)))
    return Context(recipe_path, folder, find_project_root(folder), allow_outside)


def resolve(recipe_path: str, text: str, allow_outside: bool = False) -> str | None:
    """The file a path string names, checked as `ftc lint` checks it; None where lint would
    report it (empty, outside the project, missing)."""
    ctx = _context(recipe_path, allow_outside)
    return resolve_path(ctx, text, Span.unknown(recipe_path))


def target(symbol: Symbol, recipe_path: str, allow_outside: bool = False) -> str | None:
    """The file go-to-definition opens from a path string under the cursor; None for any other
    symbol, a path lint would report, or a folder (a documents source: no place to jump to)."""
    cursor = symbol.cursor
    if symbol.role != "string" or not symbol.token.closed or not names_a_file(cursor.block, cursor.key, cursor.call):
        return None
    found = resolve(recipe_path, string_value(symbol.token.text), allow_outside)
    return found if found is not None and os.path.isfile(found) else None


def string_value(literal: str) -> str:
    """A string token's value: the language's escapes (\\" \\\\ \\n \\t \\r \\/ \\uXXXX) are a subset of JSON's."""
    if "\\" not in literal:
        return literal[1:-1]
    try:
        value = json.loads(literal)
    except ValueError:  # an unknown escape: FTR006 says so, and the path names no file
        return ""
    return value if isinstance(value, str) else ""


def complete(recipe_path: str, typed: str, allow_outside: bool = False) -> list[Entry]:
    """The entries of the folder that the typed part of a path string points into (``data/ti``
    lists ``data/``), hidden ones only once a dot is typed; nothing outside the project."""
    ctx = _context(recipe_path, allow_outside)
    folder_part, _, partial = typed.rpartition("/")
    try:
        folder = Path(os.path.abspath(ctx.recipe_dir / os.path.expanduser(folder_part)))
        if not allow_outside and not _inside(folder, ctx.project_root):
            return []
        with os.scandir(folder) as found:
            entries = [
                Entry(e.name, e.is_dir())
                for e in _first(found)
                if partial.startswith(".") or not e.name.startswith(".")
            ]
    except (OSError, ValueError):  # no such folder (yet), not permitted, a NUL in the typed text
        return []
    return sorted(entries, key=lambda e: (not e.is_dir, e.name))


def _first(found: Iterator[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    return list(itertools.islice(found, MAX_ENTRIES))


def _inside(folder: Path, root: Path) -> bool:
    real, top = os.path.realpath(folder), os.path.realpath(root)
    return os.path.commonpath([real, top]) == top
