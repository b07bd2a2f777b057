"""LLaMA-Factory: one flat YAML file of `llamafactory-cli train` arguments (`model_name_or_path`,
`stage`, `finetuning_type`, `dataset`, ...), with datasets named in `<dataset_dir>/dataset_info.json`.

Key names and meanings from LLaMA-Factory's examples/ (train_lora, train_qlora, train_full) and
data/README.md (the dataset_info.json conventions: file_name, formatting, ranking, columns, tags).
A dataset named in the config is looked up in `dataset_dir` (default `data`, relative to where
the command ran): found with a `file_name`, its file is carried; with an `hf_hub_url`, the hub
dataset (`path = "hf://owner/name"`, its subset, split and num_samples); otherwise the data block
gets a placeholder path to fill.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ftc.compiler.importers import common as c
from ftc.compiler.importers.core import Carry, Draft, Drop, Entry, Handle, Refuse, Row, Source, Spec, carried, row

NAME = "llama-factory"

# stage -> the format its data has when dataset_info.json does not say
STAGE_FORMAT = {
    "sft": "instruction",
    "pt": "text",
    "dpo": "preference",
    "kto": "preference",
    "rm": "preference",
    "ppo": "instruction",
}


def prepare(draft: Draft, doc: dict[str, Any]) -> None:
    draft.context["stage"] = doc.get("stage", "sft")
    draft.context["preference"] = doc.get("stage") in ("dpo", "kto")
    quant = doc.get("quantization_bit")
    kind = doc.get("finetuning_type", "lora")
    if kind == "lora":
        method = "qlora" if quant == 4 else ("dora" if doc.get("use_dora") is True else "lora")
    else:
        method = str(kind)
    draft.context["method"] = method
    if "finetuning_type" not in doc:
        draft.values["train.method"] = "lora"
        draft.set_by["train.method"] = "(default finetuning_type)"
        draft.note("train.method = lora: LLaMA-Factory's default finetuning_type")
    draft.context["info"] = _dataset_info(draft, doc.get("dataset_dir", "data"))


def _dataset_info(draft: Draft, folder: Any) -> tuple[str, dict[str, Any]]:
    """(the folder, its dataset_info.json) or (folder, {}) when there is none to read."""
    where = os.path.join(draft.cwd, str(folder))
    try:
        with open(os.path.join(where, "dataset_info.json"), encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return str(folder), {}
    return str(folder), info if isinstance(info, dict) else {}


# --- handlers --------------------------------------------------------------------------------
def _model(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if not isinstance(value, str) or not value.strip():
        return [row(path, value, Drop("not a model name"), attention=True)]
    draft.base = value
    return [carried(path, value, f'base = model("{value}")')]


def _stage(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value == "sft":
        return [row(path, value, c.SFT)]
    if value == "dpo":
        return [row(path, value, c.DPO)]
    if value == "kto":
        return [row(path, value, c.KTO)]
    if value == "pt":
        return [
            row(
                path,
                value,
                Drop("continued pre-training: ftc tunes behaviour (the text rows are kept as a text source)"),
                attention=True,
            )
        ]
    return [row(path, value, Drop(f"stage `{value}` (reward model / PPO) is not a strategy ftc plans"), attention=True)]


def _pref_loss(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value == "sigmoid":
        return [row(path, value, c.DPO, "sigmoid is DPO's loss")]
    if value == "orpo":
        draft.set("train.objective", "orpo", path)
        return [carried(path, value, "train.objective = orpo", "ORPO: one stage, no reference model")]
    return [row(path, value, c.DPO, f"`{value}` is not in ftc yet; the pairs are planned as DPO")]


def _finetuning_type(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    method = draft.context["method"]
    if method not in ("lora", "qlora", "dora", "full"):
        return [row(path, value, c.METHOD, f"`{value}` tuning is not a method ftc plans (lora, qlora, full, dora)")]
    draft.set("train.method", method, path)
    how = {"qlora": "with quantization_bit: 4", "dora": "with use_dora"}.get(method, "")
    return [carried(path, value, f"train.method = {method}", how)]


def _quant(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if draft.context["method"] == "qlora":
        return [carried(path, value, "train.method = qlora", "4-bit base with LoRA: QLoRA")]
    return [row(path, value, c.METHOD, f"{value}-bit quantisation is planned only as QLoRA (4-bit with LoRA)")]


def _dora(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True and draft.context["method"] == "dora":
        return [carried(path, value, "train.method = dora", "with finetuning_type: lora")]
    return [row(path, value, Drop("off in the source" if value is not True else "DoRA needs finetuning_type: lora"))]


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    if isinstance(value, list):
        return [str(n).strip() for n in value if str(n).strip()]
    return []


def _columns(fmt: str, formatting: str, cols: dict[str, Any]) -> dict[str, str]:
    """dataset_info.json `columns` -> ftc's column map (only the names that differ)."""
    if formatting == "sharegpt":
        wanted = {"messages": cols.get("messages", "conversations")}
        if fmt == "preference":
            wanted = {
                "prompt": cols.get("messages", "conversations"),
                "chosen": cols.get("chosen", "chosen"),
                "rejected": cols.get("rejected", "rejected"),
            }
    elif fmt == "preference":
        wanted = {
            "prompt": cols.get("prompt", "instruction"),
            "chosen": cols.get("chosen", "chosen"),
            "rejected": cols.get("rejected", "rejected"),
        }
    elif fmt == "text":
        wanted = {"text": cols.get("prompt", "text")}
    else:
        wanted = {
            "instruction": cols.get("prompt", "instruction"),
            "input": cols.get("query", "input"),
            "output": cols.get("response", "output"),
        }
    return {k: v for k, v in wanted.items() if isinstance(v, str) and v != k}


