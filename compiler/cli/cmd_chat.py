"""`ftc chat RUN_OR_RECIPE`: ask what a run delivered (the promoted tune, or the prompted
baseline when nothing was promoted), prompted exactly as it was evaluated and exported.

RUN_OR_RECIPE is a run folder (``runs/<recipe>/<plan-hash>``), or a recipe (.ftr) or plan (.json)
whose run is found where `ftc run` put it (``--runs-dir``). ``--once TEXT`` answers one question
and exits, for scripts; otherwise an interactive prompt keeps the conversation until an empty line,
``/exit`` or end of input.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftc.shared.errors import FtcError


def find_run(target: Path, runs_dir: Path, allow_outside: bool) -> Path:
    """The run folder ``target`` names, or the one `ftc run TARGET` wrote."""
    if target.is_dir():
        if not (target / "plan.json").exists():
            raise FtcError(f"error: {target} is not a run folder (no plan.json); give runs/<recipe>/<plan-hash>", 2)
        return target
    if not target.exists():
        raise FtcError(f"error: {target}: no such run folder, recipe or plan file", 2)
    from ftc.compiler.cli.cmd_run import compile_recipe, read_checked_plan
    from ftc.runtime.executor import plan_hash, run_folder_name

    if target.suffix == ".ftr":
        plan, _root = compile_recipe(target, allow_outside)
    elif target.suffix == ".json":
        plan, _root = read_checked_plan(target, refresh=False, allow_outside=allow_outside)
    else:
        raise FtcError(f"error: {target}: expected a run folder, a recipe (.ftr) or a plan (.json)", 2)
    run_dir = runs_dir.resolve() / run_folder_name(plan) / plan_hash(plan)
    if not run_dir.is_dir():
        raise FtcError(f"error: {target} has not been run (no {run_dir}); run `ftc run {target}` first")
    return run_dir


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--once", "once", metavar="TEXT", help="Answer TEXT, print the answer and exit.")
@click.option(
    "--runs-dir",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Where `ftc run` put runs.",
)
@click.option("--allow-outside", is_flag=True, help="Allow data files outside the project folder.")
@click.option("--allow-download", is_flag=True, help="Allow downloading a missing model from the Hugging Face hub.")
def chat(target: Path, once: str | None, runs_dir: Path, allow_outside: bool, allow_download: bool) -> None:
    """Chat with a run's promoted tune (or its prompted baseline), prompted as exported."""
    from ftc.compiler.cli.cmd_run import quiet_libraries, require_runtime

    require_runtime()
    quiet_libraries()
    run_dir = find_run(target, runs_dir, allow_outside)
    from ftc.runtime.chat import open_session, reply

    session = open_session(run_dir, allow_download)
    if once is not None:
        click.echo(reply(session, [], once))
        return
    click.echo(f"Chatting with {session.what}. An empty line or /exit ends.", err=True)
    history: list[dict[str, str]] = []
    while True:
        try:
            question = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not question.strip() or question.strip() == "/exit":
            break
        answer = reply(session, history, question)
        click.echo(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


COMMANDS = [chat]
