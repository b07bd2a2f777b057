"""Dedup, split and contamination: duplicates found, the first kept; the split deterministic,
leak-free and cluster-preserving (hypothesis property tests); eval-source leaks fail the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftc.runtime.data import DataError, Record, clean, contamination, dedup, load_sources, read_source, split
from ftc.runtime.data.split import clusters

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "data"
VOCAB = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()


def chat(user: str, reply: str, line: int, purpose: str = "train") -> Record:
    return Record(
        "s",
        "f.jsonl",
        line,
        "chat",
        {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]},
        purpose,
    )


def test_dedup_fixture_keeps_first_occurrence():
    records, _ = clean(read_source("t", FIX / "chat_dups.jsonl", "chat").records, {})
    kept, stats = dedup(records, {})
    assert [r.line for r in kept] == [1, 2, 3, 4, 8]
    assert stats["exact_duplicates"] == 2 and stats["near_duplicates"] == 1
    assert [(d["line"], d["kept_line"], d["kind"]) for d in stats["dropped"]] == [
        (5, 1, "exact"),
        (6, 2, "exact"),
        (7, 3, "near"),
    ]


def test_dedup_leaves_documents_and_eval_rows_alone():
    doc = Record("kb", "a.md", 1, "documents", {"text": "same", "path": "a.md"})
    rows = [chat("same text here", "ok", 1), chat("same text here", "ok", 2, "eval"), doc, doc]
    kept, stats = dedup(rows, {})
    assert kept == rows and stats["exact_duplicates"] == 0


def test_contamination_13_grams_and_short_rows():
    train = [
        chat("the quick brown fox jumps over the lazy dog near the quiet river bank today", "ok", 1),
        chat("what is two plus two", "4", 2),
    ]
    evals = [
        chat("Yesterday THE quick brown fox, jumps over the lazy dog near the quiet river bank!", "x", 1),
        chat("What is two plus two?", "5", 2),
        chat("what is two plus three", "5", 3),
        chat("the quick brown fox jumps over the lazy dog near the quiet", "x", 4),
    ]
    leaks = contamination(train, evals)
    assert [(x["line"], x["train_line"]) for x in leaks] == [(1, 1), (2, 2)]  # line 4 has only 12 shared words
    boiler = [
        chat(f"ticket {i}: " + "please note that our team will review the charges on your account soon", "ok", i)
        for i in range(12)
    ]
    probe = [chat("please note that our team will review the charges on your account soon thanks", "x", 1)]
    assert contamination(boiler, probe) == []  # in more than 10 train rows: template, not a leak
    assert len(contamination(boiler[:5], probe)) == 1


def test_eval_source_is_the_holdout_and_leaks_fail(tmp_path):
    cfg = {
        "sources": [
            {"name": "train", "path": "chat_dups.jsonl", "format": "chat"},
            {"name": "ev", "path": "chat_eval.jsonl", "format": "chat"},
        ],
        "eval_source": "ev",
    }
    loaded = load_sources(cfg, FIX)
    with pytest.raises(DataError, match=r"chat_eval.jsonl:2: shares .* with chat_dups.jsonl:4"):
        split(loaded.records, {"holdout": 0.2, "seed": 1})
    result = split(loaded.records, {"holdout": 0.2, "seed": 1, "accept_leaks": True})
    assert [r.line for r in result.holdout] == [1, 2, 3] and len(result.train) == 8
    assert result.stats["mode"] == "eval_source" and result.stats["leaks"] == 1


def test_random_split_is_leak_free_stratified_and_passes_documents():
    rows = [
        chat(
            " ".join(VOCAB[(i * 7 + j) % 16] for j in range(3)) + f" case {i}",
            json.dumps({"category": "a" if i % 4 else "b"}),
            i + 1,
        )
        for i in range(40)
    ]
    shared = "this long sentence is shared word for word by two rows so they must stay together"
    rows += [chat(shared + " one", "{}", 41), chat("prefix " + shared, "{}", 42)]
    doc = Record("kb", "a.md", 1, "documents", {"text": "doc", "path": "a.md"})
    result = split(rows + [doc], {"holdout": 0.25, "seed": 3, "stratify": "category"})
    assert result.documents == [doc] and result.leaks == []
    sides = {r.line: ("h" if r in result.holdout else "t") for r in rows}
    assert sides[41] == sides[42]
    cats = [json.loads(r.fields["messages"][1]["content"]).get("category") for r in result.holdout]
    assert cats.count("a") == round(0.25 * 30) and cats.count("b") == round(0.25 * 10)


# -- properties of the splitter ------------------------------------------------------------------

texts = st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=16).map(" ".join), min_size=2, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=texts, seed=st.integers(0, 1000), holdout=st.sampled_from([0.1, 0.2, 0.5]))
def test_split_properties(texts, seed, holdout):
    rows = [chat(t, "ok", i + 1) for i, t in enumerate(texts)]
    cfg = {"holdout": holdout, "seed": seed}
    a = split(rows, cfg)
    b = split(rows, cfg)
    assert [r.line for r in a.train] == [r.line for r in b.train]  # same seed, same split
    train_lines, hold_lines = {r.line for r in a.train}, {r.line for r in a.holdout}
    assert not train_lines & hold_lines and train_lines | hold_lines == {r.line for r in rows}
    assert a.leaks == [] and len(a.holdout) <= round(holdout * len(rows))
    cluster_of, _ = clusters(rows, cfg)
    for c in set(cluster_of):
        members = {rows[i].line for i, k in enumerate(cluster_of) if k == c}
        assert members <= train_lines or members <= hold_lines  # a cluster never straddles the split


def test_report_counts_every_stage(tmp_path):
    from ftc.runtime.data import build_report, render_report, write_report

    cfg = {"sources": [{"name": "t", "path": "chat_dups.jsonl", "format": "chat"}]}
    loaded = load_sources(cfg, FIX)
    cleaned, cstats = clean(loaded.records, {"redact_pii": {"t": True}})
    unique, dstats = dedup(cleaned, {})
    result = split(unique, {"holdout": 0.4, "seed": 2})
    report = build_report(loaded, cstats, dstats, result, [3, 1, 2, 10], "chars/4")
    stages = {s["name"]: s["rows"] for s in report["stages"]}
    assert stages == {
        "read": 8,
        "bad": 0,
        "valid": 8,
        "cleaned": 8,
        "redacted": 0,
        "exact_duplicates": 2,
        "near_duplicates": 1,
        "unique": 5,
        "train": len(result.train),
        "holdout": len(result.holdout),
    }
    assert stages["train"] + stages["holdout"] == 5 and report["tokens"] == {
        "p50": 2,
        "p90": 10,
        "p99": 10,
        "max": 10,
        "method": "chars/4",
    }
    write_report(report, tmp_path)
    assert json.loads((tmp_path / "data_report.json").read_text()) == report
    text = (tmp_path / "data_report.txt").read_text()
    assert "exact duplicates" in text and "tokens (chars/4): p50 2" in text and "split (random)" in text
    assert render_report(report) + "\n" == text


def test_preference_pairs_stay_in_train():
    rows = [chat(f"question number {i} about {VOCAB[i % 16]}", "answer", i + 1) for i in range(20)]
    pairs = [
        Record(
            "p", "p.jsonl", i + 1, "preference", {"prompt": f"prompt {i} {VOCAB[i]}", "chosen": "a", "rejected": "b"}
        )
        for i in range(10)
    ]
    result = split(rows + pairs, {"holdout": 0.5, "seed": 4})
    assert all(r.format == "chat" for r in result.holdout) and len(result.holdout) == 10
    assert sum(r.format == "preference" for r in result.train) == 10


def test_with_nothing_but_pairs_a_share_of_the_pairs_is_held_out():
    """A preference-only recipe: the gate must score something, so pairs are held out like rows
    (their prompts scored against the chosen answers); those pairs never reach DPO's train split."""
    pairs = [
        Record(
            "p", "p.jsonl", i + 1, "preference",
            {"prompt": f"prompt {i} {VOCAB[i % 16]} {VOCAB[(i * 7) % 16]}", "chosen": f"yes {i}", "rejected": f"no {i}"},
        )
        for i in range(300)
    ]  # fmt: skip
    result = split(pairs, {"holdout": 0.1, "seed": 4})
    assert len(result.holdout) == 30 and len(result.train) == 270
    assert {r.line for r in result.holdout}.isdisjoint(r.line for r in result.train)


