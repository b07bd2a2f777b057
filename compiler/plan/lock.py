"""A plan's data lock and its boundary, checked when `ftc run` reads a plan.

A plan file is untrusted input: it may have been edited by hand or by a tool. Before any step
runs, every path the plan makes a step read is resolved against the project root and checked here,
by one function (``check_paths``): data sources, their copies in the load step, the project root
itself and the files expects read (a json_schema's schema). The load step may only read what the
lock (``inputs``) pins, and each pinned file must still have the digest the planner recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftc.compiler.lang.checks import find_project_root
from ftc.compiler.plan import facts, hub_facts
from ftc.shared.errors import FtcError
from ftc.shared.files import document_files
from ftc.shared.hub import is_hub_path
from ftc.shared.paths import rubric_is_file

if TYPE_CHECKING:
    from ftc.compiler.plan.io import Plan

# Expect arguments that name a file in the project.
FILE_ARGS = ("schema",)


def lock_digest(path: Path, fmt: str, glob: str = "**/*") -> str:
    """The data lock of one input, computed exactly as the planner wrote it: a file's sha256; for a
    folder (documents, a `datasets` folder) one digest over its files."""
    if fmt == "documents":
        base = path if path.is_dir() else path.parent
        return facts.tree_digest(base, document_files(path, glob))[0]
    if path.is_dir():
        return facts.tree_digest(path, sorted(path.rglob("*.arrow")))[0]
    return facts.sha256_file(path)


def load_sources(plan: Plan) -> list[dict[str, Any]]:
    """The sources the plan's load step(s) read."""
    return [
        src
        for step in plan.get("steps", [])
        if step.get("kind") == "load"
        for src in (step.get("config") or {}).get("sources", [])
    ]


def _globs(plan: Plan) -> dict[str, str]:
    return {src["name"]: src.get("glob") or "**/*" for src in load_sources(plan)}


def stale_inputs(plan: Plan, root: Path) -> list[str]:
    """Inputs whose files changed (or vanished) since the plan was written, as messages."""
    problems: list[str] = []
    globs = _globs(plan)
    for item in plan.get("inputs", []):
        path = root / item["path"]
        if is_hub_path(item["path"]):
            problems += _stale_hub(item)
        elif not path.exists():
            problems.append(f"{item['path']}: the file is gone (data source '{item['name']}')")
        elif lock_digest(path, item.get("format", ""), globs.get(item["name"], "**/*")) != item.get("sha256"):
            problems.append(f"{item['path']}: changed since the plan was written (data source '{item['name']}')")
    return problems


def _stale_hub(item: dict[str, Any]) -> list[str]:
    """A hub input is pinned to a snapshot (revision): it must still be cached and read the same files."""
    digest = hub_facts.pinned_digest(item)
    rev = item.get("revision")
    if digest is None:
        return [
            f"{item['path']}: revision {rev} of the dataset is not in the Hugging Face cache (data source "
            f"'{item['name']}'); fetch it with `hf download --repo-type dataset {item['path'][5:]} --revision {rev}`"
        ]
    if digest != item.get("sha256"):
        return [f"{item['path']}: the cached files of revision {rev} changed since the plan was written"]
    return []


def refresh_lock(plan: Plan, root: Path) -> Plan:
    globs = _globs(plan)
    inputs = [
        dict(item, sha256=hub_facts.pinned_digest(item) or item.get("sha256"))
        if is_hub_path(item["path"])
        else dict(
            item, sha256=lock_digest(root / item["path"], item.get("format", ""), globs.get(item["name"], "**/*"))
        )
        for item in plan.get("inputs", [])
    ]
    return dict(plan, inputs=inputs)


def plan_root(plan: Plan, plan_path: Path, allow_outside: bool) -> Path:
    """The project root a plan file names. It must lie within the project that holds the plan file
    (found by the rule recipes use: the nearest folder with pyproject.toml or .git): a root edited to
    point above it (``"../../.."``) would put any file on the machine "inside the project"."""
    base = plan_path.resolve().parent
    rel: str = plan["project_root"]
    root = (base / rel).resolve()
    home = find_project_root(base).resolve()
    if not allow_outside and not root.is_relative_to(home):
        raise FtcError(
            f"error: {plan_path}: project_root '{plan['project_root']}' resolves to {root}, outside the "
            f"project that holds the plan file ({home})\nhint: a plan lives inside its project; re-plan "
            f"the recipe with `ftc plan --out`, or pass --allow-outside to accept this root",
            2,
        )
    if not root.is_dir():
        raise FtcError(f"error: {plan_path}: project_root '{plan['project_root']}' ({root}) is not a folder", 2)
    return root


def _paths(plan: Plan) -> Iterator[tuple[str, str]]:
    """(what, path) for every file the plan's steps will read."""
    for item in plan.get("inputs", []):
        yield f"data source '{item['name']}'", item["path"]
    for src in load_sources(plan):
        yield f"the load step's source '{src.get('name')}'", src["path"]
    for expect in plan.get("expects", []):
        args = expect.get("args") or {}
        for key in FILE_ARGS:
            value: Any = args.get(key)
            if isinstance(value, str):
                yield f"expect {expect.get('label', expect.get('metric'))}", value
        rubric = args.get("rubric")
        if isinstance(rubric, str) and rubric_is_file(rubric):
            yield f"expect {expect.get('label', expect.get('metric'))}'s rubric", rubric


def resolve_inside(root: Path, rel: str, what: str, allow_outside: bool) -> Path:
    """``rel`` resolved against ``root`` (symlinks followed); outside the project is an error unless allowed."""
    path = (root / rel).resolve()
    if not allow_outside and not path.is_relative_to(root):
        raise FtcError(f"error: {what} ({rel}) lies outside the project {root}; pass --allow-outside to allow it", 2)
    return path


def check_paths(plan: Plan, root: Path, allow_outside: bool) -> None:
    """Every path a step reads stays inside the project, and the load step reads only locked sources."""
    for what, rel in _paths(plan):
        if not is_hub_path(rel):  # a hub dataset is read from the Hugging Face cache, not the project
            resolve_inside(root, rel, what, allow_outside)
    locked = {(item["name"], item["path"], item.get("format")) for item in plan.get("inputs", [])}
    for src in load_sources(plan):
        if (src.get("name"), src.get("path"), src.get("format")) not in locked:
            raise FtcError(
                f"error: the plan's load step reads source '{src.get('name')}' ({src.get('path')}), which "
                f"its data lock (inputs) does not pin\nhint: the plan was edited; re-plan the recipe",
                1,
            )
