"""The language's one table of blocks and keys: what exists, its type, unit, range, default, and
which decision rule decides it when the recipe leaves it out.

The semantic checks read it (unknown keys, types, ranges, required parts, defaults), and so do
docs/language.md and `ftc explain BLOCK` / `ftc explain BLOCK.KEY` (``compiler.lang.language``).
Adding a key is one entry here plus its converter if its kind is new.

Units, and the rule that keeps them unambiguous:
- Sizes always carry a byte unit: KB MB GB TB (decimal) or KiB MiB GiB TiB (binary).
- Parameter counts use K M B T alone: ``135M``, ``7B``. So ``1B`` is a billion parameters, never
  a byte, and ``1GB`` is never a parameter count. A plain integer is also a parameter count.
- Durations: ms s m h d, lower case (``m`` is minutes, ``M`` millions). Percent: ``20%``.
  Money: ``$20``, ``$1.50`` (US dollars).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ftc.shared import hparams
from ftc.shared.contract import DATA_FORMATS, FORMAT_FIELDS, GGUF_TYPES, METRIC_SPECS, METRICS, RATE_METRICS  # noqa: F401 - RATE_METRICS re-exported
from ftc.shared.hparams import DEFAULTS, LR_SCHEDULERS, OPTIMIZERS, PRECISIONS
from ftc.shared.templates import CHAT_TEMPLATES

# --- units -----------------------------------------------------------------------------------
SIZE_UNITS: dict[str, int] = {
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip
DURATION_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
PARAM_UNITS: dict[str, int] = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}
ALL_UNITS: dict[str, str] = {
    **{u: "a size" for u in SIZE_UNITS},
    **{u: "a duration" for u in DURATION_UNITS},
    **{u: "a parameter count" for u in PARAM_UNITS},
    "%": "a percentage",
}

# Canonical fields per data format: one table for the checks and the runtime's data schemas.
FIELDS = FORMAT_FIELDS
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Kind:
    """How a kind of value is written: its type and unit words and the range it always has."""

    type: str
    unit: str = ""
    range: str = ""


KINDS: dict[str, Kind] = {
    "string": Kind("string"),
    "path": Kind("path (string)", range="inside the project"),
    "choice": Kind("name"),
    "bool": Kind("true or false"),
    "int": Kind("whole number"),
    "float": Kind("number"),
    "float_or_auto": Kind("number or auto"),
    "size": Kind("size", " ".join(SIZE_UNITS), "> 0"),
    "duration": Kind("duration", " ".join(DURATION_UNITS), "> 0"),
    "params": Kind("parameter count", " ".join(PARAM_UNITS) + " (or none)", ">= 1"),
    "budget": Kind("duration or money", " ".join(DURATION_UNITS) + " or $", "> 0"),
    "fraction": Kind("percentage", "% (or a fraction)", "0% to below 100%"),
    "source": Kind("source name (string)", range="a data source of this recipe"),
    "model": Kind('model("...")', range="a known name, a local folder or a hub id"),
    "goal": Kind("goal call", range='behavior("..."), knowledge("...") or both(behavior = ..., knowledge = ...)'),
    "columns": Kind(
        'map { field = "column" }', range="the format's canonical fields (chat, preference: and role, content)"
    ),
    "warmup": Kind("share or whole number", "% (or a fraction below 1)", "0 to below 100%, or >= 1 steps"),
    "cadence": Kind("whole number, share or epoch", "% of an epoch", ">= 1 steps, above 0% to 100%, or epoch"),
    "layers": Kind("whole number or list of whole numbers", range="1 to the base's layer count - 1, or indices from 0"),
    "modules": Kind('"all-linear" or a list of strings', range="the base model's module names"),
    "template": Kind("name or path (string)", range=" | ".join(CHAT_TEMPLATES) + ", or a Jinja file in the project"),
}


# --- the schema of the language --------------------------------------------------------------
@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # a key of KINDS, and of the checks' converters
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    lo: float | None = None  # inclusive bounds for numbers
    hi: float | None = None
    default: object = None  # the value used when the key is absent (None: see decided_by / absent)
    decided_by: str = ""  # the decision rule (R-...) that sets it when absent
    usually: str = ""  # what that rule usually chooses, for the docs (from the rules' own constants)
    absent: str = ""  # what being absent means, when neither a default nor a rule applies

    @property
    def range(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        if self.lo is not None:
            return f"{self.lo:g} to {self.hi:g}" if self.hi is not None else f">= {self.lo:g}"
        return KINDS[self.kind].range

    @property
    def when_absent(self) -> str:
        if self.required:
            return "required"
        if self.default is not None:
            return f"default {show_value(self.kind, self.default)}"
        if self.decided_by:
            return f"decided by {self.decided_by}" + (f" (usually {self.usually})" if self.usually else "")
        return self.absent


def show_value(kind: str, value: object) -> str:
    """A value as a recipe writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "fraction":
        return f"{value:.0%}"
    if kind in ("string", "path", "source"):
        return f'"{value}"'
    return str(value)


