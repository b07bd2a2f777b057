"""Advice rules (FTR2xx): what a reviewer would flag in a pull request, beyond syntax and types.

Each rule is data: a code, a name, a severity, a one-line summary, a doc (what it checks and why it
matters) and an example, printed by ``ftc explain CODE`` and shipped in SARIF rule metadata. The
check functions read the checked ``Recipe`` (and the syntax tree where they need the text).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from ftc.compiler.lang import ast
from ftc.compiler.lang.diagnostics import Diagnostic, Severity
from ftc.compiler.lang.recipe import Recipe, Span

MIN_EXAMPLES = 10  # OpenAI's documented minimum for a fine-tune


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    doc: str
    example: str
    check: Callable[[Recipe, ast.RecipeFile], Iterator[Diagnostic]]
    needs_recipe: bool = True


def _d(rule_code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(rule_code, RULES[rule_code].severity, message, span, hint)


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


def _strings(tree: ast.RecipeFile) -> Iterator[ast.Str]:
    stack: list = list(tree.items)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Str):
            yield node
        elif isinstance(node, ast.Block):
            stack.extend(node.items)
            if node.label:
                stack.append(node.label)
        elif isinstance(node, (ast.Attribute, ast.Entry, ast.Arg)):
            stack.append(node.value)
        elif isinstance(node, ast.Call):
            stack.extend(node.args)
        elif isinstance(node, ast.List):
            stack.extend(node.items)
        elif isinstance(node, ast.Map):
            stack.extend(node.entries)
        elif isinstance(node, ast.Expect):
            stack.extend((node.metric, node.threshold))


# --- FTR201 ----------------------------------------------------------------------------------
def _knowledge_without_documents(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    if recipe.goal.kind in ("knowledge", "both") and not recipe.documents:
        yield _d(
            "FTR201",
            f"a {recipe.goal.kind} goal with no documents source",
            recipe.goal.span,
            'facts belong in retrieval: add `documents "docs" { path = "docs/" }`',
        )


# --- FTR202 ----------------------------------------------------------------------------------
def count_rows(path: str, fmt: str) -> int | None:
    """A cheap row count of a data file (None when it cannot be told without loading it)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > 50_000_000:
            return None
        lower = path.lower()
        with open(path, "rb") as fh:
            data = fh.read()
        if lower.endswith(".jsonl") or lower.endswith(".ndjson"):
            return sum(1 for line in data.split(b"\n") if line.strip())
        if lower.endswith(".json"):
            doc = json.loads(data)
            return len(doc) if isinstance(doc, list) else None
        if lower.endswith((".csv", ".tsv")):
            return max(0, sum(1 for line in data.split(b"\n") if line.strip()) - 1)
        if fmt == "text" and lower.endswith((".txt", ".md")):
            return sum(1 for part in re.split(rb"\n\s*\n", data) if part.strip())
    except (OSError, ValueError, RecursionError):
        return None
    return None


