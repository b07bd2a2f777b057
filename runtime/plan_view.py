"""A step's read-only view of the plan: only the sections its ``StepSpec`` declares, and exactly
as its cache key hashes them.

The cache key hashes ``keyed(plan, read)`` for each declared read, and the view returns nothing
else: a section the spec does not declare raises ``UndeclaredRead``, and hyper-parameters appear
as their values only (the key ignores a reworded ``reason``, so the step cannot see it either).
So a plan edit either changes a step's key or leaves everything the step can read unchanged. The
baseline once picked its few-shot examples with the seed while its key left the seed out; with
the view, that read fails the first test that runs the step.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

MISSING: Any = object()
_HP_ENTRY = {"value", "set_by", "reason"}


class UndeclaredRead(RuntimeError):
    """A step read a plan section its spec does not declare: a bug in ftc, not in the recipe."""


def lookup(value: Any, path: str) -> Any:
    """The value at dotted ``path`` inside ``value``, or ``MISSING``."""
    for part in path.split(".") if path else ():
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def values_only(section: Any) -> Any:
    """Hyper-parameters by value: a whole ``hyperparameters`` section or one entry of it
    (``{"value", "set_by", "reason"}``) -> its values; anything else unchanged."""
    if isinstance(section, dict) and "value" in section and set(section) <= _HP_ENTRY:
        return section["value"]
    if isinstance(section, dict) and section and all(isinstance(v, dict) and "value" in v for v in section.values()):
        return {k: v["value"] for k, v in section.items()}
    return section


def keyed(plan: dict, read: str) -> Any:
    """What a step's cache key hashes for one declared read (``MISSING`` when the plan lacks it):
    the section as it is, except hyper-parameters, by value."""
    value = lookup(plan, read)
    if value is MISSING or read.split(".", 1)[0] != "hyperparameters":
        return value
    return values_only(value)


class PlanView:
    """``view.get("prompt")``, ``view.get("model.base")``, ``view["expects"]``: dotted paths into
    the plan, allowed when they equal or lie under a declared read. Values are copies, so a step
    cannot change what later steps see."""

    def __init__(self, plan: dict, reads: Iterable[str], owner: str) -> None:
        self._plan = plan
        self._reads = tuple(reads)
        self._owner = owner

    def covering(self, path: str) -> str | None:
        """The declared read that ``path`` equals or lies under, or None."""
        return next((r for r in self._reads if path == r or path.startswith(r + ".")), None)

    def get(self, path: str, default: Any = None) -> Any:
        value = self._lookup(path)
        return default if value is MISSING else value

    def __getitem__(self, path: str) -> Any:
        value = self._lookup(path)
        if value is MISSING:
            raise KeyError(path)
        return value

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._lookup(path) is not MISSING

    def _lookup(self, path: str) -> Any:
        read = self.covering(path)
        if read is None:
            declared = ", ".join(self._reads) or "nothing"
            raise UndeclaredRead(
                f"internal error: step {self._owner} read plan section '{path}', which its step spec does not "
                f"declare (it declares: {declared}); add it to the spec's reads so the cache key covers it"
            )
        section = keyed(self._plan, read)
        value = MISSING if section is MISSING else lookup(section, path[len(read) + 1 :])
        return value if value is MISSING else copy.deepcopy(value)

    def __repr__(self) -> str:
        return f"PlanView({self._owner}: {', '.join(self._reads)})"
