"""MinHash signatures and LSH candidate search (datasketch), shared by dedup and split.

Shingles are word 5-grams of the lower-cased text with punctuation dropped (a text shorter than
that is one shingle). Profiling 100k rows showed building shingle strings and hashing them one
by one in Python as the slow part, so words are hashed once each (crc32: C speed, stable across
processes, unlike ``hash()``), a shingle's hash is a polynomial of its words' hashes computed for
all rows at once with numpy, and ``MinHash.bulk`` turns those integers into signatures.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable, Iterator

import numpy as np

_WORD = re.compile(r"\w+")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: the polynomial's base


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _word_ids(texts: Iterable[str]) -> tuple[np.ndarray, list[int]]:
    cache: dict[str, int] = {}

    def wid(w: str) -> int:
        h = cache.get(w)
        if h is None:
            h = cache[w] = zlib.crc32(w.encode())
        return h

    ids: list[int] = []
    bounds = [0]
    for text in texts:
        ids.extend([wid(w) for w in _WORD.findall(text.lower())])
        bounds.append(len(ids))
    return np.array(ids, dtype=np.uint64), bounds


def _fold32(x: np.ndarray) -> np.ndarray:
    return ((x >> np.uint64(32)) ^ x) & np.uint64(0xFFFFFFFF)


def shingle_hashes(texts: Iterable[str], k: int) -> list[np.ndarray]:
    """Per text, the 32-bit hashes of its word k-shingles (empty for a text with no words)."""
    ids, bounds = _word_ids(texts)
    powers = [_MULT ** np.uint64(j) for j in range(k)]
    n = len(ids)
    with np.errstate(over="ignore"):  # wrap-around mod 2^64 is the point
        window = np.zeros(max(n - k + 1, 0), dtype=np.uint64)
        for j in range(k):
            window += ids[j:n - k + 1 + j] * powers[j]
        out = []
        for s, e in zip(bounds, bounds[1:]):
            if e - s >= k:
                out.append(_fold32(window[s:e - k + 1]))
            elif e > s:
                whole = np.uint64(0)
                for j in range(e - s):
                    whole += ids[s + j] * powers[j]
                out.append(_fold32(np.array([whole], dtype=np.uint64)))
            else:
                out.append(np.zeros(0, dtype=np.uint64))
    return out


def _identity(x: int) -> int:
    return x


def signatures(texts: Iterable[str], num_perm: int, k: int) -> list:
    """A LeanMinHash per text (None for a text with no words)."""
    from datasketch import LeanMinHash, MinHash

    sets = shingle_hashes(texts, k)
    nonempty = [s.tolist() for s in sets if len(s)]
    sigs = iter(MinHash.bulk(nonempty, num_perm=num_perm, hashfunc=_identity)) if nonempty else iter(())
    return [LeanMinHash(next(sigs)) if len(s) else None for s in sets]


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