def test_vectorised_signatures_match_datasketch():
    from datasketch import MinHash

    from ftc.runtime.data.minhash import SEED, MinHashes, shingle_hashes

    texts = ["the quick brown fox jumps over the lazy dog", "", "two words", "!!!", " ".join(VOCAB) * 3, "a b c"]
    flat, offsets = shingle_hashes(texts, 5)
    minhashes = MinHashes(64, 5).extend(texts[:2])
    assert minhashes.shingled().tolist() == [True, False]  # a read in between leaves a short block...
    minhashes.extend(texts[2:])  # ...and later rows still land at their own index
    shingled = minhashes.shingled()
    for i in range(len(texts)):
        hashes = flat[offsets[i] : offsets[i + 1]].tolist()
        assert shingled[i] == bool(hashes)
        if not hashes:
            continue
        ref = MinHash(num_perm=64, seed=SEED, hashfunc=lambda x: x)
        ref.update_batch(hashes)
        assert (ref.hashvalues == minhashes.row(i)).all()


def _datasketch_pairs(texts: list[str], threshold: float, num_perm: int, only_first: bool) -> list[tuple[int, int]]:
    """The reference: datasketch's MinHashLSH queried, then filled, in row order (the old code)."""
    from datasketch import LeanMinHash, MinHashLSH

    from ftc.runtime.data.minhash import SEED, MinHashes

    minhashes = MinHashes(num_perm, 5).extend(texts)
    shingled = minhashes.shingled()
    sigs = [
        LeanMinHash(seed=SEED, hashvalues=minhashes.row(i), scheme="affine32") if shingled[i] else None
        for i in range(len(texts))
    ]
    lsh, pairs = MinHashLSH(threshold=threshold, num_perm=num_perm), []
    for i, sig in enumerate(sigs):
        if sig is None:
            continue
        matched = False
        for j in sorted(lsh.query(sig)):
            if sig.jaccard(sigs[j]) >= threshold:
                matched = True
                pairs.append((i, j))
                if only_first:
                    break
        if not (only_first and matched):
            lsh.insert(i, sig)
    return pairs


@pytest.mark.parametrize("only_first", [True, False])
def test_compact_lsh_finds_exactly_datasketchs_pairs(only_first):
    """The numpy band search (no per-row objects) gives the pairs MinHashLSH gives, in order, on
    data with chains of near copies (a copy of a copy), rows without words and unrelated rows."""
    import random

    rng = random.Random(5)
    texts: list[str] = []
    for _ in range(3000):
        roll = rng.random()
        if texts and roll < 0.25:  # a copy of an earlier row (perhaps itself a copy), one word changed
            base = rng.choice(texts).split() or ["alpha"]
            base[rng.randrange(len(base))] = rng.choice(VOCAB)
            texts.append(" ".join(base))
        elif roll < 0.27:
            texts.append("!!!" if roll < 0.26 else "")
        else:
            texts.append(" ".join(rng.choice(VOCAB) for _ in range(rng.randint(3, 60))))
    from ftc.runtime.data.minhash import MinHashes, near_pairs

    for threshold in (0.5, 0.85):
        expected = _datasketch_pairs(texts, threshold, 128, only_first)
        got = list(near_pairs(MinHashes(128, 5).extend(texts), threshold, only_first))
        assert got == expected and len(expected) > 50
