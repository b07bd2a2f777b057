"""Cheap facts about a recipe's data and models, gathered without torch.

Data: rows per source (counted, never validated: the runtime's data step does that), bytes,
a sha256 (the plan's data lock) and a token-length sample. Models: the architecture numbers from
a ``config.json`` (a local folder, the ftc cache, the Hugging Face cache) or the built-in table.
Problems are returned as FTR3xx diagnostics located at the recipe node that named the input.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ftc.compiler.lang.diagnostics import Diagnostic, error
from ftc.compiler.lang.recipe import DataSource, ModelRef, Recipe
from ftc.compiler.plan import model_table
from ftc.compiler.plan.model_table import ModelSpec
from ftc.shared import chunking, files, shapes
from ftc.shared.contract import FORMAT_FIELDS
from ftc.shared.paths import ftc_home

SAMPLE_ROWS = 500  # token lengths are measured on at most this many rows per source
_CHUNK = 1 << 20


class FactError(Exception):
    """A located problem with an input; the planner turns it into a diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# --- models ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFacts:
    name: str  # as the recipe wrote it
    spec: ModelSpec
    source: str  # "config.json" or "table"
    folder: Path | None  # where config.json was found (never written to the plan)

    @property
    def params(self) -> int:
        return self.spec.params

    def tokenizer_file(self) -> Path | None:
        if self.folder is not None and (self.folder / "tokenizer.json").is_file():
            return self.folder / "tokenizer.json"
        return None


def hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(home) / "hub"


def _candidate_folders(name: str, base_dirs: Iterable[Path]) -> Iterator[Path]:
    """Where a config.json for ``name`` may live, most specific first."""
    if "/" in name or name.startswith("."):
        path = Path(name).expanduser()
        if path.is_absolute():
            yield path
        else:
            for base in base_dirs:
                yield base / path
    yield ftc_home() / "models" / name
    spec = model_table.lookup(name)
    hub_ids = [name] if "/" in name else []
    if spec is not None:
        hub_ids.append(spec.hub_id)
    for hub_id in hub_ids:
        snapshots = hf_hub_cache() / ("models--" + hub_id.replace("/", "--")) / "snapshots"
        if snapshots.is_dir():
            yield from sorted(p for p in snapshots.iterdir() if p.is_dir())


def model_facts(ref: ModelRef, base_dirs: Iterable[Path] = ()) -> ModelFacts:
    """Resolve a model: local folder, ftc cache, Hugging Face cache, built-in table; else a located error."""
    for folder in _candidate_folders(ref.name, list(base_dirs)):
        config = folder / "config.json"
        if config.is_file():
            return ModelFacts(ref.name, spec_from_config(config, ref), "config.json", folder)
    spec = model_table.lookup(ref.name)
    if spec is not None:
        return ModelFacts(ref.name, spec, "table", None)
    if is_hub_id(ref.name):
        return _hub_model_facts(ref)
    near = model_table.suggestions(ref.name)
    hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else None
    hint = (hint + " " if hint else "") + (
        "name a local folder with config.json, a Hugging Face id in the local cache, "
        "or a built-in family such as qwen2.5-7b, llama-3.1-8b, mistral-7b"
    )
    raise FactError(
        error(
            "FTR302",
            f"unknown model '{ref.name}': not a local folder, not in the ftc or Hugging Face cache, not in the built-in table",
            ref.span,
            hint,
        )
    )


# What planning needs of a hub model: its architecture numbers and its tokenizer, never the weights.
PLANNING_FILES: tuple[str, ...] = ("config.json", "tokenizer.json", "tokenizer_config.json")
ALLOW_DOWNLOAD_ENV = "FTC_ALLOW_DOWNLOAD"


def is_hub_id(name: str) -> bool:
    """owner/name, as the Hugging Face Hub writes a repository (not a path that exists here)."""
    owner, sep, repo = name.partition("/")
    return bool(
        sep and owner and repo and "/" not in repo and not name.startswith((".", "~")) and not Path(name).exists()
    )


def downloads_allowed() -> bool:
    """Planning is offline unless the user allows downloads (``FTC_ALLOW_DOWNLOAD=1``)."""
    return os.environ.get(ALLOW_DOWNLOAD_ENV) == "1"


