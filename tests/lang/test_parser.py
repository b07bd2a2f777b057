"""The grammar and the AST builder, construct by construct (syntax only; no semantic checks)."""

from __future__ import annotations

import pytest

from ftc.compiler.lang import ast
from ftc.compiler.lang.frontend import parse_text


def parse_ok(text: str) -> ast.RecipeFile:
    tree, diags = parse_text(text, "t.ftr")
    assert tree is not None, diags
    return tree


def value_of(text: str) -> ast.Value:
    """The value of `x = TEXT` inside a block."""
    tree = parse_ok(f"b {{ x = {text} }}")
    attr = tree.items[0].items[0]
    assert isinstance(attr, ast.Attribute)
    return attr.value


def codes(text: str) -> list[str]:
    tree, diags = parse_text(text, "t.ftr")
    assert tree is None
    return [d.code for d in diags]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"plain"', "plain"),
        (r'"q\"uote"', 'q"uote'),
        (r'"back\\slash"', "back\\slash"),
        (r'"line\nbreak\ttab"', "line\nbreak\ttab"),
        (r'"\u00e9t\u00E9"', "été"),
        ('"ünïcödé ✓"', "ünïcödé ✓"),
        ('""', ""),
    ],
)
def test_strings_decode_escapes(text: str, expected: str) -> None:
    v = value_of(text)
    assert isinstance(v, ast.Str) and v.value == expected


@pytest.mark.parametrize(
    ("text", "number", "unit", "value"),
    [
        ("42", "42", "", 42),
        ("-3", "-3", "", -3),
        ("0.95", "0.95", "", 0.95),
        ("2e-4", "2e-4", "", 2e-4),
        ("1E3", "1E3", "", 1000.0),
        ("1_000", "1_000", "", 1000),
        ("24GB", "24", "GB", 24),
        ("512MiB", "512", "MiB", 512),
        ("300ms", "300", "ms", 300),
        ("2h", "2", "h", 2),
        ("30m", "30", "m", 30),
        ("20%", "20", "%", 20),
        ("135M", "135", "M", 135),
        ("7B", "7", "B", 7),
        ("1.5B", "1.5", "B", 1.5),
    ],
)
def test_numbers_keep_text_and_unit(text: str, number: str, unit: str, value: float) -> None:
    v = value_of(text)
    assert isinstance(v, ast.Number)
    assert (v.text, v.unit, v.value) == (number, unit, value)
    assert type(v.value) is type(value)


@pytest.mark.parametrize(("text", "amount"), [("$20", 20.0), ("$1.50", 1.5), ("$1_000", 1000.0)])
def test_money(text: str, amount: float) -> None:
    v = value_of(text)
    assert isinstance(v, ast.Money) and v.amount == amount


def test_identifiers_lists_maps_and_calls() -> None:
    assert value_of("chat") == ast.Ident("chat")
    assert value_of("true") == ast.Ident("true")
    assert value_of("[1, 2, 3,]") == ast.List((ast.Number("1", "", 1), ast.Number("2", "", 2), ast.Number("3", "", 3)))
    assert value_of("[]") == ast.List(())
    m = value_of('{ messages = "conversation", "odd key" = 1 }')
    assert isinstance(m, ast.Map)
    assert [(e.key, e.quoted) for e in m.entries] == [("messages", False), ("odd key", True)]
    c = value_of('exact_match(field = "category")')
    assert c == ast.Call("exact_match", (ast.Arg("field", ast.Str("category")),))
    both = value_of('both(behavior = "b", knowledge = "k",)')
    assert [a.name for a in both.args] == ["behavior", "knowledge"]
    assert value_of("json_valid()") == ast.Call("json_valid", ())


def test_blocks_labels_and_separators() -> None:
    tree = parse_ok('recipe "r" { data "d" { path = "p", format = chat } train { lr = 2e-4  epochs = 3 } export {} }')
    recipe = tree.items[0]
    assert isinstance(recipe, ast.Block) and recipe.label == ast.Str("r")
    data, train, export = recipe.items
    assert data.kind == "data" and data.label.value == "d" and [i.key for i in data.items] == ["path", "format"]
    assert train.label is None and [i.key for i in train.items] == ["lr", "epochs"]
    assert export.items == ()


