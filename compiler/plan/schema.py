"""The plan's JSON Schema, printed by ``ftc schema plan`` and checked on every plan write and read.

``schema.json`` holds the plan's shape. The bounds on the values the runtime acts on come from
the language's key table (``compiler.lang.keys``), so a value a recipe may not write is refused in
a plan file too, with the field's path: a tampered ``max_steps: -5`` or ``batch: "eight"`` fails at
read, not as an internal error half-way through a run. Values no recipe key sets yet carry their
bounds here, and each step kind's ``config`` has its own schema.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ftc.compiler.lang.keys import BLOCKS, NAME_RE, Key
from ftc.shared.contract import DATA_FORMATS, GGUF_TYPES, METRIC_SPECS, STEP_KINDS, MetricSpec
from ftc.shared.paths import LEAVES_FOLDER

Schema = dict[str, Any]

# JSON types per kind of key (the language's kinds; None is allowed where a rule leaves a value unset).
_TYPES = {
    "int": "integer",
    "float": "number",
    "float_or_auto": "number",
    "bool": "boolean",
    "string": "string",
    "choice": "string",
}

# Hyper-parameters a recipe cannot set (yet): the bounds the runtime needs from a plan file.
_UNIT_INTERVAL: Schema = {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
_STEPS: Schema = {"type": "integer", "minimum": 1, "maximum": 10**9}
EXTRA_HPARAMS: dict[str, Schema] = {
    "save_steps": _STEPS,
    "eval_steps": _STEPS,
    "logging_steps": _STEPS,
    # ORPO and KTO take train.dpo_beta as their beta; their learning rates are the rules'.
    "orpo_beta": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "orpo_lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "kto_beta": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    "kto_lr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
}
# Recipe keys whose value a plan holds in another form than the recipe writes it.
PLAN_FORMS: dict[str, Schema] = {
    "warmup": {"anyOf": [_UNIT_INTERVAL, {"type": "integer", "minimum": 0, "maximum": 10**9}]},
    "target_modules": {
        "anyOf": [
            {"const": "all-linear"},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        ]
    },
    # a standard template's name, or "file:" and its path in the project
    "chat_template": {
        "type": "string",
        "minLength": 1,
        "maxLength": 1000,
        "not": {
            "pattern": r"^file:((/|~|[A-Za-z]:[\\/])|(.*[\\/])?\.\.([\\/]|$))",
            "description": "a template file outside the project (absolute or with a `..` component)",
        },
    },
}
# Recipe cadences (train.eval_every, save_every) are optimiser-step counts in the plan.
_NOT_IN_PLAN = ("method", "eval_every", "save_every")

_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 200}
# A path a step opens: no NUL (the OS refuses it with a ValueError), no component longer than a
# file system allows and a bounded length (ENAMETOOLONG), so a tampered path fails here, located.
_PATH_TEXT = r"^(?!.*[^/]{256})[^\x00]*$"
_PATH_RULE: Schema = {
    "pattern": _PATH_TEXT,
    "description": "a path with no NUL character and no name over 255 characters",
}
_PATH: Schema = {"type": "string", "minLength": 1, "maxLength": 4096, "allOf": [_PATH_RULE]}
# A pattern or file name that must stay under its folder: relative, no `..` component.
_ESCAPES = LEAVES_FOLDER
_ESCAPE_DOC = "absolute or holding a `..` component: it must stay under its folder"
_UNDER: Schema = {**_PATH, "not": {"pattern": _ESCAPES, "description": _ESCAPE_DOC}}
_NAMES: Schema = {"type": "array", "items": _NAME}


def _POSITIVE(hi: int) -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": hi}


_TOKENS = _POSITIVE(1_000_000)
_BATCH = _POSITIVE(65_536)
_SOURCE: Schema = {
    "type": "object",
    "required": ["name", "path", "format"],
    "properties": {
        "name": _NAME,
        "path": _PATH,
        "format": {"enum": list(DATA_FORMATS)},
        "columns": {"type": "object", "additionalProperties": {"type": "string"}},
        "on_bad_rows": {"enum": ["fail", "skip"]},
        "glob": _UNDER,
        # a hub dataset (path hf://owner/name): the pinned snapshot, its configuration and split
        "revision": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
        "config": {"anyOf": [{"type": "null"}, _NAME]},
        "split": _NAME,
        "max_rows": _POSITIVE(10**9),
        "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 10**6},
    },
    "additionalProperties": False,
}
_LR: Schema = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
_PROMPT_SEARCH: Schema = {
    "type": "object",
    "required": ["candidates", "validation_rows"],
    "properties": {
        "candidates": {
            "type": "array",
            "minItems": 1,
            "maxItems": 32,
            "items": {
                "type": "object",
                "required": ["shots", "selection"],
                "additionalProperties": False,
                "properties": {
                    "shots": {"type": "integer", "minimum": 0, "maximum": 64},
                    "selection": {"enum": ["none", "random", "nearest"]},
                },
            },
        },
        "validation_rows": _POSITIVE(100_000),
        # What the candidates are scored by: the rate expects' label, metric and args (no bar), so
        # editing a threshold does not re-run the search.
        "score_by": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "metric", "args"],
                "additionalProperties": False,
                "properties": {
                    "label": {"type": "string", "minLength": 1},
                    "metric": {"type": "string", "minLength": 1},
                    "args": {"type": "object"},
                },
            },
        },
    },
    "additionalProperties": False,
}


def _PER_SOURCE(value: Schema) -> Schema:
    return {"type": "object", "additionalProperties": value}


# What each step kind's config may hold; a key the runtime does not read is refused.
STEP_CONFIGS: dict[str, Schema] = {
    "load": {
        "sources": {"type": "array", "items": _SOURCE},
        "eval_source": {"anyOf": [{"type": "null"}, _NAME]},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},  # max_rows and weight subsamples
    },
    "clean": {
        "redact_pii": _PER_SOURCE({"type": "boolean"}),
        "max_tokens": _PER_SOURCE({"anyOf": [{"type": "null"}, _POSITIVE(10**7)]}),
        "overlong": _PER_SOURCE({"enum": ["drop", "truncate"]}),
    },
    "dedup": {
        "near_threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "num_perm": _POSITIVE(1024),
        "shingle_words": _POSITIVE(64),
    },
    "split": {
        "holdout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "stratify": {"anyOf": [{"type": "null"}, _NAME]},
        "accept_leaks": {"type": "boolean"},
        "ngram": _POSITIVE(64),
    },
    "index": {
        "embedding_model": _NAME,
        "chunk_tokens": _POSITIVE(8192),
        "chunk_overlap": {"type": "integer", "minimum": 0, "maximum": 8192},
        "top_k": _POSITIVE(100),
        "sources": _NAMES,
    },
    "baseline": {
        "model": _NAME,
        "few_shot": {"type": "integer", "minimum": 0, "maximum": 64},
        "retrieval": {"type": "boolean"},
        "max_new_tokens": _TOKENS,
        "batch_size": _BATCH,
        "prompt_search": {"anyOf": [{"type": "null"}, _PROMPT_SEARCH]},
        "latency_requests": _POSITIVE(1000),
    },
    "lr_probe": {
        "model": _NAME,
        "method": {"enum": ["lora", "qlora", "full", "dora"]},
        "retrieval_context": {"type": "boolean"},
        "sources": _NAMES,
        "rule_lr": _LR,
        "candidates": {"type": "array", "items": _LR, "minItems": 1, "maxItems": 16},
        "steps": _POSITIVE(10_000),
        "validation_rows": _POSITIVE(100_000),
        "min_gain": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    },
    "synthesize": {
        "teacher": _NAME,
        "rows": _POSITIVE(100_000),
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
        "shots": _POSITIVE(64),
        "max_new_tokens": _TOKENS,
        "sources": _NAMES,
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "metric", "args", "want"],
                "additionalProperties": False,
                "properties": {
                    "label": {"type": "string", "minLength": 1},
                    "metric": {"enum": ["json_valid", "json_schema", "regex", "contains"]},
                    "args": {"type": "object"},
                    "want": {"enum": [0, 1]},
                },
            },
        },
    },
    "train": {
        "model": _NAME,
        "method": {"enum": ["lora", "qlora", "full", "dora"]},
        "objective": {"enum": ["sft"]},
        "retrieval_context": {"type": "boolean"},
        "sources": _NAMES,
    },
    "distill": {
        "teacher": {"anyOf": [{"type": "null"}, _NAME]},
        "student": _NAME,
        "method": {"enum": ["lora", "qlora", "full", "dora"]},
        "max_new_tokens": _TOKENS,
        "retrieval_context": {"type": "boolean"},
        "sources": _NAMES,
        "kind": {"enum": ["sequence", "logits"]},
        "temperature": {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0.1, "maximum": 100}]},
        "alpha": {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 0, "maximum": 1}]},
        "student_layers": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "minItems": 1,
            "uniqueItems": True,
        },
    },
    "dpo": {
        "model": _NAME,
        "beta": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 100}]},
        "lr": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]},
        "sources": _NAMES,
    },
    "orpo": {
        "model": _NAME,
        "beta": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 100}]},
        "lr": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]},
        "sources": _NAMES,
    },
    "kto": {
        "model": _NAME,
        "beta": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 100}]},
        "lr": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]},
        "sources": _NAMES,
        "micro_batch": {"type": "integer", "minimum": 2, "maximum": 65536},
        "grad_accum": _POSITIVE(65536),
    },
    "eval": {
        "perplexity_text": {"enum": ["general"]},  # the text ftc ships (runtime/assets/general.txt)
        "max_new_tokens": _TOKENS,
        "batch_size": _BATCH,
        "retrieval": {"type": "boolean"},
        "latency_requests": _POSITIVE(1000),
    },
    "gate": {},
    "export": {"merged": {"type": "boolean"}, "gguf": {"enum": list(GGUF_TYPES)}, "max_new_tokens": _TOKENS},
}


@lru_cache(maxsize=1)
def _text() -> str:
    return resources.files("ftc.compiler.plan").joinpath("schema.json").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _bounded() -> str:
    schema = json.loads(_text())
    _bound_hyperparameters(schema)
    _bound_step_configs(schema)
    _bound_documents(schema)
    _bound_expects(schema)
    return json.dumps(schema, sort_keys=True)


def plan_schema() -> Schema:
    """A fresh copy each call, so a caller cannot change the cached schema."""
    return copy.deepcopy(json.loads(_bounded()))


def value_schema(key: Key) -> Schema:
    """A recipe key's value as a plan holds it: the key's type and bounds, or null (not set)."""
    if key.choices:
        return {"enum": [*key.choices, None]}
    out: Schema = {"type": [_TYPES.get(key.kind, "string"), "null"]}
    if key.lo is not None:
        out["minimum"] = key.lo
    if key.hi is not None:
        out["maximum"] = key.hi
    return out


def _bound_hyperparameters(schema: Schema) -> None:
    hp = schema["properties"]["hyperparameters"]
    train = BLOCKS["train"]
    names = set(hp["properties"]) | set(EXTRA_HPARAMS) | {k.name for k in train.keys if k.name not in _NOT_IN_PLAN}
    for name in sorted(names):
        key = train.key(name)
        form = PLAN_FORMS.get(name) or EXTRA_HPARAMS.get(name)
        value = {"anyOf": [{"type": "null"}, form]} if form is not None or key is None else value_schema(key)
        entry = copy.deepcopy(hp["additionalProperties"])
        entry["properties"]["value"] = value
        hp["properties"][name] = entry
    # A name no step reads is a typo or a tampered plan: refused, not carried silently.
    hp["additionalProperties"] = False


def _bound_step_configs(schema: Schema) -> None:
    step = schema["properties"]["steps"]["items"]
    step["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {
                "properties": {
                    "config": {"type": "object", "properties": STEP_CONFIGS[kind], "additionalProperties": False}
                }
            },
        }
        for kind in STEP_KINDS
    ]


# Sizes past anything a compiled plan holds: a tampered list is refused before a step walks it.
MAX_STEPS = 100
MAX_LIST = 10_000
MAX_BEAT_PCT = 1000  # the language's bound on `beat baseline by` (FTR105)


def _bound_documents(schema: Schema) -> None:
    """Names, paths and list sizes the language bounds, in the plan too: the recipe name is one
    path component of the runs folder, paths name no file a step could not open."""
    props = schema["properties"]
    props["recipe"]["properties"]["name"] = {
        "type": "string",
        "pattern": f"^{NAME_RE.pattern}$",
        "description": "a recipe name: a letter or digit, then letters, digits, '.', '_' or '-' (at most 64)",
    }
    path_bounds = {"maxLength": 4096, "allOf": [_PATH_RULE]}
    props["recipe"]["properties"]["path"] |= path_bounds
    props["project_root"] |= path_bounds
    inputs = props["inputs"]
    inputs["items"]["properties"]["path"] |= path_bounds
    inputs["maxItems"] = MAX_LIST
    props["steps"]["maxItems"] = MAX_STEPS
    props["expects"]["maxItems"] = MAX_LIST
    beat = {"type": "number", "minimum": 0, "maximum": MAX_BEAT_PCT}
    props["gate"]["properties"]["beat_baseline_pct"] = {"anyOf": [{"type": "null"}, beat]}


def _arg_schema(spec: MetricSpec, name: str) -> Schema:
    """One metric argument as a plan holds it: a judge's scale (2-10), a schema's path, any other
    (a judge's teacher or rubric) a non-empty string. A rubric naming a file is a path the lock
    keeps inside the project (``lock.check_paths``), as --allow-outside decides for every path."""
    if spec.name == "judge" and name == "scale":
        return {"type": "integer", "minimum": 2, "maximum": 10}
    if name == "schema":
        return _PATH
    return {"type": "string", "minLength": 1, "maxLength": 100_000}


def _threshold_schema(spec: MetricSpec) -> Schema:
    """The language's threshold bounds (compiler.lang.check_eval): rates in [0, 1], a judge's mean
    on its 1..10 scale, perplexity above 0, forgetting and latencies not negative."""
    if spec.rate:
        return {"type": "number", "minimum": 0, "maximum": 1}
    if spec.name == "judge":
        return {"type": "number", "minimum": 1, "maximum": 10}
    if spec.name == "perplexity":
        return {"type": "number", "exclusiveMinimum": 0}
    return {"type": "number", "minimum": 0}


def _bound_expects(schema: Schema) -> None:
    """Each metric's arguments (its names only, the required one present) and threshold range,
    from the metric table the language checks recipes by."""
    item = schema["properties"]["expects"]["items"]
    item["allOf"] = [
        {
            "if": {"properties": {"metric": {"const": name}}, "required": ["metric"]},
            "then": {
                "properties": {
                    "args": {
                        "type": "object",
                        "properties": {arg: _arg_schema(spec, arg) for arg in spec.args},
                        "required": [spec.required] if spec.required else [],
                        "additionalProperties": False,
                    },
                    "threshold": _threshold_schema(spec),
                }
            },
        }
        for name, spec in METRIC_SPECS.items()
    ]