def _hub_model_facts(ref: ModelRef) -> ModelFacts:
    """A hub id that is not cached: with downloads allowed fetch only PLANNING_FILES; without, say
    exactly which command fetches them."""
    if downloads_allowed():
        folder = _fetch_planning_files(ref)
        return ModelFacts(ref.name, spec_from_config(folder / "config.json", ref), "config.json", folder)
    files_ = " ".join(PLANNING_FILES)
    raise FactError(
        error(
            "FTR302",
            f"model '{ref.name}' is not in the Hugging Face cache ({hf_hub_cache()}) and ftc plans offline",
            ref.span,
            f"fetch its config and tokenizer (not the weights) with `hf download {ref.name} {files_}`, "
            f"or let ftc fetch them: `ftc plan RECIPE --allow-download` (or {ALLOW_DOWNLOAD_ENV}=1); "
            "`ftc run RECIPE --allow-download` fetches the whole model",
        )
    )


def _fetch_planning_files(ref: ModelRef) -> Path:
    """config.json (required) and the tokenizer files (when the repository has them) into the
    Hugging Face cache; the folder that holds them."""
    from huggingface_hub import hf_hub_download  # light (no torch); only on this opt-in path

    folder: Path | None = None
    for name in PLANNING_FILES:
        try:
            folder = Path(hf_hub_download(ref.name, name, cache_dir=str(hf_hub_cache()))).parent
        except Exception as exc:  # noqa: BLE001 - network, auth, unknown repo or file: all user-facing
            if name == "config.json":
                raise FactError(
                    error(
                        "FTR302",
                        f"could not download the config of model '{ref.name}': {type(exc).__name__}: {str(exc)[:200]}",
                        ref.span,
                        "check the id and the network; a gated model needs `hf auth login`",
                    )
                ) from exc
    assert folder is not None  # config.json was fetched or we raised
    return folder