def _dataset_source(draft: Draft, name: str, stage: str) -> tuple[str, bool, str, bool]:
    """Add the data block for one dataset name: (its block name, placeholder?, a note, needs attention?)."""
    folder, info = draft.context["info"]
    entry = info.get(name) if isinstance(info.get(name), dict) else None
    formatting = str((entry or {}).get("formatting", "alpaca"))
    fmt = "preference" if (entry or {}).get("ranking") else STAGE_FORMAT.get(stage, "instruction")
    if formatting == "sharegpt" and fmt == "instruction":
        fmt = "chat"
    columns = _columns(fmt, formatting, (entry or {}).get("columns") or {})
    notes = _entry_notes(entry or {}, formatting)
    if stage == "kto" or (entry or {}).get("columns", {}).get("kto_tag"):
        src = draft.placeholder(
            name, "kto", {}, f"export the KTO rows of `{name}` as prompt, completion and a boolean label"
        )
        return src.name, True, c.KTO_REFUSED, True
    online = draft.context["info"][0] == "ONLINE"  # dataset_dir: ONLINE: the names are hub ids
    hub_url = (entry or {}).get("hf_hub_url") if entry is not None else (name if online or "/" in name else None)
    if isinstance(hub_url, str) and c.hub_repo(hub_url):
        return _hub_source(draft, c.hub_repo(hub_url) or "", entry or {}, fmt, columns, notes)
    if entry is None or not isinstance(entry.get("file_name"), str):
        where = (entry or {}).get("hf_hub_url") or (entry or {}).get("ms_hub_url") or name
        why = (
            f"`{where}` is not a Hugging Face dataset ftc can read (owner/name); export its rows"
            if entry is not None
            else f"export the rows of dataset `{name}` (not found in {folder}/dataset_info.json)"
        )
        src = draft.placeholder(str(where), fmt, columns, why)
        for n in notes:
            draft.note(f"data `{src.name}`: {n}")
        return src.name, True, "not a file ftc can read", True
    path = draft.local_path(os.path.join(folder, entry["file_name"]))
    src = draft.add_source(name, path, fmt, columns, f"From {folder}/dataset_info.json `{name}` ({formatting}).")
    for n in notes:
        draft.note(f"data `{src.name}`: {n}")
    told = [_num_samples(src, entry["num_samples"])] if entry.get("num_samples") is not None else []
    return src.name, False, "; ".join([*notes, *told]), bool(notes)


