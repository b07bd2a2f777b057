"""torchtune: a YAML config of components (`_component_: torchtune.models.llama3_1.lora_llama3_1_8b`)
for one of its recipes (`tune run lora_finetune_single_device --config ...`).

Key names and meanings from torchtune's recipes/configs/*.yaml and its dataset builders
(instruct_dataset, chat_dataset, preference_dataset, text_completion_dataset). The base model is
read from the model builder's name and looked up in ftc's model table (its hub id); the
checkpointer's local folder is dropped. Which recipe ran (single device or distributed) is on the
command line, not in the file: FSDP keys in the file say it was distributed.
"""

from __future__ import annotations

import re
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
    row,
    walk,
)
from ftc.compiler.lang.formatter import quote
from ftc.compiler.plan import model_table
from ftc.shared.contract import FORMAT_FIELDS

NAME = "torchtune"

# model builder (without lora_/qlora_) -> ftc model-table name
BUILDERS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"llama(\d)(?:_(\d))?_(\d+)b"), lambda m: f"llama-{m[1]}{'.' + m[2] if m[2] else ''}-{m[3]}b"),
    (re.compile(r"qwen2_5_(\d+)(?:_(\d+))?b"), lambda m: f"qwen2.5-{m[1]}{'.' + m[2] if m[2] else ''}b"),
    (re.compile(r"mistral_(\d+)b"), lambda m: f"mistral-{m[1]}b"),
    (re.compile(r"gemma2_(\d+)b"), lambda m: f"gemma-2-{m[1]}b"),
    (re.compile(r"phi3_mini"), lambda m: "phi-3-mini"),
)
# dataset builder -> (format, hub id when it is a fixed public dataset, default columns)
DATASETS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "alpaca_dataset": ("instruction", "tatsu-lab/alpaca", {}),
    "alpaca_cleaned_dataset": ("instruction", "yahma/alpaca-cleaned", {}),
    "slimorca_dataset": ("chat", "Open-Orca/SlimOrca-Dedup", {"messages": "conversations"}),
    "stack_exchange_paired_dataset": (
        "preference",
        "lvwerra/stack-exchange-paired",
        {"prompt": "question", "chosen": "response_j", "rejected": "response_k"},
    ),
    "samsum_dataset": ("completion", "Samsung/samsum", {"prompt": "dialogue", "completion": "summary"}),
    "instruct_dataset": ("completion", None, {"prompt": "input", "completion": "output"}),
    "chat_dataset": ("chat", None, {}),
    "preference_dataset": ("preference", None, {}),
    "text_completion_dataset": ("text", None, {}),
}


def builder(component: Any) -> str:
    return str(component).rsplit(".", 1)[-1] if component else ""


def hub_id(component: Any) -> str | None:
    name = re.sub(r"^(q?lora_)", "", builder(component))
    for regex, make in BUILDERS:
        m = regex.match(name)
        if m:
            spec = model_table.lookup(make(m))
            return spec.hub_id if spec else None
    return None


def prepare(draft: Draft, doc: dict[str, Any]) -> None:
    model = mapping(doc.get("model"))
    kind = builder(model.get("_component_"))
    method = (
        "qlora"
        if kind.startswith("qlora_") or model.get("quantize_base") is True
        else "lora"
        if kind.startswith("lora_")
        else "full"
    )
    if method == "lora" and model.get("use_dora") is True:
        method = "dora"
    draft.context["method"] = method
    loss = mapping(doc.get("loss"))
    draft.context["dpo"] = any(k in str(loss.get("_component_", "")) for k in ("DPO", "ORPO", "IPO", "SimPO", "RSO"))
    draft.context["preference"] = draft.context["dpo"]


# --- handlers --------------------------------------------------------------------------------
# torchtune's configs start with the command that fetched the weights the checkpointer reads:
#   tune download meta-llama/Llama-2-7b-hf --output-dir /tmp/Llama-2-7b-hf --hf-token <HF_TOKEN>
# It names the exact hub id (base or instruct, which the builder `llama2_7b` does not say).
DOWNLOAD = re.compile(r"^[ \t]*#.*?\btune[ \t]+download[ \t]+([\w.-]+/[\w.-]+)([^\n]*)$", re.MULTILINE)
OUTPUT_DIR = re.compile(r"--output-dir(?:=|[ \t]+)(\S+)")


def downloads(text: str) -> list[tuple[str, str | None]]:
    """(hub id, --output-dir) of every `tune download` line in the config's comments."""
    out = []
    for m in DOWNLOAD.finditer(text):
        folder = OUTPUT_DIR.search(m[2])
        out.append((m[1], folder[1].strip("\"'") if folder else None))
    return out


