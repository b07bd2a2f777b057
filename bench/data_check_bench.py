"""`ftc data check`: time on 100k ticket rows (target: at most 60 s on a 2-core machine) and peak
memory on 100k / 300k / 1M small chat rows (target: 1M rows under 1.5 GB).

A figure, not a test: ``python bench/data_check_bench.py [--sizes 100000,300000,1000000] [--time-rows N]
[--repeat N] [--json]`` (with ``--repeat``, each figure is the median of N runs).
The data lives in a temp dir. Each run is the real ``ftc data check --json`` in a child process;
its peak RSS and CPU time come from ``os.wait4`` on that child alone. The load average is printed
before and after each run: on a shared machine wall times measure the neighbours as much as ftc,
and the CPU time and peak RSS are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def median_run(path: Path, repeat: int) -> dict:
    """``check`` ``repeat`` times; the run with the median wall time, its CPU and RSS medians too."""
    runs = [check(path) for _ in range(max(1, repeat))]
    mid = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return dict(
        mid,
        cpu=statistics.median(r["cpu"] for r in runs),
        rss_mb=statistics.median(r["rss_mb"] for r in runs),
        runs=len(runs),
    )


def figures(label: str, run: dict) -> dict:
    return {
        "label": label,
        "rows": run["result"]["rows"],
        "wall_s": round(run["wall"], 2),
        "cpu_s": round(run["cpu"], 2),
        "peak_rss_mb": round(run["rss_mb"], 1),
        "exit": run["exit"],
        "runs": run["runs"],
        "load_average": [round(x, 2) for x in run["load"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="small-row counts for the memory figure")
    parser.add_argument("--time-rows", type=int, default=100_000, help="ticket rows for the time figure (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the median is reported")
    parser.add_argument("--json", action="store_true", help="print one BENCH line of JSON")
    args = parser.parse_args()
    ok = True
    out: list[dict] = []
    show = (lambda *a: None) if args.json else print
    with tempfile.TemporaryDirectory() as tmp:
        if args.time_rows:
            path = Path(tmp) / "tickets.jsonl"
            generate(str(path), args.time_rows)
            run = median_run(path, args.repeat)
            out.append(dict(figures("tickets", run), file_mb=round(path.stat().st_size / 1e6, 1)))
            if not args.json:
                report(f"{args.time_rows} ticket rows", path, run)
            ok &= run["wall"] <= TIME_LIMIT_S
            show(f"  {'OK' if run['wall'] <= TIME_LIMIT_S else 'OVER'}: budget {TIME_LIMIT_S} s wall")
            path.unlink()
        for n in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"small{n}.jsonl"
            generate(str(path), n, small=True)
            run = median_run(path, args.repeat)
            out.append(dict(figures("small", run), file_mb=round(path.stat().st_size / 1e6, 1)))
            if not args.json:
                report(f"{n} small chat rows", path, run)
            if n >= 1_000_000:
                ok &= run["rss_mb"] <= MEMORY_LIMIT_MB
                show(f"  {'OK' if run['rss_mb'] <= MEMORY_LIMIT_MB else 'OVER'}: budget {MEMORY_LIMIT_MB} MB peak RSS")
            path.unlink()
    if args.json:
        print("BENCH " + json.dumps({"runs": out, "within_budgets": bool(ok)}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
