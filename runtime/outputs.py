"""What a finished step wrote, file by file, so a damaged cache is noticed instead of reused.

Each step records the size and digest of every output file in its ``step.json``; before a cached
step is reused the folder is checked against that list. A truncated ``holdout.jsonl`` or adapter
once passed as "cached" (the marker alone said the step was done) and the gate compared a tune
scored on 3 rows with a baseline scored on 6.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MARKER = "step.json"

# Files up to this size are hashed whole. A bigger one (full model weights) is hashed by its size
# and three 1 MiB samples, so checking a cached 14 GB model takes milliseconds; truncation, the
# damage a killed copy or a full disk leaves, always changes the size.
FULL_HASH_LIMIT = 256 << 20
_SAMPLE = 1 << 20


def file_digest(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(str(size).encode())
            for offset in (0, size // 2, size - _SAMPLE):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()


def manifest(folder: Path, scratch: tuple[str, ...] = ()) -> dict[str, dict]:
    """``{relative path: {"size", "sha256"}}`` of every file in ``folder`` except the marker and
    the ``scratch`` sub-folders (resume state such as checkpoints, which nothing downstream reads)."""
    out: dict[str, dict] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MARKER or rel.split("/", 1)[0] in scratch:
            continue
        out[rel] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    return out


def damage(folder: Path, recorded: object) -> str:
    """Why ``folder`` no longer holds what its step recorded, or "" when every file matches."""
    if not isinstance(recorded, dict):
        return "its step.json records no output digests"
    for rel, want in sorted(recorded.items()):
        path = folder / rel
        if not path.is_file():
            return f"{rel} is missing"
        if not isinstance(want, dict) or path.stat().st_size != want.get("size"):
            return f"{rel} changed size since the step wrote it (truncated?)"
        if file_digest(path) != want.get("sha256"):
            return f"{rel} changed since the step wrote it"
    return ""
