"""Base-model perplexities remembered across runs.

Every baseline step scores the prompted base model's perplexity on the general text (the
forgetting check) and on the holdout's answers. For the same base those are the same numbers run
after run, and they are not cheap on a CPU: the 767-token general text takes ~7 s on one thread
for the embedded 135M model, minutes for a 7B one. So a value computed for a model loaded without
an adapter is kept under ``$FTC_HOME/cache/perplexity/``, keyed by everything it depends on: the
text, the window, the weight files on disk (name, size, mtime), the loaded weights themselves (a
fingerprint of every tensor), the config, dtype, device, torch thread count and library
versions. A changed input is a new key; a damaged or foreign cache file is recomputed and
replaced. Tuned models (an adapter or a full fine-tune folder) are never cached: each is new."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ftc.runtime.generate import Loaded
from ftc.runtime.perplexity import MAX_LENGTH, SCHEME, STRIDE, perplexity
from ftc.shared import atomic
from ftc.shared.paths import ftc_home

# Elements read per tensor for the fingerprint: enough that an edit of a whole matrix (a merge,
# a cut, another checkpoint) changes it; few enough to cost milliseconds at 7B parameters.
_SAMPLE = 4096


def cache_dir() -> Path:
    return ftc_home() / "cache" / "perplexity"


def base_perplexity(loaded: Loaded, text: str, max_length: int = MAX_LENGTH, stride: int = STRIDE) -> float:
    """``perplexity(loaded, text, ...)``, read from the cache when this exact base model scored
    this exact text before."""
    return base_perplexities(loaded, {"text": text}, max_length=max_length, stride=stride)["text"]


def base_perplexities(
    loaded: Loaded, texts: dict[str, str], max_length: int = MAX_LENGTH, stride: int = STRIDE
) -> dict[str, float]:
    """``base_perplexity`` of each named text; the model's part of the key is computed once."""
    window = {"max_length": max_length, "stride": stride}
    model_key = _model_key(loaded)
    if model_key is None:
        return {name: perplexity(loaded, text, **window) for name, text in texts.items()}
    return {name: _remembered(loaded, model_key, text, window) for name, text in texts.items()}


def _remembered(loaded: Loaded, model_key: dict[str, Any], text: str, window: dict[str, int]) -> float:
    key = {
        **model_key,
        "text": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "window": [window["max_length"], window["stride"], SCHEME],
    }
    path = cache_dir() / f"{hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=16).hexdigest()}.json"
    cached = _read(path, key)
    if cached is not None:
        return cached
    value = perplexity(loaded, text, **window)
    try:
        atomic.write_json(path, {"key": key, "perplexity": value})
    except OSError:
        pass  # a read-only or full home costs the next run the computation, nothing else
    return value


def _read(path: Path, key: dict) -> float | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    value = doc.get("perplexity")
    if not isinstance(value, float):
        return None
    return value if math.isfinite(value) and value >= 1.0 else None


def _model_key(loaded: Loaded) -> dict[str, Any] | None:
    """What identifies the loaded base model; None for a tuned model (never remembered) and for
    weights it cannot read back (offloaded to disk, on the meta device)."""
    if loaded.adapter_dir is not None:
        return None
    try:
        return _identity(loaded)
    except (OSError, RuntimeError):
        return None


def _identity(loaded: Loaded) -> dict[str, Any]:
    import torch
    import transformers

    model = loaded.model
    first = next(model.parameters())
    return {
        "folder": str(Path(loaded.model_dir).resolve()),
        "files": _weight_files(Path(loaded.model_dir)),
        "weights": _fingerprint(model),
        "config": hashlib.sha256(model.config.to_json_string().encode("utf-8")).hexdigest(),
        "tokenizer": [type(loaded.tokenizer).__name__, len(loaded.tokenizer)],
        "dtype": str(first.dtype),
        "device": str(first.device),
        "threads": torch.get_num_threads(),
        "versions": [torch.__version__, transformers.__version__],
    }


def _weight_files(folder: Path) -> list[list]:
    files = sorted(p for pattern in ("*.safetensors", "*.bin", "*.pt") for p in folder.glob(pattern))
    return [[p.name, st.st_size, st.st_mtime_ns] for p in files for st in (p.stat(),)]


def _fingerprint(model: Any) -> str:  # noqa: ANN401 - a torch module
    """Names, shapes and a strided sample of every tensor's values, as one digest."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not isinstance(tensor, torch.Tensor):
                continue
            flat = tensor.detach().reshape(-1)
            step = max(1, flat.numel() // _SAMPLE)
            sample = flat[::step].to("cpu", torch.float64)
            digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
            digest.update(sample.numpy().tobytes())
    return digest.hexdigest()
