"""The TextMate grammar for `.ftr` (editors/vscode/syntaxes/ftr.tmLanguage.json), run by a real engine.

`textmate-grammar-python` is a port of vscode-textmate over the Oniguruma regex engine, the one
VS Code uses, so what passes here highlights the same way in the editor. Every recipe in
recipes/ and a fixture with every literal kind the grammar (grammar/ftr.lark) reads are
tokenised; every non-blank character must get a token scope of its own (not just the root scope
or a `meta.*` region), and nothing in a valid recipe may be marked `invalid`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from ftc.compiler.lang.parser import parse

REPO = Path(__file__).resolve().parents[2]
EDITOR = REPO / "editors" / "vscode"
GRAMMAR = EDITOR / "syntaxes" / "ftr.tmLanguage.json"
RECIPES = sorted((REPO / "recipes").glob("*.ftr"))

# Every literal kind and statement the grammar reads, in one file that parses (it need not pass
# the semantic checks: the highlighter sees syntax, not meaning).
ALL_LITERALS = r"""# every literal kind: strings, numbers, units, money, booleans, lists, maps, calls
recipe "all-literals" {
  goal    = both(behavior = "Say \"hi\"\tthen \\ stop\n", knowledge = "caf\u00e9 docs\/faq")
  base    = model("smollm2-135m-instruct")
  teacher = model("Qwen/Qwen2.5-7B-Instruct"),
  system_prompt = "one line"

  data "rows" { path = "a.jsonl" format = chat columns = { messages = "conversation", "x y" = "z" } }
  documents "docs" {
    path = "docs"  # a folder
    glob = "**/*.md"
  }
  constraints {
    device     = cuda
    gpus       = 2
    gpu_memory = 24GB
    host_ram   = 512MiB
    disks      = [1TB, 2GiB, 3KB, 4MB, 5KiB, 6TiB]
    budget     = $20.50
    cheap      = $5
    latency    = 300ms
    windows    = [2h, 30m, 45s, 1d]
    max_params = 7B
    sizes      = [135M, 2K, 1T, 1.5B]
  }
  train {
    lr = 2e-4  epochs = 1.5  max_length = 1_024  warmup = -0.5  decay = 1E+3
    early_stopping = false  packing = true
  }
  eval {
    holdout = 20%
    data    = "rows"
    expect json_valid >= 0.95
    expect perplexity <= 20
    expect exact_match(field = "category") == 1
    expect json_schema("schemas/x.json") > 0.5
    expect contains("sorry") < 1
    expect regex("^SELECT .*;$") >= 0.9
    expect rouge_l >= 0.4
    beat baseline by 10%
  }
  export { merged = true, }
  custom_block "label" { tags = ["a", "b",] nested = { k = v } fn = custom(x, y = 1) }
}
"""


@pytest.fixture(scope="module")
def parser(tmp_path_factory: pytest.TempPathFactory):
    # Importing the engine makes a `.textmate_cache` folder in the working directory: let that be
    # a temporary one, not the checkout. (The `test` extra installs the engine.)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("textmate"))
    try:
        from textmate_grammar.parsers.base import LanguageParser
    finally:
        os.chdir(here)
    # The engine logs every stretch of text a rule skips (string contents): noise, not findings.
    logging.getLogger("textmate_grammar").setLevel(logging.ERROR)
    return LanguageParser(json.loads(GRAMMAR.read_text(encoding="utf-8")))


def tokens(parser, text: str) -> list[tuple[int, int, str, list[str]]]:
    """(line, column, text, scopes without the root) for every token the engine produces."""
    element = parser.parse_string(text)
    assert element is not None, "the engine produced no tokens"
    return [(line, col, content, scopes[1:]) for (line, col), content, scopes in element.flatten()]


def unscoped(text: str, toks: list[tuple[int, int, str, list[str]]]) -> list[str]:
    """Every non-blank character that has no token scope: the root or a meta.* region alone is not one."""
    covered: set[tuple[int, int]] = set()
    for line, col, content, scopes in toks:
        if any(not s.startswith("meta.") for s in scopes):
            covered.update((line, col + i) for i in range(len(content)))
    return [
        f"line {n + 1}, column {c + 1}: {ch!r} in {row.strip()!r}"
        for n, row in enumerate(text.splitlines())
        for c, ch in enumerate(row)
        if not ch.isspace() and (n, c) not in covered
    ]


def scope_of(text: str, toks: list[tuple[int, int, str, list[str]]], needle: str) -> list[str]:
    """The scopes of the token at the first occurrence of ``needle`` in ``text``, or at its ``^``
    when it has one (``"= ^7B"``: the 7B after an equals sign). A unit such as `24GB` is two
    tokens, number and unit: the number's scopes carry the literal's kind."""
    context, mark, _ = needle.partition("^")
    offset = text.index(needle.replace("^", "")) + (len(context) if mark else 0)
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    for tline, tcol, content, scopes in toks:
        if tline == line and tcol <= col < tcol + len(content):
            return scopes
    raise AssertionError(f"no token at {needle!r}")


def test_the_fixture_is_valid_syntax():
    tree, diags = parse(ALL_LITERALS, "all-literals.ftr")
    assert tree is not None and not diags, diags


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_recipe_is_fully_scoped(parser, recipe):
    text = recipe.read_text(encoding="utf-8")
    toks = tokens(parser, text)
    assert unscoped(text, toks) == []
    assert [t for t in toks if any(s.startswith("invalid.") for s in t[3])] == []


def test_every_literal_kind_is_scoped(parser):
    toks = tokens(parser, ALL_LITERALS)
    assert unscoped(ALL_LITERALS, toks) == []
    assert [t for t in toks if any(s.startswith("invalid.") for s in t[3])] == []
    expected = {
        "#": "punctuation.definition.comment.ftr",
        " a folder": "comment.line.number-sign.ftr",
        "recipe": "keyword.other.block.ftr",
        "documents": "keyword.other.block.ftr",
        "custom_block": "entity.name.type.block.ftr",
        "goal": "variable.other.property.ftr",
        "both": "support.function.goal.ftr",
        "model": "support.function.model.ftr",
        "fn = ^custom": "entity.name.function.ftr",
        '\\"': "constant.character.escape.ftr",
        "\\u00e9": "constant.character.escape.ftr",
        "\\/": "constant.character.escape.ftr",
        "24GB": "constant.numeric.size.ftr",
        "512MiB": "constant.numeric.size.ftr",
        "300ms": "constant.numeric.duration.ftr",
        "2h": "constant.numeric.duration.ftr",
        "20%": "constant.numeric.percentage.ftr",
        "135M": "constant.numeric.params.ftr",
        "= ^7B": "constant.numeric.params.ftr",
        "$20.50": "constant.numeric.money.ftr",
        "2e-4": "constant.numeric.ftr",
        "1_024": "constant.numeric.ftr",
        "-0.5": "constant.numeric.ftr",
        "true": "constant.language.boolean.ftr",
        "false": "constant.language.boolean.ftr",
        "chat": "constant.other.ftr",
        "expect": "keyword.control.expect.ftr",
        "json_valid": "support.function.metric.ftr",
        "json_schema": "support.function.metric.ftr",
        ">=": "keyword.operator.comparison.ftr",
        "==": "keyword.operator.comparison.ftr",
        "beat": "keyword.control.beat.ftr",
        "baseline": "variable.language.baseline.ftr",
        "by": "keyword.control.by.ftr",
        "[": "punctuation.section.brackets.begin.ftr",
    }
    wrong = {
        k: scope_of(ALL_LITERALS, toks, k)
        for k, scope in expected.items()
        if scope not in scope_of(ALL_LITERALS, toks, k)
    }
    assert wrong == {}


def test_units_are_scoped_apart_from_their_number(parser):
    text = "constraints {\n  gpu_memory = 24GB\n}\n"
    toks = tokens(parser, text)
    assert scope_of(text, toks, "24")[-1] == "constant.numeric.size.ftr"
    assert scope_of(text, toks, "GB")[-1] == "keyword.other.unit.ftr"


def test_mistakes_are_marked_invalid(parser):
    # What the parser accepts but the checks reject shows in the editor before `ftc lint` runs.
    text = 'x {\n  a = 24Gb\n  b = "bad \\q escape"\n}\n'
    toks = tokens(parser, text)
    assert "invalid.illegal.unit.ftr" in scope_of(text, toks, "Gb")
    assert "invalid.illegal.unknown-escape.ftr" in scope_of(text, toks, "\\q")


def test_an_unterminated_string_ends_at_the_line(parser):
    # Strings are one line (grammar/ftr.lark): an unclosed quote must not colour the rest of the file.
    text = 'x {\n  a = "open\n  b = 1\n}\n'
    toks = tokens(parser, text)
    assert scope_of(text, toks, "b =")[-1] == "variable.other.property.ftr"


def test_the_grammar_knows_every_block(parser):
    # The block keywords come from the checks' table: a new block must be added to the grammar too.
    from ftc.compiler.lang.keys import BLOCKS

    text = "\n".join(f"{name} {{\n}}" for name in BLOCKS)
    toks = tokens(parser, text)
    assert {name: scope_of(text, toks, f"{name} {{")[-1] for name in BLOCKS} == dict.fromkeys(
        BLOCKS, "keyword.other.block.ftr"
    )


def test_the_grammar_knows_every_metric(parser):
    from ftc.shared.contract import METRICS

    text = "\n".join(f"expect {m} >= 1" for m in METRICS)
    toks = tokens(parser, text)
    assert {m: scope_of(text, toks, f"expect ^{m} ")[-1] for m in METRICS} == dict.fromkeys(
        METRICS, "support.function.metric.ftr"
    )


def test_the_extension_manifest():
    manifest = json.loads((EDITOR / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    assert contributes["languages"][0]["id"] == "ftr" and contributes["languages"][0]["extensions"] == [".ftr"]
    grammar = contributes["grammars"][0]
    assert grammar["language"] == "ftr" and grammar["scopeName"] == "source.ftr"
    assert (EDITOR / grammar["path"]).resolve() == GRAMMAR
    config = json.loads((EDITOR / contributes["languages"][0]["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"]
    server = contributes["configuration"]["properties"]["ftc.server.command"]["default"]
    assert server == ["ftc", "lsp"]
    assert (EDITOR / manifest["main"]).with_suffix(".js").is_file()
