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
from ftc.shared import hparams
from ftc.shared.hparams import DEFAULTS
from ftc.shared.hub import PREFIX, hub_dataset, percent_slice, split_problem

# --- decided by ftc --------------------------------------------------------------------------
# The numbers in these texts come from the rules' own constants (ftc.shared.hparams), never restated.
LR = Decide(
    "R-LR",
    f"lr by model width: LoRA {hparams.short(hparams.lora_lr(hparams.REF_WIDTH))} and full "
    f"{hparams.short(hparams.full_lr(hparams.REF_WIDTH))} at width {hparams.REF_WIDTH}, scaled as 1/width",
)
EPOCHS = Decide(
    "R-EPOCHS-BY-SIZE",
    f"enough epochs for {hparams.MIN_UPDATES} updates: at most 3 under {hparams.LARGE_DATA_ROWS:,} examples, "
    "2 under 10,000, else 1",
)
BATCH = Decide(
    "R-METHOD-BY-MEMORY",
    f"the largest micro-batch ({hparams.GPU_BATCH} on cuda, {hparams.CPU_BATCH} on cpu) that fits the device's memory",
)
ACCUM = Decide(
    "R-HPARAM-DEFAULTS",
    f"accumulation for an effective batch of {hparams.EFFECTIVE_BATCH} ({hparams.EFFECTIVE_BATCH_SMALL} under "
    f"{hparams.LARGE_DATA_ROWS:,} examples)",
)
MAX_LEN = Decide(
    "R-MAX-LENGTH-FROM-DATA", "the data's longest row (p99 for outliers) + prompt and template, rounded up to 64"
)
PACKING = Decide("R-MAX-LENGTH-FROM-DATA", "padding-free packing when the median row is under half of max_length")
LORA_R = Decide("R-HPARAM-DEFAULTS", f"LoRA rank {DEFAULTS['lora_r']}")
LORA_ALPHA = Decide("R-HPARAM-DEFAULTS", "LoRA alpha = 2 x the rank")
LORA_DROPOUT = Decide("R-HPARAM-DEFAULTS", f"LoRA dropout {DEFAULTS['lora_dropout']} (0 on a CPU)")
TARGETS = Decide("R-HPARAM-DEFAULTS", "LoRA on all linear layers (attention and MLP)")
SCHEDULER = Decide("R-HPARAM-DEFAULTS", f"{hparams.LR_SCHEDULER} decay after a {hparams.WARMUP_RATIO:.0%} warmup")
WARMUP = Decide("R-HPARAM-DEFAULTS", f"{hparams.WARMUP_RATIO:.0%} warmup (warmup {hparams.WARMUP_RATIO:g})")
WEIGHT_DECAY = Decide(
    "R-HPARAM-DEFAULTS", f"weight decay {DEFAULTS['weight_decay']:g} (adapters are small, runs short)"
)
PRECISION = Decide(
    "R-HPARAM-DEFAULTS",
    "precision auto: bf16 on cuda where supported (full tuning keeps fp32 master weights), fp32 on cpu",
)
OPTIMIZER = Decide("R-HPARAM-DEFAULTS", "AdamW (fused), the optimizer the memory model counts")
GRAD_CLIP = Decide("R-HPARAM-DEFAULTS", f"gradient clipping at norm {hparams.MAX_GRAD_NORM:g}")
RSLORA = Decide("R-HPARAM-DEFAULTS", "plain LoRA scaling alpha/r")
SAVE_EVERY = Decide(
    "R-HPARAM-DEFAULTS", f"a checkpoint every {hparams.SAVE_STEPS} steps; `ftc run` also resumes from its step cache"
)
EVAL_EVERY = Decide("R-EPOCHS-BY-SIZE", "validation loss only with early stopping; the gate scores the holdout after")
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
KTO_REFUSED = "KTO rows are read as format = kto: prompt, completion and a boolean label (never trained as SFT)"
KTO = Decide("R-OBJECTIVE", "rows labelled desirable or not train with KTO (reference: the SFT model or the base)")
KTO_WEIGHTS = Decide("R-OBJECTIVE", "desirable and undesirable rows weigh the same in total (the KTO paper's balance)")
DPO_BETA = Decide("R-DPO-AFTER-SFT", f"DPO beta {DEFAULTS['dpo_beta']}")
DPO_LR = Decide("R-DPO-AFTER-SFT", f"DPO lr {hparams.short(hparams.DPO_LR)}")
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
TEMPLATE = Decide("R-ONE-PROMPT", "the base model's own chat template, for baseline, training, eval and export")
TEMPLATE_FORMAT = Drop("a prompt format of the source tool; ftc renders every row with one chat template")
WORKERS = Drop("ftc's data steps are cached per plan step; worker counts are its own")
EVAL_SCHEDULE = Drop("ftc evaluates on the holdout after training (the gate), not every N steps")
REMOTE_CODE = Drop("ftc loads models without remote code")
DEBUG = Drop("a debugging switch of the source tool")


