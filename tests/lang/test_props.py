"""Property tests (hypothesis): generated recipes parse and round-trip through fmt; random bytes
and mutated recipes yield only diagnostics, never an exception. About 2,300 examples in all,
derandomized so CI runs are repeatable."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftc.compiler.lang.formatter import format_tree, quote
from ftc.compiler.lang.frontend import check_text, parse_text, render
from ftc.compiler.lang.parser import decode

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
SHIPPED = [p.read_text(encoding="utf-8") for p in sorted(RECIPES.glob("*.ftr"))]


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- generated syntax trees, printed with random layout ---------------------------------------
# Plain sampled/built strategies rather than from_regex: they generate several times faster.
_WORDS = [
    "recipe",
    "data",
    "eval",
    "goal",
    "base",
    "format",
    "chat",
    "cpu",
    "true",
    "x",
    "_a1",
    "lr",
    "json_valid",
    "baseline",
    "by",
]
names = st.one_of(
    st.sampled_from(_WORDS),
    st.tuples(st.sampled_from("abcXYZ_"), st.text(alphabet="abz_09Q", max_size=6)).map("".join),
)
numbers = st.builds(
    lambda sign, whole, frac, exp, unit: f"{sign}{whole}{frac}{exp}{unit}",
    st.sampled_from(["", "-"]),
    st.sampled_from(["0", "7", "42", "1_000", "135", "2"]),
    st.sampled_from(["", ".5", ".95", ".0"]),
    st.sampled_from(["", "", "e-4", "E3", "e+2"]),
    st.sampled_from(["", "", "GB", "MiB", "ms", "s", "m", "h", "%", "B", "M", "K", "T", "TiB", "x"]),
)
moneys = st.builds(
    lambda a, c: f"${a}{c}", st.sampled_from(["0", "20", "1_000", "5"]), st.sampled_from(["", ".50", ".5"])
)
# A fixed alphabet (quotes, backslashes, control and non-ASCII characters) draws far faster than st.text().
_CHARS = 'aZ0 "\\\t\n\r\x01\x7fé✓\u2028{}#=$%\ud800'
strings = st.text(alphabet=_CHARS, max_size=12).map(quote)
scalars = st.one_of(strings, numbers, moneys, names)


def _call(args: st.SearchStrategy) -> st.SearchStrategy:
    arg = st.tuples(st.one_of(st.none(), names), args).map(lambda a: f"{a[0]} = {a[1]}" if a[0] else a[1])
    return st.tuples(names, st.lists(arg, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})")


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.one_of(names, strings), inner), max_size=3).map(
            lambda es: "{" + ", ".join(f"{k} = {v}" for k, v in es) + "}"
        ),
        _call(inner),
    ),
    max_leaves=4,
)
ops = st.sampled_from([">=", ">", "<=", "<", "=="])
comments = st.text(alphabet='aZ0 "\\\t\x01é✓{}#=', max_size=12).map(lambda s: "#" + s)
seps = st.sampled_from(["\n", " ", ", ", ",\n", "\n\n\n", "\t", "\r\n"])
statements = st.one_of(
    st.tuples(names, values).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(st.one_of(names, _call(scalars)), ops, numbers).map(lambda t: f"expect {t[0]} {t[1]} {t[2]}"),
    st.tuples(names, names, numbers).map(lambda t: f"beat {t[0]} {t[1]} {t[2]}"),
)


def _items(stmt: st.SearchStrategy) -> st.SearchStrategy:
    one = st.tuples(stmt, seps, st.one_of(st.just(""), comments)).map(
        lambda t: t[0] + t[1] + (t[2] + "\n" if t[2] else "")
    )
    return st.lists(one, max_size=4).map("".join)


blocks = st.recursive(
    statements,
    lambda inner: st.tuples(names, st.one_of(st.none(), strings), _items(inner)).map(
        lambda t: f"{t[0]}{' ' + t[1] if t[1] else ''} {{\n{t[2]}}}"
    ),
    max_leaves=6,
)
files = _items(blocks)


@_settings(700)
@given(files)
def test_generated_recipes_parse_and_round_trip_through_fmt(text: str) -> None:
    tree, diags = parse_text(text, "gen.ftr")
    assert tree is not None, (text, diags)
    formatted = format_tree(tree)
    again, _ = parse_text(formatted, "fmt.ftr")
    assert again == tree, (text, formatted)
    assert format_tree(again) == formatted


# --- semantically valid recipes --------------------------------------------------------------
SIZE = st.tuples(st.integers(1, 512), st.sampled_from(["KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"]))
DURATION = st.tuples(st.integers(1, 500), st.sampled_from(["ms", "s", "m", "h", "d"]))
PARAMS = st.tuples(st.integers(1, 900), st.sampled_from(["K", "M", "B", "T"]))


@_settings(300)
@given(
    size=SIZE,
    duration=DURATION,
    params=PARAMS,
    holdout=st.integers(1, 60),
    seed=st.integers(0, 10**6),
    device=st.sampled_from(["cpu", "cuda"]),
    margin=st.integers(0, 50),
    rate=st.integers(0, 100),
    ppl=st.integers(1, 500),
    lr=st.sampled_from(["2e-4", "1e-5", "0.001", "5e-6"]),
    r=st.integers(1, 64),
    merged=st.booleans(),
)
def test_generated_valid_recipes_build(
    size, duration, params, holdout, seed, device, margin, rate, ppl, lr, r, merged
) -> None:
    from ftc.compiler.lang.keys import DURATION_UNITS, PARAM_UNITS, SIZE_UNITS

    text = f"""recipe "gen" {{
  goal = behavior("Triage tickets")
  base = model("smollm2-135m-instruct")
  data "tickets" {{ path = "data/tickets.jsonl"  format = chat }}
  constraints {{ device = {device}  gpu_memory = {size[0]}{size[1]}  latency = {duration[0]}{duration[1]}  max_params = {params[0]}{params[1]} }}
  eval {{
    holdout = {holdout}%
    seed = {seed}
    expect json_valid >= {rate}%
    expect perplexity <= {ppl}
    beat baseline by {margin}%
  }}
  train {{ method = lora  lr = {lr}  lora_r = {r} }}
  export {{ merged = {str(merged).lower()} }}
}}"""
    recipe, diags = check_text(text, "gen.ftr", recipe_dir=RECIPES)
    assert recipe is not None, render(diags)
    c = recipe.constraints
    assert c.gpu_memory_bytes == size[0] * SIZE_UNITS[size[1]]
    assert c.latency_ms == duration[0] * DURATION_UNITS[duration[1]] * 1000
    assert c.max_params == params[0] * PARAM_UNITS[params[1]]
    assert recipe.eval.holdout_fraction == holdout / 100 and recipe.eval.seed == seed
    assert recipe.eval.expects[0].threshold == rate / 100 and recipe.eval.beat_baseline_pct == margin
    assert recipe.train.values["lora_r"] == r and recipe.export.merged is merged


# --- hostile input: only diagnostics ---------------------------------------------------------
CODE = re.compile(r"FTR\d{3}")


def _only_diagnostics(text: str) -> None:
    recipe, diags = check_text(text, "fuzz.ftr", recipe_dir=RECIPES)
    for d in diags:
        assert CODE.fullmatch(d.code) and d.span.line >= 1 and d.span.col >= 1 and d.message
    assert isinstance(render(diags), str)
    if recipe is not None:
        assert not any(d.severity == "error" for d in diags)
    tree, _ = parse_text(text, "fuzz.ftr")
    if tree is not None:
        formatted = format_tree(tree)
        assert parse_text(formatted, "fmt.ftr")[0] == tree


_SYNTAX_BYTES = st.lists(
    st.sampled_from(
        [
            b"{",
            b"}",
            b"[",
            b"]",
            b"(",
            b")",
            b'"',
            b"=",
            b"#",
            b",",
            b"\n",
            b"$",
            b"%",
            b"\\",
            b" ",
            b"a",
            b"7",
            b"e",
            b"recipe",
            b"expect",
            b"\xc3\xa9",
            b"\xff",
        ]
    ),
    max_size=200,
).map(b"".join)


@_settings(500)
@given(st.one_of(st.binary(max_size=3000), _SYNTAX_BYTES))
def test_random_bytes_yield_only_diagnostics(data: bytes) -> None:
    text, diags = decode(data, "bytes.ftr")
    if text is None:
        assert diags and diags[0].code in ("FTR002", "FTR010")
        return
    _only_diagnostics(text)


SYNTAX = st.sampled_from(
    list('{}[]()"=#,\n$%.:\\ \t')
    + ["expect ", "beat ", "recipe ", "data ", '"x"', "20%", "\r\n", "\ufeff", "é", "\u2028"]
)
mutation = st.tuples(st.integers(0, 10**6), st.integers(0, 6), st.one_of(SYNTAX, st.text(max_size=4)))


@_settings(800)
@given(st.sampled_from(range(len(SHIPPED))), st.lists(mutation, min_size=1, max_size=4))
def test_mutated_recipes_yield_only_diagnostics(which: int, edits: list[tuple[int, int, str]]) -> None:
    text = SHIPPED[which]
    for pos, cut, insert in edits:
        pos %= len(text) + 1
        text = text[:pos] + insert + text[pos + cut :]
    _only_diagnostics(text)
