"""The export step's GGUF part (``export { gguf = f16 | q8_0 | q4_0 }``): the promoted tune,
merged, as ``model-<type>.gguf`` with an Ollama ``Modelfile`` beside it, and ``gguf.json``: the
file, and the proof it serves what the gate promoted.

The proof: transformers' own GGUF loader reads the file back (tokenizer included, as a GGUF user
gets it), answers the eval's holdout prompts greedily, and those answers are compared with the
eval's: how many are identical, and each expect's value on them against the tune's. f16 is
expected to answer identically; a quantised file within ``TOLERANCE`` of each rate metric.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftc.runtime.steps import common
from ftc.shared import atomic
from ftc.shared.contract import RATE_METRICS

GGUF_FILE = "gguf.json"
MODELFILE = "Modelfile"
# The largest drop of a rate metric (absolute, 0..1) a quantised file may show and still count as
# serving the tune; f16 (half precision of every matrix) is held to identical answers.
TOLERANCE = {"f16": 0.0, "q8_0": 0.02, "q4_0": 0.05}


def export_gguf(ctx, weights: Path, full: bool) -> list[str]:  # noqa: ANN001 - the executor's Context
    """Write and verify the GGUF file of ``weights`` (the promoted adapter or full model folder)."""
    from ftc.runtime.gguf_export import write_gguf

    qtype = str(ctx.config["gguf"])
    merged, temporary = _merged_folder(ctx, weights, full)
    try:
        written = write_gguf(merged, ctx.dir / f"model-{qtype}.gguf", qtype, name=str(ctx.plan.get("model.base")))
        _write_modelfile(ctx, merged, written.path.name)
    finally:
        if temporary:
            shutil.rmtree(merged, ignore_errors=True)
    record = {
        "file": written.path.name,
        "type": qtype,
        "bytes": written.bytes,
        "tensors": written.tensors,
        **verify(ctx, written.path, qtype),
    }
    atomic.write_json(ctx.dir / GGUF_FILE, record)
    return [written.path.name, MODELFILE, GGUF_FILE]


def _merged_folder(ctx, weights: Path, full: bool) -> tuple[Path, bool]:  # noqa: ANN001
    """A folder of merged weights: the full model itself, the ``merged/`` export when the plan asks
    for it, else a temporary merge removed after writing."""
    if full:
        return weights, False
    if (ctx.dir / "merged" / "config.json").exists():
        return ctx.dir / "merged", False
    from ftc.runtime.train.sft import merge_adapter

    tmp = ctx.dir / ".gguf-merge"
    shutil.rmtree(tmp, ignore_errors=True)
    merge_adapter(common.model_dir(ctx), weights, tmp)
    return tmp, True


def _write_modelfile(ctx, merged: Path, gguf_name: str) -> None:  # noqa: ANN001
    from ftc.runtime.generate import END_OF_TURN, load_tokenizer
    from ftc.runtime.modelfile import modelfile

    tok = load_tokenizer(merged)
    stops = sorted({t for t in (END_OF_TURN, tok.eos_token) if t and t in tok.get_vocab()})
    text = modelfile(gguf_name, common.system_prompt(ctx.plan), tok, stops, int(ctx.config["max_new_tokens"]))
    atomic.write_text(ctx.dir / MODELFILE, text)


def load_gguf(path: Path):  # noqa: ANN201 - a generate.Loaded
    """The GGUF file through transformers' GGUF loader (dequantised to fp32), tokenizer included."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftc.runtime.generate import Loaded, apply_thread_setting, load_tokenizer_gguf
    from ftc.runtime.gguf_reading import read_once

    apply_thread_setting()
    with read_once():
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        tokenizer = load_tokenizer_gguf(path)
    model.eval()
    return Loaded(model, tokenizer, path.parent, None)


def verify(ctx, path: Path, qtype: str) -> dict:  # noqa: ANN001
    """The eval's holdout prompts answered by the GGUF file, against the eval's answers."""
    from ftc.runtime.generate import generate

    rows = atomic.read_jsonl(ctx.need_dir("eval") / common.PREDICTIONS)
    prompts = [r["prompt"] for r in rows]
    refs = [r["reference"] for r in rows]
    tuned = [r["prediction"] for r in rows]
    answers = generate(load_gguf(path), prompts, **common.generation_settings(ctx))
    root = ctx.project_root
    tuned_values = common.score_all(ctx.plan, root, tuned, refs, {})
    gguf_values = common.score_all(ctx.plan, root, answers, refs, {})
    tolerance = TOLERANCE[qtype]
    metrics, within = {}, True
    for e in ctx.plan.get("expects", []):
        if e["metric"] not in RATE_METRICS:
            continue  # corpus-level values (perplexity, latency) are not re-measured on the file
        before, after = tuned_values.get(e["label"]), gguf_values.get(e["label"])
        delta = None if before is None or after is None else after - before
        worse = delta is not None and (-delta if e["op"] in (">=", ">") else delta) > tolerance + 1e-9
        within = within and not worse
        metrics[e["label"]] = {"tuned": before, "gguf": after, "delta": delta}
    identical = sum(a == b for a, b in zip(answers, tuned, strict=True))
    atomic.write_jsonl(
        ctx.dir / "gguf_predictions.jsonl",
        [{"prompt": p, "reference": r, "prediction": a} for p, r, a in zip(prompts, refs, answers, strict=True)],
    )
    return {
        "rows": len(rows),
        "identical": identical,
        "metrics": metrics,
        "tolerance": tolerance,
        "within_tolerance": within and (qtype != "f16" or identical == len(rows)),
    }
