"""`ftc run` end to end on a recipe: wall time, ftc's own overhead, and the plan's estimates
against what the run measured.

    .venv/bin/python bench/ftc_run_bench.py [RECIPE] [--runs-dir DIR] [--json]

The run starts from empty run folders (a temp dir unless ``--runs-dir``), with the model already
converted and nothing else remembered: it runs with a home (``FTC_HOME``) whose entries link to
the real one's except ``cache/``, so the base model's perplexities are computed, as on a first
run, and the real cache is left as it was. From each step's state (``ftc.runtime.timing``:
seconds inside the trainer and the generator, the step's peak RSS) it derives:

- overhead: wall time less the trainer's and the generator's own seconds, as a share of wall;
- estimate errors: the plan's ``seconds_breakdown`` (train, inference: the baseline's holdout,
  eval, prompt_search, lr_probe, index, data: the data steps with the gate and export)
  and its total, and ``peak_memory_bytes``, each against the measured figure, in percent
  ((estimate - measured) / measured): positive means the plan over-estimated. Seconds are compared
  twice: against wall time, and against CPU time per torch thread (``estimate_error_cpu_pct``,
  the CPU seconds divided by ``FTC_NUM_THREADS``, or by the cores without it: what an idle
  machine's wall time would be), which on a shared, busy machine is the steadier figure.
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

REPO = Path(__file__).resolve().parents[1]
SEARCH_FILE = "prompt_search.json"
TUNING_KINDS = ("train", "dpo", "distill")
DATA_KINDS = ("load", "clean", "dedup", "split", "gate", "export")  # the plan's ``data`` estimate


def ftc() -> list[str]:
    exe = Path(sys.executable).with_name("ftc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ftc.compiler.cli.main"]


def cold_home(folder: Path) -> Path:
    """A home with the real one's models, device profile and parser cache, and no run caches."""
    from ftc.shared.paths import ftc_home

    real = ftc_home()
    (real / "models").mkdir(parents=True, exist_ok=True)  # a conversion lands in the real home
    for entry in real.iterdir():
        if entry.name != "cache":
            (folder / entry.name).symlink_to(entry)
    return folder


