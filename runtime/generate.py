"""Load a model (+ adapter) and generate greedily in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc.shared.errors import FtcError

END_OF_TURN = "<|im_end|>"


@dataclass(frozen=True)
class Loaded:
    model: Any  # a transformers causal LM in eval mode
    tokenizer: Any
    model_dir: Path
    adapter_dir: Path | None


def apply_thread_setting() -> None:
    """Honour ``FTC_NUM_THREADS``. On a CPU shared with other busy processes, two OpenMP threads
    that wait on each other ran a forward pass ~10x slower than one thread (measured here:
    0.7 s vs 5-13 s for 128 tokens); on dedicated cores torch's default is right."""
    import os

    import torch

    wanted = os.environ.get("FTC_NUM_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0 and torch.get_num_threads() != int(wanted):
        torch.set_num_threads(int(wanted))


def load_tokenizer(model_dir: Path, chat_template: str | None = None):
    """The model's tokenizer; ``chat_template``: the plan's template (Jinja text) replacing the
    model's own. Every step that renders prompts for the base model loads its tokenizer here, so
    baseline, training, eval and the exported tokenizer use the same template (R-ONE-PROMPT)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if chat_template:
        tok.chat_template = chat_template
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_tokenizer_gguf(path: Path):  # noqa: ANN201 - a transformers tokenizer
    """The tokenizer stored inside a GGUF file (what llama.cpp and Ollama tokenise with)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    model_dir: Path, adapter_dir: Path | None = None, dtype: str = "auto", chat_template: str | None = None
) -> Loaded:
    """Load ``model_dir``; with a LoRA ``adapter_dir`` the adapter is merged in memory (faster
    generation, same function); a full fine-tune folder as ``adapter_dir`` replaces the base.
    ``chat_template``: the plan's template (see ``load_tokenizer``)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftc.runtime.train.common import torch_dtype

    apply_thread_setting()
    model_dir, adapter = Path(model_dir), Path(adapter_dir) if adapter_dir else None
    weights_dir = model_dir
    if adapter is not None and not (adapter / "adapter_config.json").exists():
        if not (adapter / "config.json").exists():
            raise FtcError(f"{adapter} is neither a LoRA adapter nor a model folder")
        weights_dir = adapter
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(weights_dir, dtype=torch_dtype(dtype)).to(device)
    if adapter is not None and weights_dir == model_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    tok_dir = weights_dir if (weights_dir / "tokenizer_config.json").exists() else model_dir
    return Loaded(model, load_tokenizer(tok_dir, chat_template), model_dir, adapter)


def render(tokenizer, messages: list[dict], *, add_generation_prompt: bool = True) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _stop_ids(tokenizer) -> list[int]:
    """eos and each chat format's end-of-turn token the vocabulary has (a named template may be
    another format than the model's own)."""
    from ftc.shared.templates import END_OF_TURN as MARKERS

    ids = {tokenizer.eos_token_id}
    for marker in MARKERS:
        eot = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(eot, int) and eot != tokenizer.unk_token_id:
            ids.add(eot)
    return sorted(i for i in ids if i is not None)


def generate(
    loaded: Loaded,
    prompts: list[list[dict]],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    prefill: str = "",
    widen: bool = True,
) -> list[str]:
    """Greedy completions for each prompt (messages), in input order. ``prefill``: text the
    assistant turn starts with (the judge's "Score:"); the completions continue it. ``widen``: a
    CPU decodes up to 4x ``batch_size`` rows at once while their KV cache fits its budget, still
    reading the prompts ``batch_size`` rows at a time (``ftc.shared.decode_batch``); False holds
    the batch (a comparison at equal batch)."""
    from ftc.runtime import timing

    with timing.work("generate"):
        return _generate(loaded, prompts, max_new_tokens, batch_size, progress, prefill, widen)


def _generate(
    loaded: Loaded,
    prompts: list[list[dict]],
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    prefill: str,
    widen: bool,
) -> list[str]:
    import torch
    from transformers import DynamicCache

    from ftc.runtime import kv_cache
    from ftc.shared.decode_batch import decode_rows

    tok, model = loaded.tokenizer, loaded.model
    encoded = [tok(render(tok, p) + prefill, add_special_tokens=False)["input_ids"] for p in prompts]
    # Longest first, so batches hold similar lengths (little padding) and OOM shows up at once.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    out: list[str] = [""] * len(encoded)
    stop = _stop_ids(tok)
    growing = kv_cache.supports_growing(model)
    shared = kv_cache.shared_prefix(encoded) if growing else []
    with torch.inference_mode():
        prefix = kv_cache.prefill_prefix(model, shared) if shared else None
    # A CPU decodes more rows at once (each step reads every weight once); their prompts are read
    # in chunks of the plan's batch, so a wide batch never prefills more rows at a time.
    chunk = max(1, batch_size) if growing else None
    if widen and growing and encoded:
        longest = max(len(e) for e in encoded)
        batch_size = decode_rows(batch_size, longest + max_new_tokens, kv_cache.token_bytes(model), model.device.type)
    for start in range(0, len(order), max(1, batch_size)):
        idx = order[start : start + batch_size]
        ids, mask = _left_pad([encoded[i][len(shared) :] for i in idx], tok.pad_token_id, model.device)
        if growing:
            cache = kv_cache.new_cache(model, len(idx), len(shared) + ids.shape[1] + max_new_tokens, prefix)
        else:
            cache = DynamicCache(config=model.config)
        with torch.inference_mode():
            rows = greedy(
                model,
                ids,
                mask,
                max_new_tokens=max_new_tokens,
                stop_ids=stop,
                cache=cache,
                shared=len(shared),
                prefill_rows=chunk,
            )
        for row, i in enumerate(idx):
            out[i] = tok.decode(rows[row], skip_special_tokens=True).strip()
        if progress:
            progress(min(start + len(idx), len(order)), len(order))
    return out


