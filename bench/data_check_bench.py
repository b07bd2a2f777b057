"""Time `ftc data check` on 100k generated chat rows (issue 4: at most 60 s on a 2-core machine).
A figure, not a test: `python bench/data_check_bench.py [N]`. The data lives in a temp dir."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from data_check_gen import generate  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    ftc = Path(sys.executable).parent / "ftc"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.jsonl"
        t0 = time.perf_counter()
        generate(str(path), n)
        print(f"generated {n} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([str(ftc), "data", "check", str(path), "--format", "chat", "--json"],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        out = json.loads(proc.stdout)
        print(f"ftc data check: {seconds:.1f} s (exit {proc.returncode}); rows {out['rows']}, "
              f"exact {out['exact_duplicates']}, near {out['near_duplicates']}, unique {out['unique_rows']}, "
              f"tokens {out['tokens']} ({out['token_method']})")
        # CPU seconds are the figure to compare when other jobs share the machine: wall time
        # then measures the neighbours as much as ftc (the tokenizer may use both cores).
        load = os.getloadavg()[0]
        print(f"CPU time {cpu:.1f} s on {os.cpu_count()} cores; load average {load:.1f} during the run")
        print(f"{'OK' if seconds <= 60 else 'OVER'}: budget 60 s wall")


if __name__ == "__main__":
    main()