def run(recipe: Path, runs_dir: Path) -> dict:
    plan_file = runs_dir / "plan.json"
    with tempfile.TemporaryDirectory(prefix="ftc-bench-home-") as tmp:
        env = dict(os.environ, FTC_HOME=str(cold_home(Path(tmp))))
        subprocess.run(ftc() + ["plan", str(recipe), "--out", str(plan_file)], check=True, capture_output=True, env=env)
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        start = time.perf_counter()
        proc = subprocess.run(
            ftc() + ["run", str(recipe), "--runs-dir", str(runs_dir), "-q"], capture_output=True, text=True, env=env
        )
        wall = time.perf_counter() - start
    if proc.returncode not in (0, 3):  # 3: not promoted, which is a verdict, not a failure
        sys.exit(f"ftc run {recipe} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    states = list(runs_dir.glob("*/*/state.json"))
    state = json.loads(max(states, key=lambda p: p.stat().st_mtime).read_text(encoding="utf-8"))
    return measure(plan, state, wall, proc.returncode)


def measure_dir(runs_dir: Path, plan_file: Path | None = None) -> dict:
    """A finished run against its plan, or against ``plan_file`` (another plan of the same recipe:
    the same work estimated otherwise, e.g. without the device profile)."""
    plan = json.loads((plan_file or runs_dir / "plan.json").read_text(encoding="utf-8"))
    state = json.loads(max(runs_dir.glob("*/*/state.json"), key=lambda p: p.stat().st_mtime).read_text("utf-8"))
    return measure(plan, state, sum(s["seconds"] for s in state["steps"].values()), -1)


def measure(plan: dict, state: dict, wall: float, exit_code: int) -> dict:
    steps = state["steps"]
    work = {"train": 0.0, "generate": 0.0}
    for s in steps.values():
        for kind, secs in (s.get("work_seconds") or {}).items():
            work[kind] = work.get(kind, 0.0) + secs
    est = plan["estimates"]
    measured, cpu = _measured_seconds(steps, "seconds"), _measured_seconds(steps, "cpu_seconds")
    per_thread = {k: round(v / torch_threads(), 1) for k, v in cpu.items()}
    # Only what ran is compared: a guard may skip the tune (the prompt is the deliverable).
    est_secs = {k: v for k, v in est["seconds_breakdown"].items() if k in measured}
    est_secs["total"] = round(sum(est_secs.values()), 1)
    tuned = any(s["kind"] in TUNING_KINDS and s["status"] == "ran" for s in steps.values())
    breakdown = est["memory_breakdown"]
    generation_peak = est.get("generation_peak_bytes") or breakdown["weights"] + breakdown["overhead"]
    est_peak = est["peak_memory_bytes"] if tuned else generation_peak
    peaks = [s["peak_rss_bytes"] for s in steps.values() if s.get("peak_rss_bytes")]
    errors = {k: _error(est_secs[k], v) for k, v in measured.items() if k in est_secs and v}
    cpu_errors = {k: _error(est_secs[k], v) for k, v in per_thread.items() if k in est_secs and v}
    if peaks:
        errors["peak_memory"] = cpu_errors["peak_memory"] = _error(est_peak, max(peaks))
    return {
        "recipe": plan["recipe"]["name"],
        "exit_code": exit_code,
        "verdict": (state.get("gate") or {}).get("verdict") or (state.get("gate") or {}).get("status"),
        "wall_s": round(wall, 1),
        "work_s": {k: round(v, 1) for k, v in work.items()},
        "overhead_pct": round(100 * (wall - sum(work.values())) / wall, 1),
        "steps_s": {sid: round(s["seconds"], 1) for sid, s in steps.items()},
        "measured_s": measured,
        "measured_cpu_s": cpu,
        "torch_threads": torch_threads(),
        "estimated_s": est_secs,
        # The plan's training FLOPs (run_all.py sets them against the machine's matmul peak).
        "train_flops": (est.get("flops") or {}).get("train") if tuned else None,
        "measured_peak_rss_bytes": max(peaks) if peaks else None,
        "estimated_peak_bytes": est_peak,
        "tuned": tuned,
        "estimate_error_pct": errors,
        "estimate_error_cpu_pct": cpu_errors,
    }


def torch_threads() -> int:
    """The threads each step's torch ran with: ``FTC_NUM_THREADS``, else torch's default (the cores)."""
    value = os.environ.get("FTC_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1


def _measured_seconds(steps: dict, field: str) -> dict[str, float]:
    """The run's steps' ``field`` (seconds or cpu_seconds) grouped as the plan's
    ``seconds_breakdown`` groups them, and their total."""
    by_kind: dict[str, float] = {}
    for s in steps.values():
        by_kind[s["kind"]] = by_kind.get(s["kind"], 0.0) + float(s.get(field) or 0.0)
    search = 0.0
    for s in steps.values():
        if s["kind"] == "baseline" and s.get("dir") and (Path(s["dir"]) / SEARCH_FILE).exists():
            search = float(json.loads((Path(s["dir"]) / SEARCH_FILE).read_text(encoding="utf-8"))["seconds"])
            # the search records wall seconds: its CPU time is taken at the baseline step's CPU/wall rate
            search *= float(s.get(field) or 0.0) / s["seconds"] if s["seconds"] else 1.0
    out = {
        "train": sum(by_kind.get(k, 0.0) for k in TUNING_KINDS),
        "inference": by_kind.get("baseline", 0.0) - search,
        "eval": by_kind.get("eval", 0.0),
        "prompt_search": search,
        "lr_probe": by_kind.get("lr_probe", 0.0),
        "index": by_kind.get("index", 0.0),
        "data": sum(by_kind.get(k, 0.0) for k in DATA_KINDS),
    }
    out["total"] = sum(by_kind.values())
    return {k: round(v, 1) for k, v in out.items() if v}


def _error(estimate: float, measured: float) -> float:
    return round(100 * (estimate - measured) / measured, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", nargs="?", default=str(REPO / "recipes" / "quickstart.ftr"))
    ap.add_argument("--runs-dir", help="keep the run here (default: a temp dir, removed)")
    ap.add_argument("--json", action="store_true", help="print one BENCH line of JSON")
    ap.add_argument("--measure-only", action="store_true", help="re-read a finished --runs-dir (wall: its steps' sum)")
    ap.add_argument("--plan", type=Path, help="with --measure-only: the estimates of this plan file instead")
    args = ap.parse_args()
    if args.measure_only and args.runs_dir:
        r = measure_dir(Path(args.runs_dir), args.plan)
    elif args.runs_dir:
        Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
        r = run(Path(args.recipe), Path(args.runs_dir))
    else:
        with tempfile.TemporaryDirectory(prefix="ftc-run-bench-") as tmp:
            r = run(Path(args.recipe), Path(tmp))
    print(("BENCH " + json.dumps(r)) if args.json else json.dumps(r, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
