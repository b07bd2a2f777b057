"""The plan file: deterministic JSON, validated against its schema on write and on read.

A plan is a plain JSON-ready dict (built by ``compiler.planner``); this module owns its bytes.
Identical inputs give byte-identical files: sorted keys, two-space indent, no timestamps, and
no absolute paths. ``project_root`` is written relative to the folder of the plan file (``.``
when the plan sits in the project root); every other path is relative to ``project_root``.
Use ``project_root_of(plan, plan_path)`` to get the absolute folder back.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ftc.shared import atomic
from ftc.shared.contract import expect_id, expect_label
from ftc.shared.errors import FtcError

_GUARDED = ("train", "dpo", "orpo", "kto", "distill")

# A plan document: JSON whose shape the schema (``compiler.plan.schema``) fixes and checks, not a
# Python type, so its values are read as Any.
Plan = dict[str, Any]


def dumps(plan: Plan) -> str:
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def problems(plan: object) -> list[str]:
    """Every schema violation (``$.steps[3].kind: ...``) and broken step reference, sorted."""
    from jsonschema import Draft202012Validator

    from ftc.compiler.plan.schema import plan_schema

    validator = Draft202012Validator(plan_schema())
    found = sorted((_json_path(e.absolute_path), e.message) for e in validator.iter_errors(plan))
    out = [f"{path}: {message}" for path, message in found]
    if not out and isinstance(plan, dict):
        out = _step_problems(plan["steps"]) + _expect_problems(plan["expects"])
    return out


def _expect_problems(expects: list[dict[str, Any]]) -> list[str]:
    """An expect's label is its score's key everywhere: it must say exactly what is measured, and no
    expect may appear twice (one would overwrite the other's verdict)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, expect in enumerate(expects):
        faithful = expect_label(expect["metric"], expect["args"])
        if expect["label"] != faithful:
            out.append(f"$.expects[{i}].label: {expect['label']!r} does not name what it measures ({faithful!r})")
        identity = expect_id(expect)
        if identity in seen:
            out.append(f"$.expects[{i}]: duplicate expect {identity!r}")
        seen.add(identity)
    return out


def _json_path(parts: Iterable[str | int]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _step_problems(steps: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, step in enumerate(steps):
        where = f"$.steps[{i}]"
        if step["id"] in seen:
            out.append(f"{where}.id: duplicate step id {step['id']!r}")
        for need in step["needs"]:
            if need not in seen:
                out.append(f"{where}.needs: {need!r} is not an earlier step")
        if step["kind"] in _GUARDED and step["guard"] != "baseline_misses_bar":
            out.append(f"{where}.guard: a {step['kind']} step must carry the guard 'baseline_misses_bar'")
        seen.add(step["id"])
    return out


def validate(plan: Plan, origin: str = "plan") -> None:
    found = problems(plan)
    if found:
        shown = "\n".join(f"  {origin}: {p}" for p in found[:10])
        more = f"\n  ... and {len(found) - 10} more" if len(found) > 10 else ""
        raise FtcError(
            f"error: {origin} is not a valid ftc plan (schema version 1):\n{shown}{more}\n"
            "hint: regenerate it with `ftc plan RECIPE --out FILE`; `ftc schema plan` prints the schema"
        )


def write_plan(plan: Plan, path: str | Path) -> None:
    """Validate, then write atomically (through a symlink, keeping the file's mode)."""
    validate(plan, "the generated plan")
    target = Path(path)
    try:
        atomic.write_text(target, dumps(plan))
    except OSError as exc:
        raise FtcError(f"error: cannot write the plan to {target}: {exc.strerror or exc}", 2) from None


# A plan is a few kilobytes; anything far larger is not one, and is not read into memory.
MAX_PLAN_BYTES = 10_000_000


def _no_constant(name: str) -> float:
    """NaN and Infinity are not JSON, and no plan value may be one (json.loads accepts them)."""
    raise ValueError(f"{name} is not a number a plan may hold")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} overflows to infinity, which no plan value may be")
    return value


def read_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; a bad file raises FtcError located by line:col or JSON path."""
    p = Path(path)
    try:
        if p.exists() and not stat.S_ISREG(p.stat().st_mode):
            raise FtcError(f"error: {p}: not a regular file (a FIFO, device or folder cannot be a plan)")
        if p.exists() and p.stat().st_size > MAX_PLAN_BYTES:
            raise FtcError(
                f"error: {p}: {p.stat().st_size:,} bytes is too large for a plan (at most {MAX_PLAN_BYTES:,})"
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FtcError(f"error: {p}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FtcError(f"error: {p}: cannot read the plan: {exc}") from None
    try:
        plan = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise FtcError(
                f"error: {p}: {exc}\nhint: a plan holds finite numbers only; regenerate it with `ftc plan`"
            ) from None
        raise FtcError(
            f"error: {p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}\n"
            "hint: the plan was edited by hand or truncated; regenerate it with `ftc plan`"
        ) from None
    if not isinstance(plan, dict):
        raise FtcError(f"error: {p}:1:1: a plan is a JSON object, not {type(plan).__name__}")
    validate(plan, str(p))
    return plan


def project_root_of(plan: Plan, plan_path: str | Path | None = None) -> Path:
    """The absolute project root: ``project_root`` resolved against the plan file's folder (or cwd)."""
    base = Path(plan_path).resolve().parent if plan_path is not None else Path.cwd()
    rel: str = plan["project_root"]
    return (base / rel).resolve()
