"""Lint rules (FTR2xx): what a reviewer would flag in a pull request, beyond syntax and types.

Each rule's code, name, severity and doc live in the one registry (``compiler.lang.codes``); this
module holds the checks, each registered for its code with ``@lint_rule``. Adding a rule is one
registry entry, one decorated function here and its test. Checks read the checked ``Recipe`` (and
the syntax tree or the source text where they need the text as written). Two predicates are
shared with the planner, which applies them to recipes built without the linter:
``knowledge_without_documents``, ``qlora_on_cpu`` and ``cuda_only_on_cpu``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ftc.compiler.lang import ast, codes
from ftc.compiler.lang.credentials import find_assigned, find_secret
from ftc.compiler.lang.diagnostics import Diagnostic
from ftc.compiler.lang.recipe import DataSource, Expect, Recipe, Span
from ftc.compiler.lang.thresholds import GAINS_CLEAR, MIN_EXAMPLES, SMALL_DATA
from ftc.shared import hub
from ftc.shared.hparams import CUDA_ONLY_OPTIMIZERS


@dataclass(frozen=True)
class LintInput:
    """What a check sees: the checked recipe (None after semantic errors), the tree and the text."""

    recipe: Recipe | None
    tree: ast.RecipeFile
    text: str = ""

    @property
    def checked(self) -> Recipe:
        if self.recipe is None:  # only rules registered with needs_recipe=False see no recipe
            raise ValueError("this lint rule needs a checked recipe")
        return self.recipe


LintCheck = Callable[[LintInput], Iterator[Diagnostic]]


@dataclass(frozen=True)
class LintRule:
    code: str
    check: LintCheck
    needs_recipe: bool


LINT_RULES: dict[str, LintRule] = {}


def lint_rule(code_id: str, *, needs_recipe: bool = True) -> Callable[[LintCheck], LintCheck]:
    """Register ``check`` as the implementation of lint code ``code_id`` (one per code)."""

    def register(check: LintCheck) -> LintCheck:
        entry = codes.code(code_id)
        if entry.phase != "lint" or code_id in LINT_RULES:
            raise ValueError(f"{code_id} is not a lint code, or has a check already")
        LINT_RULES[code_id] = LintRule(code_id, check, needs_recipe)
        return check

    return register


def _d(code_id: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code_id, codes.code(code_id).severity, message, span, hint)


# --- tree helpers ----------------------------------------------------------------------------
def _blocks(tree: ast.RecipeFile) -> Iterator[ast.Block]:
    stack = [i for i in tree.items if isinstance(i, ast.Block)]
    while stack:
        block = stack.pop()
        yield block
        stack.extend(i for i in block.items if isinstance(i, ast.Block))


def _attr(tree: ast.RecipeFile, kind: str, key: str) -> ast.Attribute | None:
    for block in _blocks(tree):
        if block.kind == kind:
            for item in block.items:
                if isinstance(item, ast.Attribute) and item.key == key:
                    return item
    return None


def _named_strings(tree: ast.RecipeFile) -> Iterator[tuple[str | None, ast.Str]]:
    """Every string in the tree, with the name it is assigned to (attribute, map entry, argument)."""
    stack: list[tuple[str | None, object]] = [(None, item) for item in tree.items]
    while stack:
        name, node = stack.pop()
        if isinstance(node, ast.Str):
            yield name, node
        elif isinstance(node, ast.Block):
            stack.extend((None, item) for item in node.items)
            if node.label:
                stack.append((None, node.label))
        elif isinstance(node, (ast.Attribute, ast.Entry)):
            stack.append((node.key, node.value))
        elif isinstance(node, ast.Arg):
            stack.append((node.name, node.value))
        elif isinstance(node, ast.Call):
            stack.extend((None, arg) for arg in node.args)
        elif isinstance(node, ast.List):
            stack.extend((None, item) for item in node.items)
        elif isinstance(node, ast.Map):
            stack.extend((None, entry) for entry in node.entries)
        elif isinstance(node, ast.Expect):
            stack.extend(((None, node.metric), (None, node.threshold)))


def _verbatim(span: Span, text: str, quote: int) -> bool:
    """The literal has no escapes, so a column in its value is a column in the file."""
    return span.line == span.end_line and span.end_col - span.col == len(text) + 2 * quote


def _narrow(span: Span, quote: int, start: int, end: int) -> Span:
    col = span.col + quote + start
    return Span(span.file, span.line, col, span.line, span.col + quote + end)


# --- FTR201 (shared with the planner) --------------------------------------------------------
def knowledge_without_documents(recipe: Recipe) -> Diagnostic | None:
    if recipe.goal.kind in ("knowledge", "both") and not recipe.documents:
        return _d(
            "FTR201",
            f"a {recipe.goal.kind} goal with no documents source",
            recipe.goal.span,
            'facts belong in retrieval: add `documents "docs" { path = "docs/" }`',
        )
    return None


@lint_rule("FTR201")
def _knowledge_without_documents(src: LintInput) -> Iterator[Diagnostic]:
    found = knowledge_without_documents(src.checked)
    if found:
        yield found


# --- FTR202 ----------------------------------------------------------------------------------
def count_rows(path: str, fmt: str) -> int | None:
    """Rows of a data file as the load step counts them (None when it cannot be told cheaply or the
    file cannot be read): the one shared counter, so lint, plan and run agree. Remembered per file
    version (device, inode, size, mtime): the language server lints on every keystroke, and a data
    file of tens of megabytes must not be re-read each time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    version = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if version not in _ROW_COUNTS:
        if len(_ROW_COUNTS) >= 256:
            _ROW_COUNTS.pop(next(iter(_ROW_COUNTS)))
        _ROW_COUNTS[version] = _count(path)
    return _ROW_COUNTS[version]


