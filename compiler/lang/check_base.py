"""What every semantic check shares: the context that collects diagnostics, one block's checked
values (``Checked``), and paths resolved against the recipe's folder and kept inside its project."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc.compiler.lang import ast
from ftc.compiler.lang.diagnostics import Diagnostic, error
from ftc.compiler.lang.keys import BlockSpec
from ftc.compiler.lang.recipe import Expect, Span


@dataclass
class Context:
    file: str
    recipe_dir: Path
    project_root: Path
    allow_outside: bool = False
    diags: list[Diagnostic] = field(default_factory=list)

    def err(self, code: str, message: str, span: Span, hint: str | None = None, fix: str | None = None) -> None:
        """Report an error; ``fix`` is the replacement for ``span`` when the hint is a did-you-mean."""
        self.diags.append(error(code, message, span, hint, fix))


@dataclass
class Checked:
    """One block's converted attributes and statements; ``None`` values failed their check."""

    spec: BlockSpec
    node: ast.Block
    values: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, ast.Attribute] = field(default_factory=dict)
    expects: list[Expect] = field(default_factory=list)
    beats: list[tuple[float, ast.Beat]] = field(default_factory=list)
    children: list[Checked] = field(default_factory=list)

    def get(self, key: str) -> Any:
        """The key's checked value, or the key table's default when the recipe leaves it out."""
        return self.values[key] if key in self.values else self.spec.default(key)


def find_project_root(recipe_dir: Path) -> Path:
    """The nearest folder at or above the recipe that holds pyproject.toml or .git."""
    for folder in (recipe_dir, *recipe_dir.parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder
    return recipe_dir


def resolve_path(ctx: Context, text: str, span: Span, must_exist: bool = True) -> str | None:
    if not text.strip():
        ctx.err("FTR105", "a path may not be empty", span)
        return None
    if "\x00" in text:
        ctx.err("FTR105", "a path may not contain a NUL character", span)
        return None
    try:
        os.fsencode(text)
    except UnicodeError:  # a lone surrogate from a \uD800 escape names no file on any system
        ctx.err("FTR105", "the path contains a character no file name can hold", span)
        return None
    path = Path(os.path.abspath(ctx.recipe_dir / os.path.expanduser(text)))
    if not ctx.allow_outside:
        real, root = os.path.realpath(path), os.path.realpath(ctx.project_root)
        if os.path.commonpath([real, root]) != root:
            ctx.err(
                "FTR109",
                f"`{text}` leaves the recipe's project ({ctx.project_root})",
                span,
                "keep data inside the project, or run ftc with --allow-outside",
            )
            return None
    if must_exist and not _exists(path):
        ctx.err(
            "FTR108", f"`{text}` does not exist (looked for {path})", span, "paths are relative to the recipe's folder"
        )
        return None
    return str(path)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, say: it cannot exist
        return False
