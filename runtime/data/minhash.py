"""MinHash signatures and LSH candidate search (datasketch), shared by dedup and split.

Shingles are word 5-grams of the lower-cased text with punctuation dropped (a text shorter than
that is one shingle). Profiling 100k rows showed building shingle strings and hashing them one
by one in Python as the slow part, so words are hashed once each (crc32: C speed, stable across
processes, unlike ``hash()``), a shingle's hash is a polynomial of its words' hashes computed for
all rows at once with numpy, and the signatures are computed in numpy blocks exactly as
datasketch's ``MinHash.update_batch`` would (its permutations, its scheme), then wrapped in
``LeanMinHash`` for datasketch's LSH index: per-row ``MinHash`` objects cost more than the hashing.
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
    """crc32 of every word of every text, and where each text starts. Each distinct word is hashed
    once; the mapping runs at C speed (``map`` over a dict), not a Python call per word."""
    all_words: list[str] = []
    bounds = [0]
    findall = _WORD.findall
    for text in texts:
        all_words.extend(findall(text.lower()))
        bounds.append(len(all_words))
    vocab = {w: zlib.crc32(w.encode()) for w in dict.fromkeys(all_words)}
    return np.fromiter(map(vocab.__getitem__, all_words), dtype=np.uint64, count=len(all_words)), bounds


def _fold32(x: np.ndarray) -> np.ndarray:
    return ((x >> np.uint64(32)) ^ x) & np.uint64(0xFFFFFFFF)


def shingle_hashes(texts: Iterable[str], k: int) -> tuple[np.ndarray, list[int]]:
    """32-bit hashes of the word k-shingles of all texts, concatenated, and each text's
    [start, end) in that array (empty for a text with no words)."""
    ids, bounds = _word_ids(texts)
    powers = [_MULT ** np.uint64(j) for j in range(k)]
    n = len(ids)
    parts: list[np.ndarray] = []
    offsets = [0]
    with np.errstate(over="ignore"):  # wrap-around mod 2^64 is the point
        window = np.zeros(max(n - k + 1, 0), dtype=np.uint64)
        for j in range(k):
            window += ids[j:n - k + 1 + j] * powers[j]
        for s, e in zip(bounds, bounds[1:]):
            if e - s >= k:
                part = window[s:e - k + 1]
            elif e > s:  # shorter than one shingle: the whole text is the shingle
                part = np.array([sum(int(ids[s + j]) * int(powers[j]) for j in range(e - s)) % 2**64], dtype=np.uint64)
            else:
                part = window[:0]
            parts.append(part)
            offsets.append(offsets[-1] + len(part))
    flat = _fold32(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)
    return flat.astype(np.uint32), offsets


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, the pre-mix datasketch's affine32 scheme applies."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


SEED = 1
# Shingles per numpy block: 2^14 x 128 permutations x 4 bytes = 8 MiB stays in cache; 2^18 was
# 15x slower (memory traffic and fresh pages), and permutations-major layout (reduce along
# contiguous memory) another 3x faster than shingles-major.
_CHUNK = 1 << 14


def signature_matrix(flat: np.ndarray, offsets: list[int], num_perm: int) -> np.ndarray:
    """Row i: the MinHash of shingles flat[offsets[i]:offsets[i+1]], computed as datasketch's
    ``MinHash.update_batch`` does (affine32 scheme, its permutations for SEED) but for all rows at
    once; ``tests/test_data_split.py`` checks the two agree. Rows without shingles stay at the max."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=SEED).permutations
    a, b = a.astype(np.uint32)[:, None], b.astype(np.uint32)[:, None]
    bounds = np.asarray(offsets, dtype=np.int64)
    rows = len(bounds) - 1
    out = np.full((rows, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(flat)
    r = 0
    with np.errstate(over="ignore"):  # uint32 wrap-around is the modulo 2^32 of the scheme
        while r < rows:
            r_end = min(rows, max(r + 1, int(np.searchsorted(bounds, bounds[r] + _CHUNK, side="right")) - 1))
            lo, hi = int(bounds[r]), int(bounds[r_end])
            if hi - lo > _CHUNK:  # one very long row: a running minimum over blocks
                for blk in range(lo, hi, _CHUNK):
                    block = a * mixed[None, blk:min(hi, blk + _CHUNK)] + b
                    out[r] = np.minimum(out[r], block.min(axis=1))
            elif hi > lo:
                phv = a * mixed[None, lo:hi]
                phv += b
                starts = bounds[r:r_end] - lo
                nonempty = bounds[r + 1:r_end + 1] > bounds[r:r_end]
                out[r:r_end][nonempty] = np.minimum.reduceat(phv, starts[nonempty], axis=1).T
            r = r_end
    return out


def signatures(texts: Iterable[str], num_perm: int, k: int) -> list:
    """A LeanMinHash per text (None for a text with no words)."""
    from datasketch import LeanMinHash

    flat, offsets = shingle_hashes(texts, k)
    matrix = signature_matrix(flat, offsets, num_perm)
    return [LeanMinHash(seed=SEED, hashvalues=matrix[i], scheme="affine32") if offsets[i + 1] > offsets[i] else None
            for i in range(len(offsets) - 1)]


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
