"""Load step: read every source of the plan's load config, validate each row, collect bad rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ftc.shared.files import RowParser, check_first_jsonl_row, data_lines, jsonl_row
from ftc.shared.mixture import mixture, sample_indices
from ftc.shared.shapes import Normaliser

from .hub import HubSource, is_hub_path, parse_hub_path, read_hub
from .readers import RawRow, document_files, read_document, reader_for
from .records import FORMATS, DataError, Record
from .schemas import FIELDS
from .validate import check_columns, validate_row

MAX_LISTED = 50  # bad rows listed in an error message; the rest are counted


@dataclass(frozen=True)
class LoadResult:
    records: list[Record]
    bad_rows: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


@dataclass
class SourceResult:
    records: list[Record]
    bad_rows: list[dict]
    rows: int


def _documents(path: Path, label: str, pattern: str | None) -> Iterator[tuple[str, RawRow]]:
    root = path if path.is_dir() else path.parent
    for p in document_files(path, pattern):
        rel = p.relative_to(root).as_posix()
        file_label = f"{label.rstrip('/')}/{rel}" if path.is_dir() else label
        text, reason = read_document(p, file_label)
        yield file_label, RawRow(1, None, reason) if reason else RawRow(1, {"text": text, "path": rel})


class Row(NamedTuple):
    """One row of a source as it was read: a record, or the reason it is a bad row."""

    file: str
    line: int
    record: Record | None
    reason: str | None


def iter_source(
    name: str,
    path: str | Path,
    fmt: str,
    columns: Mapping[str, str] | None = None,
    glob: str | None = None,
    label: str | None = None,
    purpose: str = "train",
    hub: HubSource | None = None,
) -> Iterator[Row]:
    """Every row of one source, streamed, validated one at a time (``ftc data check`` keeps none
    of them in memory). ``hub``: a Hugging Face dataset read from the local cache instead of
    ``path``. Raises DataError when the source holds no row at all."""
    if fmt not in FORMATS:
        raise DataError(f"error: unknown data format '{fmt}' (one of {', '.join(FORMATS)})", 2)
    check_columns(fmt, columns)
    if hub is not None:
        items: Iterator[tuple[str, RawRow]] = ((label or hub.label, raw) for raw in read_hub(hub))
        yield from _rows(name, items, fmt, columns, False, purpose, label or hub.label)
        return
    path, label = Path(path), label or str(path)
    if fmt == "documents":
        if not path.exists():
            raise DataError(f"{label}: no such file or folder", 2)
        items = _documents(path, label, glob)
    else:
        reader = reader_for(str(path), fmt)
        items = ((label, raw) for raw in reader(str(path)))
    yield from _rows(name, items, fmt, columns, path.suffix.lower() in (".csv", ".tsv"), purpose, label)


def _rows(
    name: str,
    items: Iterator[tuple[str, RawRow]],
    fmt: str,
    columns: Mapping[str, str] | None,
    from_text: bool,
    purpose: str,
    label: str,
) -> Iterator[Row]:
    normaliser = Normaliser(fmt, FIELDS[fmt], columns)  # one per file: its first row fixes the shape
    rows = 0
    for row in validated_rows(name, items, fmt, columns, from_text, purpose, normaliser):
        rows += 1
        yield row
    if rows == 0:
        raise DataError(empty_source(label, fmt))


def empty_source(label: str, fmt: str) -> str:
    what = "no documents match" if fmt == "documents" else "the file is empty (no rows)"
    return f"{label}: {what}"


def validated_rows(
    name: str,
    items: Iterable[tuple[str, RawRow]],
    fmt: str,
    columns: Mapping[str, str] | None,
    from_text: bool,
    purpose: str,
    normaliser: Normaliser,
) -> Iterator[Row]:
    """Each raw row validated: a record, or the reason it is bad."""
    for file_label, raw in items:
        result = raw.reason or validate_row(raw.row, fmt, columns, from_text, normaliser)
        if isinstance(result, str):
            yield Row(file_label, raw.line, None, result)
        else:
            yield Row(file_label, raw.line, Record(name, file_label, raw.line, fmt, result, purpose), None)


def jsonl_part(path: str | Path, start: int = 0, stop: int | None = None, first: bool = True) -> Iterator[RawRow]:
    """``jsonl_rows`` (ftc.shared.files) for the rows whose line starts at a byte offset in
    [start, stop), so two processes can each scan one part of a large file. Every line before
    ``stop`` still goes through ``data_lines``, so its file-level checks (an encoding mark, a NUL
    byte, a line over the size limit) meet the same bytes in the same order; only the part's own
    lines are parsed. ``first``: the part holds the file's first row, which gets the "this is one
    JSON document, not JSON Lines" check."""
    parser = RowParser()
    for number, offset, raw in data_lines(path):
        if stop is not None and offset >= stop:
            return
        if offset < start:
            continue
        row, reason = jsonl_row(parser, raw, offset)
        if first:
            check_first_jsonl_row(path, number, raw, row, reason)
            first = False
        yield RawRow(number, row, reason)


