"""`make bench`: every benchmark in turn, into one file: ``bench/results/latest.json`` and a dated copy.

    .venv/bin/python bench/run_all.py [--quick] [--repeat N] [--only SECTION,...] [--out DIR]

Sections (each a script in bench/ that prints one ``BENCH {json}`` line):

- lint: cold start of ``ftc lint`` (lint_cold_start.py) -> ``lint_cold_s``
- data: ``ftc data check`` on 100k, 300k and 1M small chat rows and 100k ticket rows
  (data_check_bench.py) -> ``data_100k_s``, ``data_300k_s``, ``data_1m_s``, ``data_1m_peak_mb``
- train: ftc's SFT against a hand-written TRL + PEFT script (train_vs_trl.py) ->
  ``train_tokens_per_s_ratio``, ``train_peak_rss_ratio``, ``holdout_loss_delta_pct``
- generate: ftc's greedy generation against transformers' ``generate``, outputs asserted
  identical (generate_vs_hf.py) -> ``generate_tokens_per_s_ratio``
- run: ``ftc run`` on the quickstart and two more recipes from empty run folders
  (ftc_run_bench.py) -> ``quickstart_run_s``, ``overhead_pct``, ``estimate_error_pct`` (the
  largest absolute error of the plan's time and memory estimates over the recipes, the plans
  estimating with this machine's ``ftc device profile``; ``estimate_error_reference_pct`` the same
  with the reference machine's constants), and ``quickstart_train_floor_s``: the quickstart's
  training FLOPs at this machine's fp32 matmul peak (matmul_peak.py), the shortest its training
  step can be here
- cuda: on a CUDA machine, gpu_check.py's LoRA / QLoRA figures (absent otherwise)

The machine's description includes its matmul peak (fp32, and bf16 where the CPU has it natively).
Each benchmark repeats (``--repeat``, default 3) and reports the median; ``ftc run`` runs each
recipe once (the quickstart takes minutes). The machine's cores, torch threads and load average
are recorded at the start and before every section; a section that starts on a busy machine
(1-minute load average above half the cores) gets a warning in the file's ``warnings``: its
figures measure the neighbours too. ``--quick`` (or ``FTC_BENCH_QUICK=1``) runs every section
on tiny sizes in a minute or two, to check the file end to end; its figures mean nothing.
``--only`` runs some sections and carries the others over from the previous latest.json, each
section keeping the time and load it was measured under.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftc_run_bench import ftc  # the ftc command of this venv (bench/ is the script's folder)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
SECTIONS = ("lint", "data", "train", "generate", "run", "cuda")
BUSY_LOAD_PER_CORE = 0.5
SETTLE_S = 120.0  # the longest wait between sections for the bench's own load to decay
# The keys every benchmark file has (tests/bench checks them); None where a figure could not be taken.
KEYS = (
    "train_tokens_per_s_ratio",
    "train_peak_rss_ratio",
    "holdout_loss_delta_pct",
    "generate_tokens_per_s_ratio",
    "quickstart_run_s",
    "overhead_pct",
    "estimate_error_pct",
    "estimate_error_reference_pct",
    "lint_cold_s",
    "data_100k_s",
    "data_300k_s",
    "data_1m_s",
    "data_1m_peak_mb",
    "quickstart_train_floor_s",
    "machine",
)
ESTIMATE_RECIPES = ("quickstart", "polite-replies", "handbook-qa")


def bench(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run one benchmark script in its own process; its ``BENCH`` line as a dict."""
    proc = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, cwd=REPO, env=env
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return dict(json.loads(line[6:]), exit=proc.returncode)
    raise RuntimeError(f"{script} printed no figures (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def machine(quick: bool = False) -> dict:
    import torch

    threads = os.environ.get("FTC_NUM_THREADS", "").strip()
    return {
        "cores": os.cpu_count(),
        "torch_threads": int(threads) if threads.isdigit() else torch.get_num_threads(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "matmul": bench("matmul_peak.py", "--json", *_matmul_size(quick)),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def busy() -> tuple[bool, float]:
    load = os.getloadavg()[0]
    return load > BUSY_LOAD_PER_CORE * (os.cpu_count() or 1), load


def settle(limit_s: float = SETTLE_S) -> None:
    """Wait, up to ``limit_s``, for the 1-minute load average to fall below the busy line: it decays
    over about a minute, so right after a section the bench's own work reads as a busy machine."""
    deadline = time.monotonic() + limit_s
    while busy()[0] and time.monotonic() < deadline:
        time.sleep(5)


# --- sections: each returns (top-level keys, detail) ---------------------------------------------
def lint(quick: bool, repeat: int) -> tuple[dict, dict]:
    r = bench("lint_cold_start.py", "-n", "2" if quick else str(max(5, 5 * repeat)), "--json")
    return {"lint_cold_s": r["median_s"]}, r


def data(quick: bool, repeat: int) -> tuple[dict, dict]:
    sizes = (1_000, 3_000, 10_000) if quick else (100_000, 300_000, 1_000_000)
    args = ["--sizes", ",".join(map(str, sizes)), "--time-rows", "1000" if quick else "100000"]
    r = bench("data_check_bench.py", *args, "--repeat", str(repeat), "--json")
    small = [run for run in r["runs"] if run["label"] == "small"]
    keys = {
        "data_100k_s": small[0]["wall_s"],
        "data_300k_s": small[1]["wall_s"],
        "data_1m_s": small[2]["wall_s"],
        "data_1m_peak_mb": small[2]["peak_rss_mb"],
    }
    per_row = [run["cpu_s"] / run["rows"] for run in small]
    # near-linear: CPU seconds per row at 1M over that at 100k (1.0 = linear); CPU time, since wall
    # time on a shared machine grows with the neighbours' work.
    r["cpu_per_row_growth"] = round(per_row[2] / per_row[0], 2) if per_row[0] else None
    return keys, r


def train(quick: bool, repeat: int) -> tuple[dict, dict]:
    sizes = ["--steps", "1", "--batch", "2", "--rows", "4", "--holdout", "2"] if quick else []
    r = bench("train_vs_trl.py", *sizes, "--repeat", str(repeat), "--json")
    return {
        "train_tokens_per_s_ratio": r["tokens_per_s_ratio"],
        "train_peak_rss_ratio": r["peak_rss_ratio"],
        "holdout_loss_delta_pct": r["holdout_loss_delta_pct"],
    }, r


def generate(quick: bool, repeat: int) -> tuple[dict, dict]:
    sizes = ["--rows", "2", "--batch", "2", "--max-new-tokens", "8"] if quick else ["--rows", "24"]
    r = bench("generate_vs_hf.py", *sizes, "--repeat", str(repeat), "--json")
    if not r["identical"]:
        raise RuntimeError(f"ftc's generation differs from generate on rows {r['differing_rows']}")
    # on a busy machine the wall-time ratio measures the load's swings: CPU seconds are compared
    ratio = r["cpu_ratio"] if busy()[0] else r["ratio"]
    return {"generate_tokens_per_s_ratio": ratio}, dict(r, ratio_basis="cpu seconds" if busy()[0] else "wall")


def run(quick: bool, repeat: int, reuse: Path | None = None) -> tuple[dict, dict]:
    """``ftc run`` from empty run folders: the quickstart (wall, overhead), then the estimate check
    over it and two more recipes. Once each: the quickstart alone takes minutes. ``reuse``: a
    folder holding ``<recipe>/`` run folders that ftc_run_bench.py --runs-dir filled earlier;
    they are measured again (with today's plan estimates) instead of run.

    The plans estimate with a device profile of this machine (``ftc device profile``, measured
    first); each run is also measured against the plan the reference constants give
    (``estimate_error_reference_pct``), the figure a user who never profiled sees."""
    # On a busy machine wall time measures the neighbours: the estimates are checked against CPU time
    # per torch thread.
    # Reused runs were timed when they ran: their wall figures stand whatever the load is now.
    basis = "estimate_error_cpu_pct" if busy()[0] and reuse is None else "estimate_error_pct"
    peak = matmul_gflops(quick)  # under the load the runs start with
    with tempfile.TemporaryDirectory(prefix="ftc-bench-run-") as tmp:
        profile = _profile(Path(tmp) / "cpu.json", quick)
        measured = json.loads(profile.read_text(encoding="utf-8")) if profile else None
        env = dict(os.environ, FTC_DEVICE_PROFILE=str(profile) if profile else "off")
        recipes = [_tiny_recipe(Path(tmp))] if quick else [REPO / "recipes" / f"{n}.ftr" for n in ESTIMATE_RECIPES]
        runs = []
        for n, recipe in enumerate(recipes):
            folder = reuse / recipe.stem if reuse is not None else Path(tmp) / f"runs{n}"
            if reuse is not None:
                subprocess.run(ftc_plan(recipe, folder / "plan.json"), check=True, capture_output=True, env=env)
                runs.append(bench("ftc_run_bench.py", "--runs-dir", str(folder), "--measure-only", "--json"))
                runs[-1]["reused_run"] = str(folder)
            else:
                runs.append(bench("ftc_run_bench.py", str(recipe), "--runs-dir", str(folder), "--json", env=env))
            reference = folder / "plan-reference.json"
            off = dict(os.environ, FTC_DEVICE_PROFILE="off")
            subprocess.run(ftc_plan(recipe, reference), check=True, capture_output=True, env=off)
            ref = bench(
                "ftc_run_bench.py", "--runs-dir", str(folder), "--measure-only", "--plan", str(reference), "--json"
            )
            runs[-1]["estimate_error_reference_pct"] = ref["estimate_error_pct"]
            runs[-1]["estimated_reference_s"] = ref["estimated_s"]
    errors = [abs(e) for r in runs for k, e in r[basis].items() if k in ("total", "peak_memory")]
    reference_errors = [
        abs(e) for r in runs for k, e in r["estimate_error_reference_pct"].items() if k in ("total", "peak_memory")
    ]
    quick_run = runs[0]
    quick_run["train_floor"] = train_floor(quick_run, peak)
    return {
        "quickstart_run_s": quick_run["wall_s"],
        "quickstart_train_floor_s": quick_run["train_floor"]["floor_s"],
        "overhead_pct": quick_run["overhead_pct"],
        "estimate_error_pct": max(errors) if errors else None,
        "estimate_error_reference_pct": max(reference_errors) if reference_errors else None,
    }, {
        "recipes": runs,
        "device_profile": measured,
        "estimate_error_basis": f"largest |error| of the total seconds and the peak memory, from {basis}"
        + (", plans estimated with this machine's device profile" if profile else ""),
    }


def matmul_gflops(quick: bool) -> float:
    """fp32 matmul GFLOP/s now, at the benchmark's threads (bench/matmul_peak.py)."""
    return float(bench("matmul_peak.py", "--json", *_matmul_size(quick))["fp32_gflops"])


def _matmul_size(quick: bool) -> list[str]:
    return ["--size", "512", "--repeat", "2"] if quick else []


def train_floor(run: dict, peak_gflops: float) -> dict:
    """The shortest training this machine allows: the plan's training FLOPs (a LoRA step's forward
    and input-gradient matmuls) at the fp32 matmul peak, against the train step's measured seconds.
    A ``share_of_peak`` near 1 means training can only get shorter with fewer FLOPs or a faster
    chip (bf16), not with less overhead."""
    flops, seconds = run.get("train_flops"), (run.get("measured_s") or {}).get("train")
    if not flops or not seconds or not peak_gflops:
        return {"floor_s": None, "peak_gflops": peak_gflops}
    floor = flops / (peak_gflops * 1e9)
    return {
        "floor_s": round(floor, 1),
        "peak_gflops": peak_gflops,
        "train_flops": flops,
        "measured_s": seconds,
        "achieved_gflops": round(flops / seconds / 1e9, 1),
        "share_of_peak": round(floor / seconds, 3),
    }


def _profile(out: Path, quick: bool) -> Path | None:
    """This machine's device profile for the plans (not in --quick: it takes a minute)."""
    if quick:
        return None
    subprocess.run(ftc() + ["device", "profile", "--out", str(out)], check=True, capture_output=True)
    return out


def ftc_plan(recipe: Path, out: Path) -> list[str]:
    return ftc() + ["plan", str(recipe), "--out", str(out)]


def _tiny_recipe(tmp: Path) -> Path:
    """The quickstart on 30 rows, one training step of 2 rows, a fixed prompt and lr (no search, no
    probe)."""
    rows = (REPO / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    (tmp / "data" / "tickets.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    shutil.copytree(REPO / "recipes" / "schemas", tmp / "schemas")
    text = (REPO / "recipes" / "quickstart.ftr").read_text(encoding="utf-8")
    text = text.replace("holdout = 20%", "holdout = 10%")
    text = (
        text.rstrip().removesuffix("}")
        + "  train {\n    max_steps  = 1\n    batch      = 2\n    grad_accum = 1\n    few_shot   = 0\n"
        + "    lr         = 2e-4\n  }\n}\n"
    )
    (tmp / "quickstart.ftr").write_text(text, encoding="utf-8")
    return tmp / "quickstart.ftr"


def cuda(quick: bool, repeat: int) -> tuple[dict, dict]:
    import torch

    if not torch.cuda.is_available():
        return {}, {"skipped": "no CUDA device"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gpu.json"
        subprocess.run(
            [sys.executable, str(HERE / "gpu_check.py"), "--steps", "2" if quick else "20", "--out", str(out)],
            check=True,
            cwd=REPO,
        )
        return {}, json.loads(out.read_text(encoding="utf-8"))


RUNNERS: dict[str, Callable[[bool, int], tuple[dict, dict]]] = {
    "lint": lint,
    "data": data,
    "train": train,
    "generate": generate,
    "run": run,
    "cuda": cuda,
}


def run_sections(names: list[str], quick: bool, repeat: int, previous: dict, reuse: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {k: previous.get(k) for k in KEYS if k != "machine"}
    sections: dict[str, Any] = dict(previous.get("sections") or {})
    warnings = [w for w in previous.get("warnings", []) if w.split(":", 1)[0] not in names]
    for n, name in enumerate(names):
        if n and not quick:
            settle()
        is_busy, load = busy()
        print(f"== {name} (load average {load:.1f} on {os.cpu_count()} cores)", flush=True)
        if is_busy:
            warnings.append(
                f"{name}: the machine was busy at its start (1-minute load average {load:.1f} on "
                f"{os.cpu_count()} cores): its wall times and ratios include the neighbours' load"
            )
        start = time.perf_counter()
        try:
            keys, detail = run(quick, repeat, reuse) if name == "run" else RUNNERS[name](quick, repeat)
        except (RuntimeError, KeyError, IndexError, subprocess.CalledProcessError) as err:
            warnings.append(f"{name}: failed: {str(err)[:500]}")
            keys, detail = {}, {"error": str(err)[-3000:]}
        out.update(keys)
        sections[name] = {
            "measured_at": _now(),
            "load_average_start": round(load, 2),
            "load_average_end": round(os.getloadavg()[0], 2),
            "busy": is_busy,
            "seconds": round(time.perf_counter() - start, 1),
            "repeat": repeat,
            **detail,
        }
        print(json.dumps(keys), flush=True)
    return {**out, "sections": sections, "warnings": warnings}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", default=os.environ.get("FTC_BENCH_QUICK") == "1")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("FTC_BENCH_REPEAT", "3")))
    ap.add_argument("--only", help="comma-separated sections (" + ", ".join(SECTIONS) + "); the rest carried over")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for latest.json and the dated copy")
    ap.add_argument("--reuse-runs", type=Path, help="measure finished runs in DIR/<recipe>/ instead of running them")
    args = ap.parse_args()
    names = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    repeat = 1 if args.quick else max(1, args.repeat)
    latest = args.out / "latest.json"
    previous = json.loads(latest.read_text(encoding="utf-8")) if args.only and latest.exists() else {}
    if previous.get("quick") and not args.quick:
        previous = {}  # never mix tiny figures into a real file
    started = _now()
    info = machine(args.quick)
    result = run_sections(names, args.quick, repeat, previous, args.reuse_runs)
    doc = {
        "written_at": _now(),
        "started_at": started,
        "quick": args.quick,
        "machine": info,
        **{k: result[k] for k in KEYS if k != "machine"},
        "warnings": result["warnings"],
        "sections": result["sections"],
    }
    if args.quick:
        doc["warnings"].insert(0, "quick mode: tiny sizes, one run each; the figures only prove the file is complete")
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2) + "\n"
    latest.write_text(text, encoding="utf-8")
    (args.out / f"bench-{started.replace(':', '')}.json").write_text(text, encoding="utf-8")
    print(f"wrote {latest}")
    missing = [k for k in KEYS if doc.get(k) is None and k not in ("machine",)]
    if missing:
        print("no figure for: " + ", ".join(missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
