"""The checked recipe: what the semantic checks hand to the decision engine.

The parser produces a syntax tree (``compiler.lang.ast``) that mirrors the text. The semantic
checks (``compiler.lang.checks``) validate it and build this model, in which every value is typed,
every unit is resolved (bytes, seconds, fractions) and every path is absolute. The planner
reads only this model, so it can be built directly in tests without any text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ftc.shared.contract import DATA_FORMATS, FORMAT_FIELDS, METRICS  # noqa: F401 - re-exported for the checks

GoalKind = Literal["behavior", "knowledge", "both"]
DataFormat = Literal["chat", "instruction", "completion", "preference", "text", "documents"]
Device = Literal["cpu", "cuda"]
Method = Literal["lora", "qlora", "full", "dora"]


@dataclass(frozen=True)
class Span:
    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def unknown(file: str = "<recipe>") -> Span:
        return Span(file, 1, 1, 1, 1)


@dataclass(frozen=True)
class Goal:
    kind: GoalKind
    text: str  # the behaviour or knowledge description; for "both" the behaviour part
    knowledge_text: str = ""  # for "both": the knowledge part (may be empty)
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class ModelRef:
    """A model named in the recipe: ``model("smollm2-135m-instruct")``, a local folder or a hub id."""

    name: str
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class DataSource:
    name: str
    path: str  # absolute, resolved against the recipe's folder
    rel_path: str  # as written in the recipe
    format: DataFormat
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical field -> column in the file
    on_bad_rows: Literal["fail", "skip"] = "fail"
    glob: str = "**/*"  # documents only: which files under a folder
    redact_pii: bool = False
    max_tokens: int | None = None  # rows longer than this are dropped or truncated
    overlong: Literal["drop", "truncate"] = "drop"
    span: Span = field(default_factory=Span.unknown, compare=False)
    hub: str | None = None  # owner/name when path is hf://owner/name (path and rel_path are then that text)
    config: str | None = None  # hub only: the dataset's configuration
    split: str = "train"  # hub only: the split and its slice, e.g. train[:20%]
    max_rows: int | None = None  # a seeded subsample of at most this many rows
    weight: float | None = None  # the source's relative share of the training mixture


@dataclass(frozen=True)
class Constraints:
    device: Device = "cpu"
    gpus: int = 1
    processes: int | None = None  # per node; None: the rules decide (1 on cpu, `gpus` on cuda)
    nodes: int = 1
    gpu_memory_bytes: int | None = None
    budget_seconds: float | None = None
    budget_usd: float | None = None
    latency_ms: float | None = None
    max_params: int | None = None
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class Expect:
    metric: str  # one of METRICS
    args: Mapping[str, object]  # e.g. {"field": "category"}, {"schema": "/abs/ticket.json"}, {"pattern": "..."}
    op: Literal[">=", ">", "<=", "<", "=="]
    threshold: float
    span: Span = field(default_factory=Span.unknown, compare=False)

    @property
    def label(self) -> str:
        """A stable name for this metric, used as the key in metrics.json (e.g. ``exact_match(field=category)``)."""
        if not self.args:
            return self.metric
        inner = ", ".join(f"{k}={_short(v)}" for k, v in sorted(self.args.items()))
        return f"{self.metric}({inner})"


def _short(value: object) -> str:
    text = str(value)
    return text.rsplit("/", 1)[-1] if isinstance(value, str) and "/" in text else text


@dataclass(frozen=True)
class EvalSpec:
    holdout_fraction: float = 0.2
    seed: int = 0
    eval_data: str | None = None  # name of a data source used only for evaluation
    stratify: str | None = None  # a field to stratify the split by
    accept_leaks: bool = False
    expects: tuple[Expect, ...] = ()
    beat_baseline_pct: float | None = None  # "beat baseline by 10%" -> 10.0
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class TrainOverrides:
    """Only the keys the recipe set; everything else is decided by the rules."""

    values: Mapping[str, object] = field(default_factory=dict)
    # keys: those of the train block in compiler.lang.keys
    span: Span = field(default_factory=Span.unknown, compare=False)
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False)  # where each value is written

    def at(self, key: str) -> Span:
        """Where the recipe writes ``key``'s value (the block when unknown)."""
        return self.spans.get(key, self.span)


@dataclass(frozen=True)
class DistillSpec:
    """The ``distill`` block: only the keys the recipe set (kind, temperature, alpha, student_layers)."""

    values: Mapping[str, object] = field(default_factory=dict)
    span: Span = field(default_factory=Span.unknown, compare=False)
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False)  # where each value is written

    def at(self, key: str) -> Span:
        """Where the recipe writes ``key``'s value (the block when unknown)."""
        return self.spans.get(key, self.span)


@dataclass(frozen=True)
class ExportSpec:
    merged: bool = False
    gguf: str | None = None  # a GGUF type (ftc.shared.contract.GGUF_TYPES), or no GGUF file
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class SynthesizeSpec:
    """``synthesize { teacher = model("...")  rows = 500  seed = 1 }``: a teacher writes training rows."""

    rows: int
    teacher: ModelRef | None = None  # None: the recipe's teacher, else the base
    seed: int | None = None  # None: the eval block's seed
    span: Span = field(default_factory=Span.unknown, compare=False)


@dataclass(frozen=True)
class Recipe:
    name: str
    path: str  # absolute path of the .ftr file
    project_root: str  # data paths must stay inside unless --allow-outside
    goal: Goal
    base: ModelRef
    data: tuple[DataSource, ...]
    constraints: Constraints = Constraints()
    eval: EvalSpec = EvalSpec()
    train: TrainOverrides = TrainOverrides()
    export: ExportSpec = ExportSpec()
    teacher: ModelRef | None = None
    distill: DistillSpec = DistillSpec()
    system_prompt: str | None = None  # an explicit system prompt; else derived from the goal
    synthesize: SynthesizeSpec | None = None  # a synthesize block: the plan may add synthetic rows

    def sources(self, fmt: str) -> tuple[DataSource, ...]:
        return tuple(s for s in self.data if s.format == fmt)

    @property
    def documents(self) -> tuple[DataSource, ...]:
        return self.sources("documents")

    @property
    def train_sources(self) -> tuple[DataSource, ...]:
        """Sources that teach behaviour: everything but documents, preference pairs and the eval source."""
        return tuple(
            s
            for s in self.data
            if s.format in ("chat", "instruction", "completion", "text") and s.name != self.eval.eval_data
        )

    @property
    def scored_sources(self) -> tuple[DataSource, ...]:
        """Sources whose holdout the gate scores: the behaviour sources and KTO sources (their
        desirable answers are held out and scored; the undesirable ones stay in train)."""
        return tuple(
            s
            for s in self.data
            if s.format in ("chat", "instruction", "completion", "text", "kto") and s.name != self.eval.eval_data
        )

    @property
    def preference_sources(self) -> tuple[DataSource, ...]:
        return tuple(s for s in self.data if s.format == "preference" and s.name != self.eval.eval_data)
