"""oumi: a TrainingConfig YAML in sections (`model:`, `data:`, `training:`, `peft:`, `fsdp:`).

Key names and meanings from oumi's configs/recipes/*/sft and */dpo train.yaml files and its
training-configuration guide. Datasets are `data.train.datasets[]` entries: a registered name
(`dataset_name`, often a hub id) and, for local files, `dataset_path`.
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
    Row,
    Source,
    Spec,
    carried,
    mapping,
    pattern,
    row,
    walk,
)

NAME = "oumi"

# oumi dataset names -> (format, columns); local readers take `dataset_path`
NAMED: dict[str, tuple[str, dict[str, str]]] = {
    "yahma/alpaca-cleaned": ("instruction", {}),
    "tatsu-lab/alpaca": ("instruction", {}),
    "text_sft": ("chat", {}),
    "text_sft_jsonl": ("chat", {}),
    "chat_jsonl": ("chat", {}),
    "preference_pairs_jsonl": ("preference", {}),
    "HuggingFaceH4/ultrachat_200k": ("chat", {}),
    "mlabonne/orpo-dpo-mix-40k": ("preference", {}),
}
PREFERENCE_TRAINERS = ("TRL_DPO",)


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return mapping(doc.get(name))


def prepare(draft: Draft, doc: dict[str, Any]) -> None:
    training, peft = _section(doc, "training"), _section(doc, "peft")
    if peft.get("q_lora") is True:
        method = "qlora"
    elif training.get("use_peft") is True:
        method = "dora" if peft.get("use_dora") is True else "lora"
    else:
        method = "full"
    draft.context["method"] = method
    draft.context["trainer"] = str(training.get("trainer_type", "TRL_SFT")).upper()
    draft.context["preference"] = draft.context["trainer"] in (*PREFERENCE_TRAINERS, "TRL_KTO")
    if "use_peft" not in training and method == "full":
        draft.values["train.method"] = "full"
        draft.set_by["train.method"] = "(no training.use_peft)"
        draft.note("train.method = full: the source does not set training.use_peft, so oumi tuned every weight")


# --- handlers --------------------------------------------------------------------------------
def _model(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if not isinstance(value, str) or not value.strip():
        return [row(path, value, Drop("not a model name"), attention=True)]
    draft.base = value
    return [carried(path, value, f'base = model("{value}")')]


def _trainer(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    kind = draft.context["trainer"]
    if kind in ("TRL_SFT", "OUMI", "HF"):
        return [row(path, value, c.SFT, "the trainer is the runtime's")]
    if kind in PREFERENCE_TRAINERS:
        return [row(path, value, c.DPO)]
    if kind == "TRL_KTO":
        return [row(path, value, c.KTO, "TRL's KTO rows (prompt, completion, label) are read as format = kto")]
    return [
        row(path, value, Drop(f"trainer `{value}` (online RL or custom) is not a strategy ftc plans"), attention=True)
    ]


def _use_peft(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    method = draft.context["method"]
    draft.set("train.method", method, path)
    how = {"qlora": "with peft.q_lora", "dora": "with peft.use_dora"}.get(method, "")
    return [carried(path, value, f"train.method = {method}", how)]


def _q_lora(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True:
        return [carried(path, value, "train.method = qlora", "a 4-bit base with LoRA")]
    return [row(path, value, Drop("off in the source"))]


def _dora(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True and draft.context["method"] == "dora":
        return [carried(path, value, "train.method = dora")]
    return [row(path, value, Drop("off in the source" if value is not True else "DoRA needs training.use_peft"))]


def _entry(draft: Draft, prefix: str, entry: dict[str, Any], eval_only: bool) -> list[Row]:
    name = str(entry.get("dataset_name", ""))
    preference = draft.context["trainer"] in PREFERENCE_TRAINERS
    fmt, columns = NAMED.get(name, ("preference" if preference else "chat", {}))
    why = "" if name in NAMED else f"`{name}` is not a dataset ftc knows: check the rows are {fmt}"
    if draft.context["trainer"] == "TRL_KTO":  # TRL's unpaired rows: prompt, completion, a boolean label
        fmt, columns, why = "kto", {}, ""
    local = entry.get("dataset_path")
    done: dict[str, Row] = {}
    if isinstance(local, str) and local:
        src = draft.add_source(_stem(local), draft.local_path(local), fmt, columns, why)
        done[f"{prefix}.dataset_path"] = c.source_rows(f"{prefix}.dataset_path", local, draft, src.name, False)
        done[f"{prefix}.dataset_name"] = carried(
            f"{prefix}.dataset_name", name, f"data.{src.name}.format = {fmt}", why, attention=bool(why)
        )
        if why:
            draft.note(f"data `{src.name}`: {why}")
    elif (hub := c.hub_repo(name)) is not None:
        src = draft.hub_source(hub, fmt, columns, "\n".join(t for t in (c.HUB_COMMENT, why) if t))
        done[f"{prefix}.dataset_name"] = c.source_rows(f"{prefix}.dataset_name", name, draft, src.name, False)
        for key, part in (("subset", "config"), ("split", "split")):
            if key in entry:
                done[f"{prefix}.{key}"] = c.hub_part(f"{prefix}.{key}", entry[key], src, part)
        if why:
            draft.note(f"data `{src.name}`: {why}")
    else:
        src = draft.placeholder(name or "data", fmt, columns, f"`{name}` is {c.NOT_HUB} and has no dataset_path")
        done[f"{prefix}.dataset_name"] = c.source_rows(f"{prefix}.dataset_name", name, draft, src.name, True)
    if "sample_count" in entry:
        done[f"{prefix}.sample_count"] = c.cap(f"{prefix}.sample_count", entry["sample_count"], src, SAMPLE_COUNT)
    if "mixture_proportion" in entry:
        done[f"{prefix}.mixture_proportion"] = _proportion(draft, prefix, entry, src, eval_only)
    if eval_only:
        draft.set("eval.data", f'"{src.name}"', prefix)
    return _entry_rows(prefix, entry, done)


SAMPLE_COUNT = "oumi took the first N rows (shuffled with shuffle: true) and looped past the end; ftc keeps a seeded random N, never repeating one"


def _proportion(draft: Draft, prefix: str, entry: dict[str, Any], src: Source, eval_only: bool) -> Row:
    """mixture_proportion -> weight, when every training dataset has one (oumi's own rule)."""
    path, value = f"{prefix}.mixture_proportion", entry["mixture_proportion"]
    if eval_only:
        return row(path, value, Drop("ftc mixes training sources only; the eval source is scored whole"))
    weights: list[float] | str = draft.context.get("mixture", "no training datasets")
    if isinstance(weights, str):
        return row(path, value, Drop(weights), attention=not weights.startswith("one dataset"))
    index = int(prefix.rsplit("[", 1)[1].rstrip("]"))
    src.weight = weights[index]
    return carried(path, value, f"data.{src.name}.weight = {c.weight_literal(src.weight)}", "its share of the mix")


def _mixture(entries: list[Any]) -> list[float] | str:
    """Every dataset's mixture_proportion as weights, or why they are not carried."""
    values = [e.get("mixture_proportion") if isinstance(e, dict) else None for e in entries]
    if len(entries) < 2:
        return "one dataset: nothing to mix"
    if any(v is None for v in values):
        return "oumi mixes only when every dataset has a mixture_proportion; some do not, so ftc concatenates"
    return c.shares(values)


def _mixture_strategy(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    datasets = mapping(mapping(doc.get("data")).get("train")).get("datasets")
    weights = _mixture(datasets if isinstance(datasets, list) else [])
    if isinstance(weights, str):
        return [row(path, value, Drop(f"no mix to apply it to ({weights})"))]
    if value == "first_exhausted":
        return [carried(path, value, "data.*.weight", "the mix stops when a source runs out, as ftc's weights do")]
    return [
        row(
            path,
            value,
            Drop(
                "ftc never repeats rows: its mix stops when a source runs out (first_exhausted); the shares are carried"
            ),
            attention=True,
        )
    ]


def _stem(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0] or "data"


ENTRY_KEYS: dict[str, Entry] = {
    "split": c.SPLIT_ON_FILE,
    "subset": c.CONFIG_ON_FILE,
    "shuffle": c.SHUFFLE,
    "seed": c.SHUFFLE,
    "transform_num_workers": c.WORKERS,
    "trust_remote_code": c.REMOTE_CODE,
    "dataset_kwargs": Drop("reader options of oumi's dataset class"),
}


def _entry_rows(prefix: str, entry: dict[str, Any], done: dict[str, Row]) -> list[Row]:
    out = []
    for path, value in walk(entry, frozenset({f"{pattern(prefix)}.dataset_kwargs"}), prefix):
        entry_kind = ENTRY_KEYS.get(path[len(prefix) + 1 :])
        if path in done:
            out.append(done[path])
        elif isinstance(entry_kind, (Decide, Drop)):
            out.append(row(path, value, entry_kind))
        else:
            out.append(row(path, value, Drop(f"not a key ftc knows from {NAME} datasets")))
    return out


def _datasets(draft: Draft, path: str, value: Any, doc: dict[str, Any], eval_only: bool = False) -> list[Row]:
    if not isinstance(value, list) or not value:
        return [row(path, value, Drop("not a list of datasets"), attention=True)]
    if not eval_only:
        draft.context["mixture"] = _mixture(value)
    return c.dataset_list(draft, path, value, eval_only, _entry)


def _validation(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return _datasets(draft, path, value, doc, eval_only=True)


def _fsdp(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return c.distributed(draft, path, value)


KEYS: dict[str, Entry] = {
    "model.model_name": Handle(_model, 'carried to `base = model("...")`'),
    "model.model_max_length": Carry("train.max_length", c.MAX_LEN, c.positive_int),
    "model.torch_dtype_str": c.PRECISION,
    "model.attn_implementation": c.PERF,
    "model.load_pretrained_weights": Drop("ftc always starts from the pretrained base"),
    "model.trust_remote_code": c.REMOTE_CODE,
    "model.enable_liger_kernel": c.PERF,
    "model.tokenizer_pad_token": c.TOKENIZER,
    "model.tokenizer_name": c.TOKENIZER,
    "model.chat_template": Carry("train.chat_template", c.TEMPLATE, c.template),
    "model.adapter_model": Drop(
        "ftc starts adapters from the base model; continuing an adapter is not in the language yet"
    ),
    "model.device_map": c.DISTRIBUTED,
    "model.model_kwargs": c.PERF,
    "data.train.datasets": Handle(
        _datasets,
        'one data block per entry: dataset_path carried, a hub dataset id as `path = "hf://owner/name"`',
    ),
    "data.validation.datasets": Handle(_validation, "a data block used as `eval { data = ... }`"),
    "data.train.target_col": Drop("ftc reads the format's own fields (or a `columns` map)"),
    "data.train.use_async_dataset": c.WORKERS,
    "data.train.collator_name": c.PACKING,
    "data.train.mixture_strategy": Handle(
        _mixture_strategy,
        "first_exhausted: carried with the weights; all_exhausted: dropped (ftc never repeats rows)",
    ),
    "data.train.seed": c.SHUFFLE,
    "data.train.pack": c.PACKING,
    "data.train.stream": c.WORKERS,
    "training.trainer_type": Handle(
        _trainer,
        "TRL_SFT/OUMI/HF: fine-tune; TRL_DPO: decided (R-DPO-AFTER-SFT); TRL_KTO: decided (R-OBJECTIVE), its rows "
        "read as format = kto; others dropped",
    ),
    "training.use_peft": Handle(_use_peft, "carried to `train.method` (lora; qlora with peft.q_lora); false: full"),
    "training.num_train_epochs": Carry("train.epochs", c.EPOCHS, c.number),
    "training.max_steps": Carry(
        "train.max_steps",
        Decide("R-EPOCHS-BY-SIZE", "no step cap: the epochs decide the length"),
        c.positive_int,
        "-1 (no cap) is not carried",
    ),
    "training.per_device_train_batch_size": Carry("train.batch", c.BATCH, c.positive_int),
    "training.per_device_eval_batch_size": c.EVAL_SCHEDULE,
    "training.gradient_accumulation_steps": Carry("train.grad_accum", c.ACCUM, c.positive_int),
    "training.learning_rate": c.lr(),
    "training.optimizer": Carry("train.optimizer", c.OPTIMIZER, c.optimizer),
    "training.adam_beta1": c.OPTIMIZER,
    "training.adam_beta2": c.OPTIMIZER,
    "training.adam_epsilon": c.OPTIMIZER,
    "training.lr_scheduler_type": Carry("train.lr_scheduler", c.SCHEDULER, c.scheduler),
    "training.lr_scheduler_kwargs": c.SCHEDULER,
    "training.warmup_steps": Carry("train.warmup", c.WARMUP, c.number, "a step count"),
    "training.warmup_ratio": Carry("train.warmup", c.WARMUP, c.number, "a share of the steps"),
    "training.weight_decay": Carry("train.weight_decay", c.WEIGHT_DECAY, c.number),
    "training.max_grad_norm": Carry("train.max_grad_norm", c.GRAD_CLIP, c.number),
    "training.seed": Carry("train.seed", c.SEED, c.whole),
    "training.mixed_precision_dtype": c.PRECISION,
    "training.enable_gradient_checkpointing": Carry("train.gradient_checkpointing", c.CHECKPOINTING, c.truthy),
    "training.gradient_checkpointing_kwargs": c.CHECKPOINTING,
    "training.ddp_find_unused_parameters": c.DISTRIBUTED,
    "training.compile": c.PERF,
    "training.dataloader_num_workers": c.WORKERS,
    "training.dataloader_prefetch_factor": c.WORKERS,
    "training.empty_device_cache_steps": c.PERF,
    "training.trainer_kwargs.beta": Carry("train.dpo_beta", c.DPO_BETA, c.number),
    "training.trainer_kwargs.loss_type": c.DPO,
    "training.save_steps": Carry("train.save_every", c.SAVE_EVERY, c.number),
    "training.save_epoch": c.SAVING,
    "training.save_final_model": c.SAVING,
    "training.try_resume_from_last_checkpoint": c.RESUME,
    "training.resume_from_checkpoint": c.RESUME,
    "training.eval_strategy": c.EVAL_SCHEDULE,
    "training.eval_steps": Carry("train.eval_every", c.EVAL_EVERY, c.number),
    "training.logging_steps": c.LOGGING,
    "training.logging_strategy": c.LOGGING,
    "training.logging_dir": c.LOGGING,
    "training.log_model_summary": c.LOGGING,
    "training.include_performance_metrics": c.LOGGING,
    "training.enable_wandb": c.TRACKER,
    "training.enable_tensorboard": c.TRACKER,
    "training.enable_mlflow": c.TRACKER,
    "training.run_name": c.TRACKER,
    "training.output_dir": c.OUTPUT,
    "training.use_torch_profiler": Drop("profiling is not part of a plan"),
    "training.profiler": Drop("profiling is not part of a plan"),
    "peft.lora_r": Carry("train.lora_r", c.LORA_R, c.positive_int),
    "peft.lora_alpha": Carry("train.lora_alpha", c.LORA_ALPHA, c.positive_int),
    "peft.lora_dropout": Carry("train.lora_dropout", c.LORA_DROPOUT, c.number),
    "peft.lora_target_modules": Carry("train.target_modules", c.TARGETS, c.modules),
    "peft.lora_modules_to_save": c.TARGETS,
    "peft.lora_bias": Drop("LoRA bias terms are not in the language yet (none)"),
    "peft.lora_task_type": Drop("ftc tunes causal language models"),
    "peft.use_dora": Handle(_dora, "true: carried to `train.method = dora`"),
    "peft.q_lora": Handle(_q_lora, "true: carried to `train.method = qlora`"),
    "peft.q_lora_bits": c.METHOD,
    "peft.bnb_4bit_quant_type": c.METHOD,
    "peft.use_bnb_nested_quant": c.METHOD,
    "peft.bnb_4bit_quant_storage": c.METHOD,
    "peft.bnb_4bit_compute_dtype": c.PRECISION,
    "peft.peft_save_mode": Drop("ftc exports the adapter; `export { merged = true }` adds merged weights"),
    "fsdp.enable_fsdp": Handle(_fsdp, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp.sharding_strategy": c.DISTRIBUTED,
    "fsdp.cpu_offload": c.DISTRIBUTED,
    "fsdp.mixed_precision": c.PRECISION,
    "fsdp.backward_prefetch": c.DISTRIBUTED,
    "fsdp.forward_prefetch": c.DISTRIBUTED,
    "fsdp.use_orig_params": c.DISTRIBUTED,
    "fsdp.state_dict_type": c.DISTRIBUTED,
    "fsdp.auto_wrap_policy": c.DISTRIBUTED,
    "fsdp.transformer_layer_cls": c.DISTRIBUTED,
    "fsdp.min_num_params": c.DISTRIBUTED,
    "fsdp.sync_module_states": c.DISTRIBUTED,
}
SUBTREES = frozenset(
    {
        "data.train.datasets",
        "data.validation.datasets",
        "peft.lora_target_modules",
        "training.gradient_checkpointing_kwargs",
        "training.lr_scheduler_kwargs",
        "training.profiler",
        "model.model_kwargs",
        "peft.lora_modules_to_save",
    }
)


def detect(doc: dict[str, Any]) -> int:
    """oumi's sections: model.model_name with training.trainer_type (or peft/data.train)."""
    model, training = _section(doc, "model"), _section(doc, "training")
    score = ("model_name" in model) + ("trainer_type" in training) + ("train" in _section(doc, "data"))
    return (
        score + 2
        if "model_name" in model and ("trainer_type" in training or "train" in _section(doc, "data"))
        else score
    )


FORMATS = {f"dataset_name: {k}": v[0] for k, v in NAMED.items()}
FORMATS["dataset_name: another"] = "preference with TRL_DPO, else chat; the row says to check"
ENTRY_DOC = dict(ENTRY_KEYS) | {
    "dataset_name": (
        "carried to `data.NAME.format` (see below); without dataset_path a hub dataset id is carried as "
        '`path = "hf://owner/name"`, another name gets a placeholder path to fill (!)'
    ),
    "subset": "hub datasets: carried to `data.NAME.config`; a file: dropped (it has one)",
    "split": "hub datasets: carried to `data.NAME.split` (slices too); a file: dropped (read whole)",
    "sample_count": f"carried to `data.NAME.max_rows` ({SAMPLE_COUNT})",
    "mixture_proportion": "carried to `data.NAME.weight` when every training dataset has one (oumi's rule)",
    "dataset_path": "carried to `data.NAME.path`",
}
SPEC = Spec(NAME, "oumi", KEYS, SUBTREES, detect, prepare, ENTRY_DOC, FORMATS)
