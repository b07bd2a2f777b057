"""The GPU path, checked on a CUDA machine: the quickstart planned with ``device = cuda`` and trained
for a few steps in bf16 with LoRA, QLoRA (bitsandbytes) and, with two GPUs, 2-process DDP
(``accelerate launch``, as ``ftc run`` starts it). For each: the measured peak memory
(``torch.cuda.max_memory_allocated``) beside the plan's estimate, and tokens/s.

    .venv/bin/python bench/gpu_check.py [--steps 20] [--out bench/results/gpu_check.json] [--model-dir DIR]

Without CUDA it says so and exits 0 (nothing to check here). Writes its figures as JSON.
``--model-dir``: a folder with the base's config.json and tokenizer but no weights (a GPU machine
that cannot receive the embedded model's 270 MB): the base is built from its config with random
weights, so memory and speed are the real architecture's, and the loss means nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "quickstart.ftr"


def _project(tmp: Path, constraints: str, train: str) -> Path:
    """The quickstart in a scratch project, its constraints and train block replaced."""
    for rel in ("data/tickets.jsonl", "schemas/ticket.json"):
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "recipes" / rel, tmp / rel)
    text = RECIPE.read_text(encoding="utf-8")
    head, rest = text.split("  constraints {", 1)
    _, tail = rest.split("}", 1)
    path = tmp / "quickstart.ftr"
    path.write_text(f"{head}  constraints {{\n{constraints}\n  }}\n{train}{tail}", encoding="utf-8")
    return path


def _plan(tmp: Path, constraints: str, method: str) -> dict:
    from ftc.compiler.plan.compile import compile_recipe
    from ftc.shared.errors import FtcError

    try:
        return dict(compile_recipe(_project(tmp, constraints, f"\n  train {{\n    method = {method}\n  }}\n")).plan)
    except FtcError as exc:
        raise SystemExit(f"the quickstart did not plan for cuda:\n{exc.message}") from exc


def _examples(plan: dict) -> list:
    from ftc.runtime.prompting import to_example

    rows = [
        json.loads(line)
        for line in (REPO / "recipes/data/tickets.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [to_example(r, "chat", plan["prompt"]["system"]) for r in rows[:256]]


def _hp(plan: dict, steps: int) -> dict:
    hp = dict(plan["hyperparameters"])
    hp["max_steps"] = {"value": steps}
    hp["early_stopping"] = {"value": False}
    hp["save_steps"] = {"value": 10**6}  # a speed check: no checkpoints
    return hp


_BASE: dict[str, Path] = {}  # the base's folder, set once in main


def _from_config(model_dir: Path, out: Path) -> Path:
    """The architecture of ``model_dir``'s config.json with random weights, saved beside its tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir), dtype=torch.float32)
    model.save_pretrained(out)
    for f in model_dir.iterdir():
        if f.is_file() and f.name != "config.json":
            shutil.copy(f, out / f.name)
    return out


def _base_dir(plan: dict) -> Path:
    from ftc.runtime.models import resolve_model

    return _BASE.get("dir") or resolve_model(plan["model"]["base"])


def _one_process(plan: dict, steps: int, out: Path) -> dict[str, Any]:
    import torch

    from ftc.runtime.train.sft import train_sft

    torch.cuda.reset_peak_memory_stats()
    result = train_sft(_base_dir(plan), _examples(plan), None, _hp(plan, steps), out, method=plan["method"])
    return {
        "peak_bytes": torch.cuda.max_memory_allocated(),
        "tokens_per_s": result.train_tokens / result.train_seconds,
        "steps": result.global_step,
        "last_loss": next((h["loss"] for h in reversed(result.history) if "loss" in h), None),
    }


def _ddp(plan: dict, steps: int, out: Path) -> dict[str, Any]:
    from ftc.runtime import launch

    rows = [{"prompt": list(e.prompt), "completion": e.completion} for e in _examples(plan)]
    job = {
        "kind": "sft",
        "model_dir": str(_base_dir(plan)),
        "train": rows,
        "val": None,
        "hp": _hp(plan, steps),
        "out_dir": str(out),
        "method": plan["method"],
        "timeout_s": 600,
    }
    result = launch.run(out, job, plan["distributed"], use_cpu=False)
    assert result is not None
    return {
        "peak_bytes": result.get("cuda_peak_bytes"),
        "tokens_per_s": result["train_tokens"] / result["train_seconds"],
        "steps": result["global_step"],
        "processes": plan["distributed"]["processes"],
        "note": "peak of rank 0; tokens/s over both processes",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gpu_check.json")
    parser.add_argument("--model-dir", type=Path, help="config.json and tokenizer, no weights: random-weight base")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device on this machine (torch " + torch.__version__ + "); nothing to check. "
            "Run it where `torch.cuda.is_available()` is true, with the CUDA build of torch and bitsandbytes."
        )
        return 0
    os.environ.setdefault("FTC_NUM_THREADS", "4")
    if args.model_dir is not None:
        _BASE["dir"] = _from_config(args.model_dir, Path(tempfile.mkdtemp()) / "base")
    gpus = torch.cuda.device_count()
    figures: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "gpus": gpus,
        "torch": torch.__version__,
        "steps": args.steps,
        "weights": "random (from config.json)" if args.model_dir else "the embedded model's",
        "runs": {},
    }
    runs = [("lora", "    device = cuda", _one_process), ("qlora", "    device = cuda", _one_process)]
    if gpus >= 2:
        runs.append(("lora-ddp2", "    device = cuda\n    gpus = 2", _ddp))
    for name, constraints, fn in runs:
        with tempfile.TemporaryDirectory() as tmp:
            plan = _plan(Path(tmp), constraints, name.split("-")[0])
            try:
                got = fn(plan, args.steps, Path(tmp) / "out")
            except Exception as exc:  # noqa: BLE001 - a failed run is a figure too: report it and go on
                got = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            got["plan_peak_bytes"] = plan["estimates"]["peak_memory_bytes"]
            figures["runs"][name] = got
            _print(name, got)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all("error" not in r for r in figures["runs"].values()) else 1


def _print(name: str, got: dict[str, Any]) -> None:
    if "error" in got:
        print(f"{name:10} FAILED {got['error']}")
        return
    gb = lambda b: "-" if b is None else f"{b / 1e9:.2f} GB"  # noqa: E731
    print(
        f"{name:10} peak {gb(got['peak_bytes'])} (plan {gb(got['plan_peak_bytes'])}), "
        f"{got['tokens_per_s']:.0f} tokens/s, {got['steps']} steps"
    )


if __name__ == "__main__":
    sys.exit(main())