def read_source(
    name: str,
    path: str | Path,
    fmt: str,
    columns: Mapping[str, str] | None = None,
    glob: str | None = None,
    label: str | None = None,
    purpose: str = "train",
    hub: HubSource | None = None,
) -> SourceResult:
    """All rows of one source: good ones as records, bad ones as {source, file, line, reason}."""
    records, bad, rows = [], [], 0
    for row in iter_source(name, path, fmt, columns, glob, label, purpose, hub):
        rows += 1
        if row.record is None:
            bad.append({"source": name, "file": row.file, "line": row.line, "reason": row.reason})
        else:
            records.append(row.record)
    return SourceResult(records, bad, rows)


def format_bad_rows(bad: list[dict], head: str) -> str:
    lines = [head] + [f"  {b['file']}:{b['line']}: {b['reason']}" for b in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
    return "\n".join(lines)


def _hub(src: dict, seed: int) -> HubSource | None:
    """A source whose path is hf://owner/name (optional "config", "split", "revision"); its
    "max_rows" subsample is drawn from the split before rows are read."""
    if not is_hub_path(src["path"]):
        return None
    return HubSource(
        parse_hub_path(src["path"]),
        src.get("config"),
        src.get("split") or "train",
        revision=src.get("revision"),
        sample=src.get("max_rows"),
        seed=seed,
    )


def _cap(records: list[Record], max_rows: int | None, seed: int, name: str) -> list[Record]:
    """A source's ``max_rows``: a seeded subsample of its valid rows, in file order."""
    if max_rows is None or len(records) <= max_rows:
        return records
    return [records[i] for i in sample_indices(len(records), max_rows, seed, name)]


def _mix(kept: dict[str, list[Record]], sources: list[dict], eval_source: str | None, seed: int) -> None:
    """The weighted sources of each training stage, cut to the largest mix in their shares (in place)."""
    for stage in (False, True):  # the SFT sources, then the preference sources
        weights = {
            s["name"]: float(s["weight"])
            for s in sources
            if s.get("weight") is not None and s["name"] != eval_source and (s["format"] == "preference") == stage
        }
        for name, n in mixture({n: len(kept[n]) for n in weights}, weights).items():
            kept[name] = _cap(kept[name], n, seed, f"{name}:weight")


def load_sources(cfg: dict, project_root: str | Path) -> LoadResult:
    root = Path(project_root)
    eval_source = cfg.get("eval_source")
    seed = int(cfg.get("seed") or 0)
    kept: dict[str, list[Record]] = {}
    bad_rows: list[dict] = []
    counts: dict = {}
    failing: list[dict] = []
    for src in cfg.get("sources", []):
        rel = src["path"]
        result = read_source(
            src["name"],
            root / rel,
            src["format"],
            src.get("columns") or {},
            src.get("glob"),
            label=rel,
            purpose="eval" if src["name"] == eval_source else "train",
            hub=_hub(src, seed),
        )
        kept[src["name"]] = _cap(result.records, src.get("max_rows"), seed, src["name"])
        bad_rows += result.bad_rows
        counts[src["name"]] = {"rows": result.rows, "valid": len(result.records), "bad": len(result.bad_rows)}
        if result.bad_rows and src.get("on_bad_rows", "fail") == "fail":
            failing += result.bad_rows
    if failing:
        head = f"error: {len(failing)} bad row{'s' if len(failing) != 1 else ''} (on_bad_rows = fail; set on_bad_rows = skip to drop them):"
        raise DataError(format_bad_rows(failing, head))
    sources = cfg.get("sources", [])
    capped = {name: len(rows) for name, rows in kept.items()}
    _mix(kept, sources, eval_source, seed)
    for src in sources:  # the funnel: rows after max_rows, then after the mixture (only when set)
        name = src["name"]
        if src.get("max_rows") is not None:
            counts[name]["after_max_rows"] = capped[name]
        if src.get("weight") is not None:
            counts[name]["after_weight"] = len(kept[name])
    return LoadResult([r for rows in kept.values() for r in rows], bad_rows, counts)
