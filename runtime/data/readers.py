"""Readers: each yields ``RawRow(line, row, reason)`` for every non-blank row of one file.

A row-level problem (bad JSON on one line) is a ``reason`` and the reader goes on; a file-level
problem (missing file, a FIFO or a device, a UTF-16 file, a JSON array given as JSONL, invalid
UTF-8 in a CSV) raises ``DataError`` with the file and line. The text formats (JSONL, JSON, CSV)
are ``ftc.shared.files``' readers, the ones the planner counts rows with, so the plan and the
load step agree on every file. Nothing here opens a file for writing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ftc.shared.files import (
    DOC_SUFFIXES,
    MAX_DEPTH,
    MAX_ROW_BYTES,
    DataError,
    RawRow,
    csv_rows,
    decode_text,
    document_files,
    json_rows,
    jsonl_rows,
    read_whole,
    require_regular_file,
    stat_path,
    too_deep,
    value_depth,
)

# Compressed files (Anthropic/hh-rlhf ships .jsonl.gz) are not read: the planner counts and hashes
# the file it would train on, so the user decompresses once. Suffix -> the command that does it.
COMPRESSED: dict[str, str] = {
    ".gz": "gunzip -k",
    ".bz2": "bunzip2 -k",
    ".xz": "unxz -k",
    ".zst": "unzstd",
    ".zip": "unzip",
}

read_jsonl = jsonl_rows
read_json = json_rows
read_csv = csv_rows

__all__ = [
    "MAX_ROW_BYTES",
    "RawRow",
    "document_files",
    "read_document",
    "reader_for",
    "read_csv",
    "read_json",
    "read_jsonl",
]


def checked_row(n: int, row: object) -> RawRow:
    """Rows that did not come from JSON text (Parquet, Arrow) get the same nesting bound."""
    depth = value_depth(row)
    return RawRow(n, None, too_deep(depth)) if depth > MAX_DEPTH else RawRow(n, row)


def read_parquet(path: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    require_regular_file(path)  # pyarrow opens by path (it needs to seek): checked first
    try:
        pf = pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({err})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield checked_row(n, row)


def _special_files(folder: Path) -> list[str]:
    """Files under a folder that are not regular (a FIFO would hang the Arrow reader)."""
    found = []
    for dirpath, _, names in os.walk(folder):
        for name in names:
            mode = stat_path(Path(dirpath) / name).st_mode
            if not stat.S_ISREG(mode):
                found.append(str(Path(dirpath) / name))
    return found


def read_datasets_folder(path: str) -> Iterator[RawRow]:
    """A folder written by ``datasets``' ``save_to_disk``; a DatasetDict gives its train split."""
    special = _special_files(Path(path))
    if special:
        raise DataError(
            f"{special[0]}: not a regular file (a FIFO, a device or a socket) inside a `datasets` folder", 2
        )
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
        yield checked_row(i, row)


def is_datasets_folder(p: Path) -> bool:
    return (p / "state.json").is_file() or (p / "dataset_dict.json").is_file()


def read_document(path: Path, label: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for one document: one row, so bounded like one."""
    try:
        return decode_text(label, read_whole(path, MAX_ROW_BYTES, "one document (one row)")), None
    except DataError as err:
        return None, err.reason


def reader_for(path: str, fmt: str):
    """Pick the reader by what the path is (a folder, or a regular file's extension); anything
    else (a FIFO, a device) is refused here, before anything opens it."""
    p = Path(path)
    mode = stat_path(p).st_mode
    if stat.S_ISDIR(mode):
        if is_datasets_folder(p):
            return read_datasets_folder
        raise DataError(
            f"{path}: is a folder; a folder is read as documents (format = documents) "
            "or as a `datasets` save_to_disk folder (with state.json)",
            2,
        )
    require_regular_file(p)
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
    if suffix in COMPRESSED:
        inner = Path(p.stem).suffix or ".jsonl"
        hint = f" (a compressed file: decompress it first, e.g. `{COMPRESSED[suffix]} {p.name}`, and read the {inner})"
    raise DataError(
        f"{path}: unknown file type '{suffix or '(none)'}'; ftc reads .jsonl, .json, .csv, .tsv, .parquet, "
        f"a `datasets` folder, or documents{hint}",
        2,
    )
