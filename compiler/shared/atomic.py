"""Atomic file writes: a reader (or a run killed half-way) sees the old file or the new one, never a
torn one. Write into a temp file in the same folder, fsync, then ``os.replace`` (atomic on POSIX).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# mkstemp creates 0600 files; a result file should get the permissions a plain open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` atomically. A symlink is written through (its target is replaced, the link
    stays a link), and an existing file keeps its permissions."""
    path = _through_links(Path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _FILE_MODE
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Ctrl-C mid-write must not leave a stray temp file behind.
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _through_links(path: Path) -> Path:
    """The file a chain of symlinks ends at (which may not exist yet); ``os.replace`` on the link
    itself would swap the link for a regular file."""
    if path.is_symlink():
        return Path(os.path.realpath(path))
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """Canonical JSON for files people read and programs diff: sorted keys, indented."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, dumps(obj))


def write_jsonl(path: str | Path, rows: Sequence[Mapping[str, object]]) -> Path:
    text = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)
    return write_text(path, text)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def copy_file(src: str | Path, dst: str | Path) -> Path:
    """Copy through a temp file so ``dst`` appears whole or not at all."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


def copy_tree(src: str | Path, dst: str | Path) -> Path:
    """Copy a folder into a temp sibling, then rename it into place (replacing an older copy)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        replace_dir(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def replace_dir(tmp: Path, dst: Path) -> None:
    """Move a finished folder into place; an older ``dst`` is renamed away first, then removed."""
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dst)
