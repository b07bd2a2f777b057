"""axolotl: one flat YAML file (`base_model`, `datasets: [...]`, `adapter`, `rl`, ...).

Key names and meanings from axolotl's config reference (docs/config.qmd) and its examples/.
Paths in `datasets[].path` are relative to where `axolotl train` ran (the current folder here).
"""

from __future__ import annotations

from typing import Any

from ftc.compiler.importers import common as c
from ftc.compiler.importers.core import (
    Carry,
    Decide,
    Draft,
    Drop,
    Entry,
    Handle,
    Refuse,
    Row,
    Source,
    Spec,
    carried,
    pattern,
    row,
    walk,
)
from ftc.shared.contract import FORMAT_FIELDS
from ftc.shared.hub import split_name

NAME = "axolotl"

# axolotl dataset `type` -> (ftc format, column map: ftc field -> the file's column)
TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "alpaca": ("instruction", {}),
    "alpaca_chat": ("instruction", {}),
    "alpaca_w_system": ("instruction", {}),
    "chat_template": ("chat", {}),
    "sharegpt": ("chat", {"messages": "conversations"}),
    "completion": ("text", {}),
    "pretrain": ("text", {}),
    "chatml.intel": ("preference", {"prompt": "question"}),
    "llama3.intel": ("preference", {"prompt": "question"}),
    "chatml.prompt_pairs": ("preference", {}),
    "llama3.prompt_pairs": ("preference", {}),
    "chatml.argilla": (
        "preference",
        {"prompt": "instruction", "chosen": "chosen_response", "rejected": "rejected_response"},
    ),
    "llama3.argilla": (
        "preference",
        {"prompt": "instruction", "chosen": "chosen_response", "rejected": "rejected_response"},
    ),
    "chat_template.default": ("preference", {"prompt": "messages"}),
    "chat_template.argilla": ("preference", {"prompt": "instruction"}),
}
PREFERENCE_RL = ("dpo", "ipo", "orpo", "simpo")
# custom (dict) dataset types and chat_template fields: their column -> ftc field
FIELD_COLUMNS = {
    "field_instruction": "instruction", "field_input": "input", "field_output": "output",
    "field_messages": "messages", "field_prompt": "prompt", "field_chosen": "chosen", "field_rejected": "rejected",
    "field": "text", "text_column": "text",
}  # fmt: skip


def method_of(doc: dict[str, Any]) -> str:
    adapter = doc.get("adapter")
    if adapter == "qlora" or (adapter == "lora" and doc.get("load_in_4bit") is True):
        return "qlora"
    if adapter == "lora":
        return "dora" if doc.get("peft_use_dora") is True else "lora"
    return "full" if not adapter else str(adapter)


def prepare(draft: Draft, doc: dict[str, Any]) -> None:
    draft.context["method"] = method_of(doc)
    draft.context["rl"] = doc.get("rl")
    draft.context["preference"] = doc.get("rl") in (*PREFERENCE_RL, "kto")
    if not doc.get("adapter"):  # absent or empty (`adapter:`): axolotl tunes every weight
        draft.values["train.method"] = "full"
        draft.set_by["train.method"] = "(no adapter)"
        draft.note("train.method = full: the source sets no `adapter`, so axolotl tuned every weight")