def _folder(path: Any) -> str:
    return str(path).strip().rstrip("/").lower() if isinstance(path, str) else ""


def downloaded_base(text: str, doc: dict[str, Any]) -> tuple[str, str] | None:
    """(hub id, how it was found) when a `tune download` line fetched the checkpointer's folder.
    A line that names another folder than checkpointer.checkpoint_dir is not trusted: the config
    was edited to read other weights."""
    found = downloads(text)
    folder = _folder(mapping(doc.get("checkpointer")).get("checkpoint_dir"))
    for repo, out in found:
        if folder and out and _folder(out) == folder:
            return repo, "the `tune download` line that fetched checkpointer.checkpoint_dir"
    for repo, _ in found:
        if folder and folder.rsplit("/", 1)[-1] == repo.rsplit("/", 1)[-1].lower():
            return repo, "the `tune download` line whose model checkpointer.checkpoint_dir holds"
    if not folder and len({repo for repo, _ in found}) == 1:
        return found[0][0], "the config's `tune download` line"
    return None


def _names_match(folder: Any, repo: str) -> bool:
    """checkpoint_dir `/tmp/Meta-Llama-3.1-8B-Instruct/` holds `meta-llama/Llama-3.1-8B-Instruct`."""
    name = _folder(folder).rsplit("/", 1)[-1].removeprefix("meta-")
    return bool(name) and name == repo.rsplit("/", 1)[-1].lower().removeprefix("meta-")


