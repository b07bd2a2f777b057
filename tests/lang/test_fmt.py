"""The formatter's canonical layout, rule by rule (the round-trip property lives in test_lang_props)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftc.compiler.lang.formatter import format_text

ROOT = Path(__file__).resolve().parents[2]


def fmt(text: str) -> str:
    out, diags = format_text(text, "t.ftr")
    assert out is not None, diags
    assert format_text(out, "t.ftr")[0] == out  # idempotent
    return out


def test_indentation_and_one_item_per_line() -> None:
    assert fmt('recipe "r" { data "d" { path = "p", format = chat } }') == (
        'recipe "r" {\n  data "d" {\n    path   = "p"\n    format = chat\n  }\n}\n'
    )


def test_equals_aligned_per_run_blank_lines_end_a_run() -> None:
    text = "b {\n  a = 1\n  longer_key = 2\n\n\n\n  c = 3\n  # note\n  dd = 4\n}\n"
    assert fmt(text) == "b {\n  a          = 1\n  longer_key = 2\n\n  c  = 3\n  # note\n  dd = 4\n}\n"


def test_comments_are_kept_in_place() -> None:
    text = "# file\nb {  # open\n  # lead\n  x = 1  # trail\n  # closing\n}  # after\n# end\n"
    assert fmt(text) == text


def test_values_are_canonical() -> None:
    out = fmt('b { s = "caf\\u00e9 \\"q\\" \\\\ \\t"  m = {a=1,"b c"=[1,2,]}  c = f( x = 1 , "y" ) e = {} }')
    assert 's = "café \\"q\\" \\\\ \\t"' in out
    assert 'm = { a = 1, "b c" = [1, 2] }' in out
    assert 'c = f(x = 1, "y")' in out and "e = {}" in out


def test_numbers_keep_their_spelling() -> None:
    assert (
        "lr = 2e-4" in fmt("b { lr = 2e-4 }")
        and "n = 1_000" in fmt("b { n = 1_000 }")
        and "$1.50" in fmt("b { m = $1.50 }")
    )


def test_long_calls_break_one_argument_per_line() -> None:
    long = "x" * 80
    out = fmt(f'recipe "r" {{ goal = both(behavior = "{long}", knowledge = "k") }}')
    assert out == f'recipe "r" {{\n  goal = both(\n    behavior  = "{long}",\n    knowledge = "k"\n  )\n}}\n'


def test_statements() -> None:
    out = fmt('eval { expect exact_match(field="a")>=80%  beat   baseline   by 10% }')
    assert out == 'eval {\n  expect exact_match(field = "a") >= 80%\n  beat baseline by 10%\n}\n'


def test_crlf_and_bom_become_lf() -> None:
    assert fmt("\ufeffb {\r\n  x = 1\r\n}\r\n") == "b {\n  x = 1\n}\n"


def test_empty_file_stays_empty() -> None:
    assert fmt("") == "" and fmt("\n\n") == ""


@pytest.mark.parametrize("path", sorted((ROOT / "recipes").glob("*.ftr")), ids=lambda p: p.name)
def test_shipped_recipes_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fmt(text) == text


def test_comments_inside_a_multi_line_value_move_above_it() -> None:
    text = "b {\n  m = {\n    a = 1,  # one\n    b = 2\n  }  # end\n  x = [\n  1, # c\n  2]\n}\n"
    assert fmt(text) == "b {\n  # one\n  m = { a = 1, b = 2 }  # end\n  # c\n  x = [1, 2]\n}\n"
