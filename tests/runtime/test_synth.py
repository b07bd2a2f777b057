"""Synthetic rows (R-SYNTHESIZE): the checks that keep or drop a teacher's row, and the step run
for real with the embedded model as teacher on 8 real rows (the only model on an offline machine).
The holdout is real rows only, always."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.runtime import synth
from ftc.runtime.data import Record, read_records
from ftc.runtime.executor import Executor, RunOptions
from ftc.runtime.steps import STEPS
from ftc.runtime.steps.synthesize import DEDUP

CAPITALS = [
    ("France", "Paris"),
    ("Spain", "Madrid"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Peru", "Lima"),
    ("Kenya", "Nairobi"),
]


def _row(i: int, question: str, answer: str) -> Record:
    return Record("q", "q.jsonl", i, "instruction", {"instruction": question, "input": "", "output": answer})


def _checks() -> list:
    return synth.expect_checks(
        [{"label": 'regex(pattern="^[A-Z]")', "metric": "regex", "args": {"pattern": "^[A-Z]"}, "want": 1}], None
    )


def test_each_candidate_is_kept_or_dropped_with_its_reason() -> None:
    real = [_row(1, "What is the capital of France?", "Paris"), _row(2, "What is the capital of Spain?", "Madrid")]
    holdout = [_row(3, "What is the capital of Peru?", "Lima")]
    candidates = [
        ("What is the capital of Chile?", "Santiago"),  # kept
        (None, None),  # the teacher wrote no input
        ("What is the capital of Ghana?", "   "),  # no answer
        ("What is the capital of Chad?", "ndjamena"),  # fails the regex expect (lower case)
        ("What is the capital of France?", "Paris"),  # a real train row again
        ("what is the capital of  PERU?", "Lima"),  # the holdout's input: a leak
        ("What is the capital of Chile?", "Santiago"),  # the first candidate again
    ]
    out = synth.judge_rows(candidates, "instruction", real, holdout, _checks(), DEDUP)
    assert [r.fields["instruction"] for r in out.kept] == ["What is the capital of Chile?"]
    assert out.reasons == {
        "no_input": 1,
        "no_answer": 1,
        'expect:regex(pattern="^[A-Z]")': 1,
        "duplicate_real": 1,
        "holdout_leak": 1,
        "duplicate_synthetic": 1,
    }
    stats = out.to_json(requested=7)
    assert (stats["generated"], stats["kept"], stats["dropped"]) == (7, 1, 6)
    assert all(r.source == "synthetic" for r in out.kept)


def test_a_list_of_inputs_or_a_rambling_reply_is_not_one_input() -> None:
    real = [_row(1, "What is the capital of France?", "Paris")]
    listed = "Here are some:\n- What is the capital of Chile?\n- What is the capital of Peru?"
    out = synth.judge_rows([(listed, "Santiago"), ("x" * 200, "Paris")], "instruction", real, [], [], DEDUP)
    assert not out.kept and out.reasons == {"input_shape": 2}


def test_a_row_sharing_a_13_gram_with_the_holdout_is_a_leak() -> None:
    long = "please describe in one short sentence why the sky over the sea looks blue on a clear summer day"
    holdout = [_row(1, long, "Rayleigh scattering.")]
    out = synth.judge_rows(
        [(f"My child asks: {long}, and what should I answer?", "Because of Rayleigh scattering.")],
        "instruction",
        [
            _row(
                2,
                "My neighbour asks why the grass in a meadow looks green all summer; what should I answer?",
                "Chlorophyll.",
            )
        ],
        holdout,
        [],
        DEDUP,
    )
    assert not out.kept and out.reasons == {"holdout_leak": 1}


def test_a_row_that_fails_its_format_schema_is_dropped() -> None:
    out = synth.judge_rows([("Hi", "Hello")], "chat", [], [], [], DEDUP)
    assert len(out.kept) == 1  # a user turn and an assistant turn: a valid chat row
    assert synth.make_fields("chat", "Hi", "Hello")["messages"][-1] == {"role": "assistant", "content": "Hello"}


def test_the_teachers_input_is_parsed_strictly() -> None:
    assert synth.parse_input('1. "What is the capital of Chile?"') == "What is the capital of Chile?"
    assert synth.parse_input("Input: Where is Lima?") == "Where is Lima?"
    assert synth.parse_input("  \n ") is None
    talk = ' Write the capital of Egypt backwards.\n\nHere is the output:\n\n"ORIAC"'
    assert synth.parse_input(talk) == "Write the capital of Egypt backwards."
    assert synth.parse_input(talk, paragraphs=True).endswith('"ORIAC"')  # real inputs have paragraphs


def test_seed_sets_are_seeded_and_never_larger_than_train() -> None:
    assert synth.seed_sets(6, 4, 3, seed=1) == synth.seed_sets(6, 4, 3, seed=1)
    assert synth.seed_sets(6, 4, 3, seed=1) != synth.seed_sets(6, 4, 3, seed=2)
    assert all(len(s) == 2 for s in synth.seed_sets(2, 5, 3, seed=0))


@pytest.mark.e2e
@pytest.mark.usefixtures("one_thread")
def test_the_embedded_teacher_writes_rows_and_the_holdout_stays_real(tmp_path: Path) -> None:
    rows = [{"instruction": f"What is the capital of {c}?", "input": "", "output": a} for c, a in CAPITALS]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    src = {"name": "q", "path": "q.jsonl", "format": "instruction", "columns": {}, "on_bad_rows": "fail"}
    checks = [{"label": 'regex(pattern="^[A-Z]")', "metric": "regex", "args": {"pattern": "^[A-Z]"}, "want": 1}]
    steps = [
        ("load", [], {"sources": [src], "eval_source": None}),
        ("clean", ["load"], {"redact_pii": {"q": False}, "max_tokens": {"q": None}, "overlong": {"q": "drop"}}),
        ("dedup", ["clean"], DEDUP),
        ("split", ["dedup"], {"holdout": 0.25, "seed": 1, "stratify": None, "accept_leaks": False, "ngram": 13}),
        (
            "synthesize",
            ["split"],
            {
                "teacher": "smollm2-135m-instruct",
                "rows": 6,
                "seed": 3,
                "shots": 3,
                "max_new_tokens": 16,
                "sources": ["q"],
                "checks": checks,
            },
        ),
    ]
    plan = {
        "recipe": {"name": "synth"},
        "inputs": [],
        "goal": {"kind": "behavior", "text": "Answer with the capital city of the country", "knowledge_text": ""},
        "prompt": {"system": "Answer with the capital city of the country, one word.", "few_shot": 0},
        "steps": [{"id": i, "kind": i, "needs": n, "guard": None, "config": c} for i, n, c in steps],
    }
    result = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    folder = result.outcomes["synthesize"].dir
    stats = json.loads((folder / "synth.json").read_text())
    assert stats["requested"] == stats["generated"] == 6
    assert stats["kept"] + stats["dropped"] == 6 and sum(stats["reasons"].values()) == stats["dropped"]
    synthetic = read_records(folder / "synthetic.jsonl")
    assert len(synthetic) == stats["kept"]
    split = result.outcomes["split"].dir
    holdout = read_records(split / "holdout.jsonl")
    train = read_records(split / "train.jsonl")
    assert len(holdout) == 2 and len(train) == 6
    # The holdout is real rows only: every row comes from the data file, none from the teacher.
    real = {r["instruction"] for r in rows}
    assert all(r.source == "q" and r.fields["instruction"] in real for r in holdout)
    held = {" ".join(r.fields["instruction"].casefold().split()) for r in holdout}
    assert not any(" ".join(r.fields["instruction"].casefold().split()) in held for r in synthetic)
    # Every kept row passes the plan's single-answer expect.
    assert all(r.fields["output"][:1].isupper() for r in synthetic)
    again = Executor(plan, tmp_path, RunOptions(runs_dir=tmp_path / "runs"), STEPS).run()
    assert again.outcomes["synthesize"].status == "cached"


def test_the_report_shows_generated_kept_and_dropped_with_reasons(tmp_path: Path) -> None:
    from test_report import EM, GATE, _info  # pytest puts tests/runtime on the path

    from ftc.runtime.gate import decide
    from ftc.runtime.report import write_reports

    out = synth.judge_rows(
        [("What is the capital of Chile?", "Santiago"), (None, None), ("What is the capital of Chile?", "Santiago")],
        "instruction",
        [],
        [],
        [],
        DEDUP,
    )
    stats = out.to_json(requested=3) | {"teacher": "smollm2-135m-instruct", "real_rows": 6}
    info = _info(decide([EM], GATE, {EM["label"]: 0.5}, {EM["label"]: 0.9}), 0.5, 0.9, trained=True)
    write_reports(tmp_path, info | {"synthesis": stats})
    md = (tmp_path / "report.md").read_text()
    assert "## Synthetic data" in md
    assert "wrote 3 of 3 requested rows, seeded by 6 real train rows: 1 kept and added to train, 2 dropped" in md
    assert "| duplicate_synthetic | 1 | What is the capital of Chile? |" in md and "| no_input | 1 | - |" in md
    assert "Synthetic data" in (tmp_path / "report.html").read_text()
