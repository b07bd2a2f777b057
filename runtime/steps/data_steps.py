"""load, clean, dedup, split: thin wrappers over ``ftc.runtime.data`` (docs/data_api.md) that write
each stage's records as JSONL in the step folder, so every stage is cached and inspectable."""

from __future__ import annotations

import json
from pathlib import Path

from ftc.runtime.steps.spec import step
from ftc.shared import atomic

RECORDS = "records.jsonl"


def _stats_file(ctx, name: str, stats: dict) -> None:  # noqa: ANN001 - the executor's Context
    atomic.write_json(ctx.dir / name, stats)


# "inputs" holds each data file's digest (the data lock): the load step reads those files.
@step("load", reads=("inputs",), content_keyed=True)
def load_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime import data

    result = data.load_sources(ctx.config, ctx.project_root)
    data.write_records(ctx.dir / RECORDS, result.records)
    _stats_file(ctx, "load.json", {"counts": result.counts, "bad_rows": result.bad_rows})
    return {"records": len(result.records), "bad_rows": len(result.bad_rows)}


def _token_counter():
    from ftc.runtime import data

    batch, method = data.default_token_counter()
    return (lambda text: batch([text])[0]), batch, method


@step("clean", needs_outputs_of=("load",), content_keyed=True)
def clean_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime import data

    records = data.read_records(ctx.need_dir("load") / RECORDS)
    count, _, _ = _token_counter()
    kept, stats = data.clean(records, ctx.config, count)
    data.write_records(ctx.dir / RECORDS, kept)
    _stats_file(ctx, "clean.json", stats)
    return {"in": len(records), "out": len(kept)}


@step("dedup", needs_outputs_of=("clean",), content_keyed=True)
def dedup_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime import data

    records = data.read_records(ctx.need_dir("clean") / RECORDS)
    kept, stats = data.dedup(records, ctx.config)
    data.write_records(ctx.dir / RECORDS, kept)
    _stats_file(ctx, "dedup.json", stats)
    return {"in": len(records), "out": len(kept)}


@step("split", needs_outputs_of=("load", "clean", "dedup"), content_keyed=True)
def split_step(ctx) -> dict:  # noqa: ANN001
    from ftc.runtime import data

    records = data.read_records(ctx.need_dir("dedup") / RECORDS)
    result = data.split(records, ctx.config)
    data.write_records(ctx.dir / "train.jsonl", result.train)
    data.write_records(ctx.dir / "holdout.jsonl", result.holdout)
    data.write_records(ctx.dir / "documents.jsonl", result.documents)
    _stats_file(ctx, "split.json", {"stats": result.stats, "leaks": result.leaks})
    report = _data_report(ctx, result)
    data.write_report(report, ctx.dir)
    if ctx.progress is not None:
        ctx.progress.note(f"train {len(result.train)} rows, holdout {len(result.holdout)} rows")
    return {"train": len(result.train), "holdout": len(result.holdout), "documents": len(result.documents)}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _data_report(ctx, result) -> dict:  # noqa: ANN001
    """The data report spans four cached steps, so it is assembled here from their stats files."""
    from ftc.runtime import data

    load = _read_json(ctx.need_dir("load") / "load.json")
    records = data.read_records(ctx.need_dir("load") / RECORDS)
    load_result = data.LoadResult(records=records, bad_rows=load.get("bad_rows", []), counts=load.get("counts", {}))
    _, batch, method = _token_counter()
    lengths = batch([data.record_text(r) for r in result.train]) if result.train else []
    return data.build_report(
        load=load_result,
        clean_stats=_read_json(ctx.need_dir("clean") / "clean.json"),
        dedup_stats=_read_json(ctx.need_dir("dedup") / "dedup.json"),
        split_result=result,
        token_lengths=list(lengths),
        token_method=method,
    )