def test_expect_and_beat_statements() -> None:
    tree = parse_ok(
        'eval {\n expect json_valid >= 0.95\n expect json_schema("s.json") > 90%\n'
        ' expect perplexity <= 40\n expect rouge_l < 1\n expect regex("^Hi") == 1\n beat baseline by 10%\n}'
    )
    items = tree.items[0].items
    assert [i.op for i in items[:5]] == [">=", ">", "<=", "<", "=="]
    assert items[0].metric == ast.Ident("json_valid")
    assert items[1].metric == ast.Call("json_schema", (ast.Arg(None, ast.Str("s.json")),))
    beat = items[5]
    assert isinstance(beat, ast.Beat) and beat.target.name == "baseline" and beat.word.name == "by"
    assert beat.amount == ast.Number("10", "%", 10)


def test_comments_are_collected_not_parsed() -> None:
    tree = parse_ok('# top\nb { # open\n  x = 1  # after "x" = { [ (\n}\n# end')
    assert [c.text for c in tree.comments] == ["# top", "# open", '# after "x" = { [ (', "# end"]
    assert [c.span.line for c in tree.comments] == [1, 2, 3, 5]


def test_spans_are_one_based_lines_and_columns() -> None:
    tree = parse_ok('recipe "r" {\n  goal = behavior("x")\n}\n')
    recipe = tree.items[0]
    attr = recipe.items[0]
    assert (recipe.span.line, recipe.span.col, recipe.span.end_line, recipe.span.end_col) == (1, 1, 3, 2)
    assert (attr.key_span.line, attr.key_span.col, attr.key_span.end_col) == (2, 3, 7)
    assert (attr.value.span.col, attr.value.span.end_col) == (10, 23)
    assert attr.value.name_span.end_col == 18


def test_crlf_and_bom_parse_like_lf() -> None:
    text = 'recipe "r" {\n  goal = behavior("x")  # c\n}\n'
    plain = parse_ok(text)
    assert parse_ok("\ufeff" + text.replace("\n", "\r\n")) == plain


def test_spans_do_not_take_part_in_equality() -> None:
    assert parse_ok("b { x = 1 }") == parse_ok("\n\n  b {\n    x    =    1\n  }")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("b { x: 1 }", "FTR003"),
        ("b { x = 'single' }", "FTR003"),
        ("b { x = 1 * 2 }", "FTR003"),
        ("b { x = = 1 }", "FTR004"),
        ("b { x = 1 2 }", "FTR004"),
        ("b { = 1 }", "FTR004"),
        ("b { x }", "FTR004"),
        ("b { x = }", "FTR004"),
        ("b {", "FTR005"),
        ("b { x = [1, 2 }", "FTR005"),
        ("b } ", "FTR005"),
        ('b { x = "open }', "FTR006"),
        ('b { x = f("a { ) }', "FTR006"),
        (r'b { x = "bad \q escape" }', "FTR006"),
        ("b { x = " + "[" * 40 + "]" * 40 + " }", "FTR008"),
        ('{"recipe": 1}', "FTR009"),
        ("recipe:\n  goal: x\n", "FTR009"),
        ("b { x = 1 }\x00", "FTR002"),
    ],
)
def test_syntax_errors_have_codes(text: str, code: str) -> None:
    assert code in codes(text)


def test_syntax_error_location_and_expected_tokens() -> None:
    tree, diags = parse_text('recipe "r" {\n  goal = behavior("x")\n  base model("m")\n}\n', "t.ftr")
    assert tree is None and len(diags) == 1
    d = diags[0]
    assert (d.code, d.span.line, d.span.col) == ("FTR004", 3, 8)
    assert "`=`" in d.message and d.hint


def test_unclosed_block_points_at_the_opener() -> None:
    _tree, diags = parse_text('recipe "r" {\n  data "d" {\n    path = "p"\n}\n', "t.ftr")
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [("FTR005", 1, 12)]
