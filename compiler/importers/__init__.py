"""`ftc import`: a config of another fine-tuning tool -> a recipe and the table of every key.

    read_config(path) -> dict                     (FtcError, exit 2, located, for bad YAML)
    detect(doc) -> tool name | None
    import_config(path, tool=None, out=None, cwd=None) -> Imported

One module per source tool holds its key table (``SPEC``); ``core`` walks the file through it and
``build`` writes the recipe text. Torch-free, like the rest of the compiler.
"""

from __future__ import annotations

import os
import re
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
    return parse_config(read_text(path), path)


def read_text(path: str) -> str:
    """The config's text (bounded, UTF-8); FtcError (exit 2) when it cannot be read."""
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
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FtcError(f"error: {path}: not UTF-8 text (byte {exc.start})", 2) from None


def parse_config(text: str, path: str) -> dict[str, Any]:
    """The YAML mapping in ``text`` (read from ``path``); a located FtcError (exit 2) otherwise."""
    import yaml

    try:
        doc = yaml.safe_load(text)
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
    text = read_text(path)
    doc = parse_config(text, path)
    tool = choose_tool(path, doc, tool, text)
    here = os.path.abspath(cwd or os.getcwd())
    recipe_dir = os.path.dirname(os.path.abspath(out)) if out else here
    result = translate(doc, tool, path, here, recipe_dir, text)
    result.diagnostics = _lint(result.recipe, out, recipe_dir)
    # `ftc plan` reads hub datasets offline from the local cache: say which to fetch (translate()
    # stays a pure function of the file, so docs/import.md does not depend on this machine's cache)
    result.fetch = fetch_commands(result.sources, in_cache)
    return result


# Files that sit beside training configs but set up something else (a launcher, inference, an
# export, evaluation). Named, with the key that tells and its line, so the user knows which file to
# import instead: (the keys that tell, keys that would make it a training config, what it is).
OTHER_CONFIGS: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...] = (
    (("compute_environment", "distributed_type"), ("datasets", "dataset"),
     "an accelerate launcher config (GPUs, FSDP): import the training config it launches, "
     "and set `gpus` in the recipe's constraints"),
    (("infer_backend",), ("stage", "dataset", "do_train"),
     "a LLaMA-Factory inference config (`llamafactory-cli chat`): it trains nothing"),
    (("export_dir",), ("stage", "dataset", "do_train"),
     "a LLaMA-Factory export config (`llamafactory-cli export` merges or quantises a model): it trains nothing; "
     "import the config that trained the adapter"),
    (("adapter_name_or_path",), ("stage", "dataset", "do_train", "finetuning_type"),
     "a LLaMA-Factory inference config (an adapter to load, no stage or dataset): it trains nothing"),
    (("train_dataset",), ("stage", "dataset", "datasets", "data"),
     "a LLaMA-Factory v1 config (`model`, `train_dataset`, `peft_config`): ftc import reads the "
     "`llamafactory-cli train` configs (model_name_or_path, stage, dataset); write those keys or the recipe by hand"),
    (("resources", "run", "setup"), ("model", "training", "data"),
     "an oumi launcher job config (`oumi launch`): import the training config its `run` command names"),
    (("volumes", "secrets", "gpu", "project_name"), ("base_model", "datasets"),
     "an axolotl cloud launcher config (`axolotl train CONFIG --cloud FILE`): import the training config"),
)  # fmt: skip


def other_config(doc: dict[str, Any]) -> tuple[str, str] | None:
    """(the key that tells, what the file is) for a config that is not a training config."""
    for tells, unless, what in OTHER_CONFIGS:
        key = next((k for k in tells if k in doc), None)
        if key is not None and not any(k in doc for k in unless):
            return key, what
    return None


def key_line(text: str, key: str) -> int:
    """The line of top-level ``key`` in the config (1 when it cannot be told)."""
    m = re.search(rf"^{re.escape(key)}[ \t]*:", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def refuse_other(path: str, text: str, key: str, what: str) -> FtcError:
    return FtcError(f"error: {path}:{key_line(text, key)}: `{key}`: {what}; ftc import translates training configs", 2)


def choose_tool(path: str, doc: dict[str, Any], tool: str | None, text: str = "") -> str:
    """--from when it fits the file, else the detected tool; FtcError (exit 2) when neither is sure,
    or when the file is not a training config (a launcher, inference or evaluation config)."""
    found = detect(doc)
    other = other_config(doc) if found is None else None
    if other is not None:
        raise refuse_other(path, text, *other)
    chosen = _pick(path, doc, tool, found)
    other = TOOLS[chosen].other(doc)
    if other is not None:
        raise refuse_other(path, text, *other)
    return chosen


def _pick(path: str, doc: dict[str, Any], tool: str | None, found: str | None) -> str:
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


def translate(doc: dict[str, Any], tool: str, path: str, cwd: str, recipe_dir: str, text: str = "") -> Imported:
    """The recipe and the key table for a parsed config (not linted: that needs the files). ``text``:
    the file as written; some facts live only in its comments (torchtune's `tune download` line)."""
    draft = core.Draft(TOOLS[tool].label, recipe_name(path), cwd, recipe_dir, text=text)
    core.run(TOOLS[tool], doc, draft)
    build.finish(draft)
    text = build.recipe_text(draft, Path(path).name)
    return Imported(tool, path, text, draft.rows, draft.notes, draft.sources)


def _lint(text: str, out: str | None, recipe_dir: str) -> list[Diagnostic]:
    from ftc.compiler.lang.frontend import check_text

    file = out or "<stdout>"
    recipe_path = os.path.abspath(out) if out else os.path.join(recipe_dir, "imported.ftr")
    return check_text(text, file, recipe_dir=recipe_dir, recipe_path=recipe_path)[1]
