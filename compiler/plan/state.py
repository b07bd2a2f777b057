"""What the planner's rules read and write: the gathered facts and the decisions so far.

``gather(recipe)`` reads every input once (``compiler.facts``); the decision modules
(``planner`` for the strategy, ``plan_method``, ``plan_estimates``) fill a ``Decisions``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc.compiler.lang.diagnostics import Diagnostic, error, warning
from ftc.compiler.lang.recipe import ModelRef, Recipe, Span
from ftc.compiler.plan import costs, facts, memory
from ftc.compiler.plan.facts import FactError, ModelFacts, SourceFacts, TokenStats
from ftc.compiler.plan.rules import fired
from ftc.shared import chunking, device_profile, mixture
from ftc.shared.contract import LATENCY_METRICS

TEMPLATE_TOKENS = 16  # chat-template tokens around a short conversation (role headers, end markers)
GB = 1e9


@dataclass
class Facts:
    """What the rules see: gathered once, before any decision."""

    recipe: Recipe
    base: ModelFacts
    teacher: ModelFacts | None
    sources: dict[str, SourceFacts]
    tokens: TokenStats  # rows of every non-documents source
    answers: TokenStats  # the responses those rows teach
    system_tokens: int
    device: costs.DeviceFacts
    synth_teacher: ModelFacts | None = None  # the synthesize block's own teacher, when it names one
    judges: dict[str, ModelFacts] = field(default_factory=dict)  # judge expects' models, by name
    # A student cut from the base (distill.student_layers): the model that trains and is served.
    student: ModelFacts | None = None
    student_layers: tuple[int, ...] = ()
    # Tokens the retrieved chunks add to a prompt that retrieves (the recipe's documents' longest
    # chunks as the prompt shows them); 0 without documents.
    context_tokens: int = 0

    @property
    def trained(self) -> ModelFacts:
        """The model the tuning steps train and the tune serves: the student, else the base."""
        return self.student or self.base

    def rows(self, names: Iterable[str]) -> int:
        """Rows the run will read from these sources: after each one's max_rows and the mixture."""
        used = used_rows(self.recipe, self.sources)
        return sum(used.get(n, self.sources[n].rows) for n in names)


def used_rows(recipe: Recipe, sources: dict[str, SourceFacts]) -> dict[str, int]:
    """Per source, the rows left after its seeded ``max_rows`` subsample and the weighted mixture
    of its training stage (``ftc.shared.mixture``, the load step's own arithmetic)."""
    capped = {n: mixture.capped(s.rows, s.max_rows) for n, s in sources.items()}
    out = dict(capped)
    for group in (recipe.train_sources, recipe.preference_sources):
        weights = {s.name: s.weight for s in group if s.weight is not None and s.name in capped}
        out.update(mixture.mixture({n: capped[n] for n in weights}, weights))
    return out


