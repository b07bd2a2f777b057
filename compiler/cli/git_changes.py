"""The git side of `ftc pr-plan`: which recipes changed between two revisions, and a checkout of each.

Plain `git` subprocesses (no library): the same commands a reviewer would type. Every failure
(no git, not a repository, an unknown revision, a shallow clone without the base) becomes one
FtcError with a hint, never a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ftc.shared.errors import FtcError

# Matches recipes at any depth, the repository's top level included (git's glob magic, like
# bash's globstar: without it `**/*.ftr` would miss a recipe at the top).
DEFAULT_PATHSPEC = ":(glob)**/*.ftr"
SHALLOW_HINT = "with actions/checkout, set `fetch-depth: 0` so the base revision is in the clone"


@dataclass(frozen=True)
class FileChange:
    """A recipe file that differs between two revisions (paths relative to the repository root)."""

    status: str  # added, edited, renamed, removed
    path: str  # the head's path (the base's for a removed recipe)
    old_path: str | None = None  # the base's path of a renamed recipe


def git(args: list[str], cwd: Path) -> str:
    """Run git and return its stdout; a failure is an FtcError (exit 2) carrying git's own message."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise FtcError(
            "error: `git` is not installed or not on PATH; ftc pr-plan compares two git revisions", 2
        ) from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise FtcError(f"error: git {' '.join(args[:2])} failed: {detail}", 2)
    return done.stdout


def repo_root(cwd: Path) -> Path:
    try:
        return Path(git(["rev-parse", "--show-toplevel"], cwd).strip())
    except FtcError:
        raise FtcError(
            f"error: {cwd} is not inside a git repository; ftc pr-plan compares two git revisions", 2
        ) from None


def resolve(ref: str, cwd: Path) -> str:
    """The commit a revision names, or an FtcError that says what to do."""
    if not ref or ref.startswith("-"):
        raise FtcError(f"error: '{ref}' is not a git revision", 2)
    try:
        return git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], cwd).strip()
    except FtcError:
        raise FtcError(f"error: unknown git revision '{ref}' ({SHALLOW_HINT})", 2) from None


def merge_base(base: str, head: str, cwd: Path) -> str:
    """Where the head branched off: a pull request's changes are measured from here, as GitHub's
    "Files changed" tab does, so commits that landed on the base since do not show as reverted."""
    try:
        return git(["merge-base", base, head], cwd).strip()
    except FtcError:
        raise FtcError(f"error: {base[:12]} and {head[:12]} have no common ancestor ({SHALLOW_HINT})", 2) from None


def pathspecs(paths: tuple[str, ...]) -> list[str]:
    """Patterns as git pathspecs with glob magic (`**/*.ftr`, `recipes/`), as the action's shell globs read them."""
    if not paths:
        return [DEFAULT_PATHSPEC]
    return [p if p.startswith(":") else f":(glob){p}" for p in paths]


def changed_recipes(base: str, head: str, specs: list[str], cwd: Path) -> list[FileChange]:
    """Every .ftr file that is added, edited, renamed or removed between two commits, by path."""
    out = git(["diff", "--name-status", "-z", "--find-renames", "--no-ext-diff", base, head, "--", *specs], cwd)
    fields = out.split("\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i][0]
        if status in "RC":
            old, new = fields[i + 1], fields[i + 2]
            i += 3
        else:
            old = new = fields[i + 1]
            i += 2
        change = _classify(status, old, new)
        if change is not None:
            changes.append(change)
    return sorted(changes, key=lambda c: c.path)


def changed_files(base: str, head: str, cwd: Path) -> set[str]:
    """Every path that differs between two commits, repository-relative (both ends of a rename)."""
    out = git(["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", base, head], cwd)
    return {p for p in out.split("\0") if p}


def prefix(cwd: Path) -> str:
    """Where ``cwd`` sits in its repository ('' at the top, 'sub/dir/' below)."""
    return git(["rev-parse", "--show-prefix"], cwd).strip()


def recipes_in(checkout: Path, specs: list[str]) -> list[str]:
    """The .ftr files a checkout holds that match the pathspecs, repository-relative."""
    out = git(["ls-files", "-z", "--full-name", "--", *specs], checkout)
    return sorted(p for p in out.split("\0") if p.endswith(".ftr"))


def _classify(status: str, old: str, new: str) -> FileChange | None:
    was, now = old.endswith(".ftr"), new.endswith(".ftr")
    if status == "R" and was and now:
        return FileChange("renamed", new, old)
    if status in "RC" and now:  # a copy, or a file renamed into a recipe
        return FileChange("added", new)
    if status == "R" and was:  # a recipe renamed to something else is a recipe less
        return FileChange("removed", old)
    if not now:
        return None
    return {"A": FileChange("added", new), "D": FileChange("removed", new)}.get(status, FileChange("edited", new))


@contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A temporary checkout of ``commit`` (a `git worktree`), removed afterwards: each side of the
    diff is planned against its own data files, exactly as they are at that revision."""
    place = Path(tempfile.mkdtemp(prefix="ftc-pr-plan-"))
    tree = place / "tree"
    git(["worktree", "add", "--detach", "--quiet", str(tree), commit], root)
    try:
        yield tree
    finally:
        try:
            git(["worktree", "remove", "--force", str(tree)], root)
        except FtcError:
            pass  # the folder goes below either way; `git worktree prune` forgets it later
        shutil.rmtree(place, ignore_errors=True)
