"""Readers: each yields ``RawRow(line, row, reason)`` for every non-blank row of one file.

A row-level problem (bad JSON on one line) is a ``reason`` and the reader goes on; a file-level
problem (missing file, a JSON array given as JSONL, invalid UTF-8 in a CSV) raises ``DataError``
with the file and line. Nothing here opens a file for writing.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator, NamedTuple

from .records import DataError

MAX_ROW_BYTES = 16 * 1024 * 1024  # one row larger than this is a mistake, not data
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".text")


class RawRow(NamedTuple):
    line: int
    row: object
    reason: str | None = None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def utf8_error(path: str, data: bytes, err: UnicodeDecodeError, base_line: int = 1) -> str:
    """'file:LINE: invalid UTF-8 at byte B of the line (file offset F)'."""
    start = err.start
    line = base_line + data.count(b"\n", 0, start)
    line_start = data.rfind(b"\n", 0, start) + 1
    return f"{path}:{line}: invalid UTF-8 at byte {start - line_start + 1} of the line (file offset {start}): {err.reason}"


def decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(utf8_error(path, data, err)) from None


def _json_line(raw: bytes) -> tuple[object, str | None]:
    try:
        return json.loads(raw), None
    except ValueError as err:
        col = getattr(err, "colno", None)
        msg = getattr(err, "msg", str(err))
        return None, f"not valid JSON: {msg}" + (f" (column {col})" if col else "")


def read_jsonl(path: str) -> Iterator[RawRow]:
    """Streams line by line: a large file never sits in memory whole."""
    with open(path, "rb") as f:
        n, offset, first = 0, 0, True
        while True:
            raw = f.readline(MAX_ROW_BYTES + 1)
            if not raw:
                return
            n, line_offset = n + 1, offset
            offset += len(raw)
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                _too_long(path, n, raw, f)
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, line_offset = raw[3:], 3
            if not raw.strip():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield RawRow(n, None, f"invalid UTF-8 at byte {err.start + 1} of the line (file offset {line_offset + err.start})")
                continue
            row, reason = _json_line(raw.rstrip(b"\r\n"))
            if first and (isinstance(row, list) or (reason and raw.strip()[:1] in (b"[", b"{"))):
                raise DataError(f"{path}:{n}: this file holds one JSON document, not JSON Lines (one object per line); "
                                "name it .json or write one row per line")
            first = False
            yield RawRow(n, row, reason)


def _too_long(path: str, n: int, raw: bytes, f) -> None:
    size = len(raw) + _skip_rest_of_line(f)
    hint = ("; it starts with '[': this looks like a JSON array, not JSON Lines (name it .json)"
            if raw.lstrip(b"\xef\xbb\xbf \t").startswith(b"[") else "")
    raise DataError(f"{path}:{n}: line {n} is {_mb(size)}, over the {MAX_ROW_BYTES // 2**20} MiB limit for one row{hint}")


def _skip_rest_of_line(f) -> int:
    skipped = 0
    while True:
        chunk = f.readline(MAX_ROW_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def read_json(path: str) -> Iterator[RawRow]:
    """A JSON array of rows; each element keeps the line it starts on."""
    text = decode(path, Path(path).read_bytes())
    decoder = json.JSONDecoder()
    idx = _skip_ws(text, 0)
    if idx >= len(text):
        return
    if text[idx] != "[":
        hint = " (it looks like JSON Lines: name it .jsonl)" if text[idx] == "{" else ""
        raise DataError(f"{path}:{_line_of(text, idx)}: expected a JSON array of rows{hint}")
    idx = _skip_ws(text, idx + 1)
    if idx < len(text) and text[idx] == "]":
        return
    while True:
        line = _line_of(text, idx)
        try:
            row, idx = decoder.raw_decode(text, idx)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
        yield RawRow(line, row)
        idx = _skip_ws(text, idx)
        if idx < len(text) and text[idx] == ",":
            idx = _skip_ws(text, idx + 1)
            continue
        if idx < len(text) and text[idx] == "]":
            return
        raise DataError(f"{path}:{_line_of(text, idx)}: not valid JSON: expected ',' or ']' after an array element")


def _skip_ws(text: str, idx: int) -> int:
    while idx < len(text) and text[idx] in " \t\r\n":
        idx += 1
    return idx


def _line_of(text: str, idx: int) -> int:
    return text.count("\n", 0, idx) + 1


def _text_lines(path: str, f) -> Iterator[str]:
    """Decoded lines of a binary file, streamed; invalid UTF-8 is a located error."""
    offset = 0
    for n, raw in enumerate(f, 1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw, offset = raw[3:], 3
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{path}:{n}: invalid UTF-8 at byte {err.start + 1} of the line "
                            f"(file offset {offset + err.start}): {err.reason}") from None
        offset += len(raw)


def read_csv(path: str) -> Iterator[RawRow]:
    """A header row, then one row per record; the line is the record's first physical line.
    Streamed: the csv module reads decoded lines as it needs them."""
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    with open(path, "rb") as f:
        reader = csv.reader(_text_lines(path, f), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(f"{path}:1: not valid CSV: {err}") from None
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataError(f"{path}:{last + 1}: not valid CSV: {err}") from None
            start, last = last + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield RawRow(start, None, f"has {len(cells)} cells, the header has {len(header)}")
                continue
            yield RawRow(start, dict(zip(header, cells)))


def read_parquet(path: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({err})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield RawRow(n, row)


def read_datasets_folder(path: str) -> Iterator[RawRow]:
    """A folder written by ``datasets``' ``save_to_disk``; a DatasetDict gives its train split."""
    try:
        from datasets import load_from_disk

        ds = load_from_disk(path)
    except Exception as err:  # noqa: BLE001
        raise DataError(f"{path}: not a readable `datasets` folder ({err})") from None
    if hasattr(ds, "keys"):
        if "train" not in ds:
            raise DataError(f"{path}: a DatasetDict without a 'train' split (splits: {', '.join(ds.keys())})")
        ds = ds["train"]
    for i, row in enumerate(ds, 1):
        yield RawRow(i, row)


def is_datasets_folder(p: Path) -> bool:
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


def document_files(root: Path, pattern: str | None) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(p for p in root.glob(pattern or "**/*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    if not pattern or pattern in ("**/*", "*"):
        files = [p for p in files if p.suffix.lower() in DOC_SUFFIXES]
    return files


def reader_for(path: str, fmt: str):
    """Pick the reader by what the path is: folder, or file extension."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: no such file or folder", 2)
    if p.is_dir():
        if is_datasets_folder(p):
            return read_datasets_folder
        raise DataError(f"{path}: is a folder; a folder is read as documents (format = documents) "
                        "or as a `datasets` save_to_disk folder (with state.json)", 2)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl
    if suffix == ".json":
        return read_json
    if suffix in (".csv", ".tsv"):
        return read_csv
    if suffix in (".parquet", ".pq"):
        return read_parquet
    hint = " (Markdown and text files are read with format = documents)" if suffix in DOC_SUFFIXES else ""
    raise DataError(f"{path}: unknown file type '{suffix or '(none)'}'; ftc reads .jsonl, .json, .csv, .tsv, .parquet, "
                    f"a `datasets` folder, or documents{hint}", 2)