def spec_from_config(path: Path, ref: ModelRef) -> ModelSpec:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        cfg = cfg.get("text_config", cfg) if isinstance(cfg, dict) else cfg
        hidden = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        return ModelSpec(
            name=model_table.normalise(ref.name),
            hub_id=ref.name,
            arch=str(cfg.get("model_type", "unknown")),
            layers=int(cfg["num_hidden_layers"]),
            hidden=hidden,
            intermediate=int(cfg.get("intermediate_size") or 4 * hidden),
            vocab=int(cfg["vocab_size"]),
            heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            tied=bool(cfg.get("tie_word_embeddings", False)),
            head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
            qkv_bias=bool(cfg.get("attention_bias", False)) or cfg.get("model_type") == "qwen2",
            max_positions=int(cfg.get("max_position_embeddings") or 4096),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FactError(
            error(
                "FTR303",
                f"cannot read the model's config at {path}: {type(exc).__name__}: {exc}",
                ref.span,
                "config.json needs hidden_size, num_attention_heads, num_hidden_layers and vocab_size",
            )
        ) from exc


# --- data ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenStats:
    p50: int
    p90: int
    p99: int
    max: int
    mean: float
    sampled: int
    method: str  # "tokenizer" or "chars/4"

    def to_json(self) -> dict[str, object]:
        return {
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "max": self.max,
            "mean": round(self.mean, 1),
            "sampled": self.sampled,
            "method": self.method,
        }


@dataclass(frozen=True)
class SourceFacts:
    name: str
    path: str  # relative to project_root, POSIX
    format: str
    sha256: str
    rows: int  # rows, or files for a documents source
    bytes: int
    texts: tuple[str, ...]  # the sampled rows' text, for token lengths
    answers: tuple[str, ...] = ()  # the sampled rows' expected responses, for max_new_tokens
    revision: str | None = None  # a hub dataset: the snapshot (commit) the rows come from
    max_rows: int | None = None  # the recipe's cap on this source (a seeded subsample)
    weight: float | None = None  # the source's share of its training mixture
    # A documents source: its longest chunks, (path, text), for the retrieved context's length
    chunks: tuple[tuple[str, str], ...] = ()


def rel_path(path: str | Path, root: str | Path) -> str:
    """POSIX path relative to the project root (``..`` segments for --allow-outside data)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(root).resolve())).as_posix()


def source_facts(src: DataSource, root: str) -> SourceFacts:
    if src.hub is not None:
        from ftc.compiler.plan.hub_facts import hub_source_facts  # it builds on this module

        return hub_source_facts(src)
    path = Path(src.path)
    try:
        if src.format == "documents":
            return _documents_facts(src, path, root)
        if path.is_dir():
            return _dataset_dir_facts(src, path, root)
        size = files.require_regular_file(path).st_size  # a FIFO or /dev/zero is refused before any open
        rows, sample = _count_rows(path)
        fmt = read_format(src, sample)
        sample = canonical_sample(src, sample, fmt)
        return SourceFacts(
            src.name,
            rel_path(path, root),
            fmt,
            sha256_file(path),
            rows,
            size,
            tuple(row_text(r) for r in sample),
            tuple(answer_text(r) for r in sample),
        )
    except FactError:
        raise
    except files.DataError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        hint = "`ftc data check` reads the file as a run would and names every problem" if exc.line else None
        raise FactError(
            error(
                "FTR301", f"cannot read data source '{src.name}' ({src.rel_path}): {where}{exc.reason}", src.span, hint
            )
        ) from None
    except (OSError, ValueError, csv.Error) as exc:
        raise FactError(
            error(
                "FTR301",
                f"cannot read data source '{src.name}' ({src.rel_path}): {_why(exc)}",
                src.span,
                "check the path and the file's format; `ftc data check` validates every row",
            )
        ) from exc
    except Exception as exc:  # pyarrow raises its own error types for a corrupt Parquet file
        raise FactError(
            error("FTR301", f"cannot read data source '{src.name}' ({src.rel_path}): {_why(exc)}", src.span)
        ) from exc


def _why(exc: Exception) -> str:
    """Why a source could not be read, in the user's words: ftc's own ValueErrors and the OS's
    reason as they are; another library's error (a corrupt Parquet file) with its type, which
    names what failed."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, (ValueError, csv.Error)) and type(exc).__module__ in ("builtins", "_csv"):
        return str(exc)[:200]
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def sha256_file(path: Path) -> str:
    """The data lock's digest, read through the shared bounded opener (a FIFO is refused, not awaited)."""
    os.stat(path)  # a missing file stays an OSError, as callers (the recipe's own digest) expect
    digest = hashlib.sha256()
    with files.open_data_file(path) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sample_indices(n: int) -> set[int]:
    if n <= SAMPLE_ROWS:
        return set(range(n))
    step = n / SAMPLE_ROWS
    return {int(i * step) for i in range(SAMPLE_ROWS)}


def rows_and_sample(path: Path) -> tuple[int, list[object]]:
    """A data file's row count and a sample of its rows (a hub dataset's files are read alike)."""
    return _count_rows(path)


def _count_rows(path: Path) -> tuple[int, list[object]]:
    """Rows by the shared counter (the load step's own definition of a row), then a sample."""
    n = files.count_rows(path)
    if n is None:
        raise files.DataError.at(
            path,
            f"unknown file type '{path.suffix or '(none)'}'; ftc reads .jsonl, .json, .csv, "
            ".tsv, .parquet, a `datasets` folder, or documents",
            exit_code=2,
        )
    keep = _sample_indices(n)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return n, _parquet_sample(path)
    if suffix in (".jsonl", ".ndjson"):
        return n, _jsonl_sample(path, keep)
    rows = files.json_rows(path) if suffix == ".json" else files.csv_rows(path)
    return n, [raw.row if raw.reason is None else "" for i, raw in enumerate(rows) if i in keep]


def _jsonl_sample(path: Path, keep: set[int]) -> list[object]:
    """The sampled rows, parsed; every line is decoded so text that is not UTF-8 is named here, with
    its line and byte, before a run finds it."""
    parser = files.RowParser()
    sample: list[object] = []
    for i, (number, _, raw) in enumerate(files.data_lines(path)):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"line {number}, byte {exc.start + 1}"
            raise files.DataError(
                f"{path}: {where}: not UTF-8 text",
                path=str(path),
                reason=f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            ) from None
        if i in keep:
            row, reason = parser.parse(text.strip())
            sample.append(text.strip() if reason else row)  # a bad row is the data step's to report; here it is text
    return sample


def _parquet_sample(path: Path) -> list[object]:
    import pyarrow.parquet as pq  # light next to torch, but only needed for Parquet data

    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=SAMPLE_ROWS):
        return _shallow(batch.to_pylist())
    return []


def _shallow(rows: list[object]) -> list[object]:
    """Arrow rows too deep for row_text's recursion count as empty text (the data step reports them)."""
    return [row if files.value_depth(row) <= files.MAX_DEPTH else "" for row in rows]


