"""The one pass ``ftc data check`` makes over a file: each row read, validated and cleaned, and
what the later stages need kept in compact arrays (``Scan``, ``DedupIndex``, ``TextSpool``).

A large JSON Lines file is scanned in two parts at once, one in a worker process, when two cores
are there (``FTC_NUM_THREADS`` unset or above 1): per-row Python work (parsing, validating,
cleaning, hashing) is nearly all of the time, and a second process halves the wall time. The
result is the serial scan's, row for row:

- the parts split the file at a byte offset, at a line start, and the worker's arrays follow the
  main process's;
- a file keeps the shape of its first row with one (``Normaliser``): that row is found first,
  and the worker starts with it;
- a file-level error (a NUL byte, a line over the limit) is the first part's if it has one, as
  the serial scan would have met it first.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftc.shared.shapes import Normaliser

from .clean import Cleaner
from .dedup import DedupIndex
from .hub import HubSource
from .load import Row, empty_source, iter_source, jsonl_part, validated_rows
from .readers import read_jsonl, reader_for
from .records import FORMATS, DataError, RecordSpool, TextSpool, record_text
from .schemas import FIELDS
from .validate import check_columns, validate_row

EMPTIED = "empty after cleaning (only whitespace or control characters)"
PARALLEL_MIN_BYTES = 16 * 2**20  # below this, starting a worker (~1 s of imports) is not worth it
SHAPE_SCAN_ROWS = 1000  # rows searched for the file's shape before giving up on the split


@dataclass
class Scan:
    """What one pass over the file keeps: counts, bad rows, and per cleaned row compact arrays."""

    label: str
    rows: int = 0
    bad: list[dict] = field(default_factory=list)
    emptied: list[dict] = field(default_factory=list)
    lines: array = field(default_factory=lambda: array("q"))
    chars: array = field(default_factory=lambda: array("q"))
    spool: RecordSpool | None = None
    texts: TextSpool | None = None

    @property
    def valid(self) -> int:
        return len(self.lines)

    def bad_rows(self) -> list[dict]:
        # read errors, then rows cleaning emptied, ordered by line (stable), as the list pipeline did
        return sorted(self.bad + self.emptied, key=lambda b: b["line"])


def scan_rows(scan: Scan, rows: Iterable[Row], index: DedupIndex | None) -> Scan:
    cleaner = Cleaner({})
    for row in rows:
        scan.rows += 1
        if row.record is None:
            scan.bad.append({"line": row.line, "reason": row.reason})
            continue
        record = cleaner(row.record)
        if record is None:
            scan.emptied.append({"line": row.line, "reason": EMPTIED})
            continue
        text = record_text(record)
        scan.lines.append(record.line)
        scan.chars.append(len(text))
        if index is not None:
            index.add(record)
        if scan.texts is not None:
            scan.texts.append(text)
        if scan.spool is not None:
            scan.spool.append(record)
    return scan


def scan_file(
    path: str,
    fmt: str,
    columns: Mapping[str, str] | None,
    glob: str | None,
    index: DedupIndex | None,
    spool: RecordSpool | None,
    texts: TextSpool | None,
    hub: HubSource | None = None,
) -> Scan:
    """The scan of one source; in two processes when ``_split_at`` finds it worth it."""
    scan = Scan(path, spool=spool, texts=texts)
    split = _split_at(path, fmt, columns, spool, hub)
    if split is not None:
        check_columns(fmt, columns)  # the serial scan's first checks, in its order
        found = _first_shape(path, fmt, columns, split)
        if found is not None:
            return _scan_in_parts(scan, path, fmt, columns, index, split, *found)
    return scan_rows(scan, iter_source("-", path, fmt, columns, glob, label=path, hub=hub), index)


def workers() -> int:
    """Processes the scan may use: ``FTC_NUM_THREADS`` when set (1 keeps it in one process, as on
    a CPU shared with other jobs), else the cores this process may run on."""
    wanted = os.environ.get("FTC_NUM_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _split_at(
    path: str, fmt: str, columns: Mapping[str, str] | None, spool: RecordSpool | None, hub: HubSource | None
) -> int | None:
    """The byte offset the second part starts at, or None for one pass: only a large JSON Lines
    file on disk, without the record spool (``--against``), is split. Any problem with the path
    is left to the serial scan, which names it."""
    if hub is not None or spool is not None or fmt not in FORMATS or fmt == "documents" or workers() < 2:
        return None
    try:
        if reader_for(path, fmt) is not read_jsonl:
            return None
        size = os.stat(path).st_size
    except (DataError, OSError):
        return None
    return size // 2 if size >= PARALLEL_MIN_BYTES else None


def _first_shape(path: str, fmt: str, columns: Mapping[str, str] | None, split: int) -> tuple[object, bool] | None:
    """(the shape the serial scan holds when it reaches ``split``, whether the first part has any
    row), or None when the first SHAPE_SCAN_ROWS rows fix none (a file of bad rows: one pass)."""
    normaliser = Normaliser(fmt, FIELDS[fmt], columns)
    rows = 0
    for raw in jsonl_part(path, 0, split):
        if normaliser.shape is not None:
            break
        if rows >= SHAPE_SCAN_ROWS:
            return None
        rows += 1
        if raw.reason is None:
            validate_row(raw.row, fmt, columns, False, normaliser)
    return normaliser.shape, rows > 0


@dataclass
class Part:
    """What the worker sends back: its scan's arrays, and where its signatures and texts are."""

    rows: int
    bad: list[dict]
    emptied: list[dict]
    lines: array
    chars: array
    digests: bytes
    shingled: np.ndarray
    signatures: str  # raw uint32 rows, np.fromfile
    texts: str | None
    text_ends: array | None


