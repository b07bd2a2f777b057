"""Entries every tool's key table shares: what ftc's planner decides instead, and why keys drop.

One wording per concept, so the four tables read alike and docs/import.md stays short. A
``Decide`` names the rule that decides (``ftc explain RULE``) and what it will choose.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ftc.compiler.importers.core import (
    Carry,
    Decide,
    Draft,
    Drop,
    Handle,
    Refuse,
    Row,
    Source,
    carried,
    carry,
    row,
    show,
)
from ftc.compiler.importers.core import number as number  # re-exported: the key tables write c.number
from ftc.compiler.lang.formatter import quote
from ftc.shared.hub import PREFIX, hub_dataset, split_problem

# --- decided by ftc --------------------------------------------------------------------------
LR = Decide("R-HPARAM-DEFAULTS", "lr 2e-4 for LoRA/QLoRA, 2e-5 for full")
EPOCHS = Decide("R-EPOCHS-BY-SIZE", "3 epochs under 1,000 examples, 2 under 10,000, else 1")
BATCH = Decide("R-METHOD-BY-MEMORY", "the largest micro-batch (8 on cuda, 4 on cpu) that fits the device's memory")
ACCUM = Decide("R-HPARAM-DEFAULTS", "accumulation for an effective batch of 16 (8 under 160 examples)")
MAX_LEN = Decide(
    "R-MAX-LENGTH-FROM-DATA", "the data's longest row (p99 for outliers) + prompt and template, rounded up to 64"
)
PACKING = Decide("R-MAX-LENGTH-FROM-DATA", "padding-free packing when the median row is under half of max_length")
LORA_R = Decide("R-HPARAM-DEFAULTS", "LoRA rank 16")
LORA_ALPHA = Decide("R-HPARAM-DEFAULTS", "LoRA alpha 32 (2r)")
LORA_DROPOUT = Decide("R-HPARAM-DEFAULTS", "LoRA dropout 0.05")
TARGETS = Decide("R-HPARAM-DEFAULTS", "LoRA on all linear layers (attention and MLP)")
SCHEDULER = Decide("R-HPARAM-DEFAULTS", "cosine decay after a 3% warmup")
WARMUP = Decide("R-HPARAM-DEFAULTS", "3% warmup (warmup_ratio 0.03)")
WEIGHT_DECAY = Decide("R-HPARAM-DEFAULTS", "weight decay 0 (adapters are small, runs short)")
PRECISION = Decide(
    "R-METHOD-BY-MEMORY", "bf16 on cuda where supported (full tuning keeps fp32 master weights), fp32 on cpu"
)
OPTIMIZER = Decide("R-METHOD-BY-MEMORY", "AdamW, the optimizer the memory model counts")
CHECKPOINTING = Decide("R-METHOD-BY-MEMORY", "gradient checkpointing only when activations would not fit otherwise")
SEED = Decide("R-HPARAM-DEFAULTS", "the eval seed, so split and training reproduce together")
MAX_STEPS = Decide("R-EPOCHS-BY-SIZE", "no step cap: the epochs decide the length")
EARLY_STOP = Decide("R-HPARAM-DEFAULTS", "early stopping on a validation slice of train, patience 2")
DISTRIBUTED = Decide(
    "R-FSDP", "FSDP (FULL_SHARD, accelerate) only when no method fits one GPU and `gpus` > 1: set constraints.gpus"
)
METHOD = Decide("R-METHOD-BY-MEMORY", "the least lossy method that fits: full (with enough data), LoRA, then QLoRA")
DPO = Decide("R-DPO-AFTER-SFT", "preference pairs: SFT on the chosen replies, then DPO")
SFT = Decide(
    "R-BEHAVIOR-FINETUNE", "supervised fine-tuning, when the prompted baseline misses the bar (R-PROMPT-FIRST)"
)
KTO_REFUSED = "unpaired KTO rows are refused (never trained on as if all were good)"
DPO_BETA = Decide("R-DPO-AFTER-SFT", "DPO beta 0.1")
DPO_LR = Decide("R-DPO-AFTER-SFT", "DPO lr 5e-6")
HOLDOUT = Decide("R-DATA-HYGIENE", "a leak-free holdout split by seed (the import writes 10%)")
SHUFFLE = Decide("R-DATA-HYGIENE", "rows are deduplicated and split by seed; training shuffles them")
PROMPT_MASK = Decide("R-ONE-PROMPT", "the loss is on the answer turns only, with one prompt for baseline and tune")
SYSTEM = Decide("R-ONE-PROMPT", "the system prompt is derived from the goal (or `system_prompt` in the recipe)")

# --- dropped ---------------------------------------------------------------------------------
OUTPUT = Drop("ftc writes every artifact under runs/<recipe>/<plan-hash>/")
LOGGING = Drop("ftc's run log, metrics.json and report.html record the run")
TRACKER = Drop("experiment trackers are not wired in; ftc writes metrics.json and report.html")
SAVING = Drop("ftc checkpoints each plan step and resumes it (`ftc run` is cached)")
RESUME = Drop("`ftc run` resumes from its own step cache")
HUB = Drop("ftc exports under runs/.../export/; publishing to a hub is left to you")
PERF = Drop("a kernel or speed setting; ftc's runtime chooses its own")
TOKENIZER = Drop("ftc uses the base model's own tokenizer")
TEMPLATE = Drop("ftc formats rows with the base model's own chat template; another template is not in the language yet")
WORKERS = Drop("ftc's data steps are cached per plan step; worker counts are its own")
EVAL_SCHEDULE = Drop("ftc evaluates on the holdout after training (the gate), not every N steps")
GRAD_CLIP = Drop("gradient clipping is the runtime's (transformers' default 1.0); not in the language yet")
REMOTE_CODE = Drop("ftc loads models without remote code")
DEBUG = Drop("a debugging switch of the source tool")


# --- converters ------------------------------------------------------------------------------
def positive_int(value: Any) -> int:
    x = number(value)
    if not x.is_integer() or x < 1:
        raise Refuse(f"{value} is not a whole number of at least 1")
    return int(x)


def whole(value: Any) -> int:
    x = number(value)
    if not x.is_integer():
        raise Refuse(f"{value} is not a whole number")
    return int(x)


def fraction(value: Any) -> float:
    """A holdout: a share of the rows. A count (>= 1) is not a share: refused with the reason."""
    x = number(value)
    if x >= 1:
        raise Refuse(f"{value} rows is a count, not a share; ftc holds out a share of the rows")
    if x == 0:
        raise Refuse("no split in the source")
    if x < 0:
        raise Refuse(f"{value} is not a share of the rows")
    return x


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return value.strip().lower() in ("true", "yes")
    raise Refuse(f"{value!r} is not true or false")


def flag_off(value: Any) -> bool:
    """An off-switch in the source (e.g. `disable_early_stopping`) is the negation of ftc's key."""
    return not truthy(value)


