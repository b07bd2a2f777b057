"""`ftc run RECIPE.ftr | PLAN.json`: compile (for a recipe), check the data lock, run the plan.

Exit codes: 0 promoted (or the prompt is the deliverable), 3 not promoted (a verdict, not a crash:
the report says why), 1 errors, 2 usage. Heavy imports happen inside the command, so the CLI
still starts fast for `ftc lint` / `ftc plan`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ftc.shared.errors import FtcError

EXIT_NOT_PROMOTED = 3


def lock_digest(path: Path, fmt: str, glob: str = "**/*") -> str:
    """The data lock of one input, computed exactly as the planner wrote it (compiler.facts):
    a file's sha256; for a folder (documents, a `datasets` folder) one digest over its files."""
    from ftc.compiler.plan import facts

    if fmt == "documents":
        files, base = ([path], path.parent) if path.is_file() else (sorted(p for p in path.glob(glob) if p.is_file()), path)
        return facts.tree_digest(base, files)[0]
    if path.is_dir():
        return facts.tree_digest(path, sorted(path.rglob("*.arrow")))[0]
    return facts.sha256_file(path)


def _globs(plan: dict) -> dict[str, str]:
    """Each source's glob, from the load step's config (documents folders only)."""
    out = {}
    for step in plan.get("steps", []):
        if step.get("kind") == "load":
            for src in (step.get("config") or {}).get("sources", []):
                out[src["name"]] = src.get("glob") or "**/*"
    return out


def project_root(plan: dict, plan_path: Path | None) -> Path:
    from ftc.compiler.plan.io import project_root_of

    return project_root_of(plan, plan_path)


def stale_inputs(plan: dict, root: Path) -> list[str]:
    """Inputs whose files changed (or vanished) since the plan was written, as messages."""
    problems = []
    globs = _globs(plan)
    for item in plan.get("inputs", []):
        path = root / item["path"]
        if not path.exists():
            problems.append(f"{item['path']}: the file is gone (data source '{item['name']}')")
        elif lock_digest(path, item.get("format", ""), globs.get(item["name"], "**/*")) != item.get("sha256"):
            problems.append(f"{item['path']}: changed since the plan was written (data source '{item['name']}')")
    return problems


def refresh_lock(plan: dict, root: Path) -> dict:
    globs = _globs(plan)
    inputs = [dict(item, sha256=lock_digest(root / item["path"], item.get("format", ""), globs.get(item["name"], "**/*")))
              for item in plan.get("inputs", [])]
    return dict(plan, inputs=inputs)


def check_inside(plan: dict, root: Path) -> None:
    """A plan's data paths stay inside its project unless --allow-outside (design section 8)."""
    for item in plan.get("inputs", []):
        path = (root / item["path"]).resolve()
        if not path.is_relative_to(root):
            raise FtcError(f"error: data source '{item['name']}' ({item['path']}) lies outside the project "
                           f"{root}; pass --allow-outside to allow it", 2)


def _prepare_base(name: str, allow_download: bool) -> None:
    """Resolve (for the embedded model: convert, once) the base model before planning, so the
    planner always measures the data with the model's own tokenizer and reads its config. A plan
    compiled before the conversion and one compiled after would otherwise differ (chars/4 vs
    tokenizer lengths -> another max_length), and the second `ftc run` would train again."""
    from ftc.runtime.models import resolve_model

    resolve_model(name, allow_download=allow_download)


def compile_recipe(path: Path, allow_outside: bool, allow_download: bool = False) -> tuple[dict, Path]:
    """Recipe -> plan dict and its project root, through the one compile path `ftc plan` uses; the
    planner's warnings are printed, as `ftc plan` prints them."""
    from ftc.compiler.lang.diagnostics import render
    from ftc.compiler.plan.compile import compile_recipe as compile_

    compiled = compile_(path, allow_outside=allow_outside, command="ftc run",
                        before_plan=lambda recipe: _prepare_base(recipe.base.name, allow_download))
    if compiled.diagnostics:
        click.echo(render(list(compiled.diagnostics)), err=True, nl=False)
    return compiled.plan, compiled.root


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--force", "force", multiple=True, metavar="STEP", help="Re-run STEP (and what depends on it) even if cached.")
@click.option("--refresh", is_flag=True, help="Accept changed data files: update the plan's data lock and go on.")
@click.option("--allow-download", is_flag=True, help="Allow downloading a missing model from the Hugging Face hub.")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where run folders go: RUNS/<recipe>/<plan-hash>/.")
@click.option("--allow-outside", is_flag=True, help="Allow data files outside the project folder.")
@click.option("--quiet", "-q", is_flag=True, help="Only the final summary.")
def run(target: Path, force: tuple[str, ...], refresh: bool, allow_download: bool, runs_dir: Path,
        allow_outside: bool, quiet: bool) -> None:
    """Run a recipe (compiled first) or a saved plan: data, baseline, train, eval, gate, export."""
    if not target.exists():
        raise FtcError(f"error: {target}: no such recipe or plan file", 2)
    _quiet_libraries()
    if target.suffix == ".ftr":
        plan, root = compile_recipe(target, allow_outside, allow_download)
    elif target.suffix == ".json":
        from ftc.compiler.plan.io import read_plan

        plan = read_plan(target)
        root = project_root(plan, target)
        stale = stale_inputs(plan, root)
        if stale and not refresh:
            raise FtcError("error: the plan's data lock no longer matches the files:\n  " + "\n  ".join(stale)
                           + f"\nhint: re-plan the recipe, or run `ftc run {target} --refresh` to accept the new data")
        if stale:
            plan = refresh_lock(plan, root)
    else:
        raise FtcError(f"error: {target}: expected a recipe (.ftr) or a plan (.json)", 2)
    if not allow_outside:
        check_inside(plan, root)
    code = _execute(plan, root, runs_dir, force, allow_download, quiet)
    if code:
        raise click.exceptions.Exit(code)


def _sigterm_is_an_interrupt() -> None:
    """`kill PID` (and CI cancelling a job) ends the run like Ctrl-C: the running step is marked
    interrupted in state.json and the next `ftc run` resumes it."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _execute(plan: dict, root: Path, runs_dir: Path, force: tuple[str, ...], allow_download: bool, quiet: bool) -> int:
    from ftc.runtime.executor import Executor, RunOptions
    from ftc.runtime.progress import RunProgress
    from ftc.runtime.steps import GUARD, STEPS

    _sigterm_is_an_interrupt()
    progress = RunProgress(quiet=quiet)
    options = RunOptions(runs_dir=runs_dir, force=force, allow_download=allow_download)
    executor = Executor(plan, root, options, STEPS, progress=progress, guard=GUARD)
    result = executor.run()
    export = result.run_dir / "export"
    metrics = None
    if (export / "metrics.json").exists():
        metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    progress.summary(result, export / "report.html" if (export / "report.html").exists() else None, metrics)
    return 0 if result.promoted else EXIT_NOT_PROMOTED


COMMANDS = [run]


def _quiet_libraries() -> None:
    """ftc draws its own progress; the libraries' bars and deprecation notices only clutter a CI log.
    Set before torch and friends are imported by the steps."""
    import os
    import warnings

    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(trl|peft|transformers)\..*")
