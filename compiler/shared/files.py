"""Reading data files safely: the one place the planner's facts, `ftc lint` and the runtime's
readers open a data file, split it into rows and count them.

- Only regular files are opened. The path is ``os.stat``-ed first (a FIFO would block ``open``
  forever and a device such as ``/dev/zero`` never ends), then opened non-blocking and checked
  again on the descriptor, so a path swapped between the two checks is refused too.
- Every read is bounded: a row by ``MAX_ROW_BYTES``, a whole-file read by ``MAX_WHOLE_BYTES``,
  and a file by the size it had when it was opened (a file that grows is read as it was).
- Encodings are named once per file: a UTF-16 / UTF-32 byte-order mark or a NUL byte is one
  located error ("this file is UTF-16; convert it to UTF-8"), not a complaint on every line.
- JSON rows are parsed strictly: NaN / Infinity, numbers that overflow to infinity, duplicate keys
  and nesting deeper than ``MAX_DEPTH`` are row problems with a reason, never values or a
  ``RecursionError``.

Nothing here writes to a file, and nothing imports the compiler, the runtime or a heavy library
(pyarrow is imported only to count a Parquet file's rows).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ftc.shared.errors import FtcError

MAX_ROW_BYTES = 16 * 1024 * 1024  # one row larger than this is a mistake, not data
MAX_WHOLE_BYTES = 1024 * 1024 * 1024  # a file read whole (a .json array, one document)
MAX_DEPTH = 100  # JSON nesting a row may have; chat rows need 4, and deeper means a broken file
NOT_JSON = "not valid JSON"  # how every syntax-error reason starts (a CSV cell that is not JSON stays text)
COUNTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq")


class DataError(FtcError):
    """Bad data the user must fix, as ``file:line: reason`` (exit 1), or a path that names the
    wrong thing (exit 2). ``path``, ``line`` and ``reason`` are kept apart for callers that
    locate the problem their own way (the planner points at the recipe's data block)."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        exit_code: int | None = None,
        *,
        path: str | None = None,
        line: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, exit_code)
        self.path, self.line, self.reason = path, line, reason or message

    @classmethod
    def at(cls, path: str | Path, reason: str, line: int | None = None, exit_code: int | None = None) -> DataError:
        where = f"{path}:{line}" if line else str(path)
        return cls(f"{where}: {reason}", exit_code, path=str(path), line=line, reason=reason)