_ROW_COUNTS: dict[tuple[str, int, int, int, int], int | None] = {}


def _count(path: str) -> int | None:
    from ftc.shared import files

    try:
        return files.count_rows(path, max_bytes=50_000_000)
    except (files.DataError, OSError):
        return None


def _used(sources: tuple[DataSource, ...], counts: list[int]) -> int:
    """Rows left after each source's max_rows and the weighted mixture (the planner's arithmetic)."""
    from ftc.shared import mixture

    capped = {s.name: mixture.capped(n, s.max_rows) for s, n in zip(sources, counts, strict=True)}
    weights = {s.name: s.weight for s in sources if s.weight is not None}
    mixed = mixture.mixture({n: capped[n] for n in weights}, weights)
    return sum(mixed.get(n, c) for n, c in capped.items())


@lint_rule("FTR202")
def _too_few_examples(src: LintInput) -> Iterator[Diagnostic]:
    recipe = src.checked
    for sources, kind in ((recipe.train_sources, "training"), (recipe.preference_sources, "preference")):
        counts = [count_rows(s.path, s.format) for s in sources]
        if not sources or None in counts:
            continue
        total = _used(sources, [c for c in counts if c is not None])
        kept = total if recipe.eval.eval_data else int(total * (1 - recipe.eval.holdout_fraction))
        if kind == "training" and recipe.synthesize is not None:
            kept += recipe.synthesize.rows  # teacher-written rows join train (R-SYNTHESIZE)
        if kept < MIN_EXAMPLES:
            yield _d(
                "FTR202",
                f"only {kept} {kind} example{'s' * (kept != 1)} after the holdout; a fine-tune needs at least {MIN_EXAMPLES}",
                sources[0].span,
                f"with so few rows ftc stops at prompting; {SMALL_DATA}-{GAINS_CLEAR} well-made examples is where tuning starts to help",
            )


# --- FTR203 / FTR204 -------------------------------------------------------------------------
@lint_rule("FTR203")
def _no_holdout(src: LintInput) -> Iterator[Diagnostic]:
    if _attr(src.tree, "eval", "holdout") is None and _attr(src.tree, "eval", "data") is None:
        yield _d(
            "FTR203",
            "the eval block states no holdout and no eval data",
            src.checked.eval.span,
            f"ftc holds out {src.checked.eval.holdout_fraction:.0%} by default; write `holdout = 20%` so reviewers see it",
        )


