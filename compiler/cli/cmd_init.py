"""`ftc init DATA [-o RECIPE.ftr]`: a starting recipe from a data file (or folder).

It reads the first rows the way the loader does (``ftc.shared.shapes``: ShareGPT, OpenAI
messages, alpaca, TRL and LLaMA-Factory preference shapes...), writes the detected format and the
column map it needed, the embedded base, a holdout, and expects that fit the answers it saw: JSON
answers get ``json_valid`` and a generated JSON Schema, short labels ``exact_match``, free text
``rouge_l``. The goal is a TODO placeholder (FTR212): only a person knows what the tune is for,
and a recipe that cannot lint cannot be run by accident. It prints the lint of the new recipe and
the next command. Exit 0 when the recipe was written, 1 when the data cannot start a recipe
(unknown shape, KTO rows, no valid row), 2 for usage errors (an existing file without --force).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftc.shared.errors import FtcError

if TYPE_CHECKING:
    from ftc.shared.shapes import Guess

# Preference pairs always stay in train (they feed DPO), so the holdout the gate scores needs
# behaviour rows from another source: said in the recipe and on the terminal.
PREFERENCE_NOTE = (
    "# Preference pairs stay in training (they feed DPO): add a chat or instruction data block of\n"
    "# example answers, or eval { data = ... }, so the holdout has rows to score before `ftc run`.\n"
)
SAMPLE = 200  # rows read to detect the format and the kind of answers
PLACEHOLDER_GOAL = "TODO: describe the behaviour to teach (what the model gets and what it must answer)"
EMBEDDED_BASE = "smollm2-135m-instruct"
LABEL_WORDS = 4  # an answer of at most this many words...
LABEL_SHARE = 0.5  # ...drawn from at most this share of distinct values is a label


@dataclass(frozen=True)
class Inspected:
    """What the first rows of a data source say about the recipe to write."""

    format: str
    columns: dict[str, str]
    shape: str
    rows: int
    valid: int
    answers: list[str]
    first_bad: str | None


@click.command("init")
@click.argument("data", type=click.Path())
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="The recipe to write (default: DATA's name + .ftr).")
@click.option("--force", is_flag=True, help="Overwrite the recipe (and its JSON Schema) when they exist.")
def init(data: str, out: str | None, force: bool) -> None:
    """Write a starting recipe for DATA: its format, a holdout and expects that fit its answers."""
    path = Path(data)
    if not path.exists():
        raise FtcError(f"error: {data}: no such file or folder", 2)
    target = Path(out) if out else Path.cwd() / f"{_stem(path)}.ftr"
    if target.exists() and not force:
        raise FtcError(f"error: {target} exists; pass --force to overwrite it, or -o another file", 2)
    preference = False
    if path.is_dir() and not _is_datasets_folder(path):
        recipe, schema, summary = _documents_recipe(path, target), None, f"documents under {data}"
    else:
        seen = inspect(path)
        schema = _json_schema(seen.answers) if _kind(seen.answers) == "json" else None
        recipe, summary = _data_recipe(path, target, seen, schema is not None), _summary(data, seen)
        preference = seen.format == "preference"
    _write(target, recipe, schema, force)
    _report(target, summary, preference)


def _stem(path: Path) -> str:
    """A recipe or source name from a file name: its stem, in the characters names allow."""
    name = path.name.split(".")[0] if path.suffix else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "recipe"


def _is_datasets_folder(path: Path) -> bool:
    from ftc.runtime.data.readers import is_datasets_folder

    return is_datasets_folder(path)


# --- reading the data ------------------------------------------------------------------------
def _raw_rows(path: Path) -> Iterator[tuple[int, object, str | None]]:
    from ftc.runtime.data.readers import reader_for

    for raw in reader_for(str(path), "chat")(str(path)):
        yield raw.line, raw.row, raw.reason


def inspect(path: Path) -> Inspected:
    """Detect the format from the first row that has one, then validate the sample with the
    loader's own code and keep the answers of the valid rows."""
    sample, guess = detect(path)
    return _validated(path, sample, guess.format, guess.columns, guess.shape)


def detect(path: Path) -> tuple[list[tuple[int, object, str | None]], Guess]:
    """(the first rows, the format and column map the first row that has a shape says); a
    FtcError naming why when no row of the sample has one. `ftc data check` without --format
    reads a file the same way."""
    from ftc.shared.shapes import guess_format

    sample = [r for _, r in zip(range(SAMPLE), _raw_rows(path), strict=False)]
    guess = next((g for _, row, _ in sample if isinstance(row, dict) and (g := guess_format(row))), None)
    if guess is None:
        raise FtcError(_unknown_shape(path, sample), 1)
    return sample, guess