@dataclass(frozen=True)
class BlockSpec:
    name: str
    doc: str
    keys: tuple[Key, ...]
    label: bool = False  # takes a name: data "tickets" { ... }
    statements: bool = False  # expect / beat allowed (eval)
    singleton: bool = True

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)

    def default(self, name: str) -> object:
        key = self.key(name)
        if key is None:
            raise KeyError(f"`{self.name}` has no key `{name}`")
        return key.default


_SOURCE_KEYS = (
    Key(
        "path",
        "path",
        'a file or folder, relative to the recipe, or a Hugging Face dataset: "hf://owner/name"',
        required=True,
    ),
    Key("format", "choice", "the row format", required=True, choices=DATA_FORMATS),
    Key(
        "columns",
        "columns",
        'canonical field = column in the file, e.g. { messages = "conversation" }; '
        'for message lists also role/content, e.g. ShareGPT\'s { role = "from", content = "value" }',
        absent="the file uses the canonical field names",
    ),
    Key(
        "on_bad_rows",
        "choice",
        "what a row that fails its schema does to the run",
        choices=("fail", "skip"),
        default="fail",
    ),
    Key(
        "glob",
        "string",
        "documents only: which files under a folder (hidden ones skipped; the default reads text files only)",
        default="**/*",
    ),
    Key("redact_pii", "bool", "redact e-mail addresses, phone numbers and the like while cleaning", default=False),
    Key(
        "max_tokens",
        "int",
        "rows longer than this many tokens are dropped or truncated",
        lo=1,
        hi=10**7,
        absent="rows are held to the plan's max_length (R-MAX-LENGTH-FROM-DATA)",
    ),
    Key("overlong", "choice", "what happens to rows over max_tokens", choices=("drop", "truncate"), default="drop"),
    Key(
        "config",
        "string",
        'hub datasets only (path = "hf://owner/name"): the dataset\'s configuration (subset) name',
        absent="the dataset's default configuration",
    ),
    Key(
        "split",
        "string",
        "hub datasets only: the split, with an optional slice: train, train[:20%], train[1000:]",
        absent="train",
    ),
    Key(
        "max_rows",
        "int",
        "use at most this many rows of the source, a seeded random subsample (eval.seed) in file order",
        lo=1,
        hi=10**9,
        absent="every row",
    ),
    Key(
        "weight",
        "float",
        "the source's share of the training mixture, relative to the other sources' weights "
        "(3 and 1: 75% and 25%); the largest mix in these shares is taken, no row is repeated",
        lo=1e-6,  # a weight of 0 would drop the source: leave the source out instead
        hi=10**6,
        absent="every row of every source",
    ),
)

