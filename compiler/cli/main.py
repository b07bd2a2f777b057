"""The ``ftc`` command line. Each verb lives in its own ``cmd_*`` module; this file wires them up
and owns the exit-code contract: 0 clean, 1 errors, 2 usage or internal error (3: a run whose
tune was not promoted). No traceback reaches a user unless ``--debug`` is given.

Only light modules are imported here: ``ftc lint`` and ``ftc plan`` must start fast and never
load torch.
"""

from __future__ import annotations

import sys

import click

from ftc.shared.errors import FtcError


def issue_url() -> str | None:
    """Where to report a bug: the installed package's own "Issues" project URL, if it declares one
    (never a made-up address)."""
    from importlib import metadata

    try:
        urls: list[str] = metadata.metadata("ftc").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "bugs", "tracker"):
            return url.strip()
    return None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.version_option("0.1.0", prog_name="ftc")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ftc: a recipe compiler for customising open-weight language models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("target")
def explain(target: str) -> None:
    """Explain a diagnostic code (FTR101), a decision rule (R-PROMPT-FIRST), a block (train) or a key (train.lr, lr)."""
    click.echo(explain_text(target))


def explain_text(target: str) -> str:
    """Ask each registry in turn (codes, decision rules, the language's blocks and keys): their names
    never overlap, so the first answer is the only one. Unknown: exit 2 with a did-you-mean."""
    from ftc.compiler.lang import codes, language
    from ftc.compiler.lang.suggest import did_you_mean
    from ftc.compiler.plan import rules

    for lookup in (codes.explain, rules.explain, language.explain):
        text = lookup(target)
        if text is not None:
            return text
    known = [*codes.names(), *rules.BY_ID, *language.names()]
    guess = did_you_mean(target.strip(), known)
    hint = f"; did you mean `{guess}`?" if guess else ""
    shown = target if len(target) <= 60 else target[:57] + "..."  # a pasted file is not echoed back whole
    raise FtcError(
        f"error: no diagnostic code, rule, block or key named '{shown}'{hint}\n"
        "see `ftc rules`, docs/diagnostics.md and docs/language.md",
        2,
    )


@cli.command()
@click.argument("what", type=click.Choice(["plan", "data"]))
@click.argument("fmt", required=False)
def schema(what: str, fmt: str | None) -> None:
    """Print a JSON Schema: `ftc schema plan` or `ftc schema data FORMAT`."""
    import json

    if what == "plan":
        if fmt is not None:
            raise FtcError(f"error: `ftc schema plan` takes no second argument (got '{fmt[:60]}')", 2)
        from ftc.compiler.plan.schema import plan_schema

        doc = plan_schema()
    else:
        from ftc.runtime.data.schemas import format_schema, schema_names

        if fmt not in schema_names():  # the formats, then the peers' shapes the loader accepts
            raise FtcError(f"error: `ftc schema data` takes one of {', '.join(schema_names())}", 2)

        doc = format_schema(fmt)
    click.echo(json.dumps(doc, indent=2, sort_keys=True))


def _register() -> None:
    from ftc.compiler.cli import (
        cmd_chat,
        cmd_data,
        cmd_device,
        cmd_import,
        cmd_init,
        cmd_lang,
        cmd_lsp,
        cmd_plan,
        cmd_pr,
        cmd_run,
    )

    modules = (cmd_lang, cmd_plan, cmd_data, cmd_run, cmd_chat, cmd_import, cmd_init, cmd_pr, cmd_lsp, cmd_device)
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        _register()
        rv = cli.main(args=args, prog_name="ftc", standalone_mode=False)
        # ctx.exit(code) comes back as the return value when standalone_mode is off
        return rv if isinstance(rv, int) else 0
    except FtcError as err:
        click.echo(err.message, err=True)
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # noqa: BLE001 - the one place that turns bugs into one line
        if debug:
            raise
        url = issue_url()
        where = f"; please report it at {url}" if url else ""
        click.echo(
            f"internal error: {type(err).__name__}: {err}\n"
            f"This is a bug in ftc{where} (re-run with --debug for the traceback).",
            err=True,
        )
        return 2


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