def _unknown_shape(path: Path, sample: list[tuple[int, object, str | None]]) -> str:
    """Why no row of the sample has a format ftc reads: an empty file, rows that are not JSON
    objects, one message per row (a message tree), or keys ftc does not know (named)."""
    from ftc.shared.shapes import message_row

    objects = [(line, row) for line, row, _ in sample if isinstance(row, dict)]
    if not sample:
        return f"error: {path}: the file is empty (no rows)"
    if not objects:
        from ftc.runtime.data.validate import validate_row

        line, row, reason = sample[0]
        return f"error: {path}:{line}: {reason or validate_row(row, 'text')}"
    line, row = next(((n, r) for n, r in objects if message_row(r)), (0, None))
    if row is not None:
        return (
            f"error: {path}:{line}: each row is one message (a '{'role' if 'role' in row else 'from'}' beside its "
            "text), not a conversation, as in OpenAssistant's flat message trees; ftc trains on one conversation "
            'per row: join each thread into a chat row ({"messages": [{"role": "user", ...}, '
            '{"role": "assistant", ...}]}) first'
        )
    keys = sorted(objects[0][1])
    return (
        f"error: {path}: cannot tell the data's format from its rows (keys: {', '.join(keys) or 'none'}); "
        "ftc reads chat (messages, ShareGPT conversations), instruction, completion, preference and text "
        "rows: `ftc schema data NAME` shows each"
    )


def _validated(
    path: Path, sample: list[tuple[int, object, str | None]], fmt: str, columns: dict[str, str], shape: str
) -> Inspected:
    from ftc.runtime.data.schemas import FIELDS
    from ftc.runtime.data.validate import validate_row
    from ftc.shared.shapes import Normaliser

    norm = Normaliser(fmt, FIELDS[fmt], columns)
    from_text = path.suffix.lower() in (".csv", ".tsv")
    answers: list[str] = []
    first_bad: str | None = None
    for line, row, reason in sample:
        result = reason or validate_row(row, fmt, columns, from_text, norm)
        if isinstance(result, str):
            first_bad = first_bad or f"{path}:{line}: {result}"
        else:
            answers.append(answer_of(result, fmt))
    if not answers:
        raise FtcError(
            f"error: {path}: no valid {fmt} row in the first {len(sample)} (the first: {first_bad}); "
            f"`ftc data check {path} --format {fmt}` lists every problem",
            1,
        )
    return Inspected(fmt, columns, shape, len(sample), len(answers), answers, first_bad)


def answer_of(fields: dict[str, Any], fmt: str) -> str:
    """The answer a canonical row teaches: what the expects will score."""
    if fmt == "text":
        return ""
    if fmt == "preference":
        chosen = fields["chosen"]
        return chosen if isinstance(chosen, str) else str(chosen[-1].get("content", ""))
    if fmt == "kto":  # only a desirable answer is one to score against; the others are left out
        if fields.get("label") is not True:
            return ""
        done = fields["completion"]
        return done if isinstance(done, str) else str(done[-1].get("content", ""))
    from ftc.runtime.prompting import to_example

    return to_example(fields, fmt, "").completion


# --- choosing the expects --------------------------------------------------------------------
def _kind(answers: list[str]) -> str:
    """json (every answer a JSON object), label (short answers from few distinct values), text."""
    answers = [a for a in answers if a.strip()]
    if not answers:
        return "none"
    if all(isinstance(_json_object(a), dict) for a in answers):
        return "json"
    short = all(len(a.split()) <= LABEL_WORDS for a in answers)
    return "label" if short and len(set(answers)) <= max(2, LABEL_SHARE * len(answers)) else "text"


