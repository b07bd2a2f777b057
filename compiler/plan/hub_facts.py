"""Facts about a hub dataset source (``path = "hf://owner/name"``), from the local Hugging Face
cache and without the ``datasets`` library (the compiler imports no heavy library).

The snapshot is ``$HF_HUB_CACHE/datasets--owner--name/snapshots/<revision>/``, the folder
``hf download --repo-type dataset`` (and ``load_dataset`` itself) fills. Which of its files make
the requested config and split follows ``datasets``' own rules for a data-only repository: the
``configs`` of the README's YAML header when it has them, else the split keywords in file and
folder names (``train-00000-of-00001.parquet``, ``data/test.jsonl``, ``validation/``), else every
data file is ``train``. The rows are counted per file and the slice applied with the arithmetic
``datasets`` uses; the lock pins the revision and a digest over those files. Nothing cached is a
located FTR301 that names the command that fetches it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ftc.compiler.lang.diagnostics import error
from ftc.compiler.lang.recipe import DataSource
from ftc.compiler.plan.facts import (
    FactError,
    SourceFacts,
    answer_text,
    canonical_sample,
    downloads_allowed,
    hf_hub_cache,
    row_text,
    rows_and_sample,
    tree_digest,
)
from ftc.shared import files
from ftc.shared.hub import hub_dataset, slice_rows, split_name

DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".tsv")
# datasets' split keywords (data_files.py): a file or folder named by one belongs to that split
SPLIT_WORDS: dict[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_SEP = r"[-._ 0-9/]"


def _fail(src: DataSource, message: str, hint: str | None = None) -> FactError:
    return FactError(error("FTR301", f"data source '{src.name}' ({src.rel_path}): {message}", src.span, hint))


def snapshot(src: DataSource, revision: str | None = None) -> Path:
    """The cached snapshot folder (the one ``refs/main`` names, or ``revision``); fetched first
    when downloads are allowed, else a located error naming the command."""
    assert src.hub is not None
    repo = hf_hub_cache() / ("datasets--" + src.hub.replace("/", "--"))
    rev = revision or _read_ref(repo)
    if rev and (repo / "snapshots" / rev).is_dir():
        return repo / "snapshots" / rev
    if downloads_allowed() and revision is None:
        return _download(src)
    pinned = f" at revision {revision}" if revision else ""
    raise _fail(
        src,
        f"the dataset{pinned} is not in the Hugging Face cache ({hf_hub_cache()}) and ftc reads data offline",
        f"fetch it once with `hf download --repo-type dataset {src.hub}"
        + (f" --revision {revision}" if revision else "")
        + "`, or let ftc fetch it: `ftc plan RECIPE --allow-download` or `ftc run RECIPE --allow-download`",
    )


def _read_ref(repo: Path) -> str | None:
    try:
        return (repo / "refs" / "main").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _download(src: DataSource) -> Path:
    from huggingface_hub import snapshot_download  # light (no torch); only on this opt-in path

    assert src.hub is not None  # only hub sources come here
    try:
        return Path(snapshot_download(src.hub, repo_type="dataset", cache_dir=str(hf_hub_cache())))
    except Exception as exc:  # noqa: BLE001 - network, auth, unknown repo: all user-facing
        raise _fail(
            src,
            f"could not download the dataset: {type(exc).__name__}: {str(exc)[:200]}",
            "check the id and the network; a gated dataset needs `hf auth login`",
        ) from exc


def split_files(src: DataSource, folder: Path) -> list[Path]:
    """The snapshot's files that make ``src``'s config and split, as ``load_dataset`` picks them."""
    configs = _readme_configs(folder)
    name = split_name(src.split)
    if configs:
        chosen = _choose_config(src, configs)
        patterns = _config_patterns(chosen.get("data_files"), name)
        # a README is downloaded text: a pattern may only name files inside the snapshot
        safe = [p for p in patterns if p and not p.startswith("/") and ".." not in p.split("/")]
        found = sorted({p for pattern in safe for p in folder.glob(pattern) if _is_data(p)})
    else:
        if src.config is not None:
            raise _fail(src, f"the dataset defines no configurations, so config = \"{src.config}\" names none",
                        "drop `config`; this dataset has one")  # fmt: skip
        found = _by_split_keyword(folder, name)
    if not found:
        raise _fail(src, f"the cached dataset has no data files for split '{name}'", _splits_hint(folder))
    return found


def _is_data(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in DATA_SUFFIXES


def _readme_configs(folder: Path) -> list[dict[str, Any]]:
    readme = folder / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return []
    m = re.match(r"---\s*\n(.*?)\n---", text, re.S)
    if not m:
        return []
    import yaml  # already a dependency (ftc import)

    try:
        header = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return []
    configs = header.get("configs") if isinstance(header, dict) else None
    return [c for c in configs if isinstance(c, dict)] if isinstance(configs, list) else []


def _choose_config(src: DataSource, configs: list[dict[str, Any]]) -> dict[str, Any]:
    names = [str(c.get("config_name", "default")) for c in configs]
    if src.config is not None:
        if src.config in names:
            return configs[names.index(src.config)]
        raise _fail(src, f"the dataset has no configuration '{src.config}'", f"its configurations: {', '.join(names)}")
    default = [c for c in configs if c.get("default")] or [c for c in configs if c.get("config_name") == "default"]
    if default:
        return default[0]
    if len(configs) == 1:
        return configs[0]
    raise _fail(src, "the dataset has several configurations", f"set config to one of {', '.join(names)}")


def _config_patterns(data_files: Any, split: str) -> list[str]:
    """A config's ``data_files`` (a pattern, a list, or per-split entries) -> the split's patterns."""
    if isinstance(data_files, str):
        return [data_files] if split == "train" else []
    if not isinstance(data_files, list):
        return []
    out: list[str] = []
    for entry in data_files:
        if isinstance(entry, str) and split == "train":
            out.append(entry)
        elif isinstance(entry, dict) and str(entry.get("split", "train")) == split:
            path = entry.get("path")
            out += [path] if isinstance(path, str) else [p for p in path or [] if isinstance(p, str)]
    return out


def _by_split_keyword(folder: Path, split: str) -> list[Path]:
    every = sorted(p for p in folder.rglob("*") if _is_data(p) and not p.name.startswith("."))
    if split not in SPLIT_WORDS:  # another name: datasets' `data/{split}-00000-of-00001.parquet` shape
        return [p for p in every if p.name.startswith(f"{split}-") or split in p.relative_to(folder).parts[:-1]]
    words = SPLIT_WORDS[split]
    named = [p for p in every if _split_of(p.relative_to(folder).as_posix()) is not None]
    if not named:  # no file names a split: datasets puts every file in train
        return every if split == "train" else []
    return [p for p in named if _split_of(p.relative_to(folder).as_posix()) in words]


def _split_of(rel: str) -> str | None:
    """The split keyword a repository path names (a folder or a file name part), or None."""
    stem = rel.rsplit(".", 1)[0]
    for words in SPLIT_WORDS.values():
        for word in words:
            if re.search(rf"(^|{_SEP}){word}($|{_SEP})", stem):
                return word
    return None


def _splits_hint(folder: Path) -> str:
    every = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if _is_data(p)]
    found = sorted({s for s in (_split_of(p) for p in every) if s}) or (["train"] if every else [])
    return f"its splits: {', '.join(found)}" if found else "the snapshot holds no Parquet, JSON or CSV file"


def hub_source_facts(src: DataSource, revision: str | None = None) -> SourceFacts:
    """Rows (after the slice), bytes, a sample and the lock (revision + digest) of a hub source."""
    folder = snapshot(src, revision)
    data = split_files(src, folder)
    try:
        total, sample = 0, list[object]()
        for path in data:
            files.require_regular_file(path)  # the cache links to blobs; a FIFO there is refused, not awaited
            n, rows = rows_and_sample(path)
            total += n
            sample = sample or rows
    except files.DataError as exc:
        raise _fail(src, exc.reason) from None
    except (OSError, ValueError) as exc:
        raise _fail(src, f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    sample = canonical_sample(src, sample)
    digest, size = tree_digest(folder, data)
    return SourceFacts(
        src.name,
        src.rel_path,
        src.format,
        digest,
        slice_rows(src.split, total),
        size,
        tuple(row_text(r) for r in sample),
        tuple(answer_text(r) for r in sample),
        revision=folder.name,
    )


def pinned_digest(item: dict[str, Any]) -> str | None:
    """A hub input of a plan's lock, recomputed at its pinned revision: the digest of the files its
    split reads, or None when that snapshot is no longer in the cache (or no longer reads)."""
    path = str(item["path"])
    src = DataSource(
        name=str(item["name"]),
        path=path,
        rel_path=path,
        format=item.get("format", "chat"),
        hub=hub_dataset(path),
        config=item.get("config"),
        split=item.get("split") or "train",
    )
    if src.hub is None:
        return None
    try:
        folder = snapshot(src, str(item.get("revision") or "") or None)
        return tree_digest(folder, split_files(src, folder))[0]
    except (FactError, OSError):
        return None
