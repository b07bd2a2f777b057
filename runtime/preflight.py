"""What a plan needs from this machine, checked before its first step runs.

A plan compiled for a CUDA device, or one whose teacher is a hub model that is not in the local
cache, would otherwise run its data steps and its baseline (minutes on a CPU) and then fail at the
step that needs the GPU or the model. `ftc run` calls :func:`check_runnable` first and says what is
missing and how to get it, before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftc.shared.errors import FtcError

# The step-config keys that name a model a step loads.
_MODEL_KEYS = ("model", "student", "teacher")


def check_runnable(plan: dict[str, Any], allow_download: bool) -> None:
    """Refuse a plan this machine cannot carry out: its device is missing, or a model it loads is
    neither embedded, a local folder, nor cached (and downloads are not allowed)."""
    problems = _device_problems(plan) + _model_problems(plan, allow_download)
    if problems:
        raise FtcError("error: this plan cannot run on this machine; nothing was started\n" + "\n".join(problems))


def _device_problems(plan: dict[str, Any]) -> list[str]:
    device = plan.get("device") or {}
    if device.get("kind") != "cuda":
        return []
    import torch

    if torch.cuda.is_available():
        return []
    return [
        f"  - the plan is for device = cuda ({device.get('name') or 'a CUDA GPU'}); this machine has no CUDA device\n"
        "    hint: run it on a machine with an NVIDIA GPU, or set `device = cpu` in the recipe's constraints and plan again"
    ]


def plan_models(plan: dict[str, Any]) -> dict[str, list[str]]:
    """Each model name the plan's steps load -> the steps that load it, in plan order."""
    used: dict[str, list[str]] = {}
    for step in plan.get("steps") or []:
        config = step.get("config") or {}
        for key in _MODEL_KEYS:
            name = config.get(key)
            if isinstance(name, str) and name:
                used.setdefault(name, []).append(f"{step.get('id')} ({key})")
    return used


def _model_problems(plan: dict[str, Any], allow_download: bool) -> list[str]:
    not_models = [
        f"  - model '{name}' (used by {', '.join(steps)}) is a folder with no config.json: not a transformers "
        "model\n    hint: name the folder `save_pretrained` wrote (it holds config.json and the weights)"
        for name, steps in plan_models(plan).items()
        if _folder_without_config(name)
    ]
    if allow_download:
        return not_models  # a hub model is fetched by the step that needs it
    missing = [(name, steps) for name, steps in plan_models(plan).items() if not _available_offline(name)]
    missing = [(name, steps) for name, steps in missing if not _folder_without_config(name)]
    return not_models + [
        f"  - model '{name}' (used by {', '.join(steps)}) is not embedded, not a local folder and not in the Hugging "
        f"Face cache\n    hint: download it once with `hf download {name}`, or run with "
        "`ftc run RECIPE --allow-download`"
        for name, steps in missing
    ]


def _folder_without_config(name: str) -> bool:
    """A local folder (not an embedded name) that ``resolve_model`` would refuse when its step starts."""
    from ftc.runtime.models import EMBEDDED_BASE, EMBEDDED_EMBEDDER

    folder = Path(name).expanduser()
    if name in (EMBEDDED_BASE, EMBEDDED_EMBEDDER) or not folder.is_dir():
        return False
    return not (folder / "config.json").is_file() and not (folder / "modules.json").is_file()


def _available_offline(name: str) -> bool:
    from ftc.runtime.models import EMBEDDED_BASE, EMBEDDED_EMBEDDER

    if name in (EMBEDDED_BASE, EMBEDDED_EMBEDDER) or Path(name).expanduser().is_dir():
        return True
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot_download(name, local_files_only=True, allow_patterns=["config.json"])
    except (LocalEntryNotFoundError, OSError, ValueError):
        return False
    return True