@lint_rule("FTR204")
def _no_beat_baseline(src: LintInput) -> Iterator[Diagnostic]:
    if src.checked.eval.beat_baseline_pct is None:
        yield _d(
            "FTR204",
            "no `beat baseline by` margin",
            src.checked.eval.span,
            "a tune that only ties the prompted baseline is not worth shipping: add `beat baseline by 10%`",
        )


# --- FTR205 ----------------------------------------------------------------------------------
@lint_rule("FTR205")
def _unused_source(src: LintInput) -> Iterator[Diagnostic]:
    recipe = src.checked
    if recipe.goal.kind == "behavior":
        for source in recipe.documents:
            yield _d(
                "FTR205",
                f"nothing uses documents source `{source.name}`: a behaviour goal does not retrieve",
                source.span,
                "use both(behavior = ..., knowledge = ...) to retrieve from it, or remove it",
            )
    for source in recipe.documents:
        if source.name == recipe.eval.eval_data:
            yield _d(
                "FTR205",
                f"documents source `{source.name}` is named as eval data, but documents hold no questions and answers",
                source.span,
                "name a chat, instruction or completion source in eval `data`",
            )


# --- FTR206 ----------------------------------------------------------------------------------
def _bounds(op: str, t: float) -> tuple[float, bool, float, bool]:
    """(low, low strict, high, high strict) of the values that pass ``value OP t``."""
    inf = float("inf")
    return {
        ">=": (t, False, inf, False),
        ">": (t, True, inf, False),
        "<=": (-inf, False, t, False),
        "<": (-inf, False, t, True),
        "==": (t, False, t, False),
    }[op]


@lint_rule("FTR206")
def _unreachable(src: LintInput) -> Iterator[Diagnostic]:
    by_label: dict[str, list[tuple[float, bool, float, bool, Expect]]] = {}
    for e in src.checked.eval.expects:
        lo, lo_s, hi, hi_s = _bounds(e.op, e.threshold)
        floor, ceil = {"perplexity": (1.0, float("inf")), "forgetting": (0.0, float("inf"))}.get(e.metric, (0.0, 1.0))
        if e.metric == "judge":  # a score from 1 to the judge's scale
            floor, ceil = 1.0, float(e.args.get("scale") or 5)  # type: ignore[arg-type]
        if (
            lo > ceil
            or hi < floor
            or (lo == ceil and lo_s)
            or (hi == floor and hi_s)
            or (e.metric == "perplexity" and hi < 1)
        ):
            yield _d("FTR206", f"`{e.label} {e.op} {e.threshold:g}` can never be met", e.span, _range_hint(e.metric))
            continue
        by_label.setdefault(e.label, []).append((lo, lo_s, hi, hi_s, e))
    for label, items in by_label.items():
        low = max(items, key=lambda i: (i[0], i[1]))  # the tightest lower bound
        high = min(items, key=lambda i: (i[2], not i[3]))  # the tightest upper bound
        if low[0] > high[2] or (low[0] == high[2] and (low[1] or high[3])):
            later = max((low[4], high[4]), key=lambda e: e.span.line)
            yield _d(
                "FTR206",
                f"the expectations on `{label}` contradict each other: no score meets them all",
                later.span,
                f"see the expectation on line {min(low[4].span.line, high[4].span.line)}",
            )


def _range_hint(metric: str) -> str:
    if metric == "forgetting":
        return "forgetting (the rise of general-text perplexity after tuning) is 0% or more"
    if metric == "judge":
        return "a judge scores from 1 to its scale"
    return "perplexity is at least 1" if metric == "perplexity" else f"{metric} is a rate between 0 and 1"


# --- FTR207 (shared with the planner) --------------------------------------------------------
def qlora_on_cpu(recipe: Recipe, span: Span | None = None) -> Diagnostic | None:
    """``span``: where the recipe asks for qlora (the linter knows the value; the planner the block)."""
    if recipe.train.values.get("method") == "qlora" and recipe.constraints.device == "cpu":
        return _d(
            "FTR207",
            "QLoRA on device cpu: bitsandbytes 4-bit training needs CUDA",
            span or recipe.train.span,
            "use method = lora on a CPU, or device = cuda",
        )
    return None


