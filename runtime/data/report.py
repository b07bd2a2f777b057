"""The data report: counts at each stage and token lengths; a dict for JSON, a text rendering for
people and CI logs, and both written atomically to the run folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .tokens import token_stats

MAX_LISTED = 50


def build_report(
    load=None,
    clean_stats: dict | None = None,
    dedup_stats: dict | None = None,
    split_result=None,
    token_lengths: list[int] | None = None,
    token_method: str = "chars/4",
) -> dict:
    stages: list[dict] = []
    if load is not None:
        # from the per-source counts: the executor rebuilds a LoadResult from load.json without records
        read = sum(c["rows"] for c in load.counts.values())
        valid = sum(c["valid"] for c in load.counts.values())
        stages += [
            {"name": "read", "rows": read},
            {"name": "bad", "rows": read - valid},
            {"name": "valid", "rows": valid},
        ]
        if any("after_max_rows" in c or "after_weight" in c for c in load.counts.values()):
            # a source's max_rows subsample and the weighted mixture, when the recipe sets them
            used = sum(c.get("after_weight", c.get("after_max_rows", c["valid"])) for c in load.counts.values())
            stages.append({"name": "sampled", "rows": used})
    if clean_stats:
        stages.append({"name": "cleaned", "rows": clean_stats.get("out", 0)})
        stages.append({"name": "redacted", "rows": sum((clean_stats.get("redacted") or {}).values())})
    if dedup_stats:
        stages += [
            {"name": "exact_duplicates", "rows": dedup_stats.get("exact_duplicates", 0)},
            {"name": "near_duplicates", "rows": dedup_stats.get("near_duplicates", 0)},
            {"name": "unique", "rows": dedup_stats.get("out", 0)},
        ]
    if split_result is not None:
        stages += [
            {"name": "train", "rows": len(split_result.train)},
            {"name": "holdout", "rows": len(split_result.holdout)},
        ]
    return {
        "stages": stages,
        "sources": load.counts if load is not None else {},
        "bad_rows": load.bad_rows[:MAX_LISTED] if load is not None else [],
        "clean": clean_stats or {},
        "dedup": {k: v for k, v in (dedup_stats or {}).items() if k != "dropped"},
        "split": split_result.stats if split_result is not None else {},
        "leaks": split_result.leaks[:MAX_LISTED] if split_result is not None else [],
        "tokens": {**token_stats(token_lengths or []), "method": token_method},
    }


def render_report(report: dict) -> str:
    lines = ["data report"]
    width = max((len(s["name"]) for s in report["stages"]), default=0)
    lines += [f"  {s['name'].replace('_', ' '):<{width}}  {s['rows']:>8}" for s in report["stages"]]
    clean = report.get("clean") or {}
    if clean:
        lines.append(
            f"  clean: {clean.get('empty_dropped', 0)} empty dropped, {clean.get('overlong_dropped', 0)} overlong "
            f"dropped, {clean.get('overlong_truncated', 0)} truncated"
        )
        red = {k: v for k, v in (clean.get("redacted") or {}).items() if v}
        if red:
            lines.append("  redacted: " + ", ".join(f"{v} {k}" for k, v in red.items()))
    split = report.get("split") or {}
    if split:
        lines.append(
            f"  split ({split.get('mode')}): {split.get('train', 0)} train, {split.get('holdout', 0)} holdout, "
            f"{split.get('clusters', 0)} clusters, {split.get('leaks', 0)} leaks"
        )
        if split.get("warning"):
            lines.append(f"  warning: {split['warning']}")
    t = report["tokens"]
    lines.append(f"  tokens ({t['method']}): p50 {t['p50']}, p90 {t['p90']}, p99 {t['p99']}, max {t['max']}")
    for b in report.get("bad_rows", [])[:10]:
        lines.append(f"  bad: {b['file']}:{b['line']}: {b['reason']}")
    for x in report.get("leaks", [])[:10]:
        lines.append(f"  leak: {x['file']}:{x['line']} shares a 13-gram with {x['train_file']}:{x['train_line']}")
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: dict, folder) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / "data_report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    _atomic_write(folder / "data_report.txt", render_report(report) + "\n")