def _hub_source(
    draft: Draft, repo: str, entry: dict[str, Any], fmt: str, columns: dict[str, str], notes: list[str]
) -> tuple[str, bool, str, bool]:
    """dataset_info.json `hf_hub_url` with its `subset` (config), `split` and `num_samples`."""
    src = draft.hub_source(repo, fmt, columns, c.HUB_COMMENT)
    told = []
    for key, part in (("subset", "config"), ("split", "split")):
        if entry.get(key) is not None:
            r = c.hub_part(key, entry[key], src, part)
            told.append(f"{key} {entry[key]}" + ("" if r.status == "carried" else f" not carried: {r.note}"))
    if entry.get("folder") is not None:
        notes.append(f"folder `{entry['folder']}` of the dataset is not in the language: ftc reads the whole split")
    for n in notes:
        draft.note(f"data `{src.name}`: {n}")
    said = f"hub dataset {repo}" + (f" ({', '.join(told)})" if told else "")
    samples = [_num_samples(src, entry["num_samples"])] if entry.get("num_samples") is not None else []
    return src.name, False, "; ".join([said, *notes, *samples]), bool(notes)


def _num_samples(src: Source, value: Any) -> str:
    r = c.cap("num_samples", value, src, "")
    if r.status != "carried":
        return f"num_samples {value} not carried: {r.note}"
    return f"num_samples {value} carried as max_rows = {src.max_rows} (a seeded random sample; ftc never repeats rows)"


def _entry_notes(entry: dict[str, Any], formatting: str) -> list[str]:
    out = []
    tags = entry.get("tags") or {}
    role, content = tags.get("role_tag", "from"), tags.get("content_tag", "value")
    if formatting == "sharegpt" and (role, content) not in (("from", "value"), ("role", "content")):
        out.append(f"ShareGPT turns keyed {role}/{content}: map them with columns {{ role = ..., content = ... }}")
    cols = entry.get("columns") or {}
    for extra in ("system", "history", "tools", "images", "videos"):
        if extra in cols:
            out.append(f"column `{cols[extra]}` ({extra}) is not read by ftc")
    return out


def _dataset(draft: Draft, path: str, value: Any, doc: dict[str, Any], eval_only: bool = False) -> list[Row]:
    names = _names(value)
    if not names:
        return [row(path, value, Drop("no dataset names"), attention=True)]
    rows = []
    stage = str(draft.context["stage"])
    for i, name in enumerate(names):
        key = f"{path}[{i}]" if len(names) > 1 else path
        if eval_only and i > 0:
            rows.append(
                row(key, name, Drop("ftc evaluates on one eval source; merge them into the first"), attention=True)
            )
            continue
        block, placeholder, note, attention = _dataset_source(draft, name, stage)
        _apply_mixture(draft, doc, block, i, eval_only)
        if eval_only:
            draft.set("eval.data", f'"{block}"', key)
        r = c.source_rows(key, name, draft, block, placeholder, "" if placeholder else note, why=note)
        r.attention = r.attention or attention
        rows.append(r)
    return rows


# --- max_samples, mix_strategy, interleave_probs: read from the whole file by the dataset walk --
def _apply_mixture(draft: Draft, doc: dict[str, Any], block: str, i: int, eval_only: bool) -> None:
    """Give the data block of the i-th dataset its cap (max_samples) and share (interleave_probs)."""
    src = next(s for s in draft.sources if s.name == block)
    if doc.get("max_samples") is not None:
        c.cap("max_samples", doc["max_samples"], src, "")
    weights = _weights(doc)
    if isinstance(weights, list) and not eval_only:
        src.weight = weights[i]


