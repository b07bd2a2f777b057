"""`ftc data check PATH [--format FMT] [--against EVAL] [--json] [--columns k=v ...]`; PATH may be a
cached Hugging Face dataset, `hf://owner/name` (with --config, --split, --max-rows). Without
--format a file's format (and the column map its shape needs) is read from its first rows as
`ftc init` reads it, and said.

The data pipeline (load, validate, clean, dedup, contamination) on one file, no recipe needed.
Exit 0 clean, 1 bad rows or leaks, 2 usage errors. The runtime's data package is imported inside
the command; nothing on this path imports torch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ftc.shared.contract import DATA_FORMATS
from ftc.shared.errors import FtcError

if TYPE_CHECKING:  # the runtime and rich load only when the command runs
    from rich.console import Console

    from ftc.runtime.data.pipeline import CheckResult

SHOWN = 5  # problems listed in the text view; --json lists them all


def _columns(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise FtcError(f"error: --columns takes FIELD=COLUMN (e.g. messages=conversation), got '{pair}'", 2)
        out[key.strip()] = value.strip()
    return out


@click.group()
def data() -> None:
    """Check datasets before they go into a recipe."""


@data.command()
@click.argument("path", type=click.Path())
@click.option(
    "--format",
    "fmt",
    default=None,
    type=click.Choice(DATA_FORMATS),
    help="The data format (default: read from the first rows, as `ftc init` does; required for hf://).",
)
@click.option("--against", type=click.Path(), help="An eval file: report its rows that share a 13-gram with PATH.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for CI and other tools).")
@click.option("--columns", multiple=True, metavar="FIELD=COLUMN", help="Rename a column to a canonical field.")
@click.option("--glob", default=None, help="Documents only: which files under the folder.")
@click.option("--config", "hub_config", default=None, help="hf://owner/name only: the dataset's config.")
@click.option("--split", default="train", show_default=True, help="hf://owner/name only: the split, e.g. train[:20%].")
@click.option("--max-rows", type=click.IntRange(min=1), default=None, help="hf://owner/name only: read at most N rows.")
@click.pass_context
def check(
    ctx: click.Context,
    path: str,
    fmt: str | None,
    against: str | None,
    as_json: bool,
    columns: tuple[str, ...],
    glob: str | None,
    hub_config: str | None,
    split: str,
    max_rows: int | None,
) -> None:
    """Validate, clean and deduplicate one data file (or a cached hub dataset, hf://owner/name);
    with --against, find leaks into an eval file."""
    from ftc.runtime.data.hub import HubSource, is_hub_path, parse_hub_path
    from ftc.runtime.data.pipeline import check_file

    hub = HubSource(parse_hub_path(path), hub_config, split, max_rows) if is_hub_path(path) else None
    mapped = _columns(columns)
    detected = fmt is None
    if fmt is None:
        fmt, found = _detected_format(path, hub is not None)
        mapped = found | mapped  # the user's own map wins
    result = check_file(path, fmt, against, mapped, glob, hub)
    if as_json:
        click.echo(
            json.dumps(result.to_json() | {"format": fmt, "format_detected": detected}, indent=2, ensure_ascii=False)
        )
    else:
        _render(result, path, against, (fmt, mapped) if detected else None)
    if result.exit_code:
        ctx.exit(result.exit_code)


def _detected_format(path: str, hub: bool) -> tuple[str, dict[str, str]]:
    """(format, column map) read from the data itself: a folder of documents, else the first row
    with a shape ftc reads (``cmd_init.detect``)."""
    from pathlib import Path

    from ftc.compiler.cli.cmd_init import detect
    from ftc.runtime.data.readers import is_datasets_folder

    if hub:
        raise FtcError("error: --format: a hub dataset's format is not read from its rows here; pass --format", 2)
    target = Path(path)
    if not target.exists():
        raise FtcError(f"error: {path}: no such file or folder", 2)
    if target.is_dir() and not is_datasets_folder(target):
        return "documents", {}
    guess = detect(target)[1]
    return guess.format, dict(guess.columns)


def _render(
    result: CheckResult, path: str, against: str | None, detected: tuple[str, dict[str, str]] | None = None
) -> None:
    from rich.console import Console
    from rich.markup import escape

    s = result.summary
    out = Console(highlight=False, soft_wrap=True)
    ok = "[green]clean[/]" if not result.exit_code else "[red]not clean[/]"
    out.print(f"[bold]{escape(path)}[/]: {ok}")
    if detected is not None:
        fmt, mapped = detected
        shown = ", ".join(f"{k}={v}" for k, v in mapped.items())
        out.print(
            f"  format {fmt} (read from the rows{'; columns ' + escape(shown) if shown else ''}; --format chooses)"
        )
    out.print(
        f"  rows {s['rows']}, valid {s['valid_rows']}, bad {len(s['bad_rows'])}, "
        f"exact duplicates {s['exact_duplicates']}, near duplicates {s['near_duplicates']}, unique {s['unique_rows']}"
    )
    t = s["tokens"]
    out.print(f"  tokens ({result.token_method}): p50 {t['p50']}, p90 {t['p90']}, p99 {t['p99']}, max {t['max']}")
    _list(out, "bad row", [f"{path}:{b['line']}: {b['reason']}" for b in s["bad_rows"]])
    if against:
        out.print(f"  leaks into {escape(against)}: {len(s['leaks'])}")
        _list(
            out, "leak", [f"{against}:{x['line']} shares a 13-gram with {path}:{x['train_line']}" for x in s["leaks"]]
        )
        _list(out, "bad eval row", [f"{against}:{b['line']}: {b['reason']}" for b in result.against_bad_rows])
    _list(
        out,
        "duplicate",
        [f"{path}:{d['line']}: {d['kind']} duplicate of line {d['kept_line']}" for d in result.duplicates],
    )


def _list(out: Console, label: str, items: list[str]) -> None:
    from rich.markup import escape

    for item in items[:SHOWN]:
        out.print(f"  {label}: {escape(item)}")
    if len(items) > SHOWN:
        out.print(f"  ... and {len(items) - SHOWN} more (--json lists all)")


COMMANDS = [data]
