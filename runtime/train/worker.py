"""One process of a launched training run: ``python -m ftc.runtime.train.worker JOB.json``.

Started by ``accelerate launch`` (``ftc.runtime.launch``); the distributed environment (RANK,
WORLD_SIZE, MASTER_ADDR, ...) is picked up by the transformers/TRL Trainer, which wraps the model
in DDP or FSDP through accelerate. The worker runs the same training function a single process
runs (``train_sft`` or ``train_dpo``), so checkpoints and resume are the same: each rank resumes
from the newest complete checkpoint. Rank 0 alone writes the outputs (the trainer saves
checkpoints from rank 0; ``train_sft``/``train_dpo`` save the final adapter only there) and
``result.json``; rank 0 prints its progress for the parent as ``FTC-PROGRESS`` lines.

Test hook: FTC_TEST_FAIL_RANK=N (with FTC_TEST_FAIL_STEP=S, default 1) makes rank N raise after
optimizer step S, so the tests can prove a dying rank is reported and nothing is left running.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ftc.runtime.launch import PROGRESS, RESULT


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _progress_callback() -> Any:
    from transformers import TrainerCallback

    def emit(event: str, state: Any, logs: dict | None = None) -> None:
        if rank() != 0:
            return
        data = {"event": event, "global_step": int(state.global_step), "max_steps": int(state.max_steps)}
        if logs:
            data["logs"] = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
        print(PROGRESS + json.dumps(data), flush=True)

    class _Emit(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201 - transformers' signature
            emit("begin", state)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            emit("step", state)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            emit("log", state, logs)

    return _Emit()


def _fail_injection() -> list[Any]:
    """The test hook (see the module doc): a callback that raises on the chosen rank."""
    target = os.environ.get("FTC_TEST_FAIL_RANK")
    if target is None or int(target) != rank():
        return []
    from transformers import TrainerCallback

    at = int(os.environ.get("FTC_TEST_FAIL_STEP", "1"))

    class _Fail(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if state.global_step >= at:
                raise RuntimeError(
                    f"injected failure on rank {rank()} at step {state.global_step} (FTC_TEST_FAIL_RANK)"
                )

    return [_Fail()]


def _examples(rows: list[dict]) -> list[Any]:
    from ftc.runtime.prompting import Example

    return [Example(prompt=list(r["prompt"]), completion=str(r["completion"])) for r in rows]


def run_job(job: dict) -> dict:
    """Train as the job says; the result rank 0 hands back (TrainResult's fields)."""
    callbacks = [_progress_callback(), *_fail_injection()]
    hp = dict(job["hp"])
    hp["ddp_timeout"] = int(job.get("timeout_s") or 1800)  # the process-group timeout (trainer_arguments)
    out_dir = Path(job["out_dir"])
    if job["kind"] == "dpo":
        from ftc.runtime.train.dpo import train_dpo

        sft = job.get("sft_output")
        result = train_dpo(
            Path(job["model_dir"]),
            job["rows"],
            hp,
            out_dir,
            sft_output=Path(sft) if sft else None,
            beta=job.get("beta"),
            lr=job.get("lr"),
            callbacks=callbacks,
            method=str(job.get("method") or "lora"),
        )
    else:
        from ftc.runtime.train.sft import train_sft

        val = _examples(job["val"]) if job.get("val") else None
        result = train_sft(
            Path(job["model_dir"]),
            _examples(job["train"]),
            val,
            hp,
            out_dir,
            method=job.get("method", "lora"),
            resume=True,
            callbacks=callbacks,
        )
    return {
        "cuda_peak_bytes": _cuda_peak(),
        "output_dir": str(result.output_dir),
        "history": result.history,
        "global_step": result.global_step,
        "train_seconds": result.train_seconds,
        "train_tokens": result.train_tokens,
        "method": result.method,
        "dropped_overlong": result.dropped_overlong,
        "batching": result.batching,
    }


def _cuda_peak() -> int | None:
    """This rank's peak CUDA memory (bench/gpu_check.py reports rank 0's), None on CPU."""
    import torch

    return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None


def _capture_stderr(folder: Path) -> None:
    """This rank's stderr into ``rank-N.log``: the parent reads the failing rank's lines there."""
    log = open(folder / f"rank-{rank()}.log", "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 2)
    sys.stderr = log


def _end_with_launcher(folder: Path) -> None:
    """torchrun puts each worker in a session of its own, so killing the launcher's group would
    leave the ranks running: die with the launcher (PR_SET_PDEATHSIG, Linux), and leave the pid
    for ``launch.kill_group``. A launcher already gone before this ran: stop now."""
    launcher = os.getppid()
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    (folder / f"rank-{rank()}.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    if os.getppid() != launcher:
        os._exit(1)


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    folder = Path(job["launch_dir"])
    _end_with_launcher(folder)
    _capture_stderr(folder)
    try:
        result = run_job(job)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then the process fails
        text = "".join(traceback.format_exception(exc))
        (folder / f"rank-{rank()}.error").write_text(text, encoding="utf-8")
        sys.stderr.write(text)
        return 1
    if rank() == 0:
        from ftc.shared import atomic

        atomic.write_json(folder / RESULT, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