def scan_part(
    path: str,
    fmt: str,
    columns: Mapping[str, str] | None,
    start: int,
    shape: object,
    first: bool,
    folder: str,
    keep_texts: bool,
) -> Part:
    """The worker: the rows from byte ``start`` on, scanned as the serial scan would with the
    file's shape already fixed; its signatures (and texts, when a tokenizer wants them) go to
    files in ``folder``, not through the pipe (~256 MB at 500k rows)."""
    normaliser = Normaliser(fmt, FIELDS[fmt], columns)
    normaliser.shape = shape
    index = DedupIndex({})
    texts_path = str(Path(folder) / "texts") if keep_texts else None
    with TextSpool(texts_path) if texts_path else nullcontext() as texts:
        items = ((path, raw) for raw in jsonl_part(path, start, None, first))
        rows = validated_rows("-", items, fmt, columns, False, "train", normaliser)
        scan = scan_rows(Scan(path, texts=texts), rows, index)
    signatures = str(Path(folder) / "signatures")
    with open(signatures, "wb") as f:
        index.minhashes.save(f)
    return Part(
        scan.rows,
        scan.bad,
        scan.emptied,
        scan.lines,
        scan.chars,
        index.digests(),
        index.minhashes.shingled(),
        signatures,
        texts_path,
        texts.ends if texts is not None else None,
    )


def _scan_in_parts(
    scan: Scan,
    path: str,
    fmt: str,
    columns: Mapping[str, str] | None,
    index: DedupIndex | None,
    split: int,
    shape: object,
    first_part_has_rows: bool,
) -> Scan:
    with tempfile.TemporaryDirectory(prefix="ftc-check-") as folder:
        args = (path, fmt, dict(columns or {}), split, shape, not first_part_has_rows, folder, scan.texts is not None)
        worker = _start_worker(Path(folder), args)
        try:
            items = ((path, raw) for raw in jsonl_part(path, 0, split))
            normaliser = Normaliser(fmt, FIELDS[fmt], columns)
            scan_rows(scan, validated_rows("-", items, fmt, columns, False, "train", normaliser), index)
            part = _result(worker, Path(folder))
        finally:
            if worker.poll() is None:  # the first part failed: the second is not wanted
                worker.kill()
                worker.wait()
        _merge(scan, index, part)
    if scan.rows == 0:
        raise DataError(empty_source(path, fmt))
    return scan


def _start_worker(folder: Path, args: tuple) -> subprocess.Popen:
    """A fresh interpreter running ``scan_part`` (``python -c``): unlike
    multiprocessing's spawn it never re-imports the caller's main script, and unlike fork it copies
    no state of the parent (a tokenizer, numpy's threads)."""
    (folder / "args.pickle").write_bytes(pickle.dumps(args))
    code = f"import sys; from {__name__} import worker_main; worker_main(sys.argv[1])"
    # stdout is the caller's (``--json`` prints there): nothing of the worker's may land in it
    return subprocess.Popen(
        [sys.executable, "-c", code, str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )


def _result(worker: subprocess.Popen, folder: Path) -> Part:
    code = worker.wait()
    result = folder / "result.pickle"
    if code != 0 or not result.is_file():
        raise RuntimeError(f"the data check's worker process failed (exit code {code})")
    part = pickle.loads(result.read_bytes())  # written by our own worker, in a folder only we know
    if isinstance(part, BaseException):
        raise part  # a DataError in the second part, the serial scan's error too
    return part


def worker_main(folder: str) -> None:
    """The worker process: its arguments and its result are pickles in ``folder``."""
    args = pickle.loads((Path(folder) / "args.pickle").read_bytes())
    try:
        result: Part | DataError = scan_part(*args)
    except DataError as err:
        result = err
    (Path(folder) / "result.pickle").write_bytes(pickle.dumps(result))


def _merge(scan: Scan, index: DedupIndex | None, part: Part) -> None:
    scan.rows += part.rows
    scan.bad += part.bad
    scan.emptied += part.emptied
    scan.lines += part.lines
    scan.chars += part.chars
    if index is not None:
        num_perm = index.minhashes.num_perm
        signatures = np.fromfile(part.signatures, dtype=np.uint32).reshape(-1, num_perm)
        index.extend(part.digests, signatures, part.shingled)
    if scan.texts is not None and part.texts is not None:
        scan.texts.extend_from(part.texts, part.text_ends)
