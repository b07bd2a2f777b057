"""Data hygiene (run steps 1-4): load, validate, clean, dedup, leak-free split and
the data report. The API the executor calls is documented in docs/data_api.md; nothing here
imports torch or writes to an input file."""

from .clean import Cleaner, clean
from .contamination import contamination, query_text
from .dedup import DedupIndex, dedup
from .load import LoadResult, iter_source, load_sources, read_source
from .records import (
    DataError,
    Record,
    RecordSpool,
    iter_records,
    match_text,
    read_records,
    record_text,
    write_records,
)
from .report import build_report, render_report, write_report
from .schemas import format_schema
from .split import SplitResult, split
from .tokens import default_token_counter, token_stats

__all__ = [
    "Cleaner",
    "DataError",
    "DedupIndex",
    "LoadResult",
    "Record",
    "RecordSpool",
    "SplitResult",
    "build_report",
    "clean",
    "contamination",
    "dedup",
    "iter_records",
    "iter_source",
    "query_text",
    "default_token_counter",
    "format_schema",
    "load_sources",
    "match_text",
    "read_records",
    "read_source",
    "record_text",
    "render_report",
    "split",
    "token_stats",
    "write_records",
    "write_report",
]
