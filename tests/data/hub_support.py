"""A Hugging Face cache written by a test, no network: ``datasets--owner--name/snapshots/<rev>/``
with ``refs/main`` naming the snapshot, the layout ``hf download --repo-type dataset`` (and
``load_dataset`` itself) leaves, which ftc reads offline."""

from __future__ import annotations

from pathlib import Path

REV = "0123456789abcdef0123456789abcdef01234567"


def sharegpt_rows(n: int, tag: str = "Question") -> list[dict]:
    return [
        {
            "conversations": [
                {"from": "human", "value": f"{tag} number {i}, please answer"},
                {"from": "gpt", "value": f"Answer number {i}."},
            ]
        }
        for i in range(n)
    ]


def cache_dataset(home: Path, repo_id: str, files: dict[str, list[dict]], rev: str = REV, readme: str = "") -> Path:
    """Write ``files`` (repository path -> rows, as Parquet) as one snapshot of dataset ``repo_id``
    in the hub cache under ``home`` (HF_HOME); the snapshot folder."""
    from datasets import Dataset

    repo = home / "hub" / ("datasets--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / rev
    for rel, rows in files.items():
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows).to_parquet(str(snap / rel))
    if readme:
        (snap / "README.md").write_text(readme, encoding="utf-8")
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(rev)
    return snap
