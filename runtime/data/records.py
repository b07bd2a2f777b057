"""The row type every data stage passes along, its text views, and JSONL (de)serialisation."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
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


def _to_json(record: Record) -> str:
    return json.dumps(asdict(record), ensure_ascii=False, sort_keys=True)


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
