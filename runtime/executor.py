"""The executor: runs a plan's steps in dependency order, cached by content hash, resumable.

Layout (``runs_dir`` defaults to ``./runs``)::

    runs/<recipe>/<plan-hash>/plan.json      the plan this folder ran
    runs/<recipe>/<plan-hash>/state.json     every step: status, cache key, folder, seconds
    runs/<recipe>/<plan-hash>/<step>   ->    ../cache/<step>-<key>/   (a relative symlink)
    runs/<recipe>/cache/<step>-<key>/        the step's outputs + step.json (the "finished" marker)

Why step folders are keyed by their own cache key and not by the plan hash: an edit to the eval
block changes the plan hash but not the train step's inputs, so the new plan folder must reuse
the trained adapter. A step's key hashes its kind, its config, the plan sections it reads (see
``_EXTRA``) and the keys of the steps it needs, so a change flows exactly to its dependents.

A step is finished when its folder holds ``step.json`` with the same key (written last,
atomically). A killed run leaves a folder without it; the next run re-enters the same folder,
which is how training finds its checkpoints and resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ftc.shared.errors import FtcError
from ftc.shared import atomic

# Bump when a step's outputs change meaning: every cache key changes with it.
RUNTIME_VERSION = "1"

from ftc.shared.contract import GUARD

# The plan sections (besides the step's own config) that each step kind reads. Anything a step
# reads must be here, or a changed plan would reuse a stale result; nothing else should be (the
# model's facts, the estimates and the rules' wording change nothing a step computes).
_EXTRA: dict[str, tuple[str, ...]] = {
    "load": ("inputs",),
    "baseline": ("prompt", "model.base"),
    "train": ("prompt", "hyperparameters", "method", "model.base"),
    "dpo": ("prompt", "hyperparameters", "method", "model.base"),  # beta and lr are in its config
    "distill": ("prompt", "hyperparameters", "method", "model.base", "model.teacher"),
    # Not "expects": generation does not depend on them. The gate re-scores the cached predictions
    # of baseline and eval against the current expects, so a changed bar re-runs only the gate.
    "eval": ("prompt", "model.base"),
    "gate": ("expects", "gate"),
    "export": ("prompt", "expects", "gate", "recipe.name", "strategy", "method"),
}

# Data steps are keyed downstream by the content of what they wrote, not by their inputs: a data
# edit that leaves the records unchanged (a blank line, a refreshed lock) re-runs only the data
# steps, and the baseline, the tune and the eval stay cached. Records files are small next to
# model weights, so hashing them is cheap.
_CONTENT_KEYED = {"load", "clean", "dedup", "split"}

# The earlier steps (by kind) whose outputs each step kind reads through ``Context.by_kind``.
# Their keys join the step's key even when the plan's ``needs`` reach them only indirectly.
_READS: dict[str, tuple[str, ...]] = {
    "clean": ("load",),
    "dedup": ("clean",),
    "split": ("load", "clean", "dedup"),
    "baseline": ("split", "index"),
    "index": ("dedup",),
    "train": ("split", "index"),
    "dpo": ("split", "train"),
    "distill": ("split", "index"),
    "eval": ("split", "index", "train", "dpo", "distill"),
    "gate": ("baseline", "eval"),
    "export": ("split", "baseline", "train", "dpo", "distill", "eval", "gate"),
}


@dataclass
class Outcome:
    """What happened to one step in this run."""

    id: str
    kind: str
    status: str  # ran | cached | skipped | failed | pending
    key: str
    dir: Path | None = None
    seconds: float = 0.0
    reason: str = ""
    summary: dict = field(default_factory=dict)
    output: str = ""  # the content digest of a data step's outputs (see _CONTENT_KEYED)

    @property
    def ref(self) -> str:
        """What a dependent's key hashes: the content of data outputs, else this step's key."""
        return self.output or self.key

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "status": self.status,
            "key": self.key,
            "dir": str(self.dir) if self.dir else None,
            "seconds": round(self.seconds, 3),
            "reason": self.reason,
            "output": self.output or None,
        }


@dataclass(frozen=True)
class RunOptions:
    runs_dir: Path = Path("runs")
    force: tuple[str, ...] = ()
    allow_download: bool = False


@dataclass
class Context:
    """Everything a step function gets: the plan, its folder, and what ran before it."""

    plan: dict
    step: dict
    dir: Path
    project_root: Path
    outcomes: dict[str, Outcome]
    options: RunOptions
    run_dir: Path
    progress: Any = None  # ftc.runtime.progress.RunProgress or None

    @property
    def config(self) -> dict:
        return self.step.get("config") or {}

    def by_kind(self, kind: str) -> Outcome | None:
        """The (last) earlier step of a kind, e.g. ``ctx.by_kind("split").dir``."""
        found = [o for o in self.outcomes.values() if o.kind == kind]
        return found[-1] if found else None

    def need_dir(self, kind: str) -> Path:
        outcome = self.by_kind(kind)
        if outcome is None or outcome.dir is None or outcome.status == "skipped":
            raise FtcError(f"error: step '{self.step['id']}' needs a finished '{kind}' step, and the plan has none")
        return outcome.dir


@dataclass
class RunResult:
    run_dir: Path
    outcomes: dict[str, Outcome]
    gate: dict | None

    @property
    def promoted(self) -> bool:
        return bool(self.gate and self.gate.get("passed"))


StepFn = Callable[[Context], dict]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


def plan_hash(plan: dict) -> str:
    """The run folder's name. ``project_root`` is left out: the same plan run from a moved or
    re-cloned project is the same plan."""
    return sha({k: v for k, v in plan.items() if k != "project_root"})[:12]


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "step.json"):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def topo_order(steps: list[dict]) -> list[dict]:
    """Kahn's algorithm, stable in plan order, so the same plan always runs in the same order."""
    by_id = {s["id"]: s for s in steps}
    for step in steps:
        for need in step.get("needs", []):
            if need not in by_id:
                raise FtcError(f"error: plan step '{step['id']}' needs '{need}', which the plan does not define")
    done: list[dict] = []
    placed: set[str] = set()
    while len(done) < len(steps):
        ready = [s for s in steps if s["id"] not in placed and all(n in placed for n in s.get("needs", []))]
        if not ready:
            stuck = sorted(s["id"] for s in steps if s["id"] not in placed)
            raise FtcError(f"error: the plan's steps form a cycle: {', '.join(stuck)}")
        done.append(ready[0])
        placed.add(ready[0]["id"])
    return done