def greedy(
    model,
    ids,
    mask,
    *,
    max_new_tokens: int,
    stop_ids: list[int],
    cache=None,
    shared: int = 0,
    prefill_rows: int | None = None,
) -> list[list[int]]:
    """Greedy decoding of a left-padded batch: the new token ids of each row, its stop token included.

    The same arithmetic as transformers' ``generate(do_sample=False)`` (prefill with the last
    position's logits only, then one token per step with a KV cache, the same position ids), so
    the outputs are identical, but without its per-token machinery (logits processors, stopping
    criteria, cache-position bookkeeping) and with early stop per row: a row that has emitted a
    stop token leaves the batch and its KV cache (``generate`` keeps decoding it as padding until
    the longest row ends), so later steps cost only the rows still running.

    ``shared``: how many positions ``cache`` already holds in every row (a prompt prefix common to
    all rows, ``kv_cache.prefill_prefix``); ``ids`` are then the rest of each prompt.
    ``prefill_rows``: with a ``kv_cache.new_cache`` cache, the prompts are read that many rows at a
    time (each chunk padded only to its own longest prompt), then decoded together."""
    from ftc.runtime.greedy_head import argmax_exact_head

    with argmax_exact_head(model):
        return _greedy(model, ids, mask, max_new_tokens, stop_ids, cache, shared, prefill_rows)


def _greedy(
    model, ids, mask, max_new_tokens: int, stop_ids: list[int], cache, shared: int, prefill_rows: int | None
) -> list[list[int]]:
    import torch
    from transformers import DynamicCache

    if cache is None:
        cache = DynamicCache(config=model.config)
    mask = torch.cat([mask.new_ones((mask.shape[0], shared)), mask], dim=1)
    positions = ((mask.cumsum(-1) - 1).masked_fill(mask == 0, 0))[:, shared:]
    if prefill_rows and prefill_rows < ids.shape[0]:
        logits = _prefill_in_chunks(model, ids, mask, positions, cache, shared, prefill_rows)
    else:
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, logits_to_keep=1).logits
    new: list[list[int]] = [[] for _ in range(ids.shape[0])]
    live = torch.arange(ids.shape[0])  # the original row of each row still decoding
    stops = torch.tensor(stop_ids, dtype=torch.long)
    last = positions[:, -1:]
    for step in range(max_new_tokens):
        token = logits[:, -1, :].argmax(-1)
        for row, t in zip(live.tolist(), token.tolist()):
            new[row].append(t)
        done = torch.isin(token, stops)
        if step == max_new_tokens - 1 or bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            live, token, mask, last = live[keep], token[keep], mask[keep], last[keep]
            cache.batch_select_indices(keep.to(mask.device))
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        last = last + 1
        logits = model(
            input_ids=token.unsqueeze(1).to(mask.device),
            attention_mask=mask,
            position_ids=last,
            cache=cache,
            logits_to_keep=1,
        ).logits
    return new


def _prefill_in_chunks(model, ids, mask, positions, cache, shared: int, rows: int):  # noqa: ANN001, ANN202
    """The first logits of a wide batch, its prompts read ``rows`` rows at a time. A chunk's prompts
    are padded to its own longest, and its keys and values land right-aligned in the batch's cache
    (``kv_cache.row_view``); the columns before them stay zero, hidden by the chunk's mask as its
    own padding is."""
    import torch

    from ftc.runtime import kv_cache

    width = ids.shape[1]
    logits = []
    for lo in range(0, ids.shape[0], rows):
        hi = min(lo + rows, ids.shape[0])
        own = int(mask[lo:hi, shared:].sum(-1).max())
        view = kv_cache.row_view(cache, lo, hi, shared + width - own)
        out = model(
            input_ids=ids[lo:hi, width - own :],
            attention_mask=mask[lo:hi],
            position_ids=positions[lo:hi, width - own :],
            cache=view,
            logits_to_keep=1,
        )
        logits.append(out.logits)
    kv_cache.set_length(cache, shared + width)
    return torch.cat(logits)


def _left_pad(rows: list[list[int]], pad_id: int, device):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for n, r in enumerate(rows):
        ids[n, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[n, width - len(r) :] = 1
    return ids.to(device), mask.to(device)
