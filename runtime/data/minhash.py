"""MinHash signatures and LSH candidate search, shared by dedup and split.

Shingles are word 5-grams of the lower-cased text with punctuation dropped (a text shorter than
that is one shingle). Profiling 100k rows showed building shingle strings and hashing them one
by one in Python as the slow part, so words are hashed once each (crc32: C speed, stable across
processes, unlike ``hash()``), a shingle's hash is a polynomial of its words' hashes computed for
a block of texts at once with numpy, and the signatures are computed in numpy blocks exactly as
datasketch's ``MinHash.update_batch`` would (its permutations, its affine32 scheme).

Memory: the signatures live in one uint32 array per block of rows (``MinHashes``), and
the LSH search is done on those arrays: each band's values are hashed to one uint64 per row,
rows are grouped by sorting, and only rows that share a band with an earlier row are looked at
one by one. That finds exactly the candidates datasketch's ``MinHashLSH`` (same bands: its
``b`` and ``r`` for the threshold) would, without a ``LeanMinHash`` object per row or the
index's per-row dictionaries, which cost ~5 KB a row.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np

_WORD = re.compile(r"\w+")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: the polynomial's base
SEED = 1
# Texts hashed together: their words and shingles are the only per-text temporaries.
BLOCK_ROWS = 8192
# Shingles per numpy block: 2^14 x 128 permutations x 4 bytes = 8 MiB stays in cache; 2^18 was
# 15x slower (memory traffic and fresh pages), and permutations-major layout (reduce along
# contiguous memory) another 3x faster than shingles-major.
_CHUNK = 1 << 14


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _word_ids(texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """crc32 of every word of every text, and where each text starts. Each distinct word is hashed
    once; the mapping runs at C speed (``map`` over a dict), not a Python call per word."""
    all_words: list[str] = []
    bounds = [0]
    findall = _WORD.findall
    for text in texts:
        all_words.extend(findall(text.lower()))
        bounds.append(len(all_words))
    vocab = {w: zlib.crc32(w.encode()) for w in dict.fromkeys(all_words)}
    ids = np.fromiter(map(vocab.__getitem__, all_words), dtype=np.uint64, count=len(all_words))
    return ids, np.asarray(bounds, dtype=np.int64)


def _fold32(x: np.ndarray) -> np.ndarray:
    return ((x >> np.uint64(32)) ^ x) & np.uint64(0xFFFFFFFF)


def shingle_hashes(texts: Iterable[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the word k-shingles of all texts, concatenated, and each text's
    [start, end) in that array (empty for a text with no words)."""
    ids, bounds = _word_ids(texts)
    powers = [_MULT ** np.uint64(j) for j in range(k)]
    windows = max(len(ids) - k + 1, 0)  # k-word windows over the concatenation (some straddle texts)
    parts: list[np.ndarray] = []
    offsets = [0]
    with np.errstate(over="ignore"):  # wrap-around mod 2^64 is the point
        window = np.zeros(windows, dtype=np.uint64)
        for j in range(k if windows else 0):
            window += ids[j : j + windows] * powers[j]
        for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if e - s >= k:
                part = window[s : e - k + 1]  # the windows wholly inside this text
            elif e > s:  # shorter than one shingle: the whole text is the shingle
                part = np.array([sum(int(ids[s + j]) * int(powers[j]) for j in range(e - s)) % 2**64], dtype=np.uint64)
            else:
                part = window[:0]
            parts.append(part)
            offsets.append(offsets[-1] + len(part))
    flat = _fold32(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)
    return flat.astype(np.uint32), np.asarray(offsets, dtype=np.int64)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, the pre-mix datasketch's affine32 scheme applies."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=SEED).permutations
    return a.astype(np.uint32)[:, None], b.astype(np.uint32)[:, None]