def _plan_section(plan: dict, dotted: str) -> Any:
    value: Any = plan
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _values_only(section: Any) -> Any:
    """Hyper-parameters hash by value: a reworded ``reason`` must not retrain anything."""
    if isinstance(section, dict) and all(isinstance(v, dict) and "value" in v for v in section.values()):
        return {k: v["value"] for k, v in section.items()}
    return section


def step_key(plan: dict, step: dict, need_keys: dict[str, str], read_keys: dict[str, str] | None = None) -> str:
    extra = {name: _values_only(_plan_section(plan, name)) for name in _EXTRA.get(step["kind"], ())}
    return sha(
        {
            "runtime": RUNTIME_VERSION,
            "kind": step["kind"],
            "config": step.get("config") or {},
            "guard": step.get("guard"),
            "extra": extra,
            "needs": {n: need_keys[n] for n in sorted(step.get("needs", []))},
            "reads": read_keys or {},
        }
    )[:16]


def dependents(steps: list[dict], roots: set[str]) -> set[str]:
    """``roots`` plus every step that needs one of them, transitively: forcing a step re-runs them."""
    out = set(roots)
    changed = True
    while changed:
        changed = False
        for step in steps:
            if step["id"] not in out and any(n in out for n in step.get("needs", [])):
                out.add(step["id"])
                changed = True
    return out