# --- converters ------------------------------------------------------------------------------
# The tools' optimizer names (transformers' `optim`, axolotl, oumi) -> ftc's `train.optimizer`.
OPTIMIZER_NAMES = {
    "adamw_torch": "adamw", "adamw_hf": "adamw", "adamw": "adamw", "adamw_torch_fused": "adamw_fused",
    "adamw_bnb_8bit": "adamw_8bit", "adamw_8bit": "adamw_8bit", "paged_adamw_8bit": "paged_adamw_8bit",
    "paged_adamw": "paged_adamw_8bit", "torch.optim.adamw": "adamw", "bitsandbytes.optim.adamw8bit": "adamw_8bit",
    "bitsandbytes.optim.pagedadamw8bit": "paged_adamw_8bit",
}  # fmt: skip
# Template names the tools use -> ftc's standard ones (the model's own is ftc's default).
TEMPLATE_NAMES = {"chatml": "chatml", "llama3": "llama3", "gemma": "gemma", "mistral": "mistral", "zephyr": "zephyr",
                  "qwen": "chatml", "qwen2": "chatml", "qwen2_5": "chatml", "mistral_v1": "mistral"}  # fmt: skip


def optimizer(value: Any) -> str:
    name = OPTIMIZER_NAMES.get(str(value).lower())
    if name is None:
        raise Refuse(f"`{value}` is not an optimizer ftc runs ({', '.join(sorted(set(OPTIMIZER_NAMES.values())))})")
    return name


def scheduler(value: Any) -> str:
    return str(value).lower()  # the language's choices are transformers' names; literal() refuses the rest


def precision_flag(name: str) -> Callable[[Any], str]:
    """bf16: true -> precision = bf16 (and "auto" as is); false says nothing about what to use instead."""

    def convert(value: Any) -> str:
        if value == "auto":
            return "auto"
        if value is True or str(value).lower() == "true":
            return name
        raise Refuse(f"{name}: {value} does not name a precision")

    return convert


def modules(value: Any) -> Any:
    """A list of module names, or axolotl's / LLaMA-Factory's words for every linear layer."""
    if isinstance(value, str):
        if value in ("all", "all-linear", "all_linear"):
            return "all-linear"
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def all_linear(value: Any) -> str:
    if truthy(value):
        return "all-linear"
    raise Refuse("false leaves the modules to other keys")


def per_epoch(value: Any) -> str:
    """N evaluations (or saves) an epoch -> ftc's share of an epoch: 4 -> 25%."""
    n = number(value)
    if n < 1 or not n.is_integer():
        raise Refuse(f"{value} is not a whole number of times an epoch")
    return f"{100 / n:g}%"


def template(value: Any) -> str:
    name = TEMPLATE_NAMES.get(str(value).lower())
    if name is None:
        raise Refuse(
            f"`{value}` is not a standard template ftc knows ({', '.join(sorted(set(TEMPLATE_NAMES.values())))})"
        )
    return name


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


# --- an eval source that is the rest of a training split -------------------------------------
def _percent_bounds(split: str | None) -> tuple[str, float, float] | None:
    return percent_slice(split or "")


def _complement(train: Source, held: Source) -> float | None:
    """The share ``held`` takes of the split when it and ``train`` slice one hub split in two."""
    if train.hub is None or (train.hub, train.config) != (held.hub, held.config):
        return None
    a, b = _percent_bounds(train.split), _percent_bounds(held.split)
    if a is None or b is None or a[0] != b[0]:
        return None
    if (a[1], a[2], b[2]) == (0, b[1], 100) or (b[1], b[2], a[2]) == (0, a[1], 100):
        return b[2] - b[1]
    return None


def holdout_from_slices(draft: Draft) -> None:
    """torchtune's `dataset: train[:95%]` with `dataset_val: train[95%:]` (and the like in the other
    tools) is a holdout of one split. Two sources on one hub path are FTR209 (train data used as eval
    data), so the pair becomes the whole split with ftc's own holdout of the same share: seeded rather
    than the split's tail, never trained on either way."""
    name = draft.values.get("eval.data", "").strip('"')
    held = next((s for s in draft.sources if s.name == name), None)
    if held is None or "eval.holdout" in draft.values:
        return
    for train in draft.sources:
        share = _complement(train, held) if train is not held else None
        if share is None:
            continue
        whole = _percent_bounds(train.split)[0]  # type: ignore[index]  # _complement checked it
        draft.sources.remove(held)
        del draft.values["eval.data"]
        draft.values["eval.holdout"] = f"{share:g}%"
        draft.set_by["eval.holdout"] = draft.set_by.pop("eval.data", "")
        draft.notes[:] = [n for n in draft.notes if not n.startswith(f"data `{held.name}`")]
        _retarget(draft, held, train, whole, f"{share:g}%")
        train.split = whole
        draft.comment("eval", f"The source held out {held.split} of {train.hub}: ftc holds out a seeded {share:g}%.")
        return


def _retarget(draft: Draft, held: Source, train: Source, whole: str, share: str) -> None:
    """The key table's rows follow the merge: the eval source's keys now set the holdout."""
    was = train.split
    for r in draft.rows:
        if r.target.startswith((f"data.{held.name}.", f"data.{held.name} ")) or r.target == f"data.{held.name}":
            r.status, r.target = "carried", f"eval.holdout = {share}"
            r.note = f"{held.split} of {held.hub} is the rest of the training split: ftc holds out a seeded {share}"
        elif r.target == f"data.{train.name}.split = {quote(was or '')}":
            r.target = f"data.{train.name}.split = {quote(whole)}"
            r.note = f"{was} and the eval slice make the whole split; ftc holds out {share} of it"
