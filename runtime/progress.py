"""What a person watching ``ftc run`` sees: one line per step, rich progress bars for generation and
training (loss, tokens/s, ETA), and a one-screen summary with the verdict and the report's path.

Everything goes to stderr so stdout stays clean for tools; without a terminal (CI logs, tests)
rich prints plain lines instead of redrawing bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

_STATUS_STYLE = {"ran": "green", "cached": "cyan", "skipped": "yellow", "failed": "red", "interrupted": "red"}


class RunProgress:
    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.quiet = quiet

    # -- steps -----------------------------------------------------------------------------
    def step_started(self, step_id: str, kind: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold]>[/bold] {step_id} ({kind}) ...")

    def step_finished(self, outcome: Any) -> None:
        if self.quiet:
            return
        style = _STATUS_STYLE.get(outcome.status, "white")
        extra = f" {outcome.seconds:.1f}s" if outcome.status == "ran" else ""
        why = f" - {outcome.reason}" if outcome.reason else ""
        self.console.print(f"  [{style}]{outcome.status}[/{style}] {outcome.id}{extra}{why}")

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(f"    {text}")

    # -- bars ------------------------------------------------------------------------------
    def _bar(self, *extra: Any) -> Progress:
        return Progress(
            TextColumn("    {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            *extra,
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            disable=self.quiet,
        )

    @contextmanager
    def generation(self, description: str) -> Iterator[Callable[[int, int], None]]:
        """A ``progress(done, total)`` callback for ``ftc.runtime.generate.generate``."""
        with self._bar() as bar:
            task = bar.add_task(description, total=None)

            plain = self._plain_lines(description)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                plain(done, total, "")

            yield update

    @contextmanager
    def training(self, description: str = "train") -> Iterator[Any]:
        """A ``transformers.TrainerCallback`` that drives a bar with loss, tokens/s and ETA."""
        with self._bar(TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s")) as bar:
            task = bar.add_task(description, total=None, loss="-", tps="-")
            yield _trainer_callback(bar, task, self._plain_lines(description))

    def _plain_lines(self, description: str) -> Callable[[int, int, str], None]:
        """Without a terminal (CI logs, `| tee`) rich draws no live bar: print a line at every
        tenth of the work instead, so a long step is visibly alive."""
        printed = {"tenth": -1}
        start = time.monotonic()

        def line(done: int, total: int, extra: str) -> None:
            if self.quiet or self.console.is_terminal or not total:
                return
            tenth = done * 10 // total
            if tenth > printed["tenth"]:
                printed["tenth"] = tenth
                self.console.print(
                    f"    {description}: {done}/{total}{extra} ({time.monotonic() - start:.0f}s)",
                    markup=False,
                    highlight=False,
                )

        return line

    # -- the end ---------------------------------------------------------------------------
    def summary(self, result: Any, report_html: Path | None, metrics: dict | None) -> None:
        gate = result.gate or {}
        verdict = gate.get("verdict", "no verdict")
        style = "green" if gate.get("passed") else "red"
        table = Table(show_edge=False, box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("seconds", justify="right")
        for outcome in result.outcomes.values():
            table.add_row(outcome.id, outcome.status, f"{outcome.seconds:.1f}" if outcome.status == "ran" else "")
        lines = [table]
        if metrics:
            lines.append(_metrics_table(metrics))
        reasons = "\n".join(f"- {r}" for r in gate.get("reasons", []))
        self.console.print(
            Panel.fit(
                _group(*lines, f"[{style} bold]{verdict.upper()}[/{style} bold]\n{reasons}"),
                title="ftc run",
                border_style=style,
            )
        )
        if report_html:
            # Outside the panel and never wrapped, so the path can be copied or clicked.
            self.console.print(f"report: {report_html}", soft_wrap=True, markup=False, highlight=False)


def _metrics_table(metrics: dict) -> Table:
    """Baseline and tuned per expect, with the gate's paired difference and its 95% interval."""
    table = Table(show_edge=False, box=None, pad_edge=False)
    table.add_column("expect")
    table.add_column("baseline", justify="right")
    table.add_column("tuned", justify="right")
    table.add_column("difference [95% CI]", justify="right")
    tuned = metrics.get("tuned") or {}
    stats = {c.get("label"): c for c in metrics.get("checks") or [] if c.get("ci_low") is not None}
    for label, value in (metrics.get("baseline") or {}).items():
        c = stats.get(label)
        ci = "-" if c is None else f"{c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
        table.add_row(label, _num(value), _num(tuned.get(label)), ci)
    return table


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _group(*items: Any) -> Any:
    from rich.console import Group

    return Group(*[i for i in items if i != ""])


def _trainer_callback(bar: Progress, task: Any, plain: Callable[[int, int, str], None]) -> Any:
    from transformers import TrainerCallback

    class _Bar(TrainerCallback):
        """Steps and ETA from the trainer state; loss from its logs; tokens/s measured between
        logs from TRL's ``num_tokens`` (cumulative, also after a resume), so it is never made up."""

        def __init__(self) -> None:
            self.first: tuple[float, float] | None = None  # (time, tokens) at the first log
            self.fields = {"loss": "-", "tps": "-"}

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001 - transformers' signature
            bar.update(task, total=state.max_steps, completed=state.global_step)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            bar.update(task, completed=state.global_step, total=state.max_steps)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            logs = logs or {}
            fields = {}
            if "loss" in logs:
                fields["loss"] = f"{logs['loss']:.3f}"
            tokens = logs.get("num_tokens")
            if tokens is not None:
                now = time.monotonic()
                if self.first is None:
                    self.first = (now, float(tokens))
                elif now > self.first[0]:
                    fields["tps"] = f"{(tokens - self.first[1]) / (now - self.first[0]):.0f}"
            if fields:
                self.fields.update(fields)
                bar.update(task, **fields)
            if "loss" in logs:  # logs come after the step: the line shows this step's loss
                plain(
                    state.global_step,
                    state.max_steps,
                    f" steps, loss {self.fields['loss']}, {self.fields['tps']} tok/s",
                )

    return _Bar()