@dataclass
class Decisions:
    strategy: list[str] = field(default_factory=list)
    method: str = "none"
    rules: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    train_names: tuple[str, ...] = ()  # sources the SFT (or distill) stage learns from
    hp: dict[str, Any] = field(default_factory=dict)
    mem: memory.MemoryEstimate | None = None
    alternatives: dict[str, Any] = field(default_factory=dict)
    distributed: dict[str, Any] | None = None
    lr_probe: dict[str, Any] | None = None  # the lr_probe step's config when planned (R-LR-PROBE)
    prompt_search: dict[str, Any] | None = None  # the baseline's prompt candidates (R-PROMPT-SEARCH)
    synthesize: dict[str, Any] | None = None  # the synthesize step's config when planned (R-SYNTHESIZE)
    objective_names: tuple[str, ...] = ()  # sources the dpo/orpo/kto stage learns from (R-OBJECTIVE)
    distill_kind: str | None = None  # "sequence" | "logits" when distilling (R-DISTILL-KIND)

    def fire(self, rule_id: str, because: str) -> None:
        self.rules.append(fired(rule_id, because))

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint))

    def warn(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(warning(code, message, span, hint))

    @property
    def synthetic_rows(self) -> int:
        """Rows the synthesize step is asked for: they all go to train, never to the holdout."""
        return int(self.synthesize["rows"]) if self.synthesize else 0

    @property
    def trains(self) -> bool:
        return any(k in self.strategy for k in ("finetune", "distill", "orpo", "kto"))


# --- facts -----------------------------------------------------------------------------------
def gather(recipe: Recipe) -> tuple[Facts | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    dirs = facts.recipe_dirs(recipe)
    base = teacher = None
    try:
        base = facts.model_facts(recipe.base, dirs)
    except FactError as exc:
        diags.append(exc.diagnostic)
    if recipe.teacher is not None:
        try:
            teacher = facts.model_facts(recipe.teacher, dirs)
        except FactError as exc:
            diags.append(exc.diagnostic)
    synth_teacher = None
    if recipe.synthesize is not None and recipe.synthesize.teacher is not None:
        try:
            synth_teacher = facts.model_facts(recipe.synthesize.teacher, dirs)
        except FactError as exc:
            diags.append(exc.diagnostic)
    judges: dict[str, ModelFacts] = {}
    for e in recipe.eval.expects:  # a judge model that cannot be found fails here, located
        name = str(e.args.get("teacher") or "")
        if e.metric == "judge" and name and name not in judges:
            try:
                judges[name] = facts.model_facts(ModelRef(name, e.span), dirs)
            except FactError as exc:
                diags.append(exc.diagnostic)
    sources: dict[str, SourceFacts] = {}
    for src in recipe.data:
        try:
            found = facts.source_facts(src, recipe.project_root)
            sources[src.name] = dataclasses.replace(found, max_rows=src.max_rows, weight=src.weight)
        except FactError as exc:
            diags.append(exc.diagnostic)
    if diags or base is None:
        return None, diags
    student, keep = _student(recipe, base, diags)
    if diags:
        return None, diags
    tok_file = facts.tokenizer_for(base)
    # Every row-shaped source (the eval source too): its rows are what baseline and eval read.
    learn = [sources[s.name] for s in recipe.data if s.format != "documents"]
    texts = [t for s in learn for t in s.texts]
    answers = [a for s in learn for a in s.answers if a]
    c = recipe.constraints
    return Facts(
        recipe=recipe,
        base=base,
        teacher=teacher,
        sources=sources,
        tokens=facts.token_stats(texts, tok_file),
        answers=facts.token_stats(answers, tok_file),
        system_tokens=facts.token_stats([system_prompt(recipe)], tok_file).max,
        device=_device(c.device, c.gpus, c.gpu_memory_bytes),
        synth_teacher=synth_teacher,
        judges=judges,
        student=student,
        student_layers=keep,
        context_tokens=retrieved_context_tokens(
            [sources[s.name] for s in recipe.documents if s.name in sources], tok_file
        ),
    ), diags


def retrieved_context_tokens(documents: list[SourceFacts], tok_file: Path | None) -> int:
    """The context block of the TOP_K longest chunks of these documents, in tokens: what a
    retrieving prompt carries at most. Documents with no text (the index step refuses them) are
    priced at the nominal TOP_K x CHUNK_TOKENS."""
    if not documents:
        return 0
    chunks = sorted((c for d in documents for c in d.chunks), key=lambda c: len(c[1]), reverse=True)[: chunking.TOP_K]
    if not chunks:
        return chunking.TOP_K * chunking.CHUNK_TOKENS
    return facts.token_stats([chunking.with_context(chunking.context_block(chunks), "")], tok_file).max


def _device(kind: str, gpus: int, memory_bytes: int | None) -> costs.DeviceFacts:
    """A CPU plan reads this machine's measured profile when there is one (``ftc device profile``)."""
    profile, problem = device_profile.load() if kind == "cpu" else (None, None)
    return costs.device_facts(kind, gpus, memory_bytes, profile, problem)


def _student(recipe: Recipe, base: ModelFacts, diags: list[Diagnostic]) -> tuple[ModelFacts | None, tuple[int, ...]]:
    """FTR327: ``student_layers`` must make a smaller model of the base."""
    from ftc.compiler.plan.student import StudentError, kept_layers, student_facts

    asked = recipe.distill.values.get("student_layers")
    if asked is None:
        return None, ()
    span = recipe.distill.at("student_layers")
    if recipe.teacher is None:
        diags.append(
            error(
                "FTR327",
                "`student_layers` cuts a student from the base for distillation, and the recipe names no teacher",
                span,
                'name the model the student learns from: teacher = model("...") (the base itself is a teacher)',
            )
        )
        return None, ()
    try:
        keep = kept_layers(base.spec.layers, asked)  # type: ignore[arg-type]
    except StudentError as exc:
        diags.append(error("FTR327", str(exc), span, f"keep 1 to {base.spec.layers - 1} of {base.name}'s layers"))
        return None, ()
    return student_facts(base, keep), keep


def system_prompt(recipe: Recipe) -> str:
    if recipe.system_prompt:
        return recipe.system_prompt
    goal = recipe.goal
    if goal.kind == "behavior":
        return goal.text
    grounding = "Answer from the provided context; if the context does not contain the answer, say so."
    parts = [goal.text, goal.knowledge_text, grounding] if goal.kind == "both" else [goal.text, grounding]
    return " ".join(p.strip() for p in parts if p and p.strip())


def response_tokens(f: Facts) -> int:
    """Tokens in a typical response (p90 of the sampled answers): for latency and teacher time."""
    return max(16, f.answers.p90 or 128)


def request_tokens(f: Facts) -> int:
    """Tokens of a typical request's prompt: the system prompt, the turn markers, a row less its
    answer and, when the plan retrieves, the retrieved chunks (the latency a served model is held
    to includes reading it)."""
    context = f.context_tokens if retrieves(f.recipe) else 0  # 0 without documents
    return f.system_tokens + TEMPLATE_TOKENS + max(1, round(f.tokens.mean - f.answers.mean)) + context


def retrieves(recipe: Recipe) -> bool:
    """R-KNOWLEDGE-RETRIEVE: a knowledge goal (or both) puts retrieved chunks in its prompts."""
    return recipe.goal.kind in ("knowledge", "both")


def times_latency(recipe: Recipe) -> bool:
    """R-LATENCY-MEASURED: a latency bound or a latency expect is timed on the run."""
    return recipe.constraints.latency_ms is not None or any(e.metric in LATENCY_METRICS for e in recipe.eval.expects)


def train_rows(f: Facts, n: int) -> int:
    """Rows left for training after the holdout (all of them when a separate eval source exists)."""
    if f.recipe.eval.eval_data:
        return n
    return max(0, n - math.ceil(n * f.recipe.eval.holdout_fraction))


def human_count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(int(n))
