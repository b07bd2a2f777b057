"""The registries stay whole and in sync: every code the code base emits is registered (and every
registered code is emitted), every lint code has exactly one check, the generated pages equal
their registries, and the key table, the recipe model and the decision rules agree.

Regenerate docs/diagnostics.md and docs/language.md with FTC_UPDATE_GOLDEN=1."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from ftc.compiler.lang import codes, language, thresholds
from ftc.compiler.lang.codes import CODES, RETIRED
from ftc.compiler.lang.keys import BLOCKS, KINDS
from ftc.compiler.lang.lint_rules import LINT_RULES
from ftc.compiler.lang.recipe import Constraints, DataSource, EvalSpec, ExportSpec
from ftc.compiler.plan.rules import BY_ID, DECISION_RULES

ROOT = Path(__file__).resolve().parents[2]
UPDATE = os.environ.get("FTC_UPDATE_GOLDEN") == "1"
PHASE_OF_PREFIX = {"FTR0": "syntax", "FTR1": "semantic", "FTR2": "lint", "FTR3": "plan"}


def _emitted_codes() -> dict[str, list[str]]:
    """Every "FTRnnn" string literal in the compiler, with where it appears (codes.py excepted)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "compiler").rglob("*.py")):
        if path.name == "codes.py" and path.parent.name == "lang":
            continue
        for m in re.finditer(r"[\"'](FTR\d{3})[\"']", path.read_text(encoding="utf-8")):
            found.setdefault(m.group(1), []).append(str(path.relative_to(ROOT)))
    return found


def test_every_emitted_code_is_registered_and_none_is_retired() -> None:
    emitted = _emitted_codes()
    assert not set(emitted) - set(CODES), {c: emitted[c] for c in set(emitted) - set(CODES)}
    assert not set(emitted) & set(RETIRED)


def test_every_registered_code_is_emitted_somewhere() -> None:
    assert set(CODES) - set(_emitted_codes()) == set()


@pytest.mark.parametrize("entry", CODES.values(), ids=list(CODES))
def test_entries_are_complete(entry: codes.Code) -> None:
    assert entry.phase == PHASE_OF_PREFIX[entry.code[:4]]
    assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", entry.name)
    assert entry.severity in ("error", "warning")
    assert entry.summary and entry.doc and entry.example and entry.use_instead
    assert entry.example != entry.use_instead
    for rule_id in re.findall(r"R-[A-Z-]+[A-Z]", entry.doc + entry.summary):
        assert rule_id in BY_ID, f"{entry.code} cites unknown rule {rule_id}"


def test_slugs_are_unique_and_retired_codes_point_at_live_ones() -> None:
    slugs = [c.name for c in CODES.values()]
    assert len(slugs) == len(set(slugs))
    assert all(new in CODES and old not in CODES for old, new in RETIRED.items())


def test_each_lint_code_has_exactly_one_check() -> None:
    assert set(LINT_RULES) == {c.code for c in CODES.values() if c.phase == "lint"}


def test_a_second_check_for_a_code_is_refused() -> None:
    from ftc.compiler.lang.lint_rules import lint_rule

    with pytest.raises(ValueError):
        lint_rule("FTR201")(lambda src: iter(()))
    with pytest.raises(ValueError):
        lint_rule("FTR101")(lambda src: iter(()))


def test_thresholds_are_formatted_into_the_texts() -> None:
    assert f"fewer than {thresholds.MIN_EXAMPLES} training examples" in CODES["FTR202"].summary
    assert f"{thresholds.NEAR_BUDGET:.0%} of the budget" in CODES["FTR310"].summary
    assert f"{thresholds.NEAR_MEMORY:.0%} of the device's memory" in CODES["FTR314"].summary
    assert f"under {thresholds.SMALL_DATA}" in BY_ID["R-BEHAVIOR-FINETUNE"].statement
    assert f"{thresholds.FULL_MIN_EXAMPLES}" in BY_ID["R-FULL-NEEDS-REASON"].statement


def test_the_planner_and_linter_read_one_threshold_module() -> None:
    # A threshold restated as a module constant somewhere else is how the copies drifted before.
    names = ("MIN_EXAMPLES", "SMALL_DATA", "FULL_MIN_EXAMPLES", "NEAR_BUDGET", "NEAR_MEMORY")
    for path in sorted((ROOT / "compiler").rglob("*.py")):
        if path.name == "thresholds.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not [n for n in names if re.search(rf"^{n}\s*=", text, re.M)], path


# --- the key table ---------------------------------------------------------------------------
def test_every_key_has_a_known_kind_and_says_what_absence_means() -> None:
    for spec in BLOCKS.values():
        for key in spec.keys:
            assert key.kind in KINDS, f"{spec.name}.{key.name}"
            assert key.when_absent, f"{spec.name}.{key.name} says nothing about being left out"
            assert not key.decided_by or key.decided_by in BY_ID, f"{spec.name}.{key.name}: {key.decided_by}"


def test_the_key_table_defaults_are_the_recipe_models_defaults() -> None:
    pairs = [
        (EvalSpec(), {"holdout": "holdout_fraction", "seed": "seed", "accept_leaks": "accept_leaks"}, "eval"),
        (Constraints(), {"device": "device", "gpus": "gpus"}, "constraints"),
        (ExportSpec(), {"merged": "merged"}, "export"),
        (
            DataSource("d", "/p", "p", "chat"),
            {"on_bad_rows": "on_bad_rows", "glob": "glob", "redact_pii": "redact_pii", "overlong": "overlong"},
            "data",
        ),
    ]
    for model, fields, block in pairs:
        for key, attr in fields.items():
            assert BLOCKS[block].default(key) == getattr(model, attr), f"{block}.{key}"


def test_every_decision_rule_is_documented() -> None:
    assert all(r.statement and r.source and r.title for r in DECISION_RULES)


# --- generated pages -------------------------------------------------------------------------
@pytest.mark.parametrize("page,generate", [("diagnostics.md", codes.docs_page), ("language.md", language.docs_page)])
def test_generated_page_is_in_sync(page: str, generate) -> None:
    path = ROOT / "docs" / page
    if UPDATE:
        path.write_text(generate(), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == generate(), f"docs/{page} is stale: FTC_UPDATE_GOLDEN=1 regenerates it"


def test_language_page_lists_every_block_and_key() -> None:
    page = language.docs_page()
    for spec in BLOCKS.values():
        assert f"## {spec.name}\n" in page
        assert all(f"| `{k.name}` |" in page for k in spec.keys)


def test_diagnostics_page_has_a_section_per_code() -> None:
    page = codes.docs_page()
    assert all(f"### {c}\n" in page for c in CODES)


def test_codes_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CODES["FTR201"].severity = "warning"  # type: ignore[misc]