@lint_rule("FTR207")
def _qlora_on_cpu(src: LintInput) -> Iterator[Diagnostic]:
    node = _attr(src.tree, "train", "method")
    found = qlora_on_cpu(src.checked, node.value.span if node else None)
    if found:
        yield found


# --- FTR213 ----------------------------------------------------------------------------------
def cuda_only_on_cpu(recipe: Recipe) -> list[Diagnostic]:
    """Train settings that need CUDA, on device cpu (like QLoRA, FTR207)."""
    if recipe.constraints.device != "cpu":
        return []
    train = recipe.train
    found = []
    optimizer = train.values.get("optimizer")
    if optimizer in CUDA_ONLY_OPTIMIZERS:
        found.append(
            _d(
                "FTR213",
                f"optimizer {optimizer} on device cpu: bitsandbytes' 8-bit optimizers need CUDA",
                train.at("optimizer"),
                "use optimizer = adamw (or adamw_fused) on a CPU, or device = cuda",
            )
        )
    if train.values.get("tf32") is True:
        found.append(
            _d("FTR213", "tf32 on device cpu: TF32 is a CUDA GPU's matmul mode", train.at("tf32"), "leave tf32 out")
        )
    if train.values.get("precision") == "fp16":
        found.append(
            _d(
                "FTR213",
                "precision fp16 on device cpu: fp16 mixed precision needs CUDA",
                train.at("precision"),
                "use precision = bf16 or auto on a CPU (bf16 autocast where the CPU has it)",
            )
        )
    return found


@lint_rule("FTR213")
def _cuda_only_on_cpu(src: LintInput) -> Iterator[Diagnostic]:
    yield from cuda_only_on_cpu(src.checked)


# --- FTR208 ----------------------------------------------------------------------------------
_SECRET_HINT = "never commit credentials: revoke it, and let the tool read it from the environment (e.g. HF_TOKEN)"


@lint_rule("FTR208", needs_recipe=False)
def _secrets(src: LintInput) -> Iterator[Diagnostic]:
    texts: list[tuple[str | None, str, Span, int]] = [
        (name, s.value, s.span, 1) for name, s in _named_strings(src.tree)
    ]
    texts += [(None, c.text, c.span, 0) for c in src.tree.comments]
    for name, text, span, quote in texts:
        found = find_secret(text)
        if found:
            where = _narrow(span, quote, found.start, found.end) if _verbatim(span, text, quote) else span
            yield _d("FTR208", f"this looks like {found.what}", where, _SECRET_HINT)
            continue
        assigned = find_assigned(name, text) if name else None
        if assigned:
            yield _d("FTR208", f"this looks like {assigned}", span, _SECRET_HINT)


# --- FTR210 ----------------------------------------------------------------------------------
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@lint_rule("FTR210", needs_recipe=False)
def _bidi_controls(src: LintInput) -> Iterator[Diagnostic]:
    # Read from the text as written: an escape (\u202E) in a string is visible, so it is fine.
    text = src.text.lstrip("\ufeff")
    if not BIDI_CONTROLS.search(text):
        return
    comments = [c.span for c in src.tree.comments]
    strings = [s.span for _name, s in _named_strings(src.tree)]
    seen: set[Span] = set()
    for line_no, line in enumerate(text.split("\n"), 1):
        for m in BIDI_CONTROLS.finditer(line):
            col = m.start() + 1
            point = Span(src.tree.file, line_no, col, line_no, col + 1)
            comment = next((s for s in comments if _contains(s, line_no, col)), None)
            # Outside comments the lexer accepts these characters only in quoted text (a string, a
            # quoted map key); anywhere else it has refused the file already (FTR003).
            region = comment or next((s for s in strings if _contains(s, line_no, col)), None) or point
            if region not in seen:
                seen.add(region)
                yield _bidi_finding("comment" if comment else "string", m.group(), point)


def _contains(span: Span, line: int, col: int) -> bool:
    return (span.line, span.col) <= (line, col) < (span.end_line, span.end_col)


