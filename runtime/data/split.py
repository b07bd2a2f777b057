"""Split step: train / holdout, deterministic by seed, leak-free.

Without an eval source, rows that are near duplicates (MinHash LSH) or share a 13-gram are joined
into clusters (union-find) and whole clusters go to one side, so no near duplicate and no n-gram
leak crosses the split. Optional stratification by a field: a top-level field of the row, or for
chat rows whose last assistant reply is a JSON object, a key of that object (e.g. "category").
With an eval source, its rows are the holdout and are checked for contamination against train.
Preference pairs stay in train (they feed DPO; the gate scores behaviour rows), together with
anything clustered with them, unless the data has nothing but pairs: then pairs are held out like
any row, and the gate scores their prompts with the chosen answer as the reference (an empty
holdout would let a tune through unmeasured).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from .contamination import MAX_ROWS, contamination, shared_gram_pairs
from .dedup import settings
from .load import MAX_LISTED
from .minhash import MinHashes, near_pairs
from .records import DataError, Record, match_text


@dataclass(frozen=True)
class SplitResult:
    train: list[Record]
    holdout: list[Record]
    documents: list[Record] = field(default_factory=list)
    leaks: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def clusters(records: list[Record], cfg: dict) -> tuple[list[int], set[str]]:
    """A cluster id (its smallest member's index) per row, and the boilerplate n-grams ignored."""
    parent = list(range(len(records)))
    c = settings(cfg)
    minhashes = MinHashes(c["num_perm"], c["shingle_words"]).extend(match_text(r) for r in records)
    pairs = list(near_pairs(minhashes, c["near_threshold"], only_first=False))
    gram_pairs, boilerplate = shared_gram_pairs(records, c.get("ngram", 13), c.get("ngram_max_rows", MAX_ROWS))
    pairs += gram_pairs
    for a, b in pairs:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [_find(parent, i) for i in range(len(records))], boilerplate


def stratum(record: Record, key: str | None) -> str:
    if not key:
        return ""
    value = record.fields.get(key)
    if value is None and record.format == "chat":
        replies = [m for m in record.fields.get("messages", []) if m.get("role") == "assistant"]
        try:
            obj = json.loads(replies[-1]["content"]) if replies else None
        except ValueError:
            obj = None
        value = obj.get(key) if isinstance(obj, dict) else None
    return "(none)" if value is None else str(value)


def _fraction(value: float) -> float:
    return value / 100 if value > 1 else value


def _train_only(record: Record, keep_pairs: bool) -> bool:
    """Rows the gate cannot score: undesirable KTO answers, and preference pairs when there are
    behaviour rows to score (with nothing but pairs, a pair's prompt is scored against its chosen
    answer). A desirable KTO answer is a prompt with a good reference answer: it may be held out."""
    if record.format == "preference":
        return keep_pairs
    return record.format == "kto" and record.fields.get("label") is not True


def assign(records: list[Record], cluster_of: list[int], cfg: dict) -> tuple[set[int], int]:
    """Indices that go to the holdout. Clusters in seeded random order fill the holdout greedily;
    a cluster is taken only if no stratum would pass its share (round(holdout x its rows))."""
    members: dict[int, list[int]] = {}
    for i, c in enumerate(cluster_of):
        members.setdefault(c, []).append(i)
    strata = [stratum(r, cfg.get("stratify")) for r in records]
    frac = _fraction(float(cfg.get("holdout", 0.2)))
    # Pairs stay in train when there are behaviour rows to score; with nothing but pairs they are scored.
    keep_pairs = any(r.format != "preference" for r in records)
    train_only = [_train_only(r, keep_pairs) for r in records]
    target = Counter(s for s, r, only in zip(strata, records, train_only, strict=True) if not only)
    target = Counter({k: round(frac * v) for k, v in target.items()})
    order = sorted(members)
    random.Random(cfg.get("seed", 0)).shuffle(order)
    taken: Counter = Counter()
    holdout: set[int] = set()
    for c in order:
        if any(train_only[i] for i in members[c]):
            continue  # the gate scores behaviour rows, so what only an objective can use stays in train
        add = Counter(strata[i] for i in members[c])
        if all(taken[k] + v <= target[k] for k, v in add.items()):
            taken.update(add)
            holdout.update(members[c])
    return holdout, sum(target.values())


def format_leaks(leaks: list[dict]) -> str:
    lines = [
        f"error: {len(leaks)} holdout row{'s' if len(leaks) != 1 else ''} share a 13-gram with a train row "
        "(a leak makes the eval measure memory); fix the data or set accept_leaks = true:"
    ]
    lines += [
        f'  {x["file"]}:{x["line"]}: shares "{x["ngram"]}" with {x["train_file"]}:{x["train_line"]}'
        for x in leaks[:MAX_LISTED]
    ]
    if len(leaks) > MAX_LISTED:
        lines.append(f"  ... and {len(leaks) - MAX_LISTED} more")
    return "\n".join(lines)


def split(records, cfg: dict, eval_records: list[Record] | None = None) -> SplitResult:
    records = list(records)
    docs = [r for r in records if r.format == "documents"]
    pool = [r for r in records if r.format != "documents" and r.purpose != "eval"]
    if eval_records is None:
        eval_records = [r for r in records if r.format != "documents" and r.purpose == "eval"]
    n = int(cfg.get("ngram", 13))
    stats: dict = {"documents": len(docs), "stratify": cfg.get("stratify")}
    boilerplate: set[str] = set()
    if eval_records:
        train, holdout = pool, list(eval_records)
        stats.update(mode="eval_source", clusters=len(pool), largest_cluster=1)
    else:
        cluster_of, boilerplate = clusters(pool, cfg)
        chosen, target = assign(pool, cluster_of, cfg)
        train = [r for i, r in enumerate(pool) if i not in chosen]
        holdout = [r for i, r in enumerate(pool) if i in chosen]
        sizes: dict[int, int] = {}
        for c in cluster_of:
            sizes[c] = sizes.get(c, 0) + 1
        stats.update(
            mode="random", clusters=len(sizes), largest_cluster=max(sizes.values(), default=0), target_holdout=target
        )
        if len(holdout) < target:
            # whole clusters cannot always fill the share exactly; say so rather than leak
            stats["warning"] = (
                f"holdout has {len(holdout)} rows, {target} asked: near-duplicate / shared 13-gram "
                f"clusters stay whole (largest {stats['largest_cluster']} rows)"
            )
    leaks = contamination(train, holdout, n, int(cfg.get("ngram_max_rows", MAX_ROWS)), boilerplate)
    stats.update(train=len(train), holdout=len(holdout), leaks=len(leaks))
    if leaks and not cfg.get("accept_leaks", False):
        raise DataError(format_leaks(leaks))
    return SplitResult(train, holdout, docs, leaks, stats)
