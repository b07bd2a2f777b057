"""Hostile input, case by case: each yields located diagnostics and never a traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftc.compiler.cli.main import main
from ftc.compiler.lang.frontend import load_recipe, render

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = (ROOT / "recipes" / "quickstart.ftr").read_bytes()

CASES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "FTR106"),
    "only-comments": (b"# nothing here\n\n", "FTR106"),
    "binary": (bytes(range(256)) * 4, "FTR002"),
    "invalid-utf8": (b'recipe "x" {\n  goal = behavior("caf\xe9")\n}\n', "FTR002"),
    "nul": (b'recipe "x" {\x00}', "FTR002"),
    "long-line": (b'recipe "x" { goal = behavior("' + b"a" * 2_000_000 + b'") }', "FTR106"),
    "long-token-soup": (b'recipe "x" { goal = ' + b"a " * 1_000_000 + b"}", "FTR004"),
    "nested-braces": (b"{" * 20_000 + b"}" * 20_000, "FTR008"),
    "nested-calls": (b'recipe "x" { goal = ' + b"f(" * 20_000 + b")" * 20_000 + b" }", "FTR008"),
    "nested-unclosed": (b'recipe "x" { goal = ' + b"[" * 20_000, "FTR008"),
    "yaml": (b"recipe:\n  name: x\n  base: smollm2\n", "FTR009"),
    "json": (b'{\n  "recipe": {"name": "x"}\n}\n', "FTR009"),
    "many-tokens": (b"a = 1\n" * 60_000, "FTR010"),
    "huge-number": (b'recipe "x" { train { batch = ' + b"9" * 5000 + b" } }", "FTR105"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_files_give_located_diagnostics(name: str, tmp_path: Path) -> None:
    data, code = CASES[name]
    path = tmp_path / f"{name}.ftr"
    path.write_bytes(data)
    start = time.process_time()  # CPU time: a busy machine slows the wall clock, not this bound
    recipe, diags = load_recipe(path)
    assert time.process_time() - start < 5  # a hostile file is refused in bounded work, not after a hang
    assert recipe is None
    assert code in [d.code for d in diags]
    for d in diags:
        assert d.span.file == str(path) and d.span.line >= 1 and d.span.col >= 1
    assert f"{path}:" in render(diags)


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    text = QUICKSTART.replace(b'"data/', b'"' + str(ROOT / "recipes" / "data").encode() + b"/")
    text = text.replace(b'"schemas/', b'"' + str(ROOT / "recipes" / "schemas").encode() + b"/")
    path = tmp_path / "crlf.ftr"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n"))
    recipe, diags = load_recipe(path, allow_outside=True)
    assert recipe is not None and diags == []
    assert recipe.name == "support-tickets"


def test_directory_and_missing_file(tmp_path: Path) -> None:
    for path, words in ((tmp_path, "directory"), (tmp_path / "nope.ftr", "no such file")):
        recipe, diags = load_recipe(path)
        assert recipe is None and [d.code for d in diags] == ["FTR001"]
        assert words in diags[0].message and (diags[0].span.line, diags[0].span.col) == (1, 1)


def test_cli_never_prints_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, (data, _code) in CASES.items():
        path = tmp_path / f"{name}.ftr"
        path.write_bytes(data)
        assert main(["lint", str(path)]) == 1
        assert main(["fmt", "--check", str(path)]) in (0, 1)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "internal error" not in out.out + out.err


def test_surrogate_escapes_print_safely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.ftr"
    path.write_text('recipe "bad\\ud800name" {\n  goal = behavior("\\udfff")\n}\n')
    assert main(["lint", str(path)]) == 1
    assert main(["fmt", "--stdout", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FTR114" in out and "\\ud800" in out


def test_a_fifo_or_device_recipe_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes; /dev/zero never ends: both refused before open."""
    fifo = tmp_path / "pipe.ftr"
    os.mkfifo(fifo)
    link = tmp_path / "zero.ftr"
    link.symlink_to("/dev/zero")
    for path in (fifo, link):
        recipe, diags = load_recipe(path)
        assert recipe is None and [d.code for d in diags] == ["FTR001"]
        assert "not a regular file" in diags[0].message


def test_a_fifo_as_a_json_schema_is_an_error_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'
    )
    os.mkfifo(tmp_path / "schema.json")
    recipe_path = tmp_path / "r.ftr"
    recipe_path.write_text(
        'recipe "x" {\n  goal = behavior("Reply as JSON")\n  base = model("smollm2-135m-instruct")\n'
        '  data "rows" {\n    path   = "data/rows.jsonl"\n    format = chat\n  }\n'
        '  eval {\n    holdout = 20%\n    expect json_schema("schema.json") >= 0.9\n  }\n}\n'
    )
    recipe, diags = load_recipe(recipe_path)
    assert recipe is None
    assert any(d.code == "FTR111" and "not a regular file" in d.message for d in diags), diags


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=40, max_size=40))
def test_any_mix_of_line_ends_parses_as_lf(ends: list[str]) -> None:
    """LF, CRLF and lone CR (classic Mac) end a line alike, as editors show them: the same tree,
    spans and comments (a lone CR used to leave the first comment swallowing the whole file)."""
    from ftc.compiler.lang.frontend import parse_text

    lines = QUICKSTART.decode("utf-8").split("\n")
    mixed = "".join(line + ends[i % len(ends)] for i, line in enumerate(lines))
    plain, plain_diags = parse_text("\n".join(lines) + "\n", "r.ftr")
    tree, diags = parse_text(mixed, "r.ftr")
    assert plain is not None and tree == plain and diags == plain_diags
