"""`make bench`: every benchmark in turn, each printing its own figures and ratios.

- lint_cold_start.py: cold start of `ftc lint` (goal < 0.3 s).
- data_check_bench.py: 100k chat rows through `ftc data check` (goal <= 60 s).
- train_vs_trl.py: ftc's SFT step against a hand-written TRL + PEFT script, same model, data
  and steps (tokens/s and peak RSS, with the ratio).

Run on an otherwise idle machine: wall times on a shared CPU measure the neighbours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["lint_cold_start.py", "data_check_bench.py", "train_vs_trl.py"]


def main() -> int:
    failed = []
    for name in BENCHES:
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, str(HERE / name)]) != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