def _model(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    method = draft.context["method"]
    draft.set("train.method", method, path)
    downloaded = downloaded_base(draft.text, doc)
    found = downloaded[0] if downloaded else hub_id(value)
    if found is None:
        draft.note(f'base: `{value}` is not in ftc\'s model table; set `base = model("...")` to its hub id')
        return [
            row(
                path,
                value,
                Drop(
                    f"`{builder(value)}` is not in ftc's model table and no `tune download` line names the "
                    f"checkpoint; set the base by hub id (train.method = {method} carried)"
                ),
                target="base",
                attention=True,
            )
        ]
    draft.base = found
    if downloaded:
        how, sure = downloaded[1], True
    elif _names_match(mapping(doc.get("checkpointer")).get("checkpoint_dir"), found):
        how, sure = "the builder's family and size (ftc's model table), as checkpointer.checkpoint_dir names it", True
    else:
        how = (
            "the builder's family and size (ftc's model table); check base vs instruct against "
            "checkpointer.checkpoint_dir"
        )
        sure = False
    return [carried(path, value, f'base = model("{found}"), train.method = {method}', how, attention=not sure)]


def _quantize(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True:
        return [carried(path, value, "train.method = qlora", "a 4-bit base with LoRA")]
    return [row(path, value, Drop("off in the source"))]


def _dora(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if value is True and draft.context["method"] == "dora":
        return [carried(path, value, "train.method = dora")]
    return [row(path, value, Drop("off in the source" if value is not True else "DoRA needs a LoRA model builder"))]


def _loss(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    if "DPO" in str(value):
        return [row(path, value, c.DPO)]
    if any(k in str(value) for k in ("ORPO", "IPO", "SimPO", "RSO")):
        return [row(path, value, c.DPO, f"`{builder(value)}` is not in ftc yet; the pairs are planned as DPO")]
    return [
        row(
            path,
            value,
            Drop("SFT trains with cross-entropy on the answer tokens; the loss implementation is the runtime's"),
        )
    ]


def _dataset_entry(draft: Draft, prefix: str, entry: dict[str, Any], eval_only: bool) -> list[Row]:
    kind = builder(entry.get("_component_"))
    fmt, fixed, defaults = DATASETS.get(kind, ("", None, {}))
    if not fmt:
        fmt = "preference" if draft.context["dpo"] else "chat"
        why = f"`{kind}` is not a dataset builder ftc knows: check the rows are {fmt}"
    else:
        why = ""
    columns = dict(defaults)
    for field, column in mapping(entry.get("column_map")).items():
        target = {"input": "prompt", "output": "completion"}.get(field, field) if fmt == "completion" else field
        if fmt == "chat" and field in ("conversations", "messages"):
            target = "messages"
        if isinstance(column, str) and target in FORMAT_FIELDS[fmt]:
            columns[target] = column
    if fmt == "chat" and isinstance(entry.get("conversation_column"), str):
        columns["messages"] = entry["conversation_column"]
    if fmt == "text" and isinstance(entry.get("column"), str):
        columns["text"] = entry["column"]
    columns = {k: v for k, v in columns.items() if k != v}
    source = entry.get("source") or fixed
    source = source if isinstance(source, str) else None  # a list or map here is not a source name
    files = entry.get("data_files")
    done: dict[str, Row] = {}
    where, key = (files, "data_files") if source in c.LOADER_NAMES and isinstance(files, str) else (source, "source")
    hub = c.hub_repo(where) if isinstance(where, str) and key == "source" and not c.is_local(draft, where) else None
    if isinstance(where, str) and (key == "data_files" or c.is_local(draft, where)):
        src = draft.add_source(_stem(where), draft.local_path(where), fmt, columns, why)
        placeholder = False
    elif hub is not None:
        comment = "\n".join(t for t in (c.HUB_COMMENT, HUB_NOTES.get(kind, "")) if t)
        src = draft.hub_source(hub, fmt, columns, comment)
        if kind in HUB_NOTES and source is fixed:
            draft.note(f"data `{src.name}`: {HUB_NOTES[kind]}")
        placeholder, key = False, "source" if "source" in entry else "_component_"
        done.update(_hub_rows(prefix, entry, src))
    else:
        where = str(source or kind)
        src = draft.placeholder(where, fmt, columns, f"`{where}` is {c.NOT_HUB}: export its rows")
        placeholder, key = True, "source" if "source" in entry else "_component_"
    if why:
        draft.note(f"data `{src.name}`: {why}")
    if key == "_component_" and src.hub:  # a builder of a fixed hub dataset: the builder names it
        done[f"{prefix}.{key}"] = carried(
            f"{prefix}.{key}",
            entry.get("_component_"),
            f'data.{src.name}.path = "{src.path}", format = {fmt}',
            f"the builder's hub dataset; columns {c.columns_note(src.columns)}"
            if src.columns
            else "the builder's hub dataset",
        )
    else:
        done[f"{prefix}.{key}"] = c.source_rows(f"{prefix}.{key}", where, draft, src.name, placeholder)
    if key != "_component_":
        done[f"{prefix}._component_"] = carried(
            f"{prefix}._component_",
            entry.get("_component_"),
            f"data.{src.name}.format = {fmt}",
            (f"columns {c.columns_note(src.columns)}" if src.columns else why),
            attention=bool(why),
        )
    if key == "data_files":
        done[f"{prefix}.source"] = carried(
            f"{prefix}.source", source, f"data.{src.name}", "a loader name: the file is data_files"
        )
    if eval_only:
        draft.set("eval.data", f'"{src.name}"', prefix)
    return _entry_rows(draft, prefix, entry, done, src.name)


HUB_NOTES = {  # what a builder passes to load_dataset that the language cannot say
    "stack_exchange_paired_dataset": "torchtune reads only the data/rl folder of this dataset; ftc reads its whole split",
}


def _hub_rows(prefix: str, entry: dict[str, Any], src: Source) -> dict[str, Row]:
    """`name` (load_dataset's config) and `split` of a hub source; `data_files` cannot be said."""
    out: dict[str, Row] = {}
    if "name" in entry:
        out[f"{prefix}.name"] = c.hub_part(f"{prefix}.name", entry["name"], src, "config")
    if "split" in entry:
        out[f"{prefix}.split"] = c.hub_part(f"{prefix}.split", entry["split"], src, "split")
    if "data_files" in entry:
        out[f"{prefix}.data_files"] = row(
            f"{prefix}.data_files",
            entry["data_files"],
            Drop("ftc reads the whole split of a hub dataset; choosing some of its files is not in the language yet"),
            attention=True,
        )
    return out


def _stem(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0] or "data"


ENTRY_KEYS: dict[str, Entry] = {
    "split": c.SPLIT_ON_FILE,
    "train_on_input": c.PROMPT_MASK,
    "conversation_style": Drop("the loader reads role/content (OpenAI) turns; convert ShareGPT from/value turns"),
    "packed": c.PACKING,
    "filter_fn": Drop("filter the rows before ftc reads them"),
    "name": c.CONFIG_ON_FILE,
    "max_seq_len": c.MAX_LEN,
}


def _entry_rows(draft: Draft, prefix: str, entry: dict[str, Any], done: dict[str, Row], name: str) -> list[Row]:
    out = []
    for path, value in walk(entry, frozenset(), prefix):
        sub = path[len(prefix) + 1 :]
        if path in done:
            out.append(done[path])
        elif sub.startswith("column_map.") or sub in ("conversation_column", "column"):
            out.append(carried(path, value, f"data.{name}.columns", "a column of the file"))
        elif sub == "new_system_prompt":
            taken = draft.set("recipe.system_prompt", quote(str(value)), path)
            out.append(
                row(path, value, Drop(taken))
                if taken
                else carried(path, value, "system_prompt", "the prompt for baseline and tune")
            )
        else:
            entry_kind = ENTRY_KEYS.get(sub)
            out.append(
                row(path, value, entry_kind)
                if isinstance(entry_kind, (Decide, Drop))
                else row(path, value, Drop(f"not a key ftc knows from {NAME} datasets"))
            )
    return out


def _dataset(draft: Draft, path: str, value: Any, doc: dict[str, Any], eval_only: bool = False) -> list[Row]:
    entries = value if isinstance(value, list) else [value]
    keyed = isinstance(value, list)
    return c.dataset_list(draft, path, entries, eval_only, _dataset_entry, keyed=keyed, what="a dataset component")


def _dataset_val(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return _dataset(draft, path, value, doc, eval_only=True)


def _fsdp(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    return c.distributed(draft, path, value, "torchtune's distributed recipe")


def _teacher(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    found = hub_id(value)
    if found is None:
        return [
            row(
                path,
                value,
                Drop(f'`{builder(value)}` is not in ftc\'s model table; set `teacher = model("...")`'),
                attention=True,
            )
        ]
    draft.teacher = found
    return [
        carried(
            path,
            value,
            f'teacher = model("{found}")',
            "distillation happens when a bound excludes the teacher (R-DISTILL)",
        )
    ]


KEYS: dict[str, Entry] = {
    "model._component_": Handle(
        _model,
        "carried to `base` (the builder's family and size, via ftc's model table) and `train.method` (lora_/qlora_ prefix; none: full)",
    ),
    "model.lora_attn_modules": c.TARGETS,
    "model.apply_lora_to_mlp": c.TARGETS,
    "model.apply_lora_to_output": c.TARGETS,
    "model.lora_rank": Carry("train.lora_r", c.LORA_R, c.positive_int),
    "model.lora_alpha": Carry("train.lora_alpha", c.LORA_ALPHA, c.positive_int),
    "model.lora_dropout": Carry("train.lora_dropout", c.LORA_DROPOUT, c.number),
    "model.quantize_base": Handle(_quantize, "true: carried to `train.method = qlora`"),
    "model.use_dora": Handle(_dora, "true: carried to `train.method = dora`"),
    "tokenizer._component_": c.TOKENIZER,
    "tokenizer.path": c.TOKENIZER,
    "tokenizer.merges_file": c.TOKENIZER,
    "tokenizer.max_seq_len": Carry("train.max_length", c.MAX_LEN, c.positive_int),
    "tokenizer.prompt_template": c.TEMPLATE,
    "checkpointer": Drop("ftc loads the base by its hub id (from model._component_), not from a checkpoint folder"),
    "ref_checkpointer": Drop("the DPO reference is the SFT model ftc trained just before"),
    "teacher_checkpointer": Drop("ftc loads the teacher by its hub id"),
    "teacher_model._component_": Handle(_teacher, "carried to `teacher`"),
    "kd_loss": Decide("R-DISTILL", "sequence-level distillation: the teacher writes answers, the student learns them"),
    "kd_ratio": Decide("R-DISTILL", "sequence-level distillation: the teacher writes answers, the student learns them"),
    "resume_from_checkpoint": c.RESUME,
    "save_adapter_weights_only": Drop("ftc exports the adapter; `export { merged = true }` adds merged weights"),
    "dataset": Handle(
        _dataset,
        'one data block per dataset component: local files and hub datasets (`path = "hf://owner/name"`) carried',
    ),
    "dataset_val": Handle(_dataset_val, "a data block used as `eval { data = ... }`"),
    "seed": Carry("train.seed", c.SEED, c.whole),
    "shuffle": c.SHUFFLE,
    "batch_size": Carry("train.batch", c.BATCH, c.positive_int),
    "batch_size_val": c.EVAL_SCHEDULE,
    "optimizer._component_": Carry("train.optimizer", c.OPTIMIZER, c.optimizer),
    "optimizer.lr": c.lr(),
    "optimizer.weight_decay": Carry("train.weight_decay", c.WEIGHT_DECAY, c.number),
    "optimizer.fused": c.PERF,
    "optimizer.betas": c.OPTIMIZER,
    "optimizer.eps": c.OPTIMIZER,
    "optimizer_in_bwd": c.PERF,
    "lr_scheduler._component_": c.SCHEDULER,
    "lr_scheduler.num_warmup_steps": Carry("train.warmup", c.WARMUP, c.number, "a step count"),
    "loss._component_": Handle(
        _loss, "DPOLoss: decided (R-DPO-AFTER-SFT); cross-entropy losses: dropped (the runtime's)"
    ),
    "loss.beta": Carry("train.dpo_beta", c.DPO_BETA, c.number),
    "loss.label_smoothing": Drop("DPO label smoothing is not in the language yet"),
    "loss.num_output_chunks": c.PERF,
    "epochs": Carry("train.epochs", c.EPOCHS, c.number),
    "max_steps_per_epoch": Drop("a cap per epoch; the language caps total steps (`train.max_steps`)"),
    "gradient_accumulation_steps": Carry("train.grad_accum", c.ACCUM, c.positive_int),
    "clip_grad_norm": Carry("train.max_grad_norm", c.GRAD_CLIP, c.number),
    "compile": c.PERF,
    "device": Carry("constraints.device", Drop("ftc plans for cpu or cuda"), str),
    "dtype": c.PRECISION,
    "enable_activation_checkpointing": Carry("train.gradient_checkpointing", c.CHECKPOINTING, c.truthy),
    "enable_activation_offloading": c.CHECKPOINTING,
    "custom_sharded_layers": Handle(_fsdp, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp_cpu_offload": Handle(_fsdp, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "fsdp_reshard_after_forward": Handle(_fsdp, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "data_parallel_shard_dim": Handle(_fsdp, "decided by ftc (R-FSDP): " + c.DISTRIBUTED.what),
    "tensor_parallel_dim": Drop("tensor parallelism is not a plan ftc makes (FSDP only)"),
    "output_dir": c.OUTPUT,
    "metric_logger": c.TRACKER,
    "log_every_n_steps": c.LOGGING,
    "log_peak_memory_stats": c.LOGGING,
    "log_level": c.LOGGING,
    "profiler": Drop("profiling is not part of a plan"),
    "run_val_every_n_steps": c.EVAL_SCHEDULE,
}
SUBTREES = frozenset(
    {
        "dataset",
        "dataset_val",
        "checkpointer",
        "ref_checkpointer",
        "teacher_checkpointer",
        "metric_logger",
        "profiler",
        "model.lora_attn_modules",
        "custom_sharded_layers",
        "optimizer.betas",
        "kd_loss",
    }
)


def detect(doc: dict[str, Any]) -> int:
    """torchtune's components: `_component_` under model, tokenizer, optimizer, checkpointer."""
    parts = ("model", "tokenizer", "optimizer", "checkpointer", "dataset", "loss")
    score = sum(isinstance(doc.get(k), dict) and "_component_" in doc[k] for k in parts)
    return score + 2 if score else 0


# Keys of torchtune's generation, evaluation and quantisation configs (`tune run generate`,
# `eleuther_eval`, `quantize`): with no dataset, such a file trains nothing.
NOT_TRAINING = ("tasks", "prompt", "max_new_tokens", "enable_kv_cache", "limit", "quantizer")


def other(doc: dict[str, Any]) -> tuple[str, str] | None:
    if "dataset" in doc or "optimizer" in doc:
        return None
    key = next((k for k in NOT_TRAINING if k in doc), None)
    if key is None:
        return None
    return (
        key,
        "a torchtune generation, evaluation or quantisation config (no dataset, no optimizer): it trains nothing",
    )


FORMATS = {
    f"torchtune.datasets.{k}": v[0]
    + (f" from hub `{v[1]}`" if v[1] else "")
    + (f" (columns {c.columns_note(v[2])})" if v[2] else "")
    for k, v in DATASETS.items()
}
FORMATS["another builder"] = "preference with a DPO loss, else chat; the row says to check"
ENTRY_DOC = dict(ENTRY_KEYS) | {
    "_component_": "carried to `data.NAME.format`, see the formats below",
    "source": (
        "a local file or json/csv/parquet with data_files: carried to `data.NAME.path`; "
        'a hub dataset id: carried as `path = "hf://owner/name"`; anything else: a placeholder path to fill (!)'
    ),
    "data_files": "with source json/csv/parquet: carried to `data.NAME.path`; with a hub dataset: dropped (!)",
    "name": "hub datasets: carried to `data.NAME.config`; a file: dropped (it has one)",
    "split": "hub datasets: carried to `data.NAME.split` (slices too: train[:10%]); a file: dropped (read whole)",
    "column_map.*": "carried to `data.NAME.columns`",
    "conversation_column": "carried to `data.NAME.columns` (messages)",
    "column": "carried to `data.NAME.columns` (text)",
    "new_system_prompt": "carried to `system_prompt`",
}
SPEC = Spec(NAME, "torchtune", KEYS, SUBTREES, detect, prepare, ENTRY_DOC, FORMATS, other)
