"""Dedup step: exact duplicates (same canonical fields after normalisation, case and spacing
ignored), then near duplicates by MinHash LSH. The first occurrence is kept, deterministically.

Only training rows are deduped, each format on its own; documents and eval rows pass through.
"""

from __future__ import annotations

import hashlib
import json

from .minhash import near_pairs, signatures
from .records import Record, match_text

DEFAULTS = {"near_threshold": 0.85, "num_perm": 128, "shingle_words": 5}
MAX_LISTED = 100


def exact_key(record: Record) -> str:
    canon = json.dumps(record.fields, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(" ".join(canon.casefold().split()).encode(), digest_size=16).hexdigest()


def _dedupable(record: Record) -> bool:
    return record.purpose == "train" and record.format != "documents"


def find_duplicates(records: list[Record], cfg: dict) -> dict[int, tuple[int, str]]:
    """{index of a dropped row: (index of the row it duplicates, "exact" | "near")}."""
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    dropped: dict[int, tuple[int, str]] = {}
    for fmt in sorted({r.format for r in records if _dedupable(r)}):
        idx = [i for i, r in enumerate(records) if _dedupable(r) and r.format == fmt]
        first: dict[str, int] = {}
        survivors = []
        for i in idx:
            key = exact_key(records[i])
            if key in first:
                dropped[i] = (first[key], "exact")
            else:
                first[key] = i
                survivors.append(i)
        sigs = signatures((match_text(records[i]) for i in survivors), cfg["num_perm"], cfg["shingle_words"])
        for a, b in near_pairs(sigs, cfg["near_threshold"], cfg["num_perm"], only_first=True):
            dropped[survivors[a]] = (survivors[b], "near")
    return dropped


def dedup(records, cfg: dict) -> tuple[list[Record], dict]:
    records = list(records)
    dropped = find_duplicates(records, cfg)
    kept = [r for i, r in enumerate(records) if i not in dropped]
    listed = [{"file": records[i].file, "line": records[i].line, "kept_file": records[j].file,
               "kept_line": records[j].line, "kind": kind} for i, (j, kind) in sorted(dropped.items())[:MAX_LISTED]]
    kinds = [k for _, k in dropped.values()]
    stats = {"in": len(records), "out": len(kept), "exact_duplicates": kinds.count("exact"),
             "near_duplicates": kinds.count("near"), "dropped": listed}
    return kept, stats
