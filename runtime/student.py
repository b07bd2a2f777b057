"""A student cut from the base by layers (R-STUDENT-LAYERS): the base's embeddings, head, final
norm and only the kept decoder layers, each with the base's weights, saved as a plain model folder
that every step loads like any other model (training, eval, export, chat)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ftc.shared import atomic
from ftc.shared.errors import FtcError

MARKER = "ftc_student.json"  # written last: a folder that has it is complete


def build_student(base_dir: Path, keep: list[int], out: Path) -> Path:
    """``out`` holding the base with only the ``keep`` decoder layers (in the base's order);
    reused when a complete one with the same layers is already there (a resumed run)."""
    marker = out / MARKER
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("layers") == list(keep):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        total = _write_student(base_dir, keep, tmp)
        atomic.write_text(
            tmp / MARKER, json.dumps({"base": str(base_dir), "layers": list(keep), "base_layers": total}) + "\n"
        )
        atomic.replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_student(base_dir: Path, keep: list[int], out: Path) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    layers = _decoder_layers(model)
    total = len(layers)
    if not keep or max(keep) >= total or len(set(keep)) != len(keep) or len(keep) >= total:
        raise FtcError(f"student layers {keep} do not make a smaller model of {base_dir.name} ({total} layers)")
    kept = torch.nn.ModuleList([layers[i] for i in keep])
    for new_index, layer in enumerate(kept):
        # The KV cache is indexed by each attention module's own layer_idx: renumber, or decoding
        # would read and write the cut layers' slots.
        attn = getattr(layer, "self_attn", None)
        if attn is not None and hasattr(attn, "layer_idx"):
            attn.layer_idx = new_index
    model.model.layers = kept
    config = model.config
    config.num_hidden_layers = len(keep)
    if isinstance(getattr(config, "layer_types", None), list):  # per-layer attention kinds (sliding, full)
        config.layer_types = [config.layer_types[i] for i in keep]
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out)
    return total


def _decoder_layers(model):  # noqa: ANN001, ANN202 - a transformers causal LM; its ModuleList of layers
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise FtcError(
            f"cannot cut a student from a {type(model).__name__}: its decoder layers are not at model.layers "
            "(a llama-style layout)"
        )
    return layers