class RawRow(NamedTuple):
    """One non-blank row of a file: the parsed value, or the reason it could not be parsed."""

    line: int
    row: object
    reason: str | None = None


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# --- what a path is, before it is opened -----------------------------------------------------------
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def stat_path(path: str | Path) -> os.stat_result:
    """``os.stat`` (symlinks followed) with the failure as one plain, located line."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise DataError.at(path, "no such file or folder", exit_code=2) from None
    except PermissionError:
        raise DataError.at(path, "permission denied", exit_code=2) from None
    except OSError as err:  # a symlink loop, a name too long, ...
        raise DataError.at(path, f"cannot read it: {err.strerror or err}", exit_code=2) from None


# What a documents source reads from a folder when its glob is the default: text, not whatever
# else sits beside it (images, PDFs, editor backups).
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".text")
DEFAULT_DOC_GLOBS = ("**/*", "*")


def document_files(root: Path, pattern: str | None) -> list[Path]:
    """The documents of a documents source: the one file given, or the files under a folder that
    ``pattern`` matches, hidden ones (any part starting with ".") left out, and with the default
    pattern only text files (``DOC_SUFFIXES``). One listing for the planner's facts and lock, the
    lint check and the load step, so the plan hashes and prices exactly what the run reads.
    ``is_file`` follows symlinks and is false for FIFOs and devices, so those are never listed."""
    if not root.is_dir():
        require_regular_file(root)
        return [root]
    try:
        found = sorted(
            p
            for p in root.glob(pattern or "**/*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    except (ValueError, NotImplementedError) as err:  # "/etc/*", "a/**b": not a pattern under the folder
        raise DataError.at(
            root, f"the glob `{pattern}` is not a pattern under this folder ({err})", exit_code=2
        ) from None
    if not pattern or pattern in DEFAULT_DOC_GLOBS:
        found = [p for p in found if p.suffix.lower() in DOC_SUFFIXES]
    return found


def require_regular_file(path: str | Path) -> os.stat_result:
    """Refuse a FIFO, a device, a socket or a folder without opening it: opening a FIFO blocks
    until a writer comes, and a device such as /dev/zero never ends."""
    st = stat_path(path)
    if not stat.S_ISREG(st.st_mode):
        raise DataError.at(
            path,
            f"is {kind_of(st.st_mode)}, not a regular file; ftc reads data only from "
            "regular files (copy the data into a file)",
            exit_code=2,
        )
    return st


class _Bounded(io.RawIOBase):
    """A read-only descriptor that ends after ``limit`` bytes, whatever the file does meanwhile."""

    def __init__(self, fd: int, limit: int) -> None:
        self._fd, self._left = fd, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        data = os.read(self._fd, want)
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


@contextmanager
def open_data_file(path: str | Path) -> Iterator[BinaryIO]:
    """A regular file opened for reading, bounded by the size it has now."""
    before = require_regular_file(path)
    try:
        # O_NONBLOCK: if the path became a FIFO since the stat, open returns at once instead of waiting
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise DataError.at(path, f"cannot open it: {err.strerror or err}", exit_code=2) from None
    now = os.fstat(fd)
    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise DataError.at(path, "changed while being opened (it is no longer the same regular file)", exit_code=2)
    with io.BufferedReader(_Bounded(fd, now.st_size), buffer_size=1 << 16) as handle:
        yield handle


def read_whole(path: str | Path, limit: int = MAX_WHOLE_BYTES, what: str = "a file read whole") -> bytes:
    size = require_regular_file(path).st_size
    if size > limit:
        raise DataError.at(path, f"is {megabytes(size)}, over the {limit // 2**20} MiB limit for {what}")
    with open_data_file(path) as handle:
        return handle.read(limit)


# --- encodings -------------------------------------------------------------------------------------
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16", "UTF-16BE"),
)
UTF8_BOM = b"\xef\xbb\xbf"


def check_start(path: str | Path, head: bytes) -> None:
    """A UTF-16/32 byte-order mark at the start of the file: one message for the whole file."""
    for bom, name, codec in _BOMS:  # UTF-32 LE first: its mark starts with UTF-16 LE's
        if head.startswith(bom):
            raise DataError.at(
                path,
                f"this file is {name} (it starts with a {codec} byte-order mark); ftc reads "
                f"UTF-8: convert it to UTF-8 (e.g. `iconv -f {codec} -t UTF-8`)",
                1,
            )


def _nul(byte: int) -> str:
    return (
        f"a NUL byte at byte {byte} of the line: this is not UTF-8 text (a binary file, or UTF-16/UTF-32 "
        "without a byte-order mark); convert it to UTF-8"
    )


def check_nul(path: str | Path, raw: bytes, line: int) -> None:
    """A NUL byte never occurs in UTF-8 text: the file is binary, or UTF-16/32 without a mark."""
    at = raw.find(b"\0")
    if at >= 0:
        raise DataError.at(path, _nul(at + 1), line)


def utf8_error(path: str | Path, data: bytes, err: UnicodeDecodeError, base_line: int = 1) -> DataError:
    """'file:LINE: invalid UTF-8 at byte B of the line (file offset F)'."""
    start = err.start
    line = base_line + data.count(b"\n", 0, start)
    line_start = data.rfind(b"\n", 0, start) + 1
    return DataError.at(
        path, f"invalid UTF-8 at byte {start - line_start + 1} of the line (file offset {start}): {err.reason}", line
    )


def decode_text(path: str | Path, data: bytes) -> str:
    """A whole file's bytes as text: one located message for a UTF-16/32 mark, a NUL byte or invalid UTF-8."""
    check_start(path, data[:4])
    at = data.find(b"\0")
    if at >= 0:
        raise DataError.at(path, _nul(at - data.rfind(b"\n", 0, at)), data.count(b"\n", 0, at) + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise utf8_error(path, data, err) from None


# --- JSON rows -------------------------------------------------------------------------------------
_BRACKETS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def nesting_depth(text: str, start: int = 0) -> tuple[int, int]:
    """(deepest nesting, index just past the value) of the JSON value at ``start``, scanned without
    recursion (brackets inside strings do not count). A value that never closes ends at len(text)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(text, start):
        c = text[m.start()]
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
            if depth <= 0:
                return deepest, m.end()
        elif depth == 0:  # a top-level string
            return deepest, m.end()
    return deepest, len(text)


def too_deep(depth: int) -> str:
    return f"JSON nested {depth} levels deep, over the limit of {MAX_DEPTH}"


class RowParser:
    """``json`` with the checks a data row needs. NaN and Infinity (not JSON, though Python's json
    accepts them), a number that overflows to infinity (1e999) and a duplicate key (readers
    disagree on which value wins) are reasons, and so is nesting deeper than MAX_DEPTH: checked
    before parsing, so no recursion limit is ever hit. One parser per reader: the hooks note the
    first problem of the row being parsed."""

    def __init__(self) -> None:
        self._problem: str | None = None
        self._decoder = json.JSONDecoder(
            parse_float=self._float, parse_constant=self._constant, object_pairs_hook=self._object
        )

    def _note(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem

    def _float(self, text: str) -> float:
        value = float(text)
        if math.isinf(value):
            self._note(f"the number {text[:24]} is out of range (it would be infinity)")
        return value

    def _constant(self, name: str) -> float:
        self._note(f"{name} is not valid JSON (JSON has no NaN or Infinity; write null or a string)")
        return math.nan

    def _object(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self._note(
                f"duplicate key '{_first_repeat([k for k, _ in pairs])[:40]}' in one object "
                "(JSON readers disagree on which value wins)"
            )
        return obj

    def _deep(self, text: str, start: int = 0, end: int | None = None) -> str | None:
        end = len(text) if end is None else end
        if text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
            return None  # cannot be deeper than its brackets: the common case costs two C-speed counts
        depth = nesting_depth(text, start)[0]
        return too_deep(depth) if depth > MAX_DEPTH else None

    def parse(self, text: str) -> tuple[object, str | None]:
        """(value, None) or (None, reason) for one row's JSON text."""
        deep = self._deep(text)
        if deep:
            return None, deep
        self._problem = None
        try:
            value = self._decoder.decode(text)
        except json.JSONDecodeError as err:
            return None, f"{NOT_JSON}: {err.msg} (column {err.colno})"
        except (ValueError, RecursionError) as err:  # e.g. an integer over Python's 4300-digit limit
            return None, f"{NOT_JSON}: {str(err)[:120]}"
        return (None, self._problem) if self._problem else (value, None)

    def parse_at(self, text: str, idx: int) -> tuple[object, str | None, int]:
        """(value, reason, end) for the JSON value at ``idx`` of a larger text (a .json array's
        element); a value too deep is skipped over, so the array can go on. A JSONDecodeError is
        the caller's: the array itself is broken."""
        self._problem = None
        try:
            value, end = self._decoder.raw_decode(text, idx)
        except RecursionError:  # deeper than the interpreter allows: find where it ends without recursion
            depth, end = nesting_depth(text, idx)
            return None, too_deep(depth), end
        deep = self._deep(text, idx, end)
        return (None, deep, end) if deep else (value, self._problem, end)


def _first_repeat(keys: list[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return ""


def value_depth(value: object, limit: int = MAX_DEPTH) -> int:
    """Nesting of an already parsed value (a Parquet row), without recursion; stops past ``limit``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


# --- rows of each text format --------------------------------------------------------------------
def data_lines(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, file offset, bytes) of every non-blank physical line, read in bounded pieces.
    A UTF-8 BOM is dropped; a UTF-16/32 mark or a NUL byte stops the file with one message; a line
    over MAX_ROW_BYTES is skipped over in chunks (never held whole) and reported with its size."""
    with open_data_file(path) as f:
        number, offset = 0, 0
        while True:
            raw = f.readline(MAX_ROW_BYTES + 1)
            if not raw:
                return
            number, line_offset = number + 1, offset
            offset += len(raw)
            if number == 1:
                check_start(path, raw[:4])
                if raw.startswith(UTF8_BOM):
                    raw, line_offset = raw[3:], 3
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                _too_long(path, number, raw, f)
            if b"\0" in raw:
                check_nul(path, raw, number)
            if raw.strip():
                yield number, line_offset, raw


def _too_long(path: str | Path, number: int, raw: bytes, f: BinaryIO) -> None:
    size = len(raw) + _skip_rest_of_line(f)
    hint = (
        "; it starts with '[': this looks like a JSON array, not JSON Lines (name it .json)"
        if raw.lstrip(UTF8_BOM + b" \t").startswith(b"[")
        else ""
    )
    raise DataError.at(
        path,
        f"line {number} is {megabytes(size)}, over the {MAX_ROW_BYTES // 2**20} MiB limit for one row{hint}",
        number,
    )


def _skip_rest_of_line(f: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = f.readline(MAX_ROW_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def jsonl_row(parser: RowParser, raw: bytes, line_offset: int) -> tuple[object, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8 at byte {err.start + 1} of the line (file offset {line_offset + err.start})"
    return parser.parse(text.rstrip("\r\n"))


def check_first_jsonl_row(path: str | Path, number: int, raw: bytes, row: object, reason: str | None) -> None:
    """A JSON array or a pretty-printed document saved as .jsonl: say so once, not per line."""
    if isinstance(row, list) or (reason and reason.startswith(NOT_JSON) and raw.strip()[:1] in (b"[", b"{")):
        raise DataError.at(
            path,
            "this file holds one JSON document, not JSON Lines (one object per line); "
            "name it .json or write one row per line",
            number,
        )


def jsonl_rows(path: str | Path) -> Iterator[RawRow]:
    """Streamed line by line: a large file never sits in memory whole."""
    parser, first = RowParser(), True
    for number, line_offset, raw in data_lines(path):
        row, reason = jsonl_row(parser, raw, line_offset)
        if first:
            check_first_jsonl_row(path, number, raw, row, reason)
            first = False
        yield RawRow(number, row, reason)


def _skip_ws(text: str, idx: int) -> int:
    while idx < len(text) and text[idx] in " \t\r\n":
        idx += 1
    return idx


def _line_of(text: str, idx: int) -> int:
    return text.count("\n", 0, idx) + 1


def json_rows(path: str | Path) -> Iterator[RawRow]:
    """A JSON array of rows, read whole (bounded); each element keeps the line it starts on. A
    .json file of one object per line is JSON Lines (what `datasets`' ``to_json`` writes by
    default, and what its json loader reads under either name), read as such."""
    text = decode_text(path, read_whole(path, what="a .json file (use JSON Lines for large data)"))
    parser = RowParser()
    idx = _skip_ws(text, 0)
    if idx >= len(text):
        return
    if text[idx] == "{" and _json_lines(text, idx):
        yield from jsonl_rows(path)
        return
    if text[idx] != "[":
        raise DataError.at(path, "expected a JSON array of rows" + _wrapper_hint(text, idx), _line_of(text, idx))
    idx = _skip_ws(text, idx + 1)
    if idx < len(text) and text[idx] == "]":
        return
    while True:
        line = _line_of(text, idx)
        try:
            row, reason, idx = parser.parse_at(text, idx)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}",
                path=str(path),
                line=err.lineno,
                reason=f"not valid JSON: {err.msg} (column {err.colno})",
            ) from None
        yield RawRow(line, None if reason else row, reason)
        idx = _skip_ws(text, idx)
        if idx < len(text) and text[idx] == ",":
            idx = _skip_ws(text, idx + 1)
            continue
        if idx < len(text) and text[idx] == "]":
            return
        raise DataError.at(path, "not valid JSON: expected ',' or ']' after an array element", _line_of(text, idx))


def _json_lines(text: str, idx: int) -> bool:
    """Whether the text from ``idx`` is JSON Lines: a first object that ends its line, followed by
    another line that starts an object (one object alone is a document, not rows)."""
    try:
        _, end = json.JSONDecoder().raw_decode(text, idx)
    except (json.JSONDecodeError, RecursionError):
        return False
    newline = text.find("\n", end)
    if newline < 0 or text[end:newline].strip():
        return False
    return text[_skip_ws(text, newline) :].startswith("{")


def _wrapper_hint(text: str, idx: int) -> str:
    """Why a .json document is not rows, and where they might be: one object whose list holds them."""
    if text[idx] != "{":
        return ""
    try:
        doc = json.loads(text[idx:])
    except (json.JSONDecodeError, RecursionError):
        return " (it starts with '{' but is not one JSON object or JSON Lines)"
    lists = [k for k, v in doc.items() if isinstance(v, list)] if isinstance(doc, dict) else []
    if len(lists) == 1:
        return (
            f"; this is one object whose '{lists[0]}' holds a list: save that list alone as the file "
            "(a JSON array) or as JSON Lines"
        )
    return "; this is one JSON object, not a list of rows"


def text_lines(path: str | Path, f: BinaryIO) -> Iterator[str]:
    """Decoded lines of a binary file, streamed and bounded; bad encodings are one located error."""
    offset = 0
    for n in itertools.count(1):
        raw = f.readline(MAX_ROW_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
            _too_long(path, n, raw, f)
        if n == 1:
            check_start(path, raw[:4])
            if raw.startswith(UTF8_BOM):
                raw, offset = raw[3:], 3
        if b"\0" in raw:
            check_nul(path, raw, n)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError.at(
                path,
                f"invalid UTF-8 at byte {err.start + 1} of the line (file offset {offset + err.start}): {err.reason}",
                n,
            ) from None
        offset += len(raw)


def csv_rows(path: str | Path) -> Iterator[RawRow]:
    """A header row, then one row (a dict of cells) per record; the line is the record's first
    physical line. Records whose cells are all blank are skipped, like blank JSONL lines."""
    delimiter = "\t" if str(path).lower().endswith(".tsv") else ","
    with open_data_file(path) as f:
        reader = csv.reader(text_lines(path, f), delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError.at(path, f"not valid CSV: {err}", 1) from None
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataError.at(path, f"not valid CSV: {err}", last + 1) from None
            start, last = last + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield RawRow(start, None, f"has {len(cells)} cells, the header has {len(header)}")
                continue
            yield RawRow(start, dict(zip(header, cells, strict=True)))


# --- the one row counter ---------------------------------------------------------------------------
def count_rows(path: str | Path, max_bytes: int | None = None) -> int | None:
    """Rows of a data file exactly as the runtime's load step counts them (``rows`` of a source):
    non-blank JSONL lines, .json array elements, non-blank CSV/TSV records, Parquet rows. None for
    a kind of file it does not count (a folder, a document) or one over ``max_bytes``. Raises
    DataError for what the load step would refuse: not a regular file, a UTF-16 file, a JSON
    document saved as .jsonl, an oversized row."""
    suffix = Path(path).suffix.lower()
    if suffix not in COUNTED_SUFFIXES:
        return None
    size = require_regular_file(path).st_size
    if max_bytes is not None and size > max_bytes:
        return None
    if suffix in (".jsonl", ".ndjson"):
        return _count_jsonl(path)
    if suffix in (".parquet", ".pq"):
        return _count_parquet(path)
    rows = json_rows(path) if suffix == ".json" else csv_rows(path)
    return sum(1 for _ in rows)


def _count_jsonl(path: str | Path) -> int:
    n = 0
    for number, offset, raw in data_lines(path):
        if n == 0:  # only the first row is parsed: the JSON-document-as-JSONL check
            row, reason = jsonl_row(RowParser(), raw, offset)
            check_first_jsonl_row(path, number, raw, row, reason)
        n += 1
    return n


def _count_parquet(path: str | Path) -> int:
    import pyarrow.parquet as pq  # only for Parquet data; light next to torch

    require_regular_file(path)  # pyarrow needs a seekable file: checked, then opened by path
    try:
        return int(pq.ParquetFile(str(path)).metadata.num_rows)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError.at(path, f"not a readable Parquet file ({str(err)[:160]})") from None