def _dataset_dir_facts(src: DataSource, path: Path, root: str) -> SourceFacts:
    """A ``datasets`` save_to_disk folder: rows from its Arrow files. A DatasetDict counts its
    ``train`` split only, the split the load step reads (the lock still covers every file)."""
    import pyarrow as pa

    arrow_files = sorted(path.rglob("*.arrow"))
    if not arrow_files:
        raise ValueError("a folder data source (other than documents) must be a `datasets` folder with .arrow files")
    split = path / "train" if (path / "dataset_dict.json").is_file() else path
    rows, sample = 0, list[object]()
    for file in (f for f in arrow_files if f.is_relative_to(split)):
        files.require_regular_file(file)  # a FIFO named *.arrow must not block the memory map
        with pa.memory_map(str(file)) as mm:
            table = pa.ipc.open_stream(mm).read_all()
        rows += table.num_rows
        if not sample:
            sample = _shallow(table.slice(0, SAMPLE_ROWS).to_pylist())
    fmt = read_format(src, sample)
    sample = canonical_sample(src, sample, fmt)
    digest, size = tree_digest(path, arrow_files)
    return SourceFacts(
        src.name,
        rel_path(path, root),
        fmt,
        digest,
        rows,
        size,
        tuple(row_text(r) for r in sample),
        tuple(answer_text(r) for r in sample),
    )


def _documents_facts(src: DataSource, path: Path, root: str) -> SourceFacts:
    found = files.document_files(path, src.glob)  # what the load step will read, no more
    base = path if path.is_dir() else path.parent
    digest, size = tree_digest(base, found)
    chunks = longest_chunks(base, found)
    return SourceFacts(src.name, rel_path(path, root), src.format, digest, len(found), size, (), chunks=chunks)


# A document's head read for its chunks: far more than the words of its first TOP_K windows.
CHUNK_READ_BYTES = 1 << 20


def longest_chunks(base: Path, paths: list[Path]) -> tuple[tuple[str, str], ...]:
    """The TOP_K longest chunks the index step will cut from these documents, (path, text): the
    retrieved context a prompt carries is at most these (``ftc.shared.chunking``)."""
    size, overlap = chunking.window_words(chunking.CHUNK_TOKENS, chunking.CHUNK_OVERLAP)
    found: list[tuple[str, str]] = []
    for file in paths:
        with file.open("rb") as handle:
            text = handle.read(CHUNK_READ_BYTES).decode("utf-8", errors="replace")
        rel = file.relative_to(base).as_posix()
        found += [(rel, c) for c in chunking.longest_chunks(text, size, overlap, chunking.TOP_K)]
        found = sorted(found, key=lambda c: len(c[1]), reverse=True)[: chunking.TOP_K]
    return tuple(found)


def tree_digest(base: Path, paths: list[Path]) -> tuple[str, int]:
    """One sha256 over (relative name, content hash) of every file: the lock for a folder."""
    digest = hashlib.sha256()
    size = 0
    for file in paths:
        digest.update(f"{file.relative_to(base).as_posix()}\0{sha256_file(file)}\n".encode())
        size += file.stat().st_size
    return digest.hexdigest(), size


def read_format(src: DataSource, sample: list[object]) -> str:
    """The format the plan reads a source with: the recipe's, except that a completion source whose
    rows carry a boolean label (prompt, completion, label: the KTO shape) is read as ``kto`` and
    trained with KTO. Labelled rows under any other format are refused here, located at the source
    (FTR321): a label must be used or refused, never dropped into plain SFT."""
    first = next((r for r in sample if isinstance(r, dict)), None)
    if first is None or src.format in ("kto", "preference", "text", "documents"):
        return src.format
    renamed = shapes.rename_columns(first, FORMAT_FIELDS[src.format], src.columns)
    key = shapes.kto_key(renamed) if isinstance(renamed, dict) else None
    if key is None:
        return src.format
    if src.format == "completion":
        return "kto"
    raise FactError(
        error(
            "FTR321",
            f"data source '{src.name}' ({src.rel_path}) is KTO data read as {src.format}: its rows carry a "
            f"boolean '{key}', and trained as plain SFT the undesirable answers would be taught too",
            src.span,
            f"write format = kto (rows of prompt, completion, {key}): ftc then trains them with KTO",
        )
    )


def canonical_sample(src: DataSource, sample: list[object], fmt: str | None = None) -> list[object]:
    """The sampled rows in canonical fields of ``fmt`` (default the recipe's format; see
    ``read_format``), by ``ftc.shared.shapes``, the loader's own conversion, so token lengths
    count what training reads (ShareGPT's ``from`` tags are not text)."""
    fmt = fmt or src.format
    return shapes.normalise_sample(sample, fmt, FORMAT_FIELDS[fmt], src.columns)


