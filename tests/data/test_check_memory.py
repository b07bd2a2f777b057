"""`ftc data check` memory grows with the data only through compact arrays (the target: 1M
rows under 1.5 GB). Measured as the growth of the traced peak between two file
sizes, so the interpreter and the imports cancel out: a Record, a MinHash object or a Python
string kept per row would cost kilobytes a row (the old pipeline: ~5 KB); the MinHash signature
(128 x uint32) and a few numbers are ~0.55 KB."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
PER_ROW_LIMIT = 1000  # bytes of traced peak per extra row (measured: ~550)


def _peak(path: Path) -> int:
    from ftc.runtime.data.pipeline import check_file

    tracemalloc.start()
    try:
        check_file(str(path), "chat")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_data_check_keeps_no_python_object_per_row(tmp_path, monkeypatch):
    monkeypatch.setenv("FTC_HOME", str(tmp_path / "home"))  # chars/4: no tokenizer, so no record spool either
    from ftc.runtime.data import minhash

    monkeypatch.setattr(minhash, "BLOCK_ROWS", 1024)  # small blocks: both sizes span many, so their peaks compare
    sys.path.insert(0, str(BENCH))
    try:
        from data_check_gen import generate
    finally:
        sys.path.remove(str(BENCH))
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    generate(str(small), 3000, small=True)
    generate(str(large), 12000, small=True)
    _peak(small)  # first call: imports and datasketch's permutations are not the data's
    per_row = (_peak(large) - _peak(small)) / 9000
    assert per_row < PER_ROW_LIMIT, f"{per_row:.0f} bytes a row"