class Executor:
    """Runs one plan. ``steps`` maps a step kind to its function (``ftc.runtime.steps.STEPS``)."""

    def __init__(self, plan: dict, project_root: Path, options: RunOptions, steps: dict[str, StepFn],
                 progress: Any = None, guard: Callable[[Context], tuple[bool, str]] | None = None) -> None:
        self.plan = plan
        self.project_root = project_root
        self.options = options
        self.steps = steps
        self.progress = progress
        self.guard = guard
        self.order = topo_order(plan.get("steps", []))
        ids = {s["id"] for s in self.order}
        unknown = [f for f in options.force if f not in ids]
        if unknown:
            raise FtcError(
                f"error: --force {unknown[0]}: the plan has no step '{unknown[0]}' (its steps: {', '.join(s['id'] for s in self.order)})",
                2,
            )
        self.forced = dependents(self.order, set(options.force))
        name = str(_plan_section(plan, "recipe.name") or "recipe")
        self.recipe_dir = options.runs_dir.resolve() / _safe(name)
        self.run_dir = self.recipe_dir / plan_hash(plan)
        self.cache_dir = self.recipe_dir / "cache"
        self.outcomes: dict[str, Outcome] = {}

    # -- state -----------------------------------------------------------------------------
    def _write_state(self, gate: dict | None = None) -> None:
        state = {
            "plan_hash": plan_hash(self.plan),
            "recipe": _plan_section(self.plan, "recipe.name"),
            "runtime_version": RUNTIME_VERSION,
            "steps": {sid: o.to_json() for sid, o in self.outcomes.items()},
        }
        if gate is not None:
            state["gate"] = gate
        atomic.write_json(self.run_dir / "state.json", state)

    def _link(self, step_id: str, target: Path) -> None:
        """``<plan-hash>/<step>`` points at the cache folder (relative, so the runs folder can move)."""
        link = self.run_dir / step_id
        tmp = self.run_dir / f".{step_id}.link"
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(target, self.run_dir), tmp)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(tmp, link)

    # -- running ---------------------------------------------------------------------------
    def run(self) -> RunResult:
        from filelock import FileLock, Timeout

        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.recipe_dir / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise FtcError(f"error: another `ftc run` is using {self.recipe_dir}; wait for it or use --runs-dir") from None
        try:
            # Saved with project_root relative to this folder: `ftc run <run>/plan.json` re-runs it.
            atomic.write_json(self.run_dir / "plan.json",
                              dict(self.plan, project_root=os.path.relpath(self.project_root, self.run_dir)))
            for step in self.order:
                self.outcomes[step["id"]] = self._run_one(step)
                self._write_state()
            gate = self._gate_result()
            self._write_state(gate)
            return RunResult(self.run_dir, self.outcomes, gate)
        finally:
            lock.release()

    def _gate_result(self) -> dict | None:
        for outcome in self.outcomes.values():
            if outcome.kind == "gate" and outcome.dir is not None:
                path = outcome.dir / "gate.json"
                if path.exists():
                    return json.loads(path.read_text(encoding="utf-8"))
        return None

    def _need_keys(self, step: dict) -> dict[str, str]:
        return {n: self.outcomes[n].ref for n in step.get("needs", [])}

    def _expect_files(self) -> str:
        files = sorted({str(e.get("args", {}).get("schema")) for e in self.plan.get("expects", [])
                        if e.get("args", {}).get("schema")})
        contents = {}
        for name in files:
            path = self.project_root / name
            contents[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return sha(contents)[:16]

    def _read_keys(self, step: dict) -> dict[str, str]:
        keys = {}
        for kind in _READS.get(step["kind"], ()):
            found = [o for o in self.outcomes.values() if o.kind == kind]
            if found:
                keys[kind] = found[-1].ref
        return keys

    def _run_one(self, step: dict) -> Outcome:
        sid, kind = step["id"], step["kind"]
        reads = self._read_keys(step)
        if step["kind"] in ("gate", "export"):
            reads["expect_files"] = self._expect_files()  # an edited JSON Schema re-runs the gate
        key = step_key(self.plan, step, self._need_keys(step), reads)
        skip_reason = self._skip_reason(step)
        if skip_reason:
            # A skipped step's key differs from a ran one's, so dependents never reuse results
            # computed when it did run.
            outcome = Outcome(sid, kind, "skipped", sha(["skipped", key])[:16], reason=skip_reason)
            self._announce(outcome)
            return outcome
        folder = self.cache_dir / f"{_safe(sid)}-{key}"
        if sid in self.forced and folder.exists():
            shutil.rmtree(folder)
        marker = folder / "step.json"
        if marker.exists():
            done = json.loads(marker.read_text(encoding="utf-8"))
            if done.get("key") == key:
                self._link(sid, folder)
                outcome = Outcome(sid, kind, "cached", key, folder, summary=done.get("summary", {}),
                                  output=done.get("output", ""))
                self._announce(outcome)
                return outcome
        return self._execute(step, key, folder)

    def _execute(self, step: dict, key: str, folder: Path) -> Outcome:
        sid, kind = step["id"], step["kind"]
        fn = self.steps.get(kind)
        if fn is None:
            raise FtcError(f"error: this runtime does not run step kind '{kind}' (step '{sid}')")
        folder.mkdir(parents=True, exist_ok=True)
        self._link(sid, folder)
        running = Outcome(sid, kind, "running", key, folder)
        self.outcomes[sid] = running
        self._write_state()
        if self.progress is not None:
            self.progress.step_started(sid, kind)
        ctx = Context(self.plan, step, folder, self.project_root, self.outcomes, self.options, self.run_dir, self.progress)
        start = time.monotonic()
        try:
            summary = fn(ctx) or {}
        except BaseException as err:
            running.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            running.seconds = time.monotonic() - start
            self._write_state()
            self._announce(running)  # "failed load": the error message that follows is about it
            raise
        seconds = time.monotonic() - start
        output = folder_digest(folder) if kind in _CONTENT_KEYED else ""
        atomic.write_json(folder / "step.json", {"id": sid, "kind": kind, "key": key, "seconds": round(seconds, 3),
                                                 "summary": summary, "output": output})
        outcome = Outcome(sid, kind, "ran", key, folder, seconds, summary=summary, output=output)
        self._announce(outcome)
        return outcome

    def _skip_reason(self, step: dict) -> str:
        if step.get("guard") not in (None, GUARD):
            raise FtcError(f"error: plan step '{step['id']}' has an unknown guard '{step.get('guard')}'")
        skipped_needs = [n for n in step.get("needs", []) if self.outcomes[n].status == "skipped"]
        if step.get("guard") == GUARD:
            if skipped_needs:
                return f"skipped because '{skipped_needs[0]}' was skipped"
            if self.guard is not None:
                baseline = next((o for o in self.outcomes.values() if o.kind == "baseline"), None)
                if baseline is not None:
                    ctx = Context(self.plan, step, baseline.dir or self.run_dir, self.project_root, self.outcomes,
                                  self.options, self.run_dir, self.progress)
                    met, why = self.guard(ctx)
                    if met:
                        return why
        return ""

    def _announce(self, outcome: Outcome) -> None:
        if self.progress is not None:
            self.progress.step_finished(outcome)


def _safe(name: str) -> str:
    """A recipe or step name as one path component."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "recipe"
