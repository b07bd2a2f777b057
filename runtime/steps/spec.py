"""The step registry: each step kind is registered, next to its function, with what it reads.

A ``StepSpec`` is the one statement of a step's inputs. The executor builds the step's cache key
from it (the declared plan reads, the step's own config, the outputs of the earlier steps it
reads, its version), and the step's ``Context`` refuses any read it does not declare. So a
forgotten declaration fails in a test instead of silently reusing a stale result, and adding a
step kind touches one ``@step(...)`` line plus its function and its test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

StepFn = Callable[[Any], dict]


@dataclass(frozen=True)
class StepSpec:
    """What one step kind reads and how its results are cached.

    - ``reads``: plan sections (``"prompt"``) or dotted paths into them (``"model.base"``,
      ``"hyperparameters.seed"``). Hyper-parameters hash by value, so a reworded reason never
      re-runs anything. Reading ``expects`` also hashes the JSON Schema files they name.
    - ``needs_outputs_of``: earlier step kinds whose folders it reads (``ctx.need_dir``), whether
      or not the plan's ``needs`` reach them directly.
    - ``guarded``: it may carry the plan's guard (skipped when the prompted baseline meets the bar).
    - ``content_keyed``: dependents hash the content of its outputs instead of its key (data steps:
      an input edit that writes the same records re-runs nothing downstream).
    - ``scratch``: sub-folders that are resume state (checkpoints), not outputs: never digested.
    - ``version``: bump when the step's outputs change meaning; its key and its dependents' change.
    """

    kind: str
    fn: StepFn
    reads: tuple[str, ...] = ()
    needs_outputs_of: tuple[str, ...] = ()
    guarded: bool = False
    content_keyed: bool = False
    scratch: tuple[str, ...] = ()
    version: int = 1

    def declares(self, path: str) -> bool:
        """Whether reading the plan at dotted ``path`` is covered by a declared read."""
        return any(path == r or path.startswith(r + ".") for r in self.reads)

    @property
    def reads_expects(self) -> bool:
        return any(r == "expects" or r.startswith("expects.") for r in self.reads)


# kind -> spec, filled by @step as the step modules are imported (ftc.runtime.steps imports them all).
REGISTRY: dict[str, StepSpec] = {}


def step(
    kind: str,
    *,
    reads: tuple[str, ...] = (),
    needs_outputs_of: tuple[str, ...] = (),
    guarded: bool = False,
    content_keyed: bool = False,
    scratch: tuple[str, ...] = (),
    version: int = 1,
) -> Callable[[StepFn], StepFn]:
    """Register the decorated function as the step kind ``kind`` (see ``StepSpec``)."""

    def register(fn: StepFn) -> StepFn:
        if kind in REGISTRY and REGISTRY[kind].fn is not fn:
            raise ValueError(f"step kind '{kind}' is registered twice")
        REGISTRY[kind] = StepSpec(
            kind, fn, tuple(reads), tuple(needs_outputs_of), guarded, content_keyed, tuple(scratch), version
        )
        return fn

    return register