def _bidi_finding(kind: str, ch: str, span: Span) -> Diagnostic:
    name = f"U+{ord(ch):04X} {unicodedata.name(ch, 'BIDI CONTROL')}"
    message = f"an invisible bidirectional control character ({name}) in a {kind}: the text may read differently than it parses"
    if kind == "string":
        return _d(
            "FTR210", message, span, f"remove it, or write it as a visible escape (\\u{ord(ch):04X}) if it is meant"
        )
    return _d("FTR210", message, span, "remove it from the comment").with_severity("warning")


# --- FTR209 ----------------------------------------------------------------------------------
@lint_rule("FTR209")
def _same_file(src: LintInput) -> Iterator[Diagnostic]:
    recipe = src.checked
    if not recipe.eval.eval_data or recipe.eval.accept_leaks:
        return
    evals = [s for s in recipe.data if s.name == recipe.eval.eval_data]
    for ev in evals:
        for tr in recipe.data:
            if tr.name != ev.name and tr.format != "documents" and _same_rows(tr, ev):
                what = f"`{ev.rel_path}`" + (f" (splits `{tr.split}` and `{ev.split}`)" if ev.hub else "")
                yield _d(
                    "FTR209",
                    f"{what} is both training data (`{tr.name}`) and eval data (`{ev.name}`)",
                    ev.span,
                    "the eval would score answers the model trained on; use a separate file (or accept_leaks = true)",
                )


def _same_rows(a: DataSource, b: DataSource) -> bool:
    """Two sources that can hold the same rows: one file, or one hub dataset's configuration with
    splits that can share rows (its `train` and `test`, or `train[:90%]` and `train[90%:]`, do not)."""
    if a.hub or b.hub:
        return a.hub == b.hub and a.config == b.config and hub.splits_overlap(a.split, b.split)
    return os.path.realpath(a.path) == os.path.realpath(b.path)


# --- FTR211 ----------------------------------------------------------------------------------
@lint_rule("FTR211")
def _duplicate_expects(src: LintInput) -> Iterator[Diagnostic]:
    # Identity is the checked expectation, so `>= 0.9` and `>= 90%` (or two spellings of one schema
    # path) are the same condition however they are written.
    first: dict[tuple[str, tuple[tuple[str, str], ...], str, float], int] = {}
    for e in src.checked.eval.expects:
        identity = (e.metric, tuple(sorted((k, str(v)) for k, v in e.args.items())), e.op, e.threshold)
        if identity in first:
            yield _d(
                "FTR211",
                f"`expect {e.label} {e.op} {e.threshold:g}` is stated twice in the eval block",
                e.span,
                f"the first is on line {first[identity]}; every expectation needs its own identity: remove one",
            )
        else:
            first[identity] = e.span.line


# A goal still holding the text a generator (`ftc import`, `ftc init`) left for a person to write.
PLACEHOLDER_GOAL = re.compile(r"\bTODO\b|\bFIXME\b|\bTBD\b|<[^<>]*describe[^<>]*>", re.IGNORECASE)


@lint_rule("FTR212")
def _placeholder_goal(src: LintInput) -> Iterator[Diagnostic]:
    goal = src.checked.goal
    for text in (goal.text, goal.knowledge_text):
        found = PLACEHOLDER_GOAL.search(text)
        if found:
            yield _d(
                "FTR212",
                f"the goal is still a placeholder (`{found.group(0)}`)",
                goal.span,
                "describe the behaviour (or knowledge) in your own words: the system prompt, the baseline and "
                "the tune all start from this text",
            )
            return


@lint_rule("FTR214")
def _distill_without_teacher(src: LintInput) -> Iterator[Diagnostic]:
    recipe = src.checked
    if recipe.teacher is None and recipe.distill.values:
        yield _d(
            "FTR214",
            "a `distill` block, but the recipe names no teacher: its settings are unused",
            recipe.distill.span,
            "add `teacher = model(...)` (distilled when a size or latency bound rules it out), or drop the block",
        )


def run_rules(recipe: Recipe | None, tree: ast.RecipeFile, text: str = "") -> list[Diagnostic]:
    src = LintInput(recipe, tree, text)
    out: list[Diagnostic] = []
    for code_id in sorted(LINT_RULES):
        rule = LINT_RULES[code_id]
        if rule.needs_recipe and recipe is None:
            continue
        out.extend(rule.check(src))
    return out