def signature_matrix(
    flat: np.ndarray, offsets: np.ndarray, num_perm: int, perms: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Row i: the MinHash of shingles flat[offsets[i]:offsets[i+1]], computed as datasketch's
    ``MinHash.update_batch`` does (affine32 scheme, its permutations for SEED) but for all rows at
    once; ``tests/data/test_split.py`` checks the two agree. Rows without shingles stay at the max."""
    a, b = perms or permutations(num_perm)
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
                    block = a * mixed[None, blk : min(hi, blk + _CHUNK)] + b
                    out[r] = np.minimum(out[r], block.min(axis=1))
            elif hi > lo:
                phv = a * mixed[None, lo:hi]
                phv += b
                starts = bounds[r:r_end] - lo
                nonempty = bounds[r + 1 : r_end + 1] > bounds[r:r_end]
                out[r:r_end][nonempty] = np.minimum.reduceat(phv, starts[nonempty], axis=1).T
            r = r_end
    return out


class MinHashes:
    """The MinHash signatures of texts added one at a time, as one uint32 array per block of up
    to BLOCK_ROWS rows (512 bytes a row at 128 permutations), plus which rows have any shingle.
    A read flushes the pending texts as a short block; rows may still be added after it."""

    def __init__(self, num_perm: int, k: int) -> None:
        self.num_perm, self.k = num_perm, k
        self._perms = permutations(num_perm)
        self._blocks: list[np.ndarray] = []
        self._starts: list[int] = []  # the first row of each block
        self._rows = 0  # rows in blocks
        self._shingled: list[np.ndarray] = []
        self._pending: list[str] = []

    def add(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= BLOCK_ROWS:
            self._flush()

    def extend(self, texts: Iterable[str]) -> MinHashes:
        for text in texts:
            self.add(text)
        return self

    def _flush(self) -> None:
        if self._pending:
            flat, offsets = shingle_hashes(self._pending, self.k)
            self._blocks.append(signature_matrix(flat, offsets, self.num_perm, self._perms))
            self._starts.append(self._rows)
            self._rows += len(self._pending)
            self._shingled.append(np.diff(offsets) > 0)
            self._pending = []

    def __len__(self) -> int:
        return self._rows + len(self._pending)

    def append_block(self, block: np.ndarray, shingled: np.ndarray) -> None:
        """Signatures computed elsewhere (another process's part of the file) as the next rows."""
        self._flush()
        self._blocks.append(block)
        self._starts.append(self._rows)
        self._rows += len(block)
        self._shingled.append(shingled)

    def save(self, f: BinaryIO) -> None:
        """Every signature, row after row, as raw uint32 (``np.fromfile`` reads them back), one
        block at a time: no copy of them all."""
        self._flush()
        for block in self._blocks:
            block.tofile(f)

    def shingled(self) -> np.ndarray:
        """True for each row that has a shingle (a text with no words has no signature)."""
        self._flush()
        return np.concatenate(self._shingled) if self._shingled else np.zeros(0, dtype=bool)

    def row(self, i: int) -> np.ndarray:
        self._flush()
        block = bisect.bisect_right(self._starts, int(i)) - 1
        return self._blocks[block][int(i) - self._starts[block]]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of the given rows, as one (len(rows), num_perm) array."""
        self._flush()
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.num_perm), dtype=np.uint32)
        starts = np.asarray(self._starts, dtype=np.int64)
        block_of = np.searchsorted(starts, rows, side="right") - 1
        for block in np.unique(block_of).tolist():
            here = block_of == block
            out[here] = self._blocks[block][rows[here] - starts[block]]
        return out

    def band_key(self, band: int, r: int) -> np.ndarray:
        """One uint64 per row: the r values of one band hashed together. One band at a time, so
        the search holds 8 bytes a row besides the signatures."""
        self._flush()
        parts = []
        with np.errstate(over="ignore"):  # a polynomial mod 2^64, as for shingles
            for block in self._blocks:
                key = np.zeros(len(block), dtype=np.uint64)
                for j in range(band * r, (band + 1) * r):
                    key *= _MULT
                    key += block[:, j]
                parts.append(key)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band): datasketch's choice for this threshold, so candidates match its LSH."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity, computed as datasketch's ``MinHash.jaccard`` does."""
    return float(np.count_nonzero(a == b)) / float(len(a))


def _band_mates(mh: MinHashes, rows: np.ndarray, positions: np.ndarray, b: int, r: int) -> dict[int, list[list[int]]]:
    """For each position that shares some band with another: the groups (ascending positions)
    it shares a band with. Rows are grouped by sorting each band's keys; rows whose keys are
    equal are then split by their actual band values, so a 64-bit key collision adds nothing."""
    mates: dict[int, list[list[int]]] = {}
    for band in range(b):
        keys = mh.band_key(band, r)[rows[positions]]
        order = np.argsort(keys, kind="stable")  # stable: a group's members stay ascending
        ordered = keys[order]
        del keys
        starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        ends = np.append(starts[1:], len(ordered))
        big = ends - starts > 1
        for s, e in zip(starts[big].tolist(), ends[big].tolist(), strict=True):
            members = positions[order[s:e]].tolist()
            values = mh.take(rows[members])[:, band * r : (band + 1) * r]
            exact: dict[bytes, list[int]] = {}
            for p, v in zip(members, values, strict=True):
                exact.setdefault(v.tobytes(), []).append(p)
            for group in exact.values():
                if len(group) > 1:
                    for p in group:
                        mates.setdefault(p, []).append(group)
    return mates


def near_pairs(
    mh: MinHashes, threshold: float, only_first: bool, subset: np.ndarray | None = None
) -> Iterator[tuple[int, int]]:
    """(i, j), positions in ``subset`` (default: every row) with j < i, sharing an LSH band and
    with estimated Jaccard >= threshold: the pairs datasketch's MinHashLSH would give when rows
    are queried, then inserted, in order. With only_first, each i is compared with the earlier
    rows that were not themselves matched (dedup keeps the first occurrence; a matched row is
    never inserted) and yields at most one pair; else every verified pair (clusters for the split).
    Rows without a shingle take no part."""
    rows = np.arange(len(mh), dtype=np.int64) if subset is None else np.asarray(subset, dtype=np.int64)
    positions = np.flatnonzero(mh.shingled()[rows]) if len(rows) else np.zeros(0, dtype=np.int64)
    b, r = lsh_bands(threshold, mh.num_perm)
    mates = _band_mates(mh, rows, positions, b, r)
    matched: set[int] = set()
    for i in sorted(mates):
        earlier = {j for group in mates[i] for j in group if j < i and j not in matched}
        if not earlier:
            continue
        sig = mh.row(rows[i])
        for j in sorted(earlier):
            if jaccard(sig, mh.row(rows[j])) >= threshold:
                yield i, j
                if only_first:
                    matched.add(i)
                    break
