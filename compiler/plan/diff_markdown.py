"""Plan diffs as Markdown, for pull requests: `ftc plan --format markdown` and `ftc pr-plan`.

The changes are exactly the text diff's (``diff.diff_plans``: decisions and numbers, no prose),
grouped by what a reviewer asks about: strategy and method, hyper-parameters, estimates, steps,
data inputs, expectations. A head plan gets a one-line summary; a new recipe its key decisions.

A pull request can come from anyone, so everything that can carry text from a recipe (names,
paths, labels, strings, diagnostics) goes into a code span or a fenced block, and prose is
escaped: a recipe cannot inject Markdown, HTML or @-mentions into the comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ftc.compiler.plan.diff import diff_plans
from ftc.compiler.plan.render import duration, gb

# The action finds the comment it posted earlier by this first line, and updates it in place.
MARKER = "<!-- ftc-plan-comment -->"
# Second line of a body with no recipe changes: the action then posts nothing new (it only
# updates a comment it posted on an earlier push, when the pull request did change recipes then).
NO_CHANGES_MARKER = "<!-- ftc-plan-comment: no recipe changes -->"
# GitHub refuses comment bodies over 65,536 characters; keep room for the closing lines.
COMMENT_LIMIT = 60_000

# (title, the top-level plan keys it covers), in the order a reviewer reads them.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Strategy, method and model", ("strategy", "method", "goal", "model", "device", "distributed", "prompt")),
    ("Hyper-parameters", ("hyperparameters",)),
    ("Estimates", ("estimates",)),
    ("Steps", ("steps",)),
    ("Data inputs", ("inputs",)),
    ("Expectations and gate", ("expects", "gate")),
    ("Decisions", ("rules",)),
    ("Plan-time warnings", ("warnings",)),
)
OTHER = "Other"
FOLD_OVER = 8  # a section with more rows than this is folded (<details>) so the comment stays short
_KEYED = re.compile(r"^(?P<root>[a-z_]+)\[(?P<key>.*?)\](?:\.(?P<rest>.+))?$")
_DIGEST = re.compile(r"[0-9a-f]{64}")

Plan = dict[str, Any]
Change = tuple[str, str, object, object]  # diff.diff_plans's (sign, path, before, after)
Row = tuple[str, str, str]  # (what, before, after), already Markdown


@dataclass(frozen=True)
class RecipeChange:
    """One changed recipe between two git revisions, with what each side compiled to.

    ``status`` is added, edited, renamed, removed or "data changed" (the recipe is the same, a file
    it reads is not); a side that failed to compile has its rendered diagnostics in ``*_error``
    instead of a plan."""

    path: str
    status: str
    old_path: str | None = None
    base: Plan | None = None
    head: Plan | None = None
    base_error: str | None = None
    head_error: str | None = None


# --- escaping ----------------------------------------------------------------------------------
def code(text: str) -> str:
    """``text`` as an inline code span that is also safe in a table cell."""
    text = " ".join(str(text).split())  # one line: a table row ends at a newline
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def prose(text: str) -> str:
    """Plain text with Markdown and HTML made inert, mentions and references broken, on one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Only what can start markup: with [ escaped no link forms, and an underscore inside a word
    # (max_length) never emphasises in GitHub's Markdown, so it stays readable in the raw body.
    text = re.sub(r"([\\`*\[\]|~])", r"\\\1", text)
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
    return text.replace("@", "@&#8203;")  # a zero-width space after @: no notification


def fenced(text: str, info: str = "text") -> str:
    """A fenced block that ``text`` cannot close early, however many backticks it holds."""
    ticks = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (ticks + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


# --- values ------------------------------------------------------------------------------------
def show(path: str, value: object) -> str:
    """A plan value as a reviewer reads it: sizes in GB, times as durations, digests shortened."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _number(path, value)
    if value == "":
        return "*empty*"
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return code(value[:12] + "…")
    text = str(value)
    return code(text if len(text) <= 80 else text[:77] + "...")


def _number(path: str, value: int | float) -> str:
    leaf = path.rsplit(".", 1)[-1]
    if leaf.endswith("_bytes") or ".memory_breakdown." in path:
        return str(gb(int(value)))
    if path == "estimates.seconds" or path.startswith("estimates.seconds_breakdown."):
        return str(duration(float(value)))
    if path == "estimates.cost.usd":
        return f"${value:,.2f}"
    if "flops" in path:
        return f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _hparam(hp: object) -> str:
    if not isinstance(hp, dict):
        return "—"
    return f"{show('hyperparameters', hp.get('value'))} ({prose(hp.get('set_by', ''))})"


# --- the summary line --------------------------------------------------------------------------
def summary_line(new: Plan, old: Plan | None = None) -> str:
    """The head plan in one line (what is decided, what it costs), with the base's value beside
    every headline figure that changed."""
    strategy = _was(new, old, lambda p: " → ".join(p["strategy"]))
    parts = [strategy, "no training" if new["method"] == "none" else f"method {_was(new, old, lambda p: p['method'])}"]
    if new["method"] != "none":
        parts.append(f"lr {_was(new, old, _lr)}")
    parts.append(f"about {_was(new, old, lambda p: duration(p['estimates']['seconds']))}")
    memory = _was(new, old, lambda p: gb(p["estimates"]["peak_memory_bytes"]))
    parts.append(f"peak memory {memory} of {gb(new['device']['memory_bytes'])}")
    parts.append(_was(new, old, lambda p: f"${p['estimates']['cost']['usd']:,.2f}"))
    device = "CUDA" if new["device"]["kind"] == "cuda" else "CPU"
    return f"**{code(new['recipe']['name'])}** on {code(new['model']['base'])} ({device}): " + ", ".join(parts)


def _lr(plan: Plan) -> str:
    value = plan["hyperparameters"].get("lr", {}).get("value")
    return "—" if value is None else f"{value:g}"


def _was(new: Plan, old: Plan | None, figure: Callable[[Plan], str]) -> str:
    now = figure(new)
    if old is None:
        return now
    try:
        before = figure(old)
    except (KeyError, TypeError):  # an old plan file without the figure: nothing to compare
        return now
    return now if before == now else f"{now} (was {before})"


# --- the changes, grouped ----------------------------------------------------------------------
def section_of(path: str) -> str:
    root = re.match(r"[a-z_]+", path)
    name = root.group(0) if root else path
    return next((title for title, roots in SECTIONS if name in roots), OTHER)


def grouped_rows(old: Plan, new: Plan, changes: list[Change]) -> list[tuple[str, list[Row]]]:
    """(section title, rows) for every section that has a change, in SECTIONS order."""
    by_section: dict[str, list[Change]] = {}
    for change in changes:
        by_section.setdefault(section_of(change[1]), []).append(change)
    order = [title for title, _ in SECTIONS] + [OTHER]
    out = []
    for title in order:
        if title in by_section:
            rows = (
                _hparam_rows(old, new, by_section[title]) if title == "Hyper-parameters" else _rows(by_section[title])
            )
            out.append((title, rows))
    return out


def _hparam_rows(old: Plan, new: Plan, changes: list[Change]) -> list[Row]:
    # value and set_by of one hyper-parameter read best as one row: `3` (rule) -> `1` (recipe)
    names = sorted({path.split(".")[1] for _sign, path, _b, _a in changes})
    before, after = old.get("hyperparameters", {}), new.get("hyperparameters", {})
    return [(code(name), _hparam(before.get(name)), _hparam(after.get(name))) for name in names]


def _rows(changes: list[Change]) -> list[Row]:
    # A record (a step, an input, an expect) that comes or goes is one row, not one per field.
    whole = {path for sign, path, _b, _a in changes if sign in "+-" and _record(path)}
    rows = []
    for sign, path, before, after in changes:
        keyed = _KEYED.match(path)
        if keyed and keyed["rest"] and f"{keyed['root']}[{keyed['key']}]" in whole:
            continue
        if keyed and not keyed["rest"]:
            rows.append((code(keyed["key"]), "—" if sign == "+" else "present", "added" if sign == "+" else "removed"))
            continue
        what = f"{code(keyed['key'])} {code(keyed['rest'])}" if keyed else code(_short(path))
        rows.append((what, show(path, before) if sign != "+" else "—", show(path, after) if sign != "-" else "—"))
    return rows


def _record(path: str) -> bool:
    """Whether ``path`` is a whole keyed record (``steps[index]``), not one of its fields."""
    keyed = _KEYED.match(path)
    return keyed is not None and keyed["rest"] is None


def _short(path: str) -> str:
    # estimates.seconds -> seconds; the strategy section mixes roots, so its paths stay whole
    root, _, rest = path.partition(".")
    return rest if rest and section_of(root) not in (SECTIONS[0][0], OTHER) else path


def table(title: str, rows: list[Row]) -> str:
    head = (
        f"**{title}**"
        if len(rows) <= FOLD_OVER
        else f"<details><summary><b>{title}</b> ({len(rows)} changes)</summary>"
    )
    lines = [head, "", "| | before | after |", "|---|---|---|"]
    lines += [f"| {what} | {before} | {after} |" for what, before, after in rows]
    if len(rows) > FOLD_OVER:
        lines += ["", "</details>"]
    return "\n".join(lines)


def plan_line(changes: list[Change]) -> str:
    counts = {s: sum(c[0] == s for c in changes) for s in "+~-"}
    return f"Plan: {counts['+']} to add, {counts['~']} to change, {counts['-']} to remove."


# --- one recipe --------------------------------------------------------------------------------
def render_diff_markdown(old: Plan, new: Plan) -> str:
    """The head plan's summary, then what changed against ``old``, section by section."""
    changes = diff_plans(old, new)
    parts = [summary_line(new, old)]
    if not changes:
        return parts[0] + "\n\nNo plan changes.\n"
    parts += [table(title, rows) for title, rows in grouped_rows(old, new, changes)]
    parts.append(f"**{plan_line(changes)}**")
    return "\n\n".join(parts) + "\n"


def render_new_markdown(new: Plan) -> str:
    """A plan with nothing to compare against: its summary and key decisions."""
    lines = ["| rule | because |", "|---|---|"]
    lines += [f"| {code(r['id'])} | {prose(r['because'])} |" for r in new["rules"]]
    parts = [summary_line(new), "**Decisions**\n\n" + "\n".join(lines)]
    parts.append("**Steps**: " + " → ".join(code(s["id"]) for s in new["steps"]))
    if new.get("warnings"):
        parts.append(
            "**Plan-time warnings**\n\n"
            + "\n".join(f"- {code(w['code'])} {prose(w['message'])} ({code(w['location'])})" for w in new["warnings"])
        )
    return "\n\n".join(parts) + "\n"


def render_change(change: RecipeChange) -> str:
    """One recipe's section of the pull-request comment."""
    where = code(change.path)
    status = f"renamed from {code(change.old_path or '')}" if change.status == "renamed" else change.status
    head = f"### {where} ({status})"
    if change.status == "removed":
        return f"{head}\n\nThis recipe is deleted: nothing will plan or run it any more.\n"
    if change.head_error is not None:
        return f"{head}\n\n:x: The head version does not compile, so there is no plan to show:\n\n{fenced(change.head_error)}\n"
    assert change.head is not None
    if change.base is None:
        note = ""
        if change.base_error is not None:
            note = f"\n<details><summary>The base version did not compile</summary>\n\n{fenced(change.base_error)}\n\n</details>\n"
        return f"{head}\n\n{render_new_markdown(change.head)}{note}"
    return f"{head}\n\n{render_diff_markdown(change.base, change.head)}"


# --- the comment -------------------------------------------------------------------------------
def render_comment(changes: list[RecipeChange], base: str, head: str, footer: str = "") -> str:
    """The whole pull-request comment: the marker, a count, then one section per recipe."""
    if not changes:
        return f"{MARKER}\n{NO_CHANGES_MARKER}\n## ftc plan\n\nNo recipe, and no file a recipe reads, changed between {code(base)} and {code(head)}.\n"
    counts = {s: sum(c.status == s for c in changes) for s in ("added", "edited", "renamed", "removed", "data changed")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    noun = "recipe" if len(changes) == 1 else "recipes"
    out = [f"{MARKER}\n## ftc plan\n\n{len(changes)} {noun} changed between {code(base)} and {code(head)}: {tally}.\n"]
    used = len(out[0]) + len(footer)
    for i, change in enumerate(changes):
        section = render_change(change)
        if used + len(section) > COMMENT_LIMIT:
            out.append(_left_out(changes[i:]))
            break
        out.append(section)
        used += len(section) + 1
    if footer:
        out.append(footer)
    return "\n".join(out)


def _left_out(rest: list[RecipeChange], room: int = 4_000) -> str:
    """The recipes that did not fit, by name, as many as ``room`` characters allow."""
    names: list[str] = []
    for change in rest:
        if sum(len(n) + 2 for n in names) + len(code(change.path)) > room:
            break
        names.append(code(change.path))
    unnamed = len(rest) - len(names)
    tail = f" and {unnamed} others" if unnamed else ""
    return f"{len(rest)} more left out to stay under GitHub's comment size limit: {', '.join(names)}{tail}.\n"
