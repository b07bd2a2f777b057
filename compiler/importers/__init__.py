"""`ftc import`: a config of another fine-tuning tool -> a recipe and the table of every key.

    read_config(path) -> dict                     (FtcError, exit 2, located, for bad YAML)
    detect(doc) -> tool name | None
    import_config(path, tool=None, out=None, cwd=None) -> Imported

One module per source tool holds its key table (``SPEC``); ``core`` walks the file through it and
``build`` writes the recipe text. Torch-free, like the rest of the compiler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc.compiler.importers import axolotl, build, core, llama_factory, oumi, torchtune
from ftc.compiler.importers.common import fetch_commands, in_cache
from ftc.compiler.lang.diagnostics import Diagnostic
from ftc.shared.errors import FtcError

TOOLS: dict[str, core.Spec] = {s.name: s for s in (axolotl.SPEC, llama_factory.SPEC, torchtune.SPEC, oumi.SPEC)}
MAX_BYTES = 2_000_000  # a training config is a few KB; a bigger file is not one


@dataclass
class Imported:
    tool: str
    source: str  # the config file as given
    recipe: str  # the formatted recipe text
    rows: list[core.Row]
    notes: list[str]
    sources: list[core.Source]
    diagnostics: list[Diagnostic] = field(default_factory=list)  # what lint says about the written recipe
    fetch: list[str] = field(default_factory=list)  # commands that cache the hub datasets ftc will read

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    def as_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "source": self.source,
            "recipe": self.recipe,
            "keys": [r.as_json() for r in self.rows],
            "counts": build.counts(self.rows),
            "notes": self.notes,
            "sources": [
                {
                    "name": s.name,
                    "path": s.path,
                    "format": s.format,
                    "columns": s.columns,
                    "hub": s.hub,
                    "config": s.config,
                    "split": s.split,
                    "max_rows": s.max_rows,
                    "weight": s.weight,
                }
                for s in self.sources
            ],
            "fetch": self.fetch,
            "diagnostics": [
                {
                    "code": d.code,
                    "severity": d.severity,
                    "message": d.message,
                    "line": d.span.line,
                    "col": d.span.col,
                    "hint": d.hint,
                }
                for d in self.diagnostics
            ],
        }


def read_config(path: str) -> dict[str, Any]:
    """The YAML mapping in ``path``; a located FtcError (exit 2) for anything else."""
    import yaml

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FtcError(f"error: {path}: no such file", 2) from None
    except IsADirectoryError:
        raise FtcError(f"error: {path}: a folder, not a config file", 2) from None
    except OSError as exc:
        raise FtcError(f"error: {path}: cannot read it: {exc.strerror or exc}", 2) from None
    if len(data) > MAX_BYTES:
        raise FtcError(f"error: {path}: over {MAX_BYTES // 1_000_000} MB; a training config is a few KB", 2)
    try:
        doc = yaml.safe_load(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FtcError(f"error: {path}: not UTF-8 text (byte {exc.start})", 2) from None
    except yaml.YAMLError as exc:
        raise FtcError(_yaml_error(path, exc), 2) from None
    except RecursionError:
        raise FtcError(f"error: {path}: nested too deeply to be a training config", 2) from None
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else f"a {type(doc).__name__}"
        raise FtcError(f"error: {path}:1:1: the file is {kind}, not a mapping of keys (a training config)", 2)
    return {str(k): v for k, v in doc.items()}


def _yaml_error(path: str, exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
    return f"error: {where}: not valid YAML: {problem}"


def detect(doc: dict[str, Any]) -> str | None:
    """The tool whose distinctive keys the file has most of; None when no tool is recognisable."""
    scores = sorted(((spec.detect(doc), name) for name, spec in TOOLS.items()), reverse=True)
    best, name = scores[0]
    if best < 2 or best == scores[1][0]:
        return None
    return name


def recipe_name(path: str) -> str:
    stem = Path(path).name.split(".", 1)[0]
    return core.slug(stem) or "imported"


def import_config(path: str, tool: str | None = None, out: str | None = None, cwd: str | None = None) -> Imported:
    """Translate one config file. ``out``: where the recipe will be written (paths are made relative
    to its folder); ``cwd``: where the source tool ran (its relative paths start there)."""
    doc = read_config(path)
    tool = choose_tool(path, doc, tool)
    here = os.path.abspath(cwd or os.getcwd())
    recipe_dir = os.path.dirname(os.path.abspath(out)) if out else here
    result = translate(doc, tool, path, here, recipe_dir)
    result.diagnostics = _lint(result.recipe, out, recipe_dir)
    # `ftc plan` reads hub datasets offline from the local cache: say which to fetch (translate()
    # stays a pure function of the file, so docs/import.md does not depend on this machine's cache)
    result.fetch = fetch_commands(result.sources, in_cache)
    return result


def choose_tool(path: str, doc: dict[str, Any], tool: str | None) -> str:
    """--from when it fits the file, else the detected tool; FtcError (exit 2) when neither is sure."""
    found = detect(doc)
    if tool is None:
        if found is None:
            raise FtcError(f"error: {path}: cannot tell which tool wrote it; name it with --from {'|'.join(TOOLS)}", 2)
        return found
    if tool not in TOOLS:
        raise FtcError(f"error: --from takes one of {', '.join(TOOLS)}, not '{tool}'", 2)
    if found is not None and found != tool:
        raise FtcError(
            f"error: {path} looks like a config of {TOOLS[found].label}, not of {TOOLS[tool].label}; "
            f"use --from {found} (or leave --from out)",
            2,
        )
    if TOOLS[tool].detect(doc) == 0:
        raise FtcError(f"error: {path} has none of the keys a {TOOLS[tool].label} config has", 2)
    return tool


def translate(doc: dict[str, Any], tool: str, path: str, cwd: str, recipe_dir: str) -> Imported:
    """The recipe and the key table for a parsed config (not linted: that needs the files)."""
    draft = core.Draft(TOOLS[tool].label, recipe_name(path), cwd, recipe_dir)
    core.run(TOOLS[tool], doc, draft)
    build.finish(draft)
    text = build.recipe_text(draft, Path(path).name)
    return Imported(tool, path, text, draft.rows, draft.notes, draft.sources)


def _lint(text: str, out: str | None, recipe_dir: str) -> list[Diagnostic]:
    from ftc.compiler.lang.frontend import check_text

    file = out or "<stdout>"
    recipe_path = os.path.abspath(out) if out else os.path.join(recipe_dir, "imported.ftr")
    return check_text(text, file, recipe_dir=recipe_dir, recipe_path=recipe_path)[1]