BLOCKS: dict[str, BlockSpec] = {
    b.name: b
    for b in (
        BlockSpec(
            "recipe",
            "the whole recipe: goal, models, data, constraints, eval, train, export",
            (
                Key(
                    "goal",
                    "goal",
                    'behavior("..."), knowledge("...") or both(behavior = "...", knowledge = "...")',
                    required=True,
                ),
                Key("base", "model", 'the model to customise: model("smollm2-135m-instruct")', required=True),
                Key("teacher", "model", "a larger model to distil from", absent="no distillation (R-DISTILL)"),
                Key(
                    "system_prompt",
                    "string",
                    "an explicit system prompt; otherwise derived from the goal",
                    decided_by="R-ONE-PROMPT",
                ),
            ),
            label=True,
        ),
        BlockSpec("data", "a data source", _SOURCE_KEYS, label=True, singleton=False),
        BlockSpec(
            "documents",
            "a folder of documents for retrieval (a data source with format = documents)",
            tuple(k for k in _SOURCE_KEYS if k.name not in ("format", "columns")),
            label=True,
            singleton=False,
        ),
        BlockSpec(
            "constraints",
            "what the run may use and what the result must meet",
            (
                Key("device", "choice", "where training runs", choices=("cpu", "cuda"), default="cpu"),
                Key("gpus", "int", "GPUs per node (machine)", lo=1, hi=4096, default=1),
                Key(
                    "processes",
                    "int",
                    "training processes per node: CPU processes on cpu (gloo), at most one per GPU on cuda",
                    lo=1,
                    hi=4096,
                    decided_by="R-DISTRIBUTED",
                ),
                Key(
                    "nodes",
                    "int",
                    "machines the training runs on, each with `gpus` GPUs (or `processes` CPU processes)",
                    lo=1,
                    hi=1024,
                    default=1,
                ),
                Key(
                    "gpu_memory", "size", "memory per GPU, e.g. 24GB", absent="the device's own memory, as ftc finds it"
                ),
                Key(
                    "budget",
                    "budget",
                    "compute wall-clock (30m) or money ($20)",
                    absent="no limit; the estimate is shown (R-TIME-COST)",
                ),
                Key("latency", "duration", "p95 per response when served, e.g. 300ms", absent="no bound (R-DISTILL)"),
                Key(
                    "max_params",
                    "params",
                    "the largest model that may be served, e.g. 1B",
                    absent="no bound (R-DISTILL)",
                ),
            ),
        ),
        BlockSpec(
            "eval",
            "how the result is measured: holdout split, expectations, the baseline margin",
            (
                Key("holdout", "fraction", "share of the data held out for evaluation, e.g. 20%", default=0.2),
                Key("seed", "int", "seed of the split", lo=0, hi=2**32 - 1, default=0),
                Key(
                    "data", "source", "a data source used only as eval data", absent="the holdout of the training data"
                ),
                Key("stratify", "string", "a field to stratify the split by", absent="a plain random split"),
                Key("accept_leaks", "bool", "allow train/eval overlap (not recommended)", default=False),
            ),
            statements=True,
        ),
        BlockSpec(
            "train",
            "overrides of what the decision rules choose",
            (
                Key(
                    "method",
                    "choice",
                    "the tuning method",
                    choices=("lora", "qlora", "full", "dora"),
                    decided_by="R-METHOD-BY-MEMORY",
                ),
                Key(
                    "lora_r",
                    "int",
                    "LoRA rank",
                    lo=1,
                    hi=4096,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=str(DEFAULTS["lora_r"]),
                ),
                Key(
                    "lora_alpha",
                    "int",
                    "LoRA alpha",
                    lo=1,
                    hi=65536,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually="2 x lora_r",
                ),
                Key(
                    "lr",
                    "float_or_auto",
                    "learning rate; auto (the same as leaving it out): the rule's lr refined by a short probe",
                    lo=1e-9,
                    hi=1.0,
                    decided_by="R-LR",
                ),
                Key(
                    "epochs", "float", "passes over the training data", lo=0.01, hi=1000, decided_by="R-EPOCHS-BY-SIZE"
                ),
                Key(
                    "max_length",
                    "int",
                    "maximum tokens per training row",
                    lo=8,
                    hi=10**7,
                    decided_by="R-MAX-LENGTH-FROM-DATA",
                ),
                Key("batch", "int", "per-device batch size", lo=1, hi=65536, decided_by="R-HPARAM-DEFAULTS"),
                Key("grad_accum", "int", "gradient accumulation steps", lo=1, hi=65536, decided_by="R-HPARAM-DEFAULTS"),
                Key(
                    "max_steps",
                    "int",
                    "stop after this many optimiser steps",
                    lo=1,
                    hi=10**9,
                    absent="no cap: epochs decide the length",
                ),
                Key(
                    "few_shot",
                    "int",
                    "random train examples shown to the prompted baseline; setting it replaces the prompt search",
                    lo=0,
                    hi=64,
                    decided_by="R-PROMPT-SEARCH",
                ),
                Key(
                    "early_stopping",
                    "bool",
                    "stop when the validation loss stops improving",
                    decided_by="R-HPARAM-DEFAULTS",
                ),
                Key(
                    "packing", "bool", "pack short rows into full-length sequences", decided_by="R-MAX-LENGTH-FROM-DATA"
                ),
                Key(
                    "precision",
                    "choice",
                    "training precision: bf16 or fp16 mixed precision (fp16 on CUDA only), fp32, or auto "
                    "(bf16 on a CUDA GPU that has it, else fp32 with bf16 autocast where the CPU has native bf16)",
                    choices=PRECISIONS,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{DEFAULTS['precision']}",
                ),
                Key(
                    "tf32",
                    "bool",
                    "TF32 matmuls on an Ampere or newer GPU (CUDA only)",
                    decided_by="R-HPARAM-DEFAULTS",
                    usually="unset: torch's setting, TF32 off",
                ),
                Key(
                    "optimizer",
                    "choice",
                    "AdamW, its fused kernel, or bitsandbytes' 8-bit (paged) AdamW (8-bit ones on CUDA only)",
                    choices=tuple(OPTIMIZERS),
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=str(DEFAULTS["optimizer"]),
                ),
                Key(
                    "weight_decay",
                    "float",
                    "AdamW weight decay",
                    lo=0,
                    hi=10,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{DEFAULTS['weight_decay']:g}",
                ),
                Key(
                    "lr_scheduler",
                    "choice",
                    "the learning-rate schedule after warmup",
                    choices=LR_SCHEDULERS,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=hparams.LR_SCHEDULER,
                ),
                Key(
                    "warmup",
                    "warmup",
                    "learning-rate warmup: a share of the optimiser steps (0.03 or 3%) or a whole number of steps (100)",
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{hparams.WARMUP_RATIO:g} of the steps",
                ),
                Key(
                    "max_grad_norm",
                    "float",
                    "gradient clipping norm (0 turns clipping off)",
                    lo=0,
                    hi=1e6,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{hparams.MAX_GRAD_NORM:g}",
                ),
                Key(
                    "target_modules",
                    "modules",
                    'the layers LoRA adapts: "all-linear" or a list of module names, e.g. ["q_proj", "v_proj"] '
                    "(checked against the base model's module names when ftc knows its architecture)",
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f'"{DEFAULTS["target_modules"]}"',
                ),
                Key(
                    "lora_dropout",
                    "float",
                    "dropout on the LoRA path",
                    lo=0,
                    hi=0.9,
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{DEFAULTS['lora_dropout']:g}",
                ),
                Key(
                    "use_rslora",
                    "bool",
                    "rank-stabilised LoRA: scale the update by alpha/sqrt(r) instead of alpha/r",
                    decided_by="R-HPARAM-DEFAULTS",
                    usually="false",
                ),
                Key(
                    "gradient_checkpointing",
                    "bool",
                    "recompute activations in the backward pass (less memory, ~30% slower)",
                    decided_by="R-METHOD-BY-MEMORY",
                    usually="false; true when activations would not fit otherwise",
                ),
                Key(
                    "eval_every",
                    "cadence",
                    "validation-loss cadence: every N optimiser steps (50), a share of an epoch (25% = four an "
                    "epoch) or `epoch`; setting it takes a validation slice from train (never the holdout)",
                    decided_by="R-EPOCHS-BY-SIZE",
                    usually="none; with early stopping, at every checkpoint",
                ),
                Key(
                    "save_every",
                    "cadence",
                    "checkpoint cadence: every N optimiser steps (50), a share of an epoch (50%) or `epoch`",
                    decided_by="R-HPARAM-DEFAULTS",
                    usually=f"{hparams.SAVE_STEPS} steps",
                ),
                Key(
                    "chat_template",
                    "template",
                    "the chat template of baseline, training, eval and export: a standard one ("
                    + ", ".join(CHAT_TEMPLATES)
                    + ') or a Jinja file in the project ("templates/chat.jinja")',
                    absent="the base model's own template (R-ONE-PROMPT)",
                ),
                Key(
                    "dpo_beta",
                    "float",
                    "DPO beta; also ORPO's and KTO's beta when the objective is one of those",
                    lo=1e-6,
                    hi=100,
                    decided_by="R-DPO-AFTER-SFT",
                    usually=f"{DEFAULTS['dpo_beta']:g}",
                ),
                Key(
                    "dpo_lr",
                    "float",
                    "the DPO stage's learning rate",
                    lo=1e-9,
                    hi=1.0,
                    decided_by="R-DPO-AFTER-SFT",
                    usually=hparams.short(hparams.DPO_LR),
                ),
                Key(
                    "objective",
                    "choice",
                    "the preference objective: dpo (pairs, after SFT), orpo (pairs, one stage, no reference "
                    "model) or kto (answers labelled desirable or not; pairs are unpaired)",
                    choices=("dpo", "orpo", "kto"),
                    decided_by="R-OBJECTIVE",
                ),
                Key("seed", "int", "training seed", lo=0, hi=2**32 - 1, absent="the eval block's seed"),
            ),
        ),
        BlockSpec(
            "synthesize",
            "too few examples: a teacher writes more (seeded by real train rows and the goal; the holdout stays real)",
            (
                Key(
                    "teacher",
                    "model",
                    'the model that writes the new examples: model("...")',
                    absent="the recipe's teacher, else the base",
                ),
                Key(
                    "rows",
                    "int",
                    "synthetic examples to generate (each validated, deduplicated and leak-checked before use)",
                    required=True,
                    lo=1,
                    hi=100_000,
                ),
                Key(
                    "seed",
                    "int",
                    "which real train examples seed each request",
                    lo=0,
                    hi=2**32 - 1,
                    absent="the eval block's seed",
                ),
            ),
        ),
        BlockSpec(
            "distill",
            "how the student learns from the teacher, when a teacher is distilled (R-DISTILL)",
            (
                Key(
                    "kind",
                    "choice",
                    "sequence: the student learns the teacher's generated answers; logits: it matches the "
                    "teacher's next-token distribution on the data's answers (teacher and student must share "
                    "a tokenizer)",
                    choices=("sequence", "logits"),
                    decided_by="R-DISTILL-KIND",
                ),
                Key(
                    "student_layers",
                    "layers",
                    "a smaller student cut from the base: how many decoder layers it keeps (evenly spaced, the "
                    "first and last kept) or which ones by index; initialised from the base's weights and trained "
                    "in full (R-STUDENT-LAYERS)",
                    lo=1,
                    hi=1024,
                    absent="the student is the whole base",
                ),
                Key(
                    "temperature",
                    "float",
                    "softmax temperature of both distributions (logits)",
                    lo=0.1,
                    hi=100,
                    default=2.0,
                ),
                Key(
                    "alpha",
                    "float",
                    "weight of the KL term; 1 - alpha weighs the SFT loss on the answers (logits)",
                    lo=0.0,
                    hi=1.0,
                    default=0.5,
                ),
            ),
        ),
        BlockSpec(
            "export",
            "what the run writes out",
            (
                Key("merged", "bool", "also write weights with the adapter merged", default=False),
                Key(
                    "gguf",
                    "choice",
                    "also write the promoted tune as one GGUF file (llama.cpp, Ollama) with an Ollama Modelfile; "
                    "k-quants such as q4_k_m: run llama.cpp's llama-quantize on the f16 file",
                    choices=GGUF_TYPES,
                    absent="no GGUF file",
                ),
            ),
        ),
    )
}
CHILDREN = ("data", "documents", "constraints", "eval", "train", "synthesize", "distill", "export")

