"""Golden rendered diagnostics: one recipe per registered code under tests/golden/diagnostics, its
rustc-style rendering checked in next to it. FTR3xx fixtures go through the planner too, with empty
caches so its facts do not depend on this machine. Regenerate with FTC_UPDATE_GOLDEN=1 after a
deliberate change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftc.compiler.lang.codes import CODES
from ftc.compiler.lang.frontend import load_recipe, render

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "diagnostics"
ALL_CODES = sorted(CODES)
UPDATE = os.environ.get("FTC_UPDATE_GOLDEN") == "1"


def _input(code: str, tmp_path: Path) -> str:
    if code == "FTR001":
        return "tests/golden/diagnostics/missing.ftr"
    if code == "FTR010":  # too large to check in: made on the fly
        big = tmp_path / "big.ftr"
        big.write_bytes(b"# " + b"x" * 10_000_001 + b"\n")
        return str(big)
    if code == "FTR011":  # 150 misplaced attributes
        many = tmp_path / "many.ftr"
        many.write_text("a = 1\n" * 150)
        return str(many)
    return f"tests/golden/diagnostics/{code}.ftr"


def _diagnostics(code: str, path: str) -> list:
    recipe, diags = load_recipe(path)
    if any(d.severity == "error" for d in diags):
        assert recipe is None
    if CODES[code].phase == "plan":
        from ftc.compiler.plan.planner import build_plan

        assert recipe is not None, [d.code for d in diags]
        diags = [*diags, *build_plan(recipe, ROOT).diagnostics]
    return diags


@pytest.mark.parametrize("code", ALL_CODES)
def test_golden_rendering(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(ROOT)
    if CODES[code].phase == "plan":
        request.getfixturevalue("empty_caches")
    diags = _diagnostics(code, _input(code, tmp_path))
    assert code in {d.code for d in diags}, [d.code for d in diags]
    text = render(diags).replace(str(ROOT), "<root>").replace(str(tmp_path), "<tmp>")
    expected = GOLDEN / f"{code}.txt"
    if UPDATE:
        expected.write_text(text, encoding="utf-8")
    assert text == expected.read_text(encoding="utf-8")


def test_every_registered_code_has_a_golden_fixture_and_no_more() -> None:
    stems = {p.stem for p in GOLDEN.glob("FTR*.txt")}
    assert stems == set(ALL_CODES)


def test_render_with_colour_wraps_in_ansi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    _recipe, diags = load_recipe("tests/golden/diagnostics/FTR102.ftr")
    coloured = render(diags, color=True)
    assert "\x1b[1;31merror[FTR102]" in coloured
    assert "\x1b[" not in render(diags, color=False)
