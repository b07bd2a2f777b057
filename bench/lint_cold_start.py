"""Cold start of `ftc lint recipes/quickstart.ftr`: the median wall time of N fresh processes.

Each run is a new interpreter, as in a pre-commit hook or a CI step, so imports count. The goal
is under 0.3 s on the reference 2-core machine. Usage:
    python bench/lint_cold_start.py [-n 15] [RECIPE]
Prints one line: the median, min and max wall seconds, the median CPU seconds (user + system,
steadier on a loaded machine), and whether torch was imported (it never should be).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.3


def ftc_command() -> list[str]:
    exe = Path(sys.executable).with_name("ftc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ftc.compiler.cli.main"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="number of runs (default 15)")
    parser.add_argument("--json", action="store_true", help="print one BENCH line of JSON")
    parser.add_argument("recipe", nargs="?", default=str(ROOT / "recipes" / "quickstart.ftr"))
    args = parser.parse_args()
    cmd = ftc_command() + ["lint", args.recipe]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="0")
    subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)  # warm the file cache and lark's grammar cache
    times, cpu = [], []
    for _ in range(args.n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds too: on a busy shared machine wall time mostly measures the neighbours
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if proc.returncode not in (0, 1):
            print(proc.stderr.decode(errors="replace"), file=sys.stderr)
            return 2
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ftc.compiler.cli.main import main; main(['lint', sys.argv[1]]); print('torch' in sys.modules)",
            args.recipe,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    torch = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "?"
    median = statistics.median(times)
    if args.json:
        figures = {"median_s": round(median, 4), "cpu_s": round(statistics.median(cpu), 4), "runs": args.n}
        print("BENCH " + json.dumps(dict(figures, torch_imported=torch == "True")), flush=True)
        return 0
    verdict = "ok" if median < GOAL_S else "over goal"
    print(
        f"ftc lint cold start: median {median:.3f} s wall (min {min(times):.3f}, max {max(times):.3f}, n={args.n}; "
        f"goal < {GOAL_S} s: {verdict}), median {statistics.median(cpu):.3f} s CPU; torch imported: {torch}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
