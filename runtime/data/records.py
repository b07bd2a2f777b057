"""The row type every data stage passes along, its text views, and JSONL (de)serialisation."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ftc.shared.files import DataError  # one error type for bad data, shared with the planner's facts

FORMATS: tuple[str, ...] = ("chat", "instruction", "completion", "preference", "kto", "text", "documents")


@dataclass(frozen=True)
class Record:
    source: str
    file: str
    line: int
    format: str
    fields: dict
    purpose: str = "train"  # "eval" for rows of the load config's eval_source

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _messages_text(messages: object, include_system: bool) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    out = []
    for m in messages or []:
        if include_system or m.get("role") != "system":
            out.append(str(m.get("content", "")))
    return out


def _parts(record: Record, include_system: bool) -> list[str]:
    f = record.fields
    fmt = record.format
    if fmt == "chat":
        return _messages_text(f.get("messages"), include_system)
    if fmt == "instruction":
        return [f.get("instruction", ""), f.get("input", ""), f.get("output", "")]
    if fmt == "completion":
        return [f.get("prompt", ""), f.get("completion", "")]
    if fmt in ("preference", "kto"):
        parts: list[str] = []
        for key in ("prompt", "chosen", "rejected", "completion"):
            parts += _messages_text(f.get(key), include_system)
        return parts
    return [f.get("text", "")]


def record_text(record: Record) -> str:
    """The whole text of a row, system turns included: what token counting measures."""
    return "\n".join(p for p in _parts(record, True) if p)


def match_text(record: Record) -> str:
    """The text dedup, n-grams and contamination compare. System turns are left out: one system
    prompt shared by every row would make all rows look alike."""
    return "\n".join(p for p in _parts(record, False) if p)


_RECORD_JSON = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True
)  # built once: json.dumps with options builds one a call


def _to_json(record: Record) -> str:
    # ``vars``, not ``dataclasses.asdict``: the same keys and, for values read from JSON, the same
    # text, without asdict's deep copy of every row's fields (most of the cost of a spooled row)
    return _RECORD_JSON.encode(vars(record))


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write JSONL atomically: a temp file in the same folder, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for record in records:
                out.write(_to_json(record))
                out.write("\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def iter_records(path: str | Path) -> Iterator[Record]:
    """The records of a file written by ``write_records``, streamed."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Record(**json.loads(line))
            except (ValueError, TypeError) as err:
                raise DataError(f"{path}:{n}: not a record written by ftc ({err})") from None


def read_records(path: str | Path) -> list[Record]:
    return list(iter_records(path))


class RecordSpool:
    """Records kept on disk, not in memory: appended in order to an anonymous temp file (gone
    when closed, or when the process ends), read back in the same order as often as needed."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")
        self.count = 0

    def append(self, record: Record) -> None:
        self._file.write(_to_json(record))
        self._file.write("\n")
        self.count += 1

    def __iter__(self) -> Iterator[Record]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield Record(**json.loads(line))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TextSpool:
    """Texts kept on disk, not in memory: UTF-8 appended to an anonymous temp file, with where each
    one ends (8 bytes a row), so chosen rows can be read back by number. ``ftc data check`` keeps
    each cleaned row's text here for the tokenizer sample; spooling whole records as JSON cost more
    than the rest of the scan."""

    def __init__(self, path: str | Path | None = None) -> None:
        """``path``: a named file (another process's part, read back by ``extend_from``)."""
        self._file = open(path, "w+b") if path is not None else tempfile.TemporaryFile("w+b")  # noqa: SIM115
        self._ends = array("q")
        self._size = 0

    def append(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")  # a lone surrogate from a JSON escape round-trips
        self._file.write(data)
        self._size += len(data)
        self._ends.append(self._size)

    def __len__(self) -> int:
        return len(self._ends)

    @property
    def ends(self) -> array:
        return self._ends

    def extend_from(self, path: str | Path, ends: array) -> None:
        """Append the texts another spool wrote to ``path`` (its ``ends`` say where each stops)."""
        self._file.seek(0, os.SEEK_END)
        with open(path, "rb") as src:
            shutil.copyfileobj(src, self._file, 1 << 20)
        self._ends.extend(end + self._size for end in ends)
        self._size += ends[-1] if ends else 0

    def read(self, rows: Iterable[int]) -> Iterator[str]:
        """The texts of the given rows, in the order given (ascending reads the file forwards)."""
        self._file.flush()
        for i in rows:
            start = self._ends[i - 1] if i else 0
            self._file.seek(start)
            yield self._file.read(self._ends[i] - start).decode("utf-8", "surrogatepass")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TextSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
