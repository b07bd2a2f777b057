"""`ftc pr-plan`: the pull-request comment, as Markdown, for every recipe a branch changes.

For each `.ftr` file added, edited, renamed or removed between the merge base of BASE and HEAD,
and each unchanged recipe whose data files, documents or JSON schemas changed,
both sides are planned in their own temporary `git worktree` (so the base plan reads the base's
data files) with the one compile function `ftc plan` uses, and the plan diff is rendered by
``compiler/plan/diff_markdown.py``. A side that does not compile shows its diagnostics in the
comment instead. The GitHub Action (action.yml) posts the result and updates it on every push;
nothing here talks to GitHub, so the same body can be made and read locally.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftc.shared.errors import FtcError

if TYPE_CHECKING:  # at run time the plan modules load only when the command runs
    from ftc.compiler.cli.git_changes import FileChange
    from ftc.compiler.plan.diff_markdown import RecipeChange


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    # Planning from the checkout's root: nothing the planner resolves can reach the other side's files.
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass(frozen=True)
class Side:
    """One side of the diff: the plan and the recipe's project root in the checkout, or why not."""

    plan: dict[str, Any] | None = None
    root: Path | None = None
    error: str | None = None


def plan_at(tree: Path, path: str) -> Side:
    """The recipe at ``path`` (repository-relative) in a checkout, compiled as `ftc plan` does."""
    from ftc.compiler.plan.compile import compile_recipe

    # The absolute path keeps the two sides apart in the diagnostics' cache of source lines (keyed
    # by path); the checkout's folder is then cut from the rendered messages.
    with _inside(tree):
        try:
            compiled = compile_recipe(tree / path, command="ftc pr-plan")
        except FtcError as err:
            return Side(error=err.message.replace(f"{tree}{os.sep}", ""))
    return Side(compiled.plan, compiled.root)


def reads_any(side: Side, tree: Path, touched: set[str]) -> bool:
    """Whether a plan reads one of the ``touched`` files (repository-relative): a data file, a
    documents folder's file or a JSON schema that the pull request changed."""
    if side.plan is None or side.root is None:
        return False
    try:
        project = side.root.resolve().relative_to(tree.resolve())
    except ValueError:  # a project root outside the checkout cannot be what the pull request changed
        return False
    schemas = [e["args"]["schema"] for e in side.plan["expects"] if "schema" in e["args"]]
    read = {(project / p).as_posix() for p in [i["path"] for i in side.plan["inputs"]] + schemas}
    return any(t == p or t.startswith(p + "/") for t in touched for p in read)


def collect(base: str, head: str, paths: tuple[str, ...], cwd: Path) -> tuple[list[RecipeChange], str, str]:
    """The changed recipes with both sides planned, and the two commits compared. A recipe that did
    not change but whose data, documents or schema did is planned on both sides too."""
    from ftc.compiler.cli import git_changes as g

    root = g.repo_root(cwd)
    head_commit = g.resolve(head, cwd)
    base_commit = g.merge_base(g.resolve(base, cwd), head_commit, cwd)
    specs = g.pathspecs(paths)
    files = g.changed_recipes(base_commit, head_commit, specs, cwd)
    touched = {f for f in g.changed_files(base_commit, head_commit, cwd) if not f.endswith(".ftr")}
    if not files and not touched:
        return [], base_commit, head_commit
    with g.worktree(root, base_commit) as base_tree, g.worktree(root, head_commit) as head_tree:
        out = [_planned(f, base_tree, head_tree) for f in files]
        if touched:
            where = head_tree / g.prefix(cwd)
            seen = {f.path for f in files}
            for path in (p for p in g.recipes_in(where, specs) if p not in seen):
                change = _data_changed(path, base_tree, head_tree, touched)
                if change is not None:
                    out.append(change)
    return sorted(out, key=lambda c: c.path), base_commit, head_commit


def _planned(f: FileChange, base_tree: Path, head_tree: Path) -> RecipeChange:
    from ftc.compiler.plan.diff_markdown import RecipeChange

    before = Side() if f.status == "added" else plan_at(base_tree, f.old_path or f.path)
    after = Side() if f.status == "removed" else plan_at(head_tree, f.path)
    return RecipeChange(f.path, f.status, f.old_path, before.plan, after.plan, before.error, after.error)


def _data_changed(path: str, base_tree: Path, head_tree: Path, touched: set[str]) -> RecipeChange | None:
    from ftc.compiler.plan.diff_markdown import RecipeChange

    # The base plan says what the recipe reads (a recipe already broken at the base is not this
    # pull request's doing); the head may then fail on the new data, and the comment says so.
    before = plan_at(base_tree, path)
    if not reads_any(before, base_tree, touched):
        return None
    after = plan_at(head_tree, path)
    return RecipeChange(path, "data changed", None, before.plan, after.plan, None, after.error)


@click.command("pr-plan")
@click.argument("paths", nargs=-1)
@click.option("--base", required=True, help="The base revision: a branch, tag or commit (the pull request's base).")
@click.option("--head", default="HEAD", show_default=True, help="The revision under review.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the comment to FILE instead of stdout.")
@click.pass_context
def pr_plan(ctx: click.Context, paths: tuple[str, ...], base: str, head: str, out: str | None) -> None:
    """Markdown for a pull-request comment: the plan diff of every .ftr recipe changed between
    BASE and HEAD, or whose data changed. PATHS are glob patterns (`**/*.ftr`, `recipes/`;
    default: every recipe). Exit 0, or 1 when a recipe at HEAD does not compile (the comment
    shows why)."""
    from ftc.compiler.cli.outputs import check_text_output
    from ftc.compiler.plan.diff_markdown import MARKER, render_comment

    if out:  # before any checkout: a typo must not overwrite a recipe or other file
        check_text_output("--out", out, ".md", "a pull-request comment", MARKER)
    changes, base_commit, head_commit = collect(base, head, paths, Path.cwd())
    footer = (
        f"<sub>`ftc pr-plan --base {base_commit[:12]} --head {head_commit[:12]}` makes this comment locally.</sub>\n"
    )
    body = render_comment(changes, base_commit[:12], head_commit[:12], footer if changes else "")
    if out:
        from ftc.shared.atomic import write_text

        try:
            write_text(out, body)
        except OSError as exc:
            raise FtcError(f"error: cannot write the comment to {out}: {exc.strerror or exc}", 2) from None
    else:
        click.echo(body, nl=False)
    ctx.exit(1 if any(c.head_error is not None for c in changes) else 0)


COMMANDS = [pr_plan]
