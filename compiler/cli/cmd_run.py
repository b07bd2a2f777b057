"""`ftc run RECIPE.ftr | PLAN.json`: compile (for a recipe), check the data lock, run the plan.

Exit codes: 0 promoted (or the prompt is the deliverable), 3 not promoted (a verdict, not a crash:
the report says why), 1 errors, 2 usage. Heavy imports happen inside the command, so the CLI
still starts fast for `ftc lint` / `ftc plan`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ftc.shared.errors import FtcError

if TYPE_CHECKING:
    from ftc.compiler.plan.io import Plan

EXIT_NOT_PROMOTED = 3
# What `pip install 'ftc[run]'` adds; `ftc lint`/`plan`/`fmt` need none of it.
RUNTIME_MODULES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "safetensors")


def require_runtime() -> None:
    """`ftc run` on an install without the runtime extra: say which command installs it."""
    import importlib.util

    missing = [name for name in RUNTIME_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise FtcError(
            f"error: `ftc run` needs the runtime, which is not installed (missing: {', '.join(missing)})\n"
            "hint: pip install 'ftc[run]'  (with a GPU, install the CUDA build of torch first)",
            2,
        )


def _prepare_base(name: str, allow_download: bool) -> None:
    """Resolve (for the embedded model: convert, once) the base model before planning, so the
    planner always measures the data with the model's own tokenizer and reads its config. A plan
    compiled before the conversion and one compiled after would otherwise differ (chars/4 vs
    tokenizer lengths -> another max_length), and the second `ftc run` would train again."""
    from ftc.runtime.models import resolve_model

    if allow_download:  # the planner may then fetch a hub dataset that is not cached, as the model
        import os

        from ftc.compiler.plan.facts import ALLOW_DOWNLOAD_ENV

        os.environ[ALLOW_DOWNLOAD_ENV] = "1"
    resolve_model(name, allow_download=allow_download)


def compile_recipe(path: Path, allow_outside: bool, allow_download: bool = False) -> tuple[Plan, Path]:
    """Recipe -> plan dict and its project root, through the one compile path `ftc plan` uses; the
    planner's warnings are printed, as `ftc plan` prints them."""
    from ftc.compiler.lang.diagnostics import render
    from ftc.compiler.plan.compile import compile_recipe as compile_

    compiled = compile_(
        path,
        allow_outside=allow_outside,
        command="ftc run",
        before_plan=lambda recipe: _prepare_base(recipe.base.name, allow_download),
    )
    if compiled.diagnostics:
        click.echo(render(list(compiled.diagnostics)), err=True, nl=False)
    return compiled.plan, compiled.root


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--force", "force", multiple=True, metavar="STEP", help="Re-run STEP (and what depends on it) even if cached."
)
@click.option("--refresh", is_flag=True, help="Accept changed data files: update the plan's data lock and go on.")
@click.option(
    "--allow-download", is_flag=True, help="Allow downloading a missing model or hub dataset from the Hugging Face Hub."
)
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where run folders go: RUNS/<recipe>/<plan-hash>/.",
)
@click.option("--allow-outside", is_flag=True, help="Allow data files outside the project folder.")
@click.option("--quiet", "-q", is_flag=True, help="Only the final summary.")
@click.option(
    "--node-rank",
    type=click.IntRange(min=0),
    default=None,
    metavar="K",
    help="On a plan for several nodes: run node K's processes (rendezvous at FTC_MAIN_ADDR:FTC_MAIN_PORT).",
)
def run(
    target: Path,
    force: tuple[str, ...],
    refresh: bool,
    allow_download: bool,
    runs_dir: Path,
    allow_outside: bool,
    quiet: bool,
    node_rank: int | None,
) -> None:
    """Run a recipe (compiled first) or a saved plan: data, baseline, train, eval, gate, export."""
    if not target.exists():
        raise FtcError(f"error: {target}: no such recipe or plan file", 2)
    check_runs_dir(runs_dir)
    if node_rank is not None:
        import os

        os.environ["FTC_NODE_RANK"] = str(node_rank)  # read by ftc.runtime.launch in the training steps
    require_runtime()
    quiet_libraries()
    from ftc.compiler.plan.lock import check_paths

    if target.suffix == ".ftr":
        plan, root = compile_recipe(target, allow_outside, allow_download)
        check_paths(plan, root, allow_outside)
    elif target.suffix == ".json":
        plan, root = read_checked_plan(target, refresh, allow_outside)
    else:
        raise FtcError(f"error: {target}: expected a recipe (.ftr) or a plan (.json)", 2)
    from ftc.runtime.launch import check_machine
    from ftc.runtime.preflight import check_runnable

    check_machine(plan, node_rank or 0)
    check_runnable(plan, allow_download)
    code = _execute(plan, root, runs_dir, force, allow_download, quiet)
    if code:
        raise click.exceptions.Exit(code)


def check_runs_dir(runs_dir: Path) -> None:
    """``--runs-dir`` must be a folder or a path one can be made at: a file there (or above it)
    would otherwise fail as an internal error once the run starts. A usage error, exit 2."""
    for folder in (runs_dir, *runs_dir.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise FtcError(f"error: --runs-dir: {folder} is not a folder", 2)
            return


def read_checked_plan(target: Path, refresh: bool, allow_outside: bool) -> tuple[Plan, Path]:
    """A plan file, validated, its paths checked against its project, then its data lock."""
    from ftc.compiler.plan.io import read_plan
    from ftc.compiler.plan.lock import check_paths, plan_root, refresh_lock, stale_inputs

    plan = read_plan(target)
    root = plan_root(plan, target, allow_outside)
    check_paths(plan, root, allow_outside)
    stale = stale_inputs(plan, root)
    if stale and not refresh:
        raise FtcError(
            "error: the plan's data lock no longer matches the files:\n  "
            + "\n  ".join(stale)
            + f"\nhint: re-plan the recipe, or run `ftc run {target} --refresh` to accept the new data"
        )
    return (refresh_lock(plan, root) if stale else plan), root


def _sigterm_is_an_interrupt() -> None:
    """`kill PID` (and CI cancelling a job) ends the run like Ctrl-C: the running step is marked
    interrupted in state.json and the next `ftc run` resumes it. SIGINT gets Python's own handler
    back too: a process started in the background by a shell inherits SIGINT ignored, and then
    `kill -INT` (or a CI runner's Ctrl-C) would be lost."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _execute(plan: Plan, root: Path, runs_dir: Path, force: tuple[str, ...], allow_download: bool, quiet: bool) -> int:
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


def quiet_libraries() -> None:
    """ftc draws its own progress; the libraries' bars and deprecation notices only clutter a CI log.
    Set before torch and friends are imported by the steps."""
    import os
    import warnings

    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # e.g. transformers' GGUF loader's bar (the export's read-back)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(trl|peft|transformers)\..*")
