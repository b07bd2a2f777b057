"""The executor: runs a plan's steps in dependency order, cached by content hash, resumable.

Layout (``runs_dir`` defaults to ``./runs``)::

    runs/<recipe>/<plan-hash>/plan.json      the plan this folder ran
    runs/<recipe>/<plan-hash>/state.json     every step: status, cache key, folder, seconds
    runs/<recipe>/<plan-hash>/<step>   ->    ../cache/<step>-<key>/   (a relative symlink)
    runs/<recipe>/cache/<step>-<key>/        the step's outputs + step.json (the "finished" marker)

Why step folders are keyed by their own cache key and not by the plan hash: an edit to the eval
block changes the plan hash but not the train step's inputs, so the new plan folder must reuse
the trained adapter. A step's key comes from its kind's ``StepSpec`` (``ftc.runtime.steps.spec``):
the plan sections it declares, its config, the keys of the steps it needs and of the earlier
steps whose outputs it reads, and its version, so a change flows exactly to its dependents. The
step sees the plan only through a ``PlanView`` of those declared sections.

A step is finished when its folder holds ``step.json`` with the same key and every output file
it lists is still there unchanged (written last, atomically). A killed run leaves a folder
without it; the next run re-enters the same folder, which is how training finds its checkpoints
and resumes. A damaged folder (a truncated output or ``step.json``) is run again, with a line
saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc.runtime import outputs, timing
from ftc.runtime.plan_view import MISSING, PlanView, UndeclaredRead, keyed, lookup
from ftc.runtime.steps.spec import StepSpec
from ftc.shared import atomic
from ftc.shared.contract import GUARD
from ftc.shared.errors import FtcError

# Bump when the cache key's recipe changes: every key changes with it. 2: keys come from step specs.
RUNTIME_VERSION = "2"


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
    output: str = ""  # the content digest of a content-keyed step's outputs (data steps)
    work: dict = field(default_factory=dict)  # seconds inside the trainer / generator (ftc.runtime.timing)
    peak_rss_bytes: int | None = None  # this step's own peak, when the OS can tell
    cpu_seconds: float | None = None  # CPU time (all threads): steadier than wall on a shared machine

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
            **({"work_seconds": self.work} if self.work else {}),
            **({"peak_rss_bytes": self.peak_rss_bytes} if self.peak_rss_bytes else {}),
            **({"cpu_seconds": round(self.cpu_seconds, 3)} if self.cpu_seconds is not None else {}),
        }


@dataclass(frozen=True)
class RunOptions:
    runs_dir: Path = Path("runs")
    force: tuple[str, ...] = ()
    allow_download: bool = False


@dataclass
class Context:
    """Everything a step function gets: the plan (a ``PlanView`` of its declared sections when the
    executor builds it), its folder, and what ran before it. With a ``spec``, reading an earlier
    step that the spec does not declare in ``needs_outputs_of`` raises ``UndeclaredRead``."""

    plan: Any  # PlanView (or a plain dict, for a hand-built Context in a test)
    step: dict
    dir: Path
    project_root: Path
    outcomes: dict[str, Outcome]
    options: RunOptions
    run_dir: Path
    progress: Any = None  # ftc.runtime.progress.RunProgress or None
    spec: StepSpec | None = None

    @property
    def config(self) -> dict:
        return self.step.get("config") or {}

    def by_kind(self, kind: str) -> Outcome | None:
        """The (last) earlier step of a kind, e.g. ``ctx.by_kind("split").dir``."""
        self._check_reads(kind)
        found = [o for o in self.outcomes.values() if o.kind == kind]
        return found[-1] if found else None

    def last_of(self, kinds: Iterable[str]) -> Outcome | None:
        """The latest (in run order) finished step among ``kinds`` (ran or cached), or None."""
        kinds = tuple(kinds)
        for kind in kinds:
            self._check_reads(kind)
        done = [o for o in self.outcomes.values() if o.kind in kinds and o.status in ("ran", "cached")]
        return done[-1] if done else None

    def need_dir(self, kind: str) -> Path:
        outcome = self.by_kind(kind)
        if outcome is None or outcome.dir is None or outcome.status == "skipped":
            raise FtcError(f"error: step '{self.step['id']}' needs a finished '{kind}' step, and the plan has none")
        return outcome.dir

    def _check_reads(self, kind: str) -> None:
        if self.spec is not None and kind not in self.spec.needs_outputs_of:
            raise UndeclaredRead(
                f"internal error: step {self.step.get('id')} ({self.spec.kind}) read the outputs of '{kind}', which "
                f"its step spec does not declare in needs_outputs_of ({', '.join(self.spec.needs_outputs_of) or 'none'})"
            )


@dataclass
class RunResult:
    run_dir: Path
    outcomes: dict[str, Outcome]
    gate: dict | None

    @property
    def promoted(self) -> bool:
        return bool(self.gate and self.gate.get("passed"))


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


# What a plan says about the work's time and about the machine, not the work itself: left out of
# the run folder's name (the rules' reasons and the warnings quote the estimated minutes).
EXPLANATION_KEYS = ("project_root", "estimates", "rules", "warnings", "device")
ESTIMATE_ONLY_DEVICE_KEYS = ("assumption", "peak_flops", "utilisation", "profile")


def plan_hash(plan: dict) -> str:
    """The run folder's name: what the run does. ``project_root`` is left out (the same plan run
    from a moved or re-cloned project is the same plan), and so are the estimates, the device's
    rates and what quotes them (the rules' reasons, the warnings): the same work planned on another
    machine, or after ``ftc device profile`` measured this one, runs in the same folder and shows
    the same hash in its report."""
    device = {k: v for k, v in (plan.get("device") or {}).items() if k not in ESTIMATE_ONLY_DEVICE_KEYS}
    kept = {k: v for k, v in plan.items() if k not in EXPLANATION_KEYS}
    return sha({**kept, "device": device})[:12]


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
    value = lookup(plan, dotted)
    return None if value is MISSING else value


def step_key(
    plan: dict,
    step: dict,
    spec: StepSpec,
    need_refs: Mapping[str, str],
    input_refs: Mapping[str, str],
    files: str | None = None,
) -> str:
    """The cache key: the spec's declared plan reads, the step's config and guard, the refs of the
    steps it needs and of the earlier steps it reads, the files its reads name, its version."""
    return sha(
        {
            "runtime": RUNTIME_VERSION,
            "kind": step["kind"],
            "version": spec.version,
            "config": step.get("config") or {},
            "guard": step.get("guard"),
            "reads": {name: _none_if_missing(keyed(plan, name)) for name in spec.reads},
            "needs": {n: need_refs[n] for n in sorted(step.get("needs", []))},
            "inputs": dict(input_refs),
            "files": files,
        }
    )[:16]


def _none_if_missing(value: Any) -> Any:
    return None if value is MISSING else value


def expect_files_digest(plan: dict, root: Path) -> str:
    """The content of the files the expects name (JSON Schemas, judge rubrics): an edit re-scores."""
    args = [e.get("args", {}) for e in plan.get("expects", [])]
    schemas = {str(a["schema"]) for a in args if a.get("schema")}
    # A judge's rubric is text or a file; only a file has content to digest.
    rubrics = {str(a["rubric"]) for a in args if a.get("rubric") and "\n" not in str(a["rubric"])}
    files = sorted(schemas | {r for r in rubrics if _is_file(root / r)})
    contents = {}
    for name in files:
        path = root / name
        contents[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return sha(contents)[:16]


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a rubric text no file system can name
        return False


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
    """Runs one plan. ``steps`` maps a step kind to its spec (``ftc.runtime.steps.STEPS``);
    ``guard`` is the spec of the guard on tuning steps (``ftc.runtime.steps.GUARD``)."""

    def __init__(
        self,
        plan: dict,
        project_root: Path,
        options: RunOptions,
        steps: Mapping[str, StepSpec],
        progress: Any = None,
        guard: StepSpec | None = None,
    ) -> None:
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
        self.recipe_dir = options.runs_dir.resolve() / run_folder_name(plan)
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
        """``<plan-hash>/<step>`` points at the cache folder (relative, so the runs folder can move).
        A symlink has no atomic helper: it is made under a temp name and renamed over the old one."""
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
            raise FtcError(
                f"error: another `ftc run` is using {self.recipe_dir}; wait for it or use --runs-dir"
            ) from None
        try:
            # Saved with project_root relative to this folder: `ftc run <run>/plan.json` re-runs it.
            atomic.write_json(
                self.run_dir / "plan.json",
                dict(self.plan, project_root=os.path.relpath(self.project_root, self.run_dir)),
            )
            for step in self.order:
                self.outcomes[step["id"]] = self._run_one(step)
                self._write_state()
            gate = self._gate_result()
            self._write_state(gate)
            return RunResult(self.run_dir, self.outcomes, gate)
        finally:
            timing.thaw()
            lock.release()

    def _gate_result(self) -> dict | None:
        for outcome in self.outcomes.values():
            if outcome.kind == "gate" and outcome.dir is not None:
                path = outcome.dir / "gate.json"
                if path.exists():
                    return json.loads(path.read_text(encoding="utf-8"))
        return None

    def spec_of(self, step: dict) -> StepSpec:
        spec = self.steps.get(step["kind"])
        if spec is None:
            raise FtcError(f"error: this runtime does not run step kind '{step['kind']}' (step '{step['id']}')")
        return spec

    def key_of(self, step: dict, spec: StepSpec) -> str:
        need_refs = {n: self.outcomes[n].ref for n in step.get("needs", [])}
        input_refs = {}
        for kind in spec.needs_outputs_of:
            found = [o for o in self.outcomes.values() if o.kind == kind]
            if found:
                input_refs[kind] = found[-1].ref
        files = expect_files_digest(self.plan, self.project_root) if spec.reads_expects else None
        return step_key(self.plan, step, spec, need_refs, input_refs, files)

    def _run_one(self, step: dict) -> Outcome:
        sid, kind = step["id"], step["kind"]
        spec = self.spec_of(step)
        key = self.key_of(step, spec)
        skip_reason = self._skip_reason(step, spec)
        if skip_reason:
            # A skipped step's key differs from a ran one's, so dependents never reuse results
            # computed when it did run.
            outcome = Outcome(sid, kind, "skipped", sha(["skipped", key])[:16], reason=skip_reason)
            self._announce(outcome)
            return outcome
        folder = self.cache_dir / f"{_safe(sid)}-{key}"
        if sid in self.forced and folder.exists():
            shutil.rmtree(folder)
        done, damaged = self._finished(folder, key)
        if done is not None:
            self._link(sid, folder)
            outcome = Outcome(
                sid, kind, "cached", key, folder, summary=done.get("summary", {}), output=done.get("output") or ""
            )
            self._announce(outcome)
            return outcome
        return self._execute(step, spec, key, folder, damaged)

    def _finished(self, folder: Path, key: str) -> tuple[dict | None, str]:
        """(step.json, "") when ``folder`` holds this key's finished, undamaged outputs; else
        (None, why it must run again), the reason empty for a step that never finished."""
        marker = folder / outputs.MARKER
        if not marker.exists():
            return None, ""
        try:
            done = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            done = None
        if not isinstance(done, dict):
            return None, "its step.json is unreadable (truncated?)"
        if done.get("key") != key:
            return None, "its step.json belongs to another cache key"
        why = outputs.damage(folder, done.get("files"))
        return (done, "") if not why else (None, why)

    def _execute(self, step: dict, spec: StepSpec, key: str, folder: Path, damaged: str = "") -> Outcome:
        sid, kind = step["id"], step["kind"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / outputs.MARKER).unlink(missing_ok=True)  # a damaged step is unfinished until it ends again
        self._link(sid, folder)
        running = Outcome(sid, kind, "running", key, folder)
        self.outcomes[sid] = running
        self._write_state()
        if self.progress is not None:
            self.progress.step_started(sid, kind)
            if damaged:
                self.progress.note(f"its cached result is damaged, running it again: {damaged}")
        timing.take()  # work counted outside a step (a guard, the plan) is not this step's
        timing.release_memory()  # before the step's context exists: it is not frozen with the rest
        timing.reset_peak_rss()
        ctx = self.context(step, spec, folder)
        start, cpu_start = time.monotonic(), time.process_time()
        try:
            summary = spec.fn(ctx) or {}
        except BaseException as err:
            running.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            running.seconds = time.monotonic() - start
            self._write_state()
            self._announce(running)  # "failed load": the error message that follows is about it
            raise
        seconds = time.monotonic() - start
        work, peak, cpu = timing.take(), timing.peak_rss_bytes(), time.process_time() - cpu_start
        files = outputs.manifest(folder, spec.scratch)
        output = sha(files)[:16] if spec.content_keyed else ""
        atomic.write_json(
            folder / outputs.MARKER,
            {
                "id": sid,
                "kind": kind,
                "key": key,
                "seconds": round(seconds, 3),
                "work_seconds": work,
                "peak_rss_bytes": peak,
                "cpu_seconds": round(cpu, 3),
                "summary": summary,
                "output": output,
                "files": files,
            },
        )
        outcome = Outcome(
            sid,
            kind,
            "ran",
            key,
            folder,
            seconds,
            summary=summary,
            output=output,
            work=work,
            peak_rss_bytes=peak,
            cpu_seconds=cpu,
        )
        self._announce(outcome)
        return outcome

    def context(self, step: dict, spec: StepSpec, folder: Path) -> Context:
        """The Context a step (or the guard) runs with: the plan narrowed to the spec's reads."""
        view = PlanView(self.plan, spec.reads, f"'{step['id']}' ({spec.kind})")
        return Context(
            view, step, folder, self.project_root, self.outcomes, self.options, self.run_dir, self.progress, spec
        )

    def _skip_reason(self, step: dict, spec: StepSpec) -> str:
        if step.get("guard") not in (None, GUARD):
            raise FtcError(f"error: plan step '{step['id']}' has an unknown guard '{step.get('guard')}'")
        if step.get("guard") == GUARD and not spec.guarded:
            raise FtcError(f"error: plan step '{step['id']}' is guarded, but a '{spec.kind}' step cannot be skipped")
        skipped_needs = [n for n in step.get("needs", []) if self.outcomes[n].status == "skipped"]
        if step.get("guard") == GUARD:
            if skipped_needs:
                return f"skipped because '{skipped_needs[0]}' was skipped"
            if self.guard is not None:
                baseline = next((o for o in self.outcomes.values() if o.kind == "baseline"), None)
                if baseline is not None:
                    met, why = self.guard.fn(self.context(step, self.guard, baseline.dir or self.run_dir))
                    if met:
                        return why
        return ""

    def _announce(self, outcome: Outcome) -> None:
        if self.progress is not None:
            self.progress.step_finished(outcome)


def run_folder_name(plan: dict) -> str:
    """The recipe's folder under the runs folder: ``runs/<this>/<plan-hash>``."""
    return _safe(str(_plan_section(plan, "recipe.name") or "recipe"))


def _safe(name: str) -> str:
    """A recipe or step name as one path component."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "recipe"
