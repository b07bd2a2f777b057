"""Dedup step: exact duplicates (same canonical fields after normalisation, case and spacing
ignored), then near duplicates by MinHash LSH. The first occurrence is kept, deterministically.

Only training rows are deduped, each format on its own; documents and eval rows pass through.
What is kept per row is compact: a 16-byte digest and a MinHash signature in numpy
arrays (``DedupIndex``), so ``ftc data check`` can feed rows in one at a time and keep none.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from .minhash import MinHashes, near_pairs
from .records import Record, match_text

DEFAULTS = {"near_threshold": 0.85, "num_perm": 128, "shingle_words": 5}
MAX_LISTED = 100
KEPT, EXACT, NEAR = 0, 1, 2
KINDS = {EXACT: "exact", NEAR: "near"}


def settings(cfg: dict) -> dict:
    return {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}


_CANON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)  # built once: json.dumps with options builds one a call


def exact_digest(record: Record) -> bytes:
    canon = _CANON.encode(record.fields)
    return hashlib.blake2b(" ".join(canon.casefold().split()).encode(), digest_size=16).digest()


def exact_key(record: Record) -> str:
    return exact_digest(record).hex()


class DedupIndex:
    """Rows of one format added in order; ``duplicates()`` then says which to drop and why."""

    def __init__(self, cfg: dict) -> None:
        self.cfg = settings(cfg)
        self._digests = bytearray()
        self._minhashes = MinHashes(self.cfg["num_perm"], self.cfg["shingle_words"])

    def add(self, record: Record) -> None:
        self._digests += exact_digest(record)
        self._minhashes.add(match_text(record))

    def __len__(self) -> int:
        return len(self._digests) // 16

    def digests(self) -> bytes:
        return bytes(self._digests)

    @property
    def minhashes(self) -> MinHashes:
        return self._minhashes

    def extend(self, digests: bytes, signatures: np.ndarray, shingled: np.ndarray) -> None:
        """Rows indexed elsewhere (another process's part of the file), as the next rows."""
        self._digests += digests
        self._minhashes.append_block(signatures, shingled)

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """(dup_of, kind) per row: the row it duplicates (-1 if kept) and KEPT / EXACT / NEAR."""
        n = len(self)
        dup_of = np.full(n, -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int8)
        if n == 0:
            return dup_of, kind
        digests = np.frombuffer(bytes(self._digests), dtype="V16")
        _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        first_of = first[inverse.reshape(-1)]  # np.unique keeps each key's first occurrence
        exact = first_of != np.arange(n)
        dup_of[exact], kind[exact] = first_of[exact], EXACT
        survivors = np.flatnonzero(~exact)
        for a, b in near_pairs(self._minhashes, self.cfg["near_threshold"], only_first=True, subset=survivors):
            dup_of[survivors[a]], kind[survivors[a]] = survivors[b], NEAR
        return dup_of, kind


def _dedupable(record: Record) -> bool:
    return record.purpose == "train" and record.format != "documents"


def find_duplicates(records: list[Record], cfg: dict) -> dict[int, tuple[int, str]]:
    """{index of a dropped row: (index of the row it duplicates, "exact" | "near")}."""
    dropped: dict[int, tuple[int, str]] = {}
    for fmt in sorted({r.format for r in records if _dedupable(r)}):
        idx = [i for i, r in enumerate(records) if _dedupable(r) and r.format == fmt]
        index = DedupIndex(cfg)
        for i in idx:
            index.add(records[i])
        dup_of, kind = index.duplicates()
        for local in np.flatnonzero(kind).tolist():
            dropped[idx[local]] = (idx[int(dup_of[local])], KINDS[int(kind[local])])
    return dropped


def dedup(records, cfg: dict) -> tuple[list[Record], dict]:
    records = list(records)
    dropped = find_duplicates(records, cfg)
    kept = [r for i, r in enumerate(records) if i not in dropped]
    listed = [
        {
            "file": records[i].file,
            "line": records[i].line,
            "kept_file": records[j].file,
            "kept_line": records[j].line,
            "kind": kind,
        }
        for i, (j, kind) in sorted(dropped.items())[:MAX_LISTED]
    ]
    kinds = [k for _, k in dropped.values()]
    stats = {
        "in": len(records),
        "out": len(kept),
        "exact_duplicates": kinds.count("exact"),
        "near_duplicates": kinds.count("near"),
        "dropped": listed,
    }
    return kept, stats
