"""Data sources on the Hugging Face Hub, read from the local cache (offline by default).

``hf://owner/name`` names a dataset repository. Its files are found in the hub cache
(``$HF_HUB_CACHE`` / ``$HF_HOME/hub``: ``datasets--owner--name/snapshots/<revision>/``) with
``snapshot_download(local_files_only=True)`` and loaded through ``datasets.load_dataset`` on that
folder (the packaged Parquet / JSON / CSV builders: no dataset script, no network), with the
split slice (``train[:20%]``) and a row cap. The revision (the snapshot's commit) and the
dataset's fingerprint pin what was read. Offline with nothing cached is one located error that
names the command that fetches it. Rows then go through the same shapes and schemas as a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ftc.shared.files import DataError, RawRow
from ftc.shared.hub import PREFIX, hub_dataset
from ftc.shared.hub import is_hub_path as is_hub_path  # re-exported for the load step and ftc data check
from ftc.shared.mixture import sample_indices

from .readers import checked_row


@dataclass(frozen=True)
class HubSource:
    """A hub dataset as a data source names it: ``hf://owner/name`` plus config, split and cap."""

    dataset: str
    config: str | None = None
    split: str = "train"
    max_rows: int | None = None  # the first rows (ftc data check --max-rows)
    revision: str | None = None  # the snapshot a plan's data lock pinned; None: refs/main
    sample: int | None = None  # a recipe's max_rows: a seeded subsample of this many rows
    seed: int = 0

    @property
    def label(self) -> str:
        config = f" ({self.config})" if self.config else ""
        return f"{PREFIX}{self.dataset}{config}[{self.split}]"


def parse_hub_path(path: str) -> str:
    """``hf://owner/name`` -> ``owner/name``; anything else is a usage error."""
    dataset = hub_dataset(path)
    if dataset is None:
        raise DataError(f"error: {path}: a hub dataset is written hf://owner/name", 2)
    return dataset


def snapshot_folder(source: HubSource, allow_download: bool = False) -> Path:
    """The cached snapshot of the dataset repository (fetched first when downloads are allowed)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # cache_dir from the environment now: huggingface_hub reads HF_HOME once, at import
        return Path(
            snapshot_download(
                source.dataset,
                repo_type="dataset",
                revision=source.revision,
                local_files_only=True,
                cache_dir=_hub_cache(),
            )
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        if not allow_download:
            pinned = f" --revision {source.revision}" if source.revision else ""
            raise DataError(
                f"{source.label}: the dataset is not in the Hugging Face cache ({_hub_cache()}) and ftc reads data "
                f"offline; fetch it once with\n  hf download --repo-type dataset {source.dataset}{pinned}\n"
                "or allow downloads (ftc run --allow-download)",
                2,
            ) from None
    try:
        return Path(
            snapshot_download(source.dataset, repo_type="dataset", revision=source.revision, cache_dir=_hub_cache())
        )
    except Exception as exc:  # noqa: BLE001 - network, auth, unknown repo: all user-facing
        raise DataError(f"{source.label}: could not download the dataset: {exc}", 2) from None


def _hub_cache() -> str:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return str(Path(home) / "hub")


def load_hub(source: HubSource, allow_download: bool = False):
    """The split (sliced, capped) as a ``datasets.Dataset``, loaded from the cached snapshot, and
    each kept row's number in the split (from 1: a hub row's "line")."""
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # ftc prints its own progress; the builder's bars would interleave with it
    folder = snapshot_folder(source, allow_download)
    try:
        ds = load_dataset(str(folder), name=source.config, split=source.split)
    except Exception as exc:  # noqa: BLE001 - a bad split, config or file: one located line
        raise DataError(
            f"{source.label}: cannot load the cached dataset ({type(exc).__name__}: {str(exc)[:300]})", 2
        ) from None
    numbers = list(range(1, len(ds) + 1))
    if source.max_rows is not None and len(ds) > source.max_rows:
        ds, numbers = ds.select(range(source.max_rows)), numbers[: source.max_rows]
    if source.sample is not None and len(ds) > source.sample:
        # the planner's arithmetic (ftc.shared.mixture): the same rows on every machine, in split order
        picked = sample_indices(len(ds), source.sample, source.seed, source.dataset)
        ds, numbers = ds.select(picked), [numbers[i] for i in picked]
    return ds, numbers


def hub_lock(source: HubSource) -> dict:
    """What pins a hub source: the snapshot revision and the loaded split's fingerprint."""
    folder = snapshot_folder(source)
    ds, _ = load_hub(source)
    return {
        "dataset": source.dataset,
        "config": source.config,
        "split": source.split,
        "max_rows": source.max_rows,
        "revision": folder.name,
        "fingerprint": ds._fingerprint,
        "rows": len(ds),
    }


def read_hub(source: HubSource, allow_download: bool = False) -> Iterator[RawRow]:
    """Every row of the split, numbered from 1 (the line of a hub row), nesting-checked."""
    ds, numbers = load_hub(source, allow_download)
    for number, row in zip(numbers, ds, strict=True):
        yield checked_row(number, row)
