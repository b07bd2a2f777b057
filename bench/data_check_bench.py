"""`ftc data check`: time on 100k ticket rows (target: at most 60 s on a 2-core machine) and peak
memory on 100k / 300k / 1M small chat rows (target: 1M rows under 1.5 GB).

A figure, not a test: ``python bench/data_check_bench.py [--sizes 100000,300000,1000000] [--time-rows N]``.
The data lives in a temp dir. Each run is the real ``ftc data check --json`` in a child process;
its peak RSS and CPU time come from ``os.wait4`` on that child alone. The load average is printed
before and after each run: on a shared machine wall times measure the neighbours as much as ftc,
and the CPU time and peak RSS are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from data_check_gen import generate  # noqa: E402

TIME_LIMIT_S = 60  # 100k ticket rows
MEMORY_LIMIT_MB = 1500  # 1M small rows


def check(path: Path) -> dict:
    """Run `ftc data check --json` on one file; wall, CPU, peak RSS of that process and its output."""
    ftc = Path(sys.executable).parent / "ftc"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(ftc), "data", "check", str(path), "--format", "chat", "--json"], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        result = json.load(out)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "exit": proc.returncode,
        "load": (load_before, os.getloadavg()[0]),
        "result": result,
    }


def report(label: str, path: Path, run: dict) -> None:
    r = run["result"]
    print(
        f"{label}: {path.stat().st_size / 1e6:.0f} MB file; wall {run['wall']:.1f} s, CPU {run['cpu']:.1f} s, "
        f"peak RSS {run['rss_mb']:.0f} MB (exit {run['exit']}); load average {run['load'][0]:.1f} -> "
        f"{run['load'][1]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  rows {r['rows']}, exact {r['exact_duplicates']}, near {r['near_duplicates']}, unique {r['unique_rows']}, "
        f"tokens {r['tokens']} ({r['token_method']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="small-row counts for the memory figure")
    parser.add_argument("--time-rows", type=int, default=100_000, help="ticket rows for the time figure (0: skip)")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if args.time_rows:
            path = Path(tmp) / "tickets.jsonl"
            generate(str(path), args.time_rows)
            run = check(path)
            report(f"{args.time_rows} ticket rows", path, run)
            ok &= run["wall"] <= TIME_LIMIT_S
            print(f"  {'OK' if run['wall'] <= TIME_LIMIT_S else 'OVER'}: budget {TIME_LIMIT_S} s wall")
            path.unlink()
        for n in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"small{n}.jsonl"
            generate(str(path), n, small=True)
            run = check(path)
            report(f"{n} small chat rows", path, run)
            if n >= 1_000_000:
                ok &= run["rss_mb"] <= MEMORY_LIMIT_MB
                print(f"  {'OK' if run['rss_mb'] <= MEMORY_LIMIT_MB else 'OVER'}: budget {MEMORY_LIMIT_MB} MB peak RSS")
            path.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
