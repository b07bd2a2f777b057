"""The synthesize step (R-SYNTHESIZE): the teacher writes training rows seeded by real train rows
and the goal; ``ftc.runtime.synth`` keeps the ones that pass every check. Writes
``synthetic.jsonl`` (the kept rows, as records) and ``synth.json`` (requested, generated, kept,
dropped by reason, with examples). The train and distill steps add the kept rows to the split's
train rows; the holdout is never touched."""

from __future__ import annotations

import re

from ftc.runtime.steps import common
from ftc.runtime.steps.spec import step
from ftc.shared import atomic
from ftc.shared.errors import FtcError

SYNTHETIC = "synthetic.jsonl"
STATS = "synth.json"
# The dedup and split steps' settings: a synthetic row is a duplicate or a leak exactly when a
# real row would be one.
DEDUP = {"near_threshold": 0.85, "num_perm": 128, "shingle_words": 5}
NGRAM = 13


# version: bump with synth.PROMPT_VERSION (the requests' wording), so cached rows are written again.
@step("synthesize", reads=("prompt", "goal.text"), needs_outputs_of=("split",), guarded=True, version=2)
def synthesize_step(ctx) -> dict:  # noqa: ANN001 - the executor's Context
    from ftc.runtime import data, synth
    from ftc.runtime.generate import generate, load_model
    from ftc.runtime.prompting import PROMPT_FORMATS, to_example, user_text

    cfg = ctx.config
    split = ctx.need_dir("split")
    sources = cfg.get("sources") or []
    real = [
        r
        for r in data.read_records(split / "train.jsonl")
        if r.format in PROMPT_FORMATS and (not sources or r.source in sources)
    ]
    if not real:
        raise FtcError(f"error: step '{ctx.step['id']}': the train split has no rows to seed synthesis with")
    holdout = data.read_records(split / "holdout.jsonl")  # read only to refuse leaks, never seeded from
    system = common.system_prompt(ctx.plan)
    examples = [to_example(r.fields, r.format, system) for r in real]
    fmt = _majority_format(real)
    sets = synth.seed_sets(len(real), int(cfg["rows"]), int(cfg.get("shots", 3)), int(cfg.get("seed", 0)))
    goal = str(ctx.plan.get("goal.text") or system)
    tokens = int(cfg.get("max_new_tokens", 128))
    loaded = load_model(common.model_dir(ctx, str(cfg["teacher"])))
    with common.generation_progress(ctx, "synthesize: inputs") as update:
        replies = generate(
            loaded,
            [synth.input_request(goal, [examples[i] for i in s]) for s in sets],
            max_new_tokens=max(64, tokens),
            progress=update,
            prefill=synth.INPUT_PREFILL,
        )
    paragraphs = any(re.search(r"\n\s*\n", user_text(e).strip()) for e in examples)
    inputs = [synth.parse_input(t, paragraphs) for t in replies]
    shape = synth.Shape.of([user_text(e) for e in examples])
    asked = [(n, x) for n, x in enumerate(inputs) if x and shape.fits(x)]  # only inputs that can be kept
    with common.generation_progress(ctx, "synthesize: answers") as update:
        answers = generate(
            loaded,
            [synth.answer_request(system, x, [examples[i] for i in sets[n]]) for n, x in asked],
            max_new_tokens=tokens,
            progress=update,
        )
    by_row = dict(zip((n for n, _ in asked), answers, strict=True))
    candidates = [(x, by_row.get(n)) for n, x in enumerate(inputs)]
    checks = synth.expect_checks(list(cfg.get("checks") or []), ctx.project_root)
    outcome = synth.judge_rows(candidates, fmt, real, holdout, checks, DEDUP, NGRAM, shape)
    data.write_records(ctx.dir / SYNTHETIC, outcome.kept)
    stats = outcome.to_json(int(cfg["rows"])) | {"teacher": cfg["teacher"], "format": fmt, "real_rows": len(real)}
    atomic.write_json(ctx.dir / STATS, stats)
    if ctx.progress is not None:
        ctx.progress.note(
            f"synthesize: {stats['generated']} generated, {stats['kept']} kept, {stats['dropped']} dropped"
        )
    return {k: stats[k] for k in ("requested", "generated", "kept", "dropped")}


def _majority_format(records: list) -> str:
    formats = [r.format for r in records]
    return max(sorted(set(formats)), key=formats.count)


def synthetic_examples(ctx) -> list:  # noqa: ANN001
    """The kept synthetic rows as examples, when the plan synthesised (else none). The caller's
    spec must declare ``synthesize`` in ``needs_outputs_of``."""
    from ftc.runtime import data
    from ftc.runtime.prompting import to_example

    outcome = ctx.by_kind("synthesize")
    if outcome is None or outcome.dir is None or outcome.status not in ("ran", "cached"):
        return []
    system = common.system_prompt(ctx.plan)
    return [to_example(r.fields, r.format, system) for r in data.read_records(outcome.dir / SYNTHETIC)]
