"""MinHash signatures and LSH candidate search (datasketch), shared by dedup and split.

Shingles are word 5-grams of the lower-cased text with punctuation dropped; a text shorter than
that is one shingle. Hashing uses crc32 (C speed, stable across processes, unlike ``hash()``)
and ``MinHash.bulk`` computes all signatures with numpy.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable, Iterator

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, k: int) -> set[bytes]:
    w = words(text)
    if len(w) <= k:
        return {" ".join(w).encode()} if w else set()
    return {" ".join(w[i:i + k]).encode() for i in range(len(w) - k + 1)}


def _crc32(data: bytes) -> int:
    return zlib.crc32(data)


def signatures(texts: Iterable[str], num_perm: int, k: int) -> list:
    """A LeanMinHash per text (None for a text with no words)."""
    from datasketch import LeanMinHash, MinHash

    sets = [shingles(t, k) for t in texts]
    nonempty = [s for s in sets if s]
    sigs = iter(MinHash.bulk(nonempty, num_perm=num_perm, hashfunc=_crc32)) if nonempty else iter(())
    return [LeanMinHash(next(sigs)) if s else None for s in sets]


def near_pairs(sigs: list, threshold: float, num_perm: int, only_first: bool) -> Iterator[tuple[int, int]]:
    """(i, j) with j < i and estimated Jaccard >= threshold. With only_first, each i is compared
    with the earlier rows that were not themselves matched (dedup keeps the first occurrence) and
    yields at most one pair; else every verified pair among all rows (clusters for the split)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, sig in enumerate(sigs):
        if sig is None:
            continue
        matched = False
        for j in sorted(lsh.query(sig)):
            if sig.jaccard(sigs[j]) >= threshold:
                matched = True
                yield i, j
                if only_first:
                    break
        if not (only_first and matched):
            lsh.insert(i, sig)