LR_CARRY = Carry("train.lr", LR, number)


def _lr(draft: Draft, path: str, value: Any, doc: dict[str, Any]) -> list[Row]:
    """A preference run's learning rate is its DPO (or ORPO, KTO) step's; ftc's `train.lr` is the
    SFT step's, so carrying it would run SFT at a DPO-sized step (5e-6 barely moves a LoRA)."""
    if draft.context.get("preference"):
        return [
            row(
                path,
                value,
                DPO_LR,
                "the source's lr is its preference step's; `train.lr` is ftc's SFT step "
                "and the language has no `dpo_lr` yet",
            )
        ]
    return [carry(draft, path, value, LR_CARRY)]


def lr() -> Handle:
    return Handle(_lr, f"{LR_CARRY.doc()}; in a DPO/ORPO/KTO config decided by ftc ({DPO_LR.rule}): {DPO_LR.what}")


# --- data sources ----------------------------------------------------------------------------
FILE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet", ".txt", ".md")
LOADER_NAMES = {"json", "csv", "parquet", "text", "arrow"}  # `load_dataset("json", data_files=...)`


def is_local(draft: Draft, text: str) -> bool:
    """A path on disk rather than a hub id: it exists, has a data file's suffix or starts like a path."""
    if text.startswith(("/", "./", "../", "~")) or text.lower().endswith(FILE_SUFFIXES):
        return True
    return os.path.exists(os.path.join(draft.cwd, text))


def hub_repo(text: str) -> str | None:
    """``owner/name`` when ``text`` names a Hugging Face dataset ftc can read (``hf://owner/name``)."""
    return hub_dataset(PREFIX + text.strip()) if text.strip().count("/") == 1 else None


HUB_COMMENT = "A Hugging Face dataset, read from the local cache: `ftc plan --allow-download` fetches it."
NOT_HUB = "neither a file here nor a Hugging Face dataset id (owner/name)"
CONFIG_ON_FILE = Drop("a hub configuration name; a file has one")
SPLIT_ON_FILE = Drop("ftc reads every row of the file it is given")