def _too_few_examples(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    for sources, kind in ((recipe.train_sources, "training"), (recipe.preference_sources, "preference")):
        counts = [count_rows(s.path, s.format) for s in sources]
        if not sources or any(c is None for c in counts):
            continue
        total = sum(counts)  # type: ignore[arg-type]
        kept = total if recipe.eval.eval_data else int(total * (1 - recipe.eval.holdout_fraction))
        if kept < MIN_EXAMPLES:
            yield _d(
                "FTR202",
                f"only {kept} {kind} example{'s' * (kept != 1)} after the holdout; a fine-tune needs at least {MIN_EXAMPLES}",
                sources[0].span,
                "with so few rows ftc stops at prompting; 50-100 well-made examples is where tuning starts to help",
            )


# --- FTR203 / FTR204 -------------------------------------------------------------------------
def _no_holdout(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    if _attr(tree, "eval", "holdout") is None and _attr(tree, "eval", "data") is None:
        yield _d(
            "FTR203",
            "the eval block states no holdout and no eval data",
            recipe.eval.span,
            f"ftc holds out {recipe.eval.holdout_fraction:.0%} by default; write `holdout = 20%` so reviewers see it",
        )


def _no_beat_baseline(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    if recipe.eval.beat_baseline_pct is None:
        yield _d(
            "FTR204",
            "no `beat baseline by` margin",
            recipe.eval.span,
            "a tune that only ties the prompted baseline is not worth shipping: add `beat baseline by 10%`",
        )


# --- FTR205 ----------------------------------------------------------------------------------
def _unused_source(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
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


def _unreachable(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    by_label: dict[str, list[tuple[float, bool, float, bool, object]]] = {}
    for e in recipe.eval.expects:
        lo, lo_s, hi, hi_s = _bounds(e.op, e.threshold)
        floor, ceil = (1.0, float("inf")) if e.metric == "perplexity" else (0.0, 1.0)
        if lo > ceil or hi < floor or (lo == ceil and lo_s) or (hi == floor and hi_s) or (e.metric == "perplexity" and hi < 1):
            span = e.span
            yield _d("FTR206", f"`{e.label} {e.op} {e.threshold:g}` can never be met", span, _range_hint(e.metric))
            continue
        by_label.setdefault(e.label, []).append((lo, lo_s, hi, hi_s, e))
    for label, items in by_label.items():
        lo = max(items, key=lambda i: (i[0], i[1]))
        hi = min(items, key=lambda i: (i[2], not i[3]))
        if lo[0] > hi[2] or (lo[0] == hi[2] and (lo[1] or hi[3])):
            later = max((lo[4], hi[4]), key=lambda e: e.span.line)  # type: ignore[attr-defined]
            yield _d(
                "FTR206",
                f"the expectations on `{label}` contradict each other: no score meets them all",
                later.span,  # type: ignore[attr-defined]
                f"see the expectation on line {min(lo[4].span.line, hi[4].span.line)}",  # type: ignore[attr-defined]
            )


def _range_hint(metric: str) -> str:
    return "perplexity is at least 1" if metric == "perplexity" else f"{metric} is a rate between 0 and 1"


# --- FTR207 ----------------------------------------------------------------------------------
def _qlora_on_cpu(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    if recipe.train.values.get("method") == "qlora" and recipe.constraints.device == "cpu":
        node = _attr(tree, "train", "method")
        yield _d(
            "FTR207",
            "QLoRA on device cpu: bitsandbytes 4-bit training needs CUDA",
            node.value.span if node else recipe.train.span,
            "use method = lora on a CPU, or device = cuda",
        )


# --- FTR208 ----------------------------------------------------------------------------------
SECRET_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("an OpenAI or Anthropic API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)


def find_secret(text: str) -> tuple[str, int] | None:
    for what, pattern in SECRET_PATTERNS:
        m = pattern.search(text)
        if m:
            return what, m.start()
    return None


def _secrets(recipe: Recipe | None, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    texts: list[tuple[str, Span, int]] = [(s.value, s.span, 1) for s in _strings(tree)]
    texts += [(c.text, c.span, 0) for c in tree.comments]
    for text, span, quote in texts:
        found = find_secret(text)
        if found:
            if span.line == span.end_line and span.end_col - span.col == len(text) + 2 * quote:
                # no escapes in the literal, so the secret's column is exact: underline just it
                m = next(p.search(text) for w, p in SECRET_PATTERNS if w == found[0])
                start = span.col + quote + m.start()
                span = Span(span.file, span.line, start, span.line, start + len(m.group()))
            yield _d(
                "FTR208",
                f"this looks like {found[0]}",
                span,
                "never commit credentials: revoke it, and let the tool read it from the environment (e.g. HF_TOKEN)",
            )


# --- FTR209 ----------------------------------------------------------------------------------
def _same_file(recipe: Recipe, tree: ast.RecipeFile) -> Iterator[Diagnostic]:
    if not recipe.eval.eval_data or recipe.eval.accept_leaks:
        return
    evals = [s for s in recipe.data if s.name == recipe.eval.eval_data]
    for ev in evals:
        for tr in recipe.data:
            if tr.name != ev.name and tr.format != "documents" and os.path.realpath(tr.path) == os.path.realpath(ev.path):
                yield _d(
                    "FTR209",
                    f"`{ev.rel_path}` is both training data (`{tr.name}`) and eval data (`{ev.name}`)",
                    ev.span,
                    "the eval would score answers the model trained on; use a separate file (or accept_leaks = true)",
                )


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule(
            "FTR201", "knowledge-without-documents", "error",
            "A knowledge goal (or both) with no documents source.",
            "Fine-tuning stores facts poorly and they go stale; ftc answers knowledge goals with retrieval "
            "over documents. Without a documents source there is nothing to retrieve from.",
            'goal = knowledge("Answer questions about our refund policy")\ndocuments "policies" { path = "docs/policies" glob = "**/*.md" }',
            _knowledge_without_documents,
        ),
        Rule(
            "FTR202", "too-few-examples", "warning",
            "A fine-tune would have fewer than 10 training examples after the holdout.",
            "OpenAI's minimum is 10 examples; 50-100 well-made examples is where supervised tuning starts "
            "to help and Google suggests 100-500. With fewer, ftc does not fine-tune and the plan stops at "
            "prompting, which is probably not what the recipe intends.",
            'data "tickets" { path = "data/tickets.jsonl"  format = chat }   # 300 rows, not 8',
            _too_few_examples,
        ),
        Rule(
            "FTR203", "no-holdout", "warning",
            "The eval block states neither a holdout nor eval data.",
            "Every promotion decision rests on the held-out split. ftc holds out 20% by default, but a "
            "reviewer should see the split in the recipe rather than guess it.",
            "eval {\n  holdout = 20%\n  seed    = 7\n}",
            _no_holdout,
        ),
        Rule(
            "FTR204", "no-baseline-margin", "warning",
            "No `beat baseline by` margin in the eval block.",
            "Prompting is the cheapest experiment and the bar every tune must clear. Without a margin a "
            "tune that merely ties the prompted baseline would be promoted, with its training and serving cost.",
            "eval {\n  holdout = 20%\n  beat baseline by 10%\n}",
            _no_beat_baseline,
        ),
        Rule(
            "FTR205", "unused-source", "warning",
            "A data source that nothing in the plan uses.",
            "A documents source under a behaviour-only goal is never retrieved from; it is usually a "
            "leftover or a goal that should be both(...). Unused sources still cost load time and confuse reviewers.",
            'goal = both(behavior = "Reply as JSON", knowledge = "Our product handbook")',
            _unused_source,
        ),
        Rule(
            "FTR206", "unreachable-threshold", "error",
            "An expectation no score can meet.",
            "`expect json_valid > 1.0`, `expect perplexity < 1` or two expectations on one metric that "
            "contradict each other make the gate fail on every run, so no tune is ever promoted.",
            "expect json_valid >= 0.95\nexpect perplexity <= 40",
            _unreachable,
        ),
        Rule(
            "FTR207", "qlora-on-cpu", "error",
            "QLoRA requested with device = cpu.",
            "QLoRA trains on a 4-bit base through bitsandbytes, which needs CUDA. On a CPU use LoRA (bf16 "
            "on a CPU is a runtime question, not a recipe one).",
            "train { method = lora }\nconstraints { device = cpu }",
            _qlora_on_cpu,
        ),
        Rule(
            "FTR208", "secret-in-recipe", "error",
            "A string or comment that looks like a credential (hf_ token, API key, private key).",
            "Recipes are committed and reviewed; a token in one is a leaked token. Revoke it and let the "
            "tools read credentials from the environment.",
            "# the hub token comes from HF_TOKEN in the environment, never from the recipe",
            _secrets,
            needs_recipe=False,
        ),
        Rule(
            "FTR209", "train-eval-same-file", "error",
            "The same file is both training data and eval data.",
            "Scoring a model on rows it trained on measures memorisation, not the task; the gate would "
            "promote a tune that has not proved anything. Turn it off only knowingly with accept_leaks = true.",
            'data "tickets" { path = "data/train.jsonl" ... }\ndata "tickets-eval" { path = "data/eval.jsonl" ... }\neval { data = "tickets-eval" }',
            _same_file,
        ),
    )
}  # fmt: skip


def run_rules(recipe: Recipe | None, tree: ast.RecipeFile) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for rule in RULES.values():
        if rule.needs_recipe and recipe is None:
            continue
        out.extend(rule.check(recipe, tree))  # type: ignore[arg-type]
    return out


def rules_table() -> str:
    """The Markdown table in docs/lint-rules.md, generated from RULES."""
    lines = ["| code | name | severity | what it checks |", "|---|---|---|---|"]
    lines += [f"| {r.code} | {r.name} | {r.severity} | {_cell(r.summary)} |" for r in RULES.values()]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def docs_page() -> str:
    """The whole of docs/lint-rules.md (a test checks that the committed file matches)."""
    from ftc.compiler.lang.diagnostics import CODES

    parts = [
        "# ftc lint rules",
        "",
        "Generated from `compiler/lint_rules.py` and `compiler/diagnostics.py`; regenerate with",
        "`python -c \"from ftc.compiler.lang.lint_rules import docs_page; print(docs_page(), end='')\" > docs/lint-rules.md`.",
        "`ftc explain CODE` prints any entry with an example; `ftc lint --strict` fails on warnings too.",
        "",
        "## Advice rules (FTR2xx)",
        "",
        "What a reviewer would flag in a pull request, beyond syntax and types.",
        "",
        rules_table(),
        "",
        "## Syntax (FTR0xx) and semantic (FTR1xx) errors",
        "",
        "| code | name | what it means |",
        "|---|---|---|",
        *[f"| {c.code} | {c.name} | {_cell(c.summary)} |" for c in CODES.values()],
        "",
        "Plan-time findings (over budget, does not fit in memory) are FTR3xx and come from the planner.",
        "",
        "## Output and exit codes",
        "",
        "`ftc lint PATH... [--format text|json|sarif|github] [--strict] [--allow-outside]` checks files and",
        "folders (recursively, `*.ftr`; `-` reads stdin). `text` is rustc-style with a caret excerpt (colour on",
        "a TTY, off with `NO_COLOR`); `json` is `{\"files\": N, \"diagnostics\": [{code, severity, message, file,",
        "line, col, end_line, end_col, hint}]}`; `sarif` is SARIF 2.1.0 with every code as rule metadata (for",
        "GitHub code scanning); `github` prints workflow annotations. Exit 0 clean, 1 errors (warnings too with",
        "`--strict`), 2 usage or internal error. `.pre-commit-hooks.yaml` offers `ftc-lint`, `ftc-lint-strict`,",
        "`ftc-fmt` and `ftc-fmt-check`.",
        "",
        "## Units",
        "",
        "- Sizes always carry a byte unit: `KB MB GB TB` (decimal) or `KiB MiB GiB TiB` (binary).",
        "- Parameter counts use `K M B T` alone (`135M`, `7B`); a plain integer is a count too. So `1B` is",
        "  a billion parameters, never a byte, and `1GB` is never a parameter count.",
        "- Durations: `ms s m h d`, case-sensitive (`m` is minutes, `M` millions). Percentages: `20%`.",
        "  Money: `$20`, `$1.50`. A rate threshold is `0.95` or `95%`.",
        "",
    ]
    return "\n".join(parts)
