"""The plan's JSON Schema (``compiler/plan/schema.json``), printed by ``ftc schema plan``."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _text() -> str:
    return resources.files("ftc.compiler.plan").joinpath("schema.json").read_text(encoding="utf-8")


def plan_schema() -> dict:
    """A fresh copy each call, so a caller cannot change the cached schema."""
    return json.loads(_text())