def hub_part(path: str, value: Any, src: Source, key: str, note: str = "") -> Row:
    """`config` or `split` of a hub source, from the source key at ``path``; a file has neither."""
    if src.hub is None:
        return row(path, value, CONFIG_ON_FILE if key == "config" else SPLIT_ON_FILE)
    if not isinstance(value, str) or not value.strip():
        return row(path, value, Drop(f"not a {key} name"), attention=True)
    problem = split_problem(value) if key == "split" else None
    if problem:
        return row(
            path, value, Drop(f"{problem}; ftc reads the whole split"), target=f"data.{src.name}.split", attention=True
        )
    setattr(src, key, value.strip())
    return carried(path, value, f"data.{src.name}.{key} = {quote(value.strip())}", note)


def cap(path: str, value: Any, src: Source, note: str) -> Row:
    """A per-source sample count -> ``max_rows`` (the smaller of two caps when both are set)."""
    try:
        n = positive_int(value)
    except Refuse as why:
        return row(path, value, Drop(str(why)))
    src.max_rows = n if src.max_rows is None else min(src.max_rows, n)
    return carried(path, value, f"data.{src.name}.max_rows = {src.max_rows}", note)


def shares(values: list[Any]) -> list[float] | str:
    """Mixture proportions -> ftc weights, or why they cannot be (every share must be a number > 0)."""
    out = []
    for v in values:
        try:
            x = number(v)
        except Refuse as why:
            return str(why)
        if not 0 < x <= 1e6:
            return f"{show('', v)} is not a share above 0 (ftc's weights are > 0; leave a source out instead)"
        out.append(x)
    return out


def weight_literal(x: float) -> str:
    return repr(x).removesuffix(".0")


def fetch_commands(sources: list[Source], cached: Callable[[str], bool]) -> list[str]:
    """The commands that put the imported hub datasets in the local cache (ftc plans offline)."""
    return [f"hf download --repo-type dataset {s.hub}" for s in sources if s.hub and not cached(s.hub)]


def in_cache(repo: str) -> bool:
    """Whether the local Hugging Face cache holds a snapshot of dataset ``repo`` (what `ftc plan` reads)."""
    from ftc.compiler.plan.facts import hf_hub_cache

    folder = hf_hub_cache() / ("datasets--" + repo.replace("/", "--"))
    try:
        rev = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return bool(rev) and (folder / "snapshots" / rev).is_dir()


def source_rows(
    path: str,
    value: Any,
    draft: Draft,
    name: str,
    placeholder: bool,
    local: str = "",
    why: str = "not a file ftc can read",
) -> Row:
    """The row of the key that named a data source: carried (a local file, a hub dataset) or a placeholder."""
    src = next(s for s in draft.sources if s.name == name)
    if placeholder:
        return row(
            path,
            value,
            Drop(f"{why}; data `{name}` has a placeholder path ({src.path}) to fill"),
            target=f"data.{name}.path",
            attention=True,
        )
    return carried(path, value, f'data.{name}.path = "{src.path}"', local)


def columns_note(columns: dict[str, str]) -> str:
    return ", ".join(f'{k} = "{v}"' for k, v in columns.items())


def distributed(draft: Draft, path: str, value: Any, how: str = "") -> list[Row]:
    """A multi-GPU setting: the plan shards by itself (R-FSDP) once the recipe says how many GPUs.
    The source never says how many (the launcher does), so the import asks rather than guesses."""
    if value in (None, False, "", [], {}):
        return [row(path, value, DISTRIBUTED, "off in the source" if value is False else "unset in the source")]
    draft.comment(
        "constraints",
        f"Trained on several GPUs{f' ({how})' if how else ''}: set gpus = N; "
        "R-FSDP shards only when one GPU cannot hold the job.",
    )
    draft.note("constraints: the source trained on several GPUs; set `gpus` to how many (the config does not say)")
    return [row(path, value, DISTRIBUTED)]


DatasetEntry = Callable[[Draft, str, dict[str, Any], bool], list[Row]]


def dataset_list(
    draft: Draft,
    path: str,
    entries: list[Any],
    eval_only: bool,
    one: DatasetEntry,
    *,
    keyed: bool = True,
    what: str = "a dataset entry",
) -> list[Row]:
    """Every tool's list of datasets, walked the same way: each entry is carried by ``one``, a
    non-mapping is dropped, extra eval sources are dropped (ftc scores one), and several training
    sources are noted as concatenated. ``keyed``: rows are named ``path[i]`` (False: one entry
    given without a list, named ``path``)."""
    rows: list[Row] = []
    for i, entry in enumerate(entries):
        prefix = f"{path}[{i}]" if keyed else path
        if not isinstance(entry, dict):
            rows.append(row(prefix, entry, Drop(f"not {what}"), attention=True))
        elif eval_only and i > 0:
            rows.append(
                row(prefix, entry, Drop("ftc evaluates on one eval source; merge them into the first"), attention=True)
            )
        else:
            rows += one(draft, prefix, entry, eval_only)
    return rows
