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

    oversized = _oversized(plan)
    if oversized:  # validating 100,000 tampered steps one by one would take minutes
        return oversized
    validator = Draft202012Validator(plan_schema())
    found = sorted((_json_path(e.absolute_path), _message(e)) for e in validator.iter_errors(plan))
    out = [f"{path}: {message}" for path, message in found]
    if not out and isinstance(plan, dict):
        out = _step_problems(plan["steps"]) + _expect_problems(plan["expects"]) + _name_problems(plan)
    return out


_MAX_MESSAGE = 300  # a schema message quotes the value; a tampered one may be megabytes long


def _message(error: Any) -> str:
    """jsonschema's message, with the schema's own words where it has them (a `not` or `pattern`
    rule's description, instead of the regular expression), and never longer than a line or two."""
    rule = error.validator_value if error.validator == "not" else error.schema
    described = isinstance(rule, dict) and error.validator in ("not", "pattern") and rule.get("description")
    if described:
        verb = "may not be" if error.validator == "not" else "is not"
        text = f"{_short(repr(error.instance))} {verb} {rule['description']}"
    else:
        text = error.message
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _oversized(plan: object) -> list[str]:
    """The top-level lists longer than the schema allows, found without walking their items."""
    from ftc.compiler.plan.schema import plan_schema

    if not isinstance(plan, dict):
        return []
    out = []
    for name, spec in plan_schema()["properties"].items():
        value, most = plan.get(name), spec.get("maxItems")
        if most is not None and isinstance(value, list) and len(value) > most:
            out.append(f"$.{name}: {len(value):,} items; a plan holds at most {most:,}")
    return out


def _name_problems(plan: Plan) -> list[str]:
    """Data sources are keyed by name everywhere (the lock, per-source settings, row counts): a
    name given twice would make one source silently stand for the other."""
    out: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(plan["inputs"]):
        if item["name"] in seen:
            out.append(f"$.inputs[{i}].name: duplicate data source {item['name']!r}")
        seen.add(item["name"])
    for i, step in enumerate(plan["steps"]):
        names = [src["name"] for src in step["config"].get("sources", []) if isinstance(src, dict)]
        for j, name in enumerate(names):
            if name in names[:j]:
                out.append(f"$.steps[{i}].config.sources[{j}].name: duplicate data source {name!r}")
    return out


def _expect_problems(expects: list[dict[str, Any]]) -> list[str]:
    """An expect's label is its score's key everywhere: it must say exactly what is measured, and no
    expect may appear twice (one would overwrite the other's verdict)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, expect in enumerate(expects):
        pattern = expect["args"].get("pattern") if expect["metric"] == "regex" else None
        if isinstance(pattern, str) and not _compiles(pattern):
            out.append(f"$.expects[{i}].args.pattern: {_short(repr(pattern))} is not a valid regular expression")
        faithful = expect_label(expect["metric"], expect["args"])
        if expect["label"] != faithful:
            out.append(f"$.expects[{i}].label: {expect['label']!r} does not name what it measures ({faithful!r})")
        identity = expect_id(expect)
        if identity in seen:
            out.append(f"$.expects[{i}]: duplicate expect {identity!r}")
        seen.add(identity)
    return out


def _compiles(pattern: str) -> bool:
    """The language's check on a regex metric's pattern (compiler.lang.check_eval), at read time."""
    import re

    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True


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


def _int(text: str) -> int:
    """Python refuses to convert an integer of thousands of digits; none is a plan value either."""
    if len(text.lstrip("-")) > 30:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits is larger than any plan value")
    return int(text)


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
        with open(p, "rb") as fh:  # bounded: a file that grew since the check is read no further
            data = fh.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise FtcError(f"error: {p}: no such plan file") from None
    except OSError as exc:
        raise FtcError(f"error: {p}: cannot read the plan: {exc.strerror or exc}") from None
    plan = _parse(p, _decode(p, data))
    if not isinstance(plan, dict):
        raise FtcError(f"error: {p}:1:1: a plan is a JSON object, not {type(plan).__name__}")
    validate(plan, str(p))
    return plan


def _decode(p: Path, data: bytes) -> str:
    """UTF-8 text (a byte-order mark is tolerated, as editors write one), or a located error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FtcError(
            f"error: {p}:{line}:{col}: the plan is not UTF-8 text (byte 0x{data[exc.start]:02x})\n"
            "hint: a plan is the JSON `ftc plan --out` writes; regenerate it"
        ) from None


class _Object(dict[str, Any]):
    """A JSON object as parsed, with the keys it held more than once (json.loads keeps the last of
    two equal keys; in a plan that would hide an edit, so the read refuses it)."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        out.repeated = tuple(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    return out


def _repeated_key(doc: object) -> str | None:
    """The JSON path of the first key an object holds twice (an iterative walk: no recursion)."""
    stack: list[tuple[str, object]] = [("$", doc)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Object):
            if node.repeated:
                return f"{path}.{node.repeated[0]}"
            stack += [(f"{path}.{k}", v) for k, v in reversed(node.items())]
        elif isinstance(node, list):
            stack += [(f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node)))]
    return None


def _parse(p: Path, text: str) -> object:
    """Strict JSON: finite numbers, unique keys, nesting Python can walk; each a located error."""
    hint = "hint: the plan was edited by hand or truncated; regenerate it with `ftc plan`"
    try:
        doc = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, parse_int=_int, object_pairs_hook=_object
        )
    except RecursionError:
        raise FtcError(f"error: {p}: the JSON nests too deeply to be a plan\n{hint}") from None
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise FtcError(
                f"error: {p}: {exc}\nhint: a plan holds finite numbers only; regenerate it with `ftc plan`"
            ) from None
        raise FtcError(
            f"error: {p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}\n"
            "hint: the plan was edited by hand or truncated; regenerate it with `ftc plan`"
        ) from None
    repeated = _repeated_key(doc)
    if repeated is not None:
        raise FtcError(f"error: {p}: {_short(repeated, 200)}: the key appears twice in one object\n{hint}")
    return doc


def project_root_of(plan: Plan, plan_path: str | Path | None = None) -> Path:
    """The absolute project root: ``project_root`` resolved against the plan file's folder (or cwd)."""
    base = Path(plan_path).resolve().parent if plan_path is not None else Path.cwd()
    rel: str = plan["project_root"]
    return (base / rel).resolve()