def _json_object(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _json_schema(answers: list[str]) -> dict[str, Any]:
    """A JSON Schema the answers seen all meet: an object, the keys every answer has required,
    each key's observed types."""
    objects = [o for o in (_json_object(a) for a in answers) if isinstance(o, dict)]
    keys: dict[str, set[str]] = {}
    for obj in objects:
        for key, value in obj.items():
            keys.setdefault(key, set()).add(_TYPES.get(type(value), "string"))
    required = [k for k in keys if all(k in o for o in objects)]
    props = {k: {"type": sorted(t)[0] if len(t) == 1 else sorted(t)} for k, t in keys.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "the answers' shape (ftc init)",
        "type": "object",
        "required": required,
        "properties": props,
    }


def _label_fields(answers: list[str]) -> list[str]:
    """Keys of JSON answers whose values are short labels: each gets an exact_match."""
    objects = [o for o in (_json_object(a) for a in answers) if isinstance(o, dict)]
    fields = []
    for key in objects[0] if objects else {}:
        values = [o.get(key) for o in objects]
        if all(isinstance(v, str) and len(v.split()) <= LABEL_WORDS for v in values) and len(
            set(values)
        ) <= LABEL_SHARE * len(values):
            fields.append(key)
    return fields


def _expects(seen: Inspected, schema_file: str | None) -> list[str]:
    kind = _kind(seen.answers)
    if kind == "json":
        lines = ["expect json_valid >= 0.95", f'expect json_schema("{schema_file}") >= 0.90']
        return lines + [f'expect exact_match(field = "{f}") >= 0.80' for f in _label_fields(seen.answers)]
    if kind == "label":
        return ["expect exact_match >= 0.80"]
    if kind == "text":
        return ["expect rouge_l >= 0.40"]
    return ["expect perplexity <= 20"]


# --- writing the recipe ----------------------------------------------------------------------
def _rel(path: Path, target: Path) -> str:
    return Path(os.path.relpath(path.resolve(), target.resolve().parent)).as_posix()


def _schema_file(target: Path) -> Path:
    return target.with_name(target.name.removesuffix(".ftr") + ".schema.json")


def _data_recipe(path: Path, target: Path, seen: Inspected, has_schema: bool) -> str:
    schema_file = _rel(_schema_file(target), target) if has_schema else None
    columns = ", ".join(f'{k} = "{v}"' for k, v in seen.columns.items())
    lines = [
        f'data "{_stem(path)}" {{',
        f'  path   = "{_rel(path, target)}"',
        f"  format = {seen.format}",
        *([f"  columns = {{ {columns} }}"] if columns else []),
        "}",
    ]
    header = (
        f"# Written by `ftc init` from {path.name} ({seen.shape} rows read as format = {seen.format}).\n"
        "# The expects fit the answers in the data; they are a start: raise or change them.\n"
    ) + (PREFERENCE_NOTE if seen.format == "preference" else "")
    return _recipe(target, header, "behavior", lines, _expects(seen, schema_file))


def _documents_recipe(path: Path, target: Path) -> str:
    lines = [f'documents "{_stem(path)}" {{', f'  path = "{_rel(path, target)}"', "}"]
    header = f"# Written by `ftc init` from the documents under {path.name}: a retrieval recipe.\n"
    return _recipe(target, header, "knowledge", lines, ["expect rouge_l >= 0.40"])


def _recipe(target: Path, header: str, goal: str, source: list[str], expects: list[str]) -> str:
    from ftc.compiler.lang.formatter import format_text

    body = [
        f'recipe "{_stem(target)}" {{',
        f'  goal = {goal}("{PLACEHOLDER_GOAL}")',
        f'  base = model("{EMBEDDED_BASE}")',
        *("  " + line for line in source),
        "  eval {",
        "    holdout = 20%",
        "    seed    = 0",
        *("    " + e for e in expects),
        "    beat baseline by 10%",
        "  }",
        "}",
    ]
    text = header + "\n".join(body) + "\n"
    formatted, _diags = format_text(text, str(target))
    return formatted if formatted is not None else text


def _write(target: Path, recipe: str, schema: dict[str, Any] | None, force: bool) -> None:
    from ftc.shared.atomic import write_text

    try:
        if schema is not None:
            schema_path = _schema_file(target)
            if schema_path.exists() and not force:
                raise FtcError(f"error: {schema_path} exists; pass --force to overwrite it", 2)
            write_text(schema_path, json.dumps(schema, indent=2) + "\n")
        write_text(target, recipe)
    except OSError as exc:
        raise FtcError(f"error: cannot write {target}: {exc.strerror or exc}", 2) from None


def _summary(data: str, seen: Inspected) -> str:
    mapped = f", columns {seen.columns}" if seen.columns else ""
    bad = f"\n  first bad row: {seen.first_bad} (`ftc data check` lists them all)" if seen.first_bad else ""
    return (
        f"{data}: {seen.shape} rows, format = {seen.format}{mapped}; {seen.valid} of the first {seen.rows} "
        f"rows valid; answers look like {_kind(seen.answers)}{bad}"
    )


def _report(target: Path, summary: str, preference: bool) -> None:
    from ftc.compiler.lang.diagnostics import render
    from ftc.compiler.lang.frontend import load_recipe

    click.echo(summary)
    click.echo(f"wrote {target}")
    if preference:
        click.echo("note: " + " ".join(line.lstrip("# ") for line in PREFERENCE_NOTE.splitlines()))
    _recipe_obj, diags = load_recipe(target)
    if diags:
        click.echo("\n" + render(diags), nl=False)
    click.echo(f"\nnext: write the goal in {target} (FTR212 until you do), then run\n  ftc plan {target}")


COMMANDS = [init]