def row_text(row: object) -> str:
    """Every string in a row, joined: what the model will read (roles and keys are template tokens)."""
    if isinstance(row, str):
        return row
    if isinstance(row, dict):
        return "\n".join(row_text(v) for k, v in row.items() if k != "role")
    if isinstance(row, list):
        return "\n".join(row_text(v) for v in row)
    return "" if row is None else str(row)


_ANSWER_KEYS = ("completion", "output", "response", "answer", "chosen")


def answer_text(row: object) -> str:
    """The response a row teaches (the last assistant turn, or a completion-like field)."""
    if not isinstance(row, dict):
        return ""
    messages = row.get("messages")
    if isinstance(messages, list):
        turns = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        return row_text(turns[-1].get("content")) if turns else ""
    for key in _ANSWER_KEYS:
        if key in row:
            return row_text(row[key])
    return ""


# --- token lengths ---------------------------------------------------------------------------
def token_stats(texts: list[str], tokenizer_file: Path | None) -> TokenStats:
    lengths, method = _lengths(texts, tokenizer_file)
    if not lengths:
        return TokenStats(0, 0, 0, 0, 0.0, 0, method)
    ordered = sorted(lengths)

    def pct(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return TokenStats(pct(0.5), pct(0.9), pct(0.99), ordered[-1], statistics.fmean(ordered), len(ordered), method)


def _lengths(texts: list[str], tokenizer_file: Path | None) -> tuple[list[int], str]:
    if tokenizer_file is not None:
        try:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(tokenizer_file))
            return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)], "tokenizer"
        except Exception:  # noqa: BLE001 - an unreadable tokenizer falls back to the stated estimate
            pass
    return [max(1, (len(t) + 3) // 4) for t in texts], "chars/4"


def tokenizer_for(model: ModelFacts) -> Path | None:
    """tokenizer.json next to config.json, or in the ftc cache under the model's alias."""
    found = model.tokenizer_file()
    if found is not None:
        return found
    cached = ftc_home() / "models" / model.name / "tokenizer.json"
    return cached if cached.is_file() else None


def recipe_dirs(recipe: Recipe) -> list[Path]:
    """Folders a relative model path may be written against: the recipe's, then the project root."""
    return [Path(recipe.path).parent, Path(recipe.project_root)]


# --- shared tokenizers (R-DISTILL-KIND) -------------------------------------------------------
def _vocab(tokenizer_file: Path) -> dict[str, int] | None:
    """token -> id of a tokenizer.json's model, plus its added tokens; None when unreadable."""
    try:
        data = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model = data.get("model") if isinstance(data, dict) else None
    vocab = model.get("vocab") if isinstance(model, dict) else None
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        vocab = {str(v[0]): i for i, v in enumerate(vocab) if isinstance(v, list) and v}
    if not isinstance(vocab, dict):
        return None
    out = {str(k): int(v) for k, v in vocab.items() if isinstance(v, int)}
    for tok in data.get("added_tokens") or []:
        if isinstance(tok, dict) and isinstance(tok.get("content"), str) and isinstance(tok.get("id"), int):
            out[tok["content"]] = tok["id"]
    return out


def shared_vocab(student: ModelFacts, teacher: ModelFacts) -> tuple[bool, str]:
    """Whether teacher and student map every token to the same id (their logits are then over the
    same vocabulary, position for position), and the evidence in words. Vocab sizes differing
    settle it from config.json; otherwise both tokenizer.json files are compared entry by entry."""
    s, t = student.spec.vocab, teacher.spec.vocab
    if student.spec == teacher.spec and student.name == teacher.name and student.folder == teacher.folder:
        return True, "teacher and student are the same model: one tokenizer"
    if s != t:
        return False, f"vocab sizes differ: student {s:,}, teacher {t:,}"
    files = {"student": tokenizer_for(student), "teacher": tokenizer_for(teacher)}
    missing = [who for who, path in files.items() if path is None]
    if missing:
        return False, f"the {' and '.join(missing)}'s tokenizer.json is not available locally to compare"
    a, b = _vocab(files["student"]), _vocab(files["teacher"])  # type: ignore[arg-type]
    if a is None or b is None:
        return False, "a tokenizer.json could not be read as a vocabulary"
    if a != b:
        differ = len(set(a.items()) ^ set(b.items()))
        return False, f"the tokenizers differ in {differ:,} token-to-id entries"
    return True, f"the tokenizers are the same: {len(a):,} tokens, each with the same id"