# --- eval statements -------------------------------------------------------------------------
# Allowed argument names per metric (the first may be positional) and the required one: from the
# one metric table (ftc.shared.contract.METRIC_SPECS).
METRIC_ARGS: dict[str, tuple[str, ...]] = {name: m.args for name, m in METRIC_SPECS.items()}
REQUIRED_ARGS: dict[str, str] = {name: m.required for name, m in METRIC_SPECS.items() if m.required}
COMPARISONS = (">=", ">", "<=", "<", "==")

# Names other tools use (axolotl, LLaMA-Factory, TRL, torchtune) -> ftc's key. A typo or a foreign
# name is an error with a pointer, never a silently ignored key.
ALIASES = {
    "learning_rate": "lr", "num_epochs": "epochs", "num_train_epochs": "epochs", "batch_size": "batch",
    "micro_batch_size": "batch", "per_device_train_batch_size": "batch", "lora_rank": "lora_r", "r": "lora_r",
    "max_seq_length": "max_length", "sequence_len": "max_length", "cutoff_len": "max_length", "max_seq_len": "max_length",
    "gradient_accumulation_steps": "grad_accum", "model": "base", "base_model": "base", "model_name": "base",
    "beta": "dpo_beta", "dpo_learning_rate": "dpo_lr", "val_set_size": "holdout", "test_size": "holdout", "eval_split": "holdout",
    "column_map": "columns", "file": "path", "data_path": "path", "type": "format", "finetuning_type": "method",
    "bf16": "precision", "fp16": "precision", "mixed_precision": "precision", "dtype": "precision",
    "optim": "optimizer", "lr_scheduler_type": "lr_scheduler", "warmup_ratio": "warmup", "warmup_steps": "warmup",
    "lora_target_modules": "target_modules", "lora_target": "target_modules", "eval_steps": "eval_every",
    "evals_per_epoch": "eval_every", "save_steps": "save_every", "saves_per_epoch": "save_every",
    "rslora": "use_rslora", "gradient_clipping": "max_grad_norm", "clip_grad_norm": "max_grad_norm",
}  # fmt: skip