def _weights(doc: dict[str, Any]) -> list[float] | str:
    """interleave_probs as the training sources' weights, or why they are not carried."""
    strategy = str(doc.get("mix_strategy", "concat"))
    probs = doc.get("interleave_probs")
    values = [p.strip() for p in probs.split(",")] if isinstance(probs, str) else probs
    n = len(_names(doc.get("dataset")))
    if probs is None:
        return "no interleave_probs"
    if not strategy.startswith("interleave") or strategy == "interleave_once":
        return (
            f"mix_strategy {strategy} uses every row of every dataset, as ftc's concatenation: the shares do not apply"
        )
    if not isinstance(values, list) or len(values) != n:
        return f"{n} datasets but {len(values) if isinstance(values, list) else 'no list of'} probabilities"
    if n < 2:
        return "one dataset: nothing to mix"
    return c.shares(values)


MAX_SAMPLES = "each dataset: LLaMA-Factory kept its first N rows, ftc keeps a seeded random N"


def _max_samples(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    try:
        n = c.positive_int(value)
    except Refuse as why:
        return [row(path, value, Drop(str(why)))]
    return [carried(path, value, f"data.*.max_rows = {n}", MAX_SAMPLES)]


def _interleave_probs(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    weights = _weights(doc)
    if isinstance(weights, str):
        return [row(path, value, Drop(weights))]
    shown = ", ".join(c.weight_literal(w) for w in weights)
    return [carried(path, value, f"data.*.weight = {shown}", "in dataset order: each source's share of the mix")]


def _mix_strategy(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    weights = _weights(doc)
    if value in ("concat", "interleave_once") or isinstance(weights, str):
        why = "" if value in ("concat", "interleave_once") else f" ({weights})"
        return [carried(path, value, "data (no weight)", f"every row of every source, concatenated{why}")]
    if value == "interleave_under":
        return [carried(path, value, "data.*.weight", "the mix stops when a source runs out, as ftc's weights do")]
    return [
        row(
            path,
            value,
            Drop(
                "ftc never repeats rows: its mix stops when a source runs out (interleave_under); the shares are carried"
            ),
            attention=True,
        )
    ]


def _eval_dataset(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return _dataset(draft, path, value, doc, eval_only=True)


def _deepspeed(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return c.distributed(draft, path, value)


KEYS: dict[str, Entry] = {
    "model_name_or_path": Handle(_model, 'carried to `base = model("...")`'),
    "adapter_name_or_path": Drop(
        "ftc starts adapters from the base model; continuing an adapter is not in the language yet"
    ),
    "trust_remote_code": c.REMOTE_CODE,
    "cache_dir": c.WORKERS,
    "stage": Handle(
        _stage, "sft: fine-tune; dpo: decided (R-DPO-AFTER-SFT); kto: decided (R-OBJECTIVE); pt, rm, ppo: dropped"
    ),
    "do_train": Drop("`ftc run` trains when the prompted baseline misses the bar (R-PROMPT-FIRST)"),
    "do_eval": c.EVAL_SCHEDULE,
    "do_predict": c.EVAL_SCHEDULE,
    "finetuning_type": Handle(
        _finetuning_type, "carried to `train.method` (lora; qlora with quantization_bit 4; full; freeze: dropped)"
    ),
    "quantization_bit": Handle(_quant, "4 with lora: carried to `train.method = qlora`"),
    "quantization_method": c.METHOD,
    "double_quantization": c.METHOD,
    "use_dora": Handle(_dora, "with lora: carried to `train.method = dora`"),
    "lora_target": Carry("train.target_modules", c.TARGETS, c.modules, '"all": all-linear'),
    "additional_target": c.TARGETS,
    "lora_rank": Carry("train.lora_r", c.LORA_R, c.positive_int),
    "lora_alpha": Carry("train.lora_alpha", c.LORA_ALPHA, c.positive_int),
    "lora_dropout": Carry("train.lora_dropout", c.LORA_DROPOUT, c.number),
    "use_rslora": Carry("train.use_rslora", c.RSLORA, c.truthy),
    "freeze_trainable_layers": Drop("freeze tuning is not a method ftc plans"),
    "freeze_trainable_modules": Drop("freeze tuning is not a method ftc plans"),
    "pref_beta": Carry("train.dpo_beta", c.DPO_BETA, c.number),
    "pref_loss": Handle(
        _pref_loss,
        "sigmoid: decided (R-DPO-AFTER-SFT); orpo: carried to train.objective; simpo...: planned as DPO, said so",
    ),
    "pref_ftx": Drop("an SFT term inside the DPO loss is not in ftc; it runs SFT before DPO instead"),
    "kto_chosen_weight": c.KTO_WEIGHTS,
    "kto_rejected_weight": c.KTO_WEIGHTS,
    "dataset": Handle(
        _dataset,
        "one data block per name from dataset_info.json: `file_name` carried as a path, `hf_hub_url` as "
        '`path = "hf://owner/name"` (subset -> config, split, num_samples -> max_rows); other names: a placeholder',
    ),
    "eval_dataset": Handle(_eval_dataset, "a data block used as `eval { data = ... }`"),
    "dataset_dir": Drop("read to find dataset_info.json; the data blocks carry the file paths"),
    "template": Carry("train.chat_template", c.TEMPLATE, c.template),
    "default_system": Carry("recipe.system_prompt", c.SYSTEM, str),
    "cutoff_len": Carry("train.max_length", c.MAX_LEN, c.positive_int),
    "max_samples": Handle(_max_samples, f"carried to `data.NAME.max_rows` on every dataset ({MAX_SAMPLES})"),
    "mix_strategy": Handle(
        _mix_strategy,
        "concat, interleave_once: carried (no weights: every row); interleave_under: carried with the weights; "
        "interleave_over: dropped (ftc never repeats rows)",
    ),
    "interleave_probs": Handle(
        _interleave_probs, "with an interleave mix_strategy: carried to `data.NAME.weight` of each dataset, in order"
    ),
    "streaming": c.WORKERS,
    "buffer_size": c.WORKERS,
    "overwrite_cache": c.WORKERS,
    "preprocessing_num_workers": c.WORKERS,
    "dataloader_num_workers": c.WORKERS,
    "tokenized_path": c.WORKERS,
    "packing": Carry("train.packing", c.PACKING, c.truthy),
    "neat_packing": c.PACKING,
    "train_on_prompt": c.PROMPT_MASK,
    "mask_history": c.PROMPT_MASK,
    "val_size": Carry("eval.holdout", c.HOLDOUT, c.fraction, "a share of the rows; a count is not carried"),
    "output_dir": c.OUTPUT,
    "overwrite_output_dir": c.OUTPUT,
    "logging_steps": c.LOGGING,
    "plot_loss": c.LOGGING,
    "report_to": c.TRACKER,
    "run_name": c.TRACKER,
    "save_steps": Carry("train.save_every", c.SAVE_EVERY, c.number),
    "save_strategy": c.SAVING,
    "save_total_limit": c.SAVING,
    "save_only_model": c.SAVING,
    "load_best_model_at_end": c.EARLY_STOP,
    "metric_for_best_model": c.EARLY_STOP,
    "greater_is_better": c.EARLY_STOP,
    "resume_from_checkpoint": c.RESUME,
    "per_device_train_batch_size": Carry("train.batch", c.BATCH, c.positive_int),
    "per_device_eval_batch_size": c.EVAL_SCHEDULE,
    "gradient_accumulation_steps": Carry("train.grad_accum", c.ACCUM, c.positive_int),
    "learning_rate": c.lr(),
    "num_train_epochs": Carry("train.epochs", c.EPOCHS, c.number),
    "max_steps": Carry("train.max_steps", c.MAX_STEPS, c.positive_int),
    "lr_scheduler_type": Carry("train.lr_scheduler", c.SCHEDULER, c.scheduler),
    "warmup_ratio": Carry("train.warmup", c.WARMUP, c.number, "a share of the steps"),
    "warmup_steps": Carry("train.warmup", c.WARMUP, c.number, "a step count"),
    "weight_decay": Carry("train.weight_decay", c.WEIGHT_DECAY, c.number),
    "optim": Carry("train.optimizer", c.OPTIMIZER, c.optimizer),
    "max_grad_norm": Carry("train.max_grad_norm", c.GRAD_CLIP, c.number),
    "seed": Carry("train.seed", c.SEED, c.whole),
    "bf16": Carry("train.precision", c.PRECISION, c.precision_flag("bf16")),
    "fp16": Carry("train.precision", c.PRECISION, c.precision_flag("fp16")),
    "pure_bf16": c.PRECISION,
    "infer_dtype": c.PRECISION,
    "gradient_checkpointing": c.CHECKPOINTING,
    "disable_gradient_checkpointing": c.CHECKPOINTING,
    "flash_attn": c.PERF,
    "enable_liger_kernel": c.PERF,
    "use_unsloth": c.PERF,
    "shift_attn": c.PERF,
    "rope_scaling": c.PERF,
    "deepspeed": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp_config": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "ddp_timeout": c.DISTRIBUTED,
    "ddp_find_unused_parameters": c.DISTRIBUTED,
    "eval_strategy": c.EVAL_SCHEDULE,
    "evaluation_strategy": c.EVAL_SCHEDULE,
    "eval_steps": Carry("train.eval_every", c.EVAL_EVERY, c.number),
    "compute_accuracy": c.EVAL_SCHEDULE,
    "predict_with_generate": c.EVAL_SCHEDULE,
    "export_dir": Drop("set `export { merged = true }` to also write merged weights"),
    "push_to_hub": c.HUB,
    "hub_model_id": c.HUB,
    "hf_hub_token": c.HUB,
    "include_num_input_tokens_seen": c.LOGGING,
}
SUBTREES = frozenset({"fsdp_config", "rope_scaling"})


def detect(doc: dict[str, Any]) -> int:
    """LLaMA-Factory's spellings: model_name_or_path with stage and finetuning_type, cutoff_len, template."""
    marks = ("stage", "finetuning_type", "cutoff_len", "template", "lora_target", "dataset_dir", "do_train")
    score = sum(k in doc for k in marks)
    return score + 2 if "model_name_or_path" in doc and ("stage" in doc or "finetuning_type" in doc) else score


FORMATS = {
    "alpaca (the default formatting)": "instruction (columns prompt/query/response -> instruction/input/output)",
    "sharegpt": "chat (columns messages); from/value turns must be converted to role/content (!)",
    "ranking: true": "preference (prompt/chosen/rejected)",
    "stage: pt": "text",
    "a kto_tag column, or stage: kto": "a placeholder for prompt/completion/label rows (format = kto)",
    "file_name": "carried to `data.NAME.path` (relative to dataset_dir)",
    "hf_hub_url (with subset, split, num_samples)": 'path = "hf://owner/name" (config, split, max_rows)',
    "a dataset id with dataset_dir: ONLINE": 'path = "hf://owner/name"',
    "ms_hub_url / om_hub_url / script_url only, or a name not in dataset_info.json": "a placeholder path to fill (!)",
    "columns: system, history, tools, images, videos": 'not read by ftc; listed under "Edit the recipe"',
}
SPEC = Spec(NAME, "LLaMA-Factory", KEYS, SUBTREES, detect, prepare, {}, FORMATS)
