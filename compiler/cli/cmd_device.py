"""``ftc device profile`` (measure this CPU's rates for the plan's estimates) and ``ftc device
show`` (which profile plans use, and whether it is usable). The measurement is runtime code,
imported only when asked for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ftc.shared import device_profile
from ftc.shared.errors import FtcError


@click.group()
def device() -> None:
    """This machine's measured rates, which the plan's time estimates use on a CPU."""


@device.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the profile (default: $FTC_HOME/device/cpu.json, where plans look).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
def profile(out: str | None, as_json: bool) -> None:
    """Measure a LoRA step, a prompt prefill and greedy decoding of the embedded model on this CPU
    (about a minute and a half) and save them: later plans estimate with them. FTC_NUM_THREADS applies as in
    `ftc run`."""
    from ftc.compiler.cli.cmd_run import quiet_libraries, require_runtime

    target = Path(out).expanduser() if out else device_profile.default_path()
    if out:  # never over a recipe or data file given by mistake
        from ftc.compiler.cli.outputs import check_output, is_device_profile

        check_output("--out", target, ".json", "a device profile", is_device_profile)
    require_runtime()  # the measurement trains and generates: it needs `pip install 'ftc[run]'`
    quiet_libraries()
    from ftc.runtime.device_profile import measure
    from ftc.shared import atomic

    _check_writable(target)  # before a minute of measuring, not after
    say = (lambda _: None) if as_json else (lambda text: click.echo(f"  {text} ...", err=True))
    result = measure(say)
    atomic.write_json(target, result)
    parsed = device_profile.parse(target.read_bytes(), str(target))  # what plans will read
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(parsed.describe())
    click.echo(f"saved to {target}" + _used_note(target))


def _check_writable(target: Path) -> None:
    import tempfile

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as err:
        raise FtcError(f"error: cannot write the profile to {target}: {err.strerror or err}", 2) from None


def _used_note(target: Path) -> str:
    wanted = device_profile.wanted_path()
    if wanted is None:
        return f"; plans ignore it while {device_profile.ENV}=off"
    if wanted.resolve() != target.resolve():
        how = (
            f"{device_profile.ENV} names it" if bool(os.environ.get(device_profile.ENV, "").strip()) else "the default"
        )
        return f"; plans read {wanted} instead ({how})"
    return "; plans for a CPU now estimate with it"


@device.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(as_json: bool) -> None:
    """Which device profile a CPU plan uses, or why none."""
    wanted = device_profile.wanted_path()
    found, problem = device_profile.load()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(wanted) if wanted else None,
                    "used": found is not None,
                    "problem": problem,
                    "profile": json.loads(Path(found.path).read_bytes()) if found else None,
                },
                indent=2,
            )
        )
    elif found is not None:
        click.echo(found.describe())
    elif problem:
        click.echo(problem)
    elif wanted is None:
        click.echo(f"{device_profile.ENV}=off: CPU plans use the reference machine's constants")
    else:
        click.echo(
            f"no device profile at {wanted}: CPU plans use the reference machine's constants; "
            "`ftc device profile` measures this machine"
        )
    if problem:
        click.get_current_context().exit(1)


COMMANDS = [device]