# --- handlers --------------------------------------------------------------------------------
def _base(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if not isinstance(value, str) or not value.strip():
        return [row(path, value, Drop("not a model name"), attention=True)]
    draft.base = value
    return [carried(path, value, f'base = model("{value}")', "the hub id; ftc plans it from its config or its table")]


def _adapter(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    method = draft.context["method"]
    if not value:
        return [carried(path, value, "train.method = full", "no adapter: axolotl tuned every weight")]
    if method not in ("lora", "qlora", "dora"):
        return [row(path, value, c.METHOD, f"adapter `{value}` is not a method ftc plans")]
    draft.set("train.method", method, path)
    how = {"qlora": "a 4-bit base with LoRA", "dora": "with peft_use_dora"}.get(method, "")
    return [carried(path, value, f"train.method = {method}", how)]


def _load_4bit(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True and draft.context["method"] == "qlora":
        return [carried(path, value, "train.method = qlora", "with the adapter: QLoRA")]
    return [
        row(
            path,
            value,
            Drop(
                "off in the source"
                if value is False
                else "a 4-bit base without a LoRA adapter is not a method ftc plans"
            ),
        )
    ]


def _load_8bit(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is not True:
        return [row(path, value, Drop("off in the source"))]
    return [row(path, value, c.METHOD, "8-bit LoRA is not a method ftc plans (lora, qlora, full, dora)")]


def _dora(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True and draft.context["method"] == "dora":
        return [carried(path, value, "train.method = dora", "with adapter: lora")]
    return [row(path, value, Drop("off in the source" if value is not True else "DoRA needs adapter: lora"))]


def _rl(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value == "dpo":
        return [row(path, value, c.DPO)]
    if value == "orpo":
        draft.set("train.objective", "orpo", path)
        return [carried(path, value, "train.objective = orpo", "ORPO: one stage, no reference model")]
    if value in ("ipo", "simpo"):
        return [row(path, value, c.DPO, f"ftc has no {str(value).upper()} loss yet; the same pairs are planned as DPO")]
    if value == "kto":
        return [row(path, value, c.KTO)]
    return [row(path, value, Drop(f"`rl: {value}` (online RL) is not a strategy ftc plans"), attention=True)]


def _data_format(entry: dict[str, Any], rl: Any, pretrain: bool = False) -> tuple[str, dict[str, str], str]:
    """(format, columns, a note) for one axolotl dataset entry (``pretrain``: a `pretraining_dataset` one)."""
    kind = entry.get("type")
    if pretrain and kind in (None, "pretrain", "completion"):
        return "text", {}, ""
    if isinstance(kind, dict):
        return "instruction", {}, "a custom prompt format: its fields are the columns"
    if rl == "kto":
        return "kto", {}, "KTO rows: prompt, completion and a boolean label"
    fmt, cols = TYPES.get(str(kind), ("", {}))
    if not fmt:
        base = str(kind).split(".", 1)[0].split(":", 1)[0]
        fmt, cols = TYPES.get(base, ("preference" if rl in PREFERENCE_RL else "chat", {}))
        return fmt, dict(cols), f"type `{kind}` is not a row shape ftc knows: check the rows are {fmt}"
    return fmt, dict(cols), ""


def _columns(entry: dict[str, Any], kind: Any, fmt: str, columns: dict[str, str]) -> dict[str, str]:
    fields = dict(entry)
    if isinstance(kind, dict):
        fields.update(kind)
    for key, field in FIELD_COLUMNS.items():
        column = fields.get(key)
        if fmt == "preference" and key == "field_messages":
            field = "prompt"
        if isinstance(column, str) and column and field in FORMAT_FIELDS.get(fmt, ()) and column != field:
            columns[field] = column
    return columns


def _one_dataset(
    draft: Draft, prefix: str, entry: dict[str, Any], rl: Any, eval_only: bool, pretrain: bool = False
) -> list[Row]:
    fmt, columns, why = _data_format(entry, rl, pretrain)
    columns = _columns(entry, entry.get("type"), fmt, columns)
    where = entry.get("path")
    files = entry.get("data_files")
    if isinstance(where, str) and where in c.LOADER_NAMES and isinstance(files, str):
        where = files
    rows: dict[str, Row] = {}
    if not isinstance(where, str) or not where:
        return [row(prefix, entry, Drop("a dataset entry without a path"), attention=True)]
    kto = rl == "kto" and not pretrain
    local = c.is_local(draft, where)
    hub = None if kto or local else c.hub_repo(where)
    if kto or (not local and hub is None):
        reason = (
            f"export the KTO rows of `{where}` as prompt, completion and a boolean label"
            if kto
            else f"`{where}` is {c.NOT_HUB}: export its `{entry.get('split', 'train')}` rows"
        )
        src = draft.placeholder(where, fmt, columns, reason)
    elif hub is not None:
        src = draft.hub_source(hub, fmt, columns, "\n".join(t for t in (c.HUB_COMMENT, why) if t))
    else:
        src = draft.add_source(_stem(where), draft.local_path(where), fmt, columns, why)
    if why and not kto:
        draft.note(f"data `{src.name}`: {why}")
    placeholder = kto or (not local and hub is None)
    key = "data_files" if where == entry.get("data_files") else "path"
    why_path = c.KTO_REFUSED if kto else c.NOT_HUB
    rows[f"{prefix}.{key}"] = c.source_rows(f"{prefix}.{key}", where, draft, src.name, placeholder, why=why_path)
    if key == "data_files":
        rows[f"{prefix}.path"] = carried(
            f"{prefix}.path", entry.get("path"), f"data.{src.name}", "a loader name: the file is data_files"
        )
    elif hub is not None and "data_files" in entry:
        rows[f"{prefix}.data_files"] = row(
            f"{prefix}.data_files", entry["data_files"], HUB_FILES, target=f"data.{src.name}", attention=True
        )
    note = (f"columns {c.columns_note(src.columns)}" if src.columns else "") + (f"; {why}" if why else "")
    if "type" in entry and not isinstance(entry["type"], dict):  # a custom (dict) type's fields get rows of their own
        rows[f"{prefix}.type"] = carried(
            f"{prefix}.type", entry["type"], f"data.{src.name}.format = {fmt}", note.strip("; "), attention=bool(why)
        )
    if not placeholder:
        rows.update(_hub_rows(prefix, entry, src))
    if eval_only:
        draft.set("eval.data", f'"{src.name}"', prefix)
    return _entry_rows(draft, prefix, entry, rows, src.name)


HUB_FILES = Drop("ftc reads the whole split of a hub dataset; choosing some of its files is not in the language yet")


def _hub_rows(prefix: str, entry: dict[str, Any], src: Source) -> dict[str, Row]:
    """`name` -> config, `split` -> split, `shards` -> a slice of the split (hub datasets only)."""
    out: dict[str, Row] = {}
    if "name" in entry:
        out[f"{prefix}.name"] = c.hub_part(f"{prefix}.name", entry["name"], src, "config")
    if "split" in entry:
        out[f"{prefix}.split"] = c.hub_part(f"{prefix}.split", entry["split"], src, "split")
    if "shards" in entry:
        out.update(_shards(prefix, entry, src))
    return out


def _shards(prefix: str, entry: dict[str, Any], src: Source) -> dict[str, Row]:
    """axolotl keeps shard `shards_idx` of `shards` after a seeded shuffle: 1/N of the rows. A hub
    split's slice keeps the same share (contiguous rather than shuffled) when it is a whole percent."""
    shards, idx = entry["shards"], entry.get("shards_idx") or 0
    keys = [f"{prefix}.shards"] + ([f"{prefix}.shards_idx"] if "shards_idx" in entry else [])
    why = ""
    try:
        n, k = c.positive_int(shards), c.whole(idx)
    except Refuse as exc:
        why = str(exc)
    else:
        if src.hub is None:
            why = "a file is read whole; `max_rows` caps it"
        elif 100 % n or not 0 <= k < n:
            why = f"shard {k} of {n} is not a whole percentage of the split; set `split` or `max_rows` yourself"
        elif "[" in (src.split or ""):
            why = "the split already has a slice"
    if why:
        return {key: row(key, entry.get(key.rsplit(".", 1)[1]), Drop(why), attention=True) for key in keys}
    step = 100 // n
    base = split_name(src.split or "train")
    src.split = f"{base}[{f'{k * step}%' if k else ''}:{(k + 1) * step}%]"
    how = f"1/{n} of the rows: the slice keeps them in order, axolotl a seeded shuffle's shard"
    return {key: carried(key, entry.get(key.rsplit(".", 1)[1]), f'data.{src.name}.split = "{src.split}"', how)
            for key in keys}  # fmt: skip


def _stem(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.split(".", 1)[0] or "data"


ENTRY_KEYS: dict[str, Entry] = {
    "ds_type": Drop("ftc reads a file by its suffix (.jsonl, .json, .csv, .parquet)"),
    "split": c.SPLIT_ON_FILE,
    "name": c.CONFIG_ON_FILE,
    "shards": Drop("a file is read whole; `max_rows` caps it"),
    "shards_idx": Drop("a file is read whole; `max_rows` caps it"),
    "preprocess_shards": c.WORKERS,
    "roles_to_train": c.PROMPT_MASK,
    "train_on_eos": c.PROMPT_MASK,
    "train_on_split": c.PROMPT_MASK,
    "train_on_inputs": c.PROMPT_MASK,
    "chat_template": c.TEMPLATE,
    "chat_template_jinja": c.TEMPLATE,
    "conversation": c.TEMPLATE_FORMAT,
    "message_property_mappings": Drop("the loader reads role/content turns; the column map cannot rename them yet"),
    "message_field_role": Drop("the loader reads role/content turns; the column map cannot rename them yet"),
    "message_field_content": Drop("the loader reads role/content turns; the column map cannot rename them yet"),
    "trust_remote_code": c.REMOTE_CODE,
    "revision": Drop(
        "the language has no dataset revision: ftc reads the snapshot the cache's refs/main names "
        "and pins it in the data lock"
    ),
    "field_system": c.SYSTEM,
    "system_prompt": c.SYSTEM,
    "system_format": c.TEMPLATE_FORMAT,
    "format": c.TEMPLATE_FORMAT,
    "no_input_format": c.TEMPLATE_FORMAT,
}


def _entry_rows(draft: Draft, prefix: str, entry: dict[str, Any], done: dict[str, Row], name: str) -> list[Row]:
    out = []
    for path, value in walk(entry, frozenset({f"{pattern(prefix)}.message_property_mappings"}), prefix):
        if path in done:
            out.append(done[path])
            continue
        sub = path[len(prefix) + 1 :]
        if sub.startswith("type."):
            sub = sub[len("type.") :]
        if sub in FIELD_COLUMNS:
            out.append(
                carried(path, value, f"data.{name}.columns", "a column of the file")
                if isinstance(value, str)
                else row(path, value, Drop("not a column name"))
            )
            continue
        entry_kind = ENTRY_KEYS.get(sub.split(".", 1)[0])
        out.append(
            row(path, value, entry_kind)
            if isinstance(entry_kind, (Decide, Drop))
            else row(path, value, Drop(f"not a key ftc knows from {NAME} datasets"))
        )
    return out


def _datasets(draft: Draft, path: str, value: Any, doc: dict[str, Any], eval_only: bool = False) -> list[Row]:
    if not isinstance(value, list) or not value:
        return [row(path, value, Drop("not a list of datasets"), attention=True)]
    entries = [{"path": entry} if isinstance(entry, str) else entry for entry in value]
    return c.dataset_list(
        draft, path, entries, eval_only, lambda d, k, v, ev: _one_dataset(d, k, v, d.context["rl"], ev)
    )


def _pretraining(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    """Streamed pre-training text (`pretraining_dataset`): text sources, like `type: completion`."""
    entries = [{"path": e} if isinstance(e, str) else e for e in (value if isinstance(value, list) else [value])]
    if not entries or value in (None, "", []):
        return [row(path, value, Drop("no pre-training dataset"))]
    draft.note("data: the source continues pre-training on raw text; ftc tunes behaviour, so check the goal fits")
    return c.dataset_list(
        draft,
        path,
        entries,
        False,
        lambda d, k, v, ev: _one_dataset(d, k, v, d.context["rl"], ev, pretrain=True),
        keyed=isinstance(value, list),
        what="a pre-training dataset entry",
    )


def _test_datasets(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return _datasets(draft, path, value, doc, eval_only=True)


def _deepspeed(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return c.distributed(draft, path, value)


KEYS: dict[str, Entry] = {
    "base_model": Handle(_base, 'carried to `base = model("...")`'),
    "base_model_config": c.TOKENIZER,
    "model_type": Drop("ftc reads the architecture from the model's config or its table"),
    "tokenizer_type": c.TOKENIZER,
    "tokenizer_config": c.TOKENIZER,
    "tokenizer_use_fast": c.TOKENIZER,
    "tokenizer_legacy": c.TOKENIZER,
    "trust_remote_code": c.REMOTE_CODE,
    "strict": c.DEBUG,
    "is_llama_derived_model": Drop("ftc reads the architecture from the model's config or its table"),
    "adapter": Handle(_adapter, "carried to `train.method` (lora; qlora with load_in_4bit; dora with peft_use_dora)"),
    "load_in_4bit": Handle(_load_4bit, "with adapter: lora, carried to `train.method = qlora`"),
    "load_in_8bit": Handle(_load_8bit, "dropped: 8-bit LoRA is not a method ftc plans"),
    "peft_use_dora": Handle(_dora, "with adapter: lora, carried to `train.method = dora`"),
    "lora_model_dir": Drop("ftc starts adapters from the base model; continuing an adapter is not in the language yet"),
    "lora_r": Carry("train.lora_r", c.LORA_R, c.positive_int),
    "lora_alpha": Carry("train.lora_alpha", c.LORA_ALPHA, c.positive_int),
    "lora_dropout": Carry("train.lora_dropout", c.LORA_DROPOUT, c.number),
    "lora_target_modules": Carry("train.target_modules", c.TARGETS, c.modules),
    "lora_target_linear": Carry("train.target_modules", c.TARGETS, c.all_linear, "true: all-linear"),
    "lora_fan_in_fan_out": c.TARGETS,
    "lora_modules_to_save": c.TARGETS,
    "peft_use_rslora": Carry("train.use_rslora", c.RSLORA, c.truthy),
    "rl": Handle(
        _rl,
        "dpo: decided (R-DPO-AFTER-SFT); orpo: carried to train.objective; ipo/simpo: planned as DPO; kto: decided (R-OBJECTIVE); grpo: dropped",
    ),
    "rl_beta": Carry("train.dpo_beta", c.DPO_BETA, c.number),
    "dpo_beta": Carry("train.dpo_beta", c.DPO_BETA, c.number),
    "orpo_alpha": Drop("ORPO's weight is decided by ftc (R-OBJECTIVE: beta 0.1)"),
    "reward_model": Drop("ftc does not train reward models"),
    "process_reward_model": Drop("ftc does not train reward models"),
    "datasets": Handle(
        _datasets, 'one data block per entry: local files and hub datasets (`path = "hf://owner/name"`)'
    ),
    "test_datasets": Handle(_test_datasets, "a data block used as `eval { data = ... }`"),
    "pretraining_dataset": Handle(_pretraining, "one text data block per entry (continued pre-training), as datasets"),
    "dataset_prepared_path": c.WORKERS,
    "dataset_processes": c.WORKERS,
    "dataset_num_proc": c.WORKERS,
    "shuffle_merged_datasets": c.SHUFFLE,
    "push_dataset_to_hub": c.HUB,
    "chat_template": Carry("train.chat_template", c.TEMPLATE, c.template),
    "chat_template_jinja": Drop("write the Jinja text to a file in the project and set train.chat_template to it"),
    "default_system_message": Carry("recipe.system_prompt", c.SYSTEM, str),
    "special_tokens": c.TOKENIZER,
    "tokens": c.TOKENIZER,
    "train_on_inputs": c.PROMPT_MASK,
    "val_set_size": Carry("eval.holdout", c.HOLDOUT, c.fraction),
    "sequence_len": Carry("train.max_length", c.MAX_LEN, c.positive_int),
    "sample_packing": Carry("train.packing", c.PACKING, c.truthy),
    "eval_sample_packing": c.EVAL_SCHEDULE,
    "pad_to_sequence_len": c.PACKING,
    "group_by_length": c.PACKING,
    "micro_batch_size": Carry("train.batch", c.BATCH, c.positive_int),
    "batch_size": Drop("axolotl's deprecated total batch; ftc sets batch and grad_accum"),
    "eval_batch_size": c.EVAL_SCHEDULE,
    "gradient_accumulation_steps": Carry("train.grad_accum", c.ACCUM, c.positive_int),
    "num_epochs": Carry("train.epochs", c.EPOCHS, c.number),
    "max_steps": Carry("train.max_steps", c.MAX_STEPS, c.positive_int),
    "learning_rate": c.lr(),
    "optimizer": Carry("train.optimizer", c.OPTIMIZER, c.optimizer),
    "optim_args": c.OPTIMIZER,
    "adam_beta1": c.OPTIMIZER,
    "adam_beta2": c.OPTIMIZER,
    "adam_epsilon": c.OPTIMIZER,
    "lr_scheduler": Carry("train.lr_scheduler", c.SCHEDULER, c.scheduler),
    "lr_scheduler_kwargs": c.SCHEDULER,
    "cosine_min_lr_ratio": c.SCHEDULER,
    "warmup_steps": Carry("train.warmup", c.WARMUP, c.number, "a step count"),
    "warmup_ratio": Carry("train.warmup", c.WARMUP, c.number, "a share of the steps"),
    "weight_decay": Carry("train.weight_decay", c.WEIGHT_DECAY, c.number),
    "max_grad_norm": Carry("train.max_grad_norm", c.GRAD_CLIP, c.number),
    "seed": Carry("train.seed", c.SEED, c.whole),
    "bf16": Carry("train.precision", c.PRECISION, c.precision_flag("bf16")),
    "fp16": Carry("train.precision", c.PRECISION, c.precision_flag("fp16")),
    "tf32": Carry("train.tf32", c.PRECISION, c.truthy),
    "float16": c.PRECISION,
    "bfloat16": c.PRECISION,
    "gradient_checkpointing": Carry("train.gradient_checkpointing", c.CHECKPOINTING, c.truthy),
    "gradient_checkpointing_kwargs": c.CHECKPOINTING,
    "activation_offloading": c.CHECKPOINTING,
    "early_stopping_patience": Carry(
        "train.early_stopping",
        c.EARLY_STOP,
        lambda v: c.positive_int(v) > 0,
        "a patience turns early stopping on; ftc's patience is 2",
    ),
    "flash_attention": c.PERF,
    "sdp_attention": c.PERF,
    "xformers_attention": c.PERF,
    "flash_attn_cross_entropy": c.PERF,
    "flash_attn_rms_norm": c.PERF,
    "liger_rope": c.PERF,
    "liger_rms_norm": c.PERF,
    "liger_glu_activation": c.PERF,
    "liger_fused_linear_cross_entropy": c.PERF,
    "plugins": c.PERF,
    "unsloth_lora_mlp": c.PERF,
    "unsloth_lora_qkv": c.PERF,
    "unsloth_lora_o": c.PERF,
    "torch_compile": c.PERF,
    "deepspeed": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp_config": Handle(_deepspeed, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp_version": c.DISTRIBUTED,
    "ddp_timeout": c.DISTRIBUTED,
    "ddp_find_unused_parameters": c.DISTRIBUTED,
    "local_rank": c.DISTRIBUTED,
    "output_dir": c.OUTPUT,
    "hub_model_id": c.HUB,
    "hub_strategy": c.HUB,
    "merge_lora": Drop("set `export { merged = true }` to also write merged weights"),
    "resume_from_checkpoint": c.RESUME,
    "auto_resume_from_checkpoints": c.RESUME,
    "save_steps": Carry("train.save_every", c.SAVE_EVERY, c.number),
    "saves_per_epoch": Carry("train.save_every", c.SAVE_EVERY, c.per_epoch, "N an epoch: 100/N %"),
    "save_total_limit": c.SAVING,
    "save_strategy": c.SAVING,
    "save_safetensors": c.SAVING,
    "save_first_step": c.SAVING,
    "eval_steps": Carry("train.eval_every", c.EVAL_EVERY, c.number),
    "evals_per_epoch": Carry("train.eval_every", c.EVAL_EVERY, c.per_epoch, "N an epoch: 100/N %"),
    "eval_strategy": c.EVAL_SCHEDULE,
    "eval_table_size": c.EVAL_SCHEDULE,
    "do_bench_eval": c.EVAL_SCHEDULE,
    "logging_steps": c.LOGGING,
    "loss_watchdog_threshold": c.LOGGING,
    "loss_watchdog_patience": c.LOGGING,
    "hf_use_auth_token": Drop("ftc reads models and data from the local Hugging Face cache; no hub login"),
    "wandb_api_key": c.TRACKER,
    "wandb_project": c.TRACKER,
    "wandb_entity": c.TRACKER,
    "wandb_watch": c.TRACKER,
    "wandb_name": c.TRACKER,
    "wandb_run_id": c.TRACKER,
    "wandb_log_model": c.TRACKER,
    "mlflow_tracking_uri": c.TRACKER,
    "mlflow_experiment_name": c.TRACKER,
    "use_tensorboard": c.TRACKER,
    "debug": c.DEBUG,
}
SUBTREES = frozenset(
    {
        "datasets",
        "test_datasets",
        "pretraining_dataset",
        "special_tokens",
        "fsdp_config",
        "deepspeed",
        "fsdp",
        "lr_scheduler_kwargs",
        "gradient_checkpointing_kwargs",
        "plugins",
        "tokens",
        "lora_target_modules",
        "lora_modules_to_save",
    }
)


def detect(doc: dict[str, Any]) -> int:
    """axolotl's own spellings: base_model, datasets (a list), adapter, micro_batch_size, sequence_len."""
    marks = (
        "base_model",
        "adapter",
        "micro_batch_size",
        "sequence_len",
        "num_epochs",
        "val_set_size",
        "lora_target_linear",
    )
    score = sum(k in doc for k in marks)
    return score + 2 if "base_model" in doc and isinstance(doc.get("datasets"), list) else score


FORMATS = {f"type: {k}": v[0] + (f" (columns {c.columns_note(v[1])})" if v[1] else "") for k, v in TYPES.items()}
FORMATS["type: {field_instruction, ...} (custom)"] = "instruction (its field_* keys are the columns)"
FORMATS["type: anything else"] = "preference with rl (dpo, ipo, orpo, simpo), else chat; the row says to check"
FORMATS["rl: kto"] = "a placeholder for prompt/completion/label rows (format = kto)"
ENTRY_DOC = dict(ENTRY_KEYS) | {
    "path": (
        'a local file: carried to `data.NAME.path`; a hub dataset id: carried as `path = "hf://owner/name"`; '
        "anything else: a placeholder path to fill (!)"
    ),
    "name": "hub datasets: carried to `data.NAME.config`; a file: dropped (it has one)",
    "split": "hub datasets: carried to `data.NAME.split` (slices too: train[:20%]); a file: dropped (read whole)",
    "shards": "hub datasets: shard i of N carried as a slice of the split (train[:5%] for 1 of 20) when 100/N is whole",
    "shards_idx": "with shards: the slice's position",
    "data_files": "with path: json/csv/parquet, the file: carried to `data.NAME.path`",
    "type": "carried to `data.NAME.format` (and `columns`), see the formats below",
    "field_*": "carried to `data.NAME.columns`",
}
SPEC = Spec(NAME, "axolotl", KEYS, SUBTREES, detect, prepare, ENTRY_DOC, FORMATS)
