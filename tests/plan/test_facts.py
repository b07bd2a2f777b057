"""Facts the rules see: rows per source and format, documents, token lengths (a real tokenizer
from the ftc cache, else chars/4), model facts from a config.json, the caches or the table, and
located errors for unreadable data and unknown models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftc.compiler.lang.recipe import DataSource, ModelRef, Span
from ftc.compiler.plan import facts
from ftc.compiler.plan.facts import FactError, model_facts, source_facts, token_stats


def _src(path: Path, fmt: str = "chat", **kw) -> DataSource:
    return DataSource("s", str(path), path.name, fmt, span=Span(str(path.parent / "r.ftr"), 4, 3, 4, 9), **kw)


def test_jsonl_counts_non_blank_lines(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "completion": "bb"}\n\n   \n{"prompt": "c", "completion": "dd"}\n{broken\n')
    f = source_facts(_src(p, "completion"), str(tmp_path))
    assert f.rows == 3 and f.path == "d.jsonl" and f.sha256 == facts.sha256_file(p)
    assert f.answers[:2] == ("bb", "dd")  # the broken row is the data step's to report; counted here


def test_json_array_csv_and_parquet(tmp_path):
    rows = [{"instruction": f"q{i}", "output": f"answer {i}"} for i in range(7)]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    assert source_facts(_src(tmp_path / "d.json", "instruction"), str(tmp_path)).rows == 7
    (tmp_path / "d.csv").write_text('instruction,output\n"multi\nline",x\nq,y\n,\n')
    assert source_facts(_src(tmp_path / "d.csv", "instruction"), str(tmp_path)).rows == 2
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    f = source_facts(_src(tmp_path / "d.parquet", "instruction"), str(tmp_path))
    assert f.rows == 7 and f.answers[0] == "answer 0"


def test_a_json_file_of_json_lines_is_read_as_rows_and_a_wrapper_object_is_named(tmp_path):
    """`datasets`' to_json writes JSON Lines under any name: a .json file of one object per line is
    rows, counted as the load step reads them. One object holding the list is named, not guessed."""
    rows = [{"instruction": f"q{i}", "output": f"answer {i}"} for i in range(5)]
    lines = tmp_path / "d.json"
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    f = source_facts(_src(lines, "instruction"), str(tmp_path))
    assert f.rows == 5 and f.answers[:2] == ("answer 0", "answer 1")
    from ftc.shared.files import count_rows, json_rows

    assert count_rows(lines) == 5 and [r.line for r in json_rows(lines)] == [1, 2, 3, 4, 5]
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"version": 1, "data": rows}, indent=2))
    with pytest.raises(FactError) as exc:
        source_facts(_src(wrapped, "instruction"), str(tmp_path))
    assert "one object whose 'data' holds a list" in exc.value.diagnostic.message
    single = tmp_path / "s.json"
    single.write_text(json.dumps(rows[0]) + "\n")  # one object, one line: a document, not rows
    with pytest.raises(FactError) as exc:
        source_facts(_src(single, "instruction"), str(tmp_path))
    assert "this is one JSON object, not a list of rows" in exc.value.diagnostic.message


def test_json_object_is_a_located_error(tmp_path):
    (tmp_path / "d.json").write_text('{"rows": []}')
    with pytest.raises(FactError) as exc:
        source_facts(_src(tmp_path / "d.json"), str(tmp_path))
    d = exc.value.diagnostic
    assert d.code == "FTR301" and d.span.line == 4 and "array" in d.message


def test_invalid_utf8_names_its_line_and_byte(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"prompt": "a", "completion": "b"}\n' * 3000 + b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(FactError) as exc:
        source_facts(_src(p, "completion"), str(tmp_path))
    assert "line 3001, byte 16: not UTF-8 text (byte 0xe9)" in exc.value.diagnostic.message


def test_an_unreadable_source_says_why_in_the_users_words(tmp_path):
    """ftc's own reasons and the OS's are shown as written: no Python exception names for a user's mistake."""
    (tmp_path / "folder").mkdir()
    with pytest.raises(FactError) as exc:
        source_facts(_src(tmp_path / "folder"), str(tmp_path))
    message = exc.value.diagnostic.message
    assert "a folder data source (other than documents) must be a `datasets` folder" in message
    assert "Error" not in message
    (tmp_path / "d.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(FactError) as exc:
        source_facts(_src(tmp_path / "d.parquet", "instruction"), str(tmp_path))
    assert exc.value.diagnostic.code == "FTR301"  # pyarrow's own error keeps its type: it names the reader


def test_missing_file_is_a_located_error(tmp_path):
    with pytest.raises(FactError) as exc:
        source_facts(_src(tmp_path / "nope.jsonl"), str(tmp_path))
    assert exc.value.diagnostic.code == "FTR301" and "no such file" in exc.value.diagnostic.message


def test_documents_count_files_and_bytes_under_the_glob(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("alpha")
    (docs / "sub" / "b.md").write_text("beta!")
    (docs / "skip.bin").write_bytes(b"\0" * 10)
    f = source_facts(_src(docs, "documents", glob="**/*.md"), str(tmp_path))
    assert (f.rows, f.bytes, f.path) == (2, 10, "docs")
    (docs / "a.md").write_text("alpha2")
    assert source_facts(_src(docs, "documents", glob="**/*.md"), str(tmp_path)).sha256 != f.sha256


def test_chars_over_four_without_a_tokenizer():
    stats = token_stats(["x" * 40, "y" * 400, "z" * 4], None)
    assert stats.method == "chars/4" and stats.max == 100 and stats.p50 == 10


def _tiny_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))


def test_tokenizer_from_the_ftc_cache(tmp_path, monkeypatch):
    home = tmp_path / "ftc"
    monkeypatch.setenv("FTC_HOME", str(home))
    _tiny_tokenizer(home / "models" / "smollm2-135m-instruct" / "tokenizer.json")
    model = model_facts(ModelRef("smollm2-135m-instruct"))
    tok = facts.tokenizer_for(model)
    assert tok is not None
    stats = token_stats(["hello world hello", "hello"], tok)
    assert stats.method == "tokenizer" and stats.max == 3


def test_model_from_a_local_folder(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "hidden_size": 576,
                "intermediate_size": 1536,
                "num_attention_heads": 9,
                "num_key_value_heads": 3,
                "num_hidden_layers": 30,
                "vocab_size": 49152,
                "tie_word_embeddings": True,
            }
        )
    )
    _tiny_tokenizer(folder / "tokenizer.json")
    m = model_facts(ModelRef("./my-model"), [tmp_path])
    assert m.source == "config.json" and m.params == 134_515_008
    assert facts.tokenizer_for(m) == folder / "tokenizer.json"


def test_model_from_the_hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    snap = tmp_path / "hf" / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(
        json.dumps(
            {
                "model_type": "qwen2",
                "hidden_size": 896,
                "intermediate_size": 4864,
                "num_attention_heads": 14,
                "num_key_value_heads": 2,
                "num_hidden_layers": 24,
                "vocab_size": 151936,
                "tie_word_embeddings": True,
            }
        )
    )
    m = model_facts(ModelRef("Qwen/Qwen2.5-0.5B-Instruct"))
    assert m.source == "config.json" and m.params == 494_032_768


def test_model_from_the_table_and_unknown_models():
    assert model_facts(ModelRef("meta-llama/Llama-3.1-8B-Instruct")).source == "table"
    span = Span("r.ftr", 3, 10, 3, 30)
    with pytest.raises(FactError) as exc:
        model_facts(ModelRef("lama-3.1-8b", span))
    d = exc.value.diagnostic
    assert d.code == "FTR302" and d.span == span and "llama-3.1-8b" in d.hint


def test_broken_config_is_located(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 8}')
    with pytest.raises(FactError) as exc:
        model_facts(ModelRef(str(folder)))
    assert exc.value.diagnostic.code == "FTR303"


def test_documents_facts_and_lock_list_exactly_what_the_load_step_reads(tmp_path):
    """Hidden files and, under the default glob, non-text files are not read by the run: the plan
    neither hashes them (editing one does not stale the lock) nor prices their text as context."""
    from ftc.compiler.plan.lock import lock_digest
    from ftc.runtime.data.load import read_source

    docs = tmp_path / "docs"
    (docs / ".cache").mkdir(parents=True)
    (docs / "guide.md").write_text("refunds take five days " * 20)
    (docs / "notes.txt").write_text("a plain note")
    (docs / ".cache" / "big.md").write_text("hidden " * 5000)
    (docs / "dump.bin").write_bytes(b"\x00junk" * 5000)
    src = _src(docs, "documents", glob="**/*")
    f = source_facts(src, str(tmp_path))
    read = read_source("kb", str(docs), "documents", glob="**/*", label="docs").records
    assert f.rows == len(read) == 2 and f.bytes == len("refunds take five days " * 20) + len("a plain note")
    assert {path for path, _ in f.chunks} == {"guide.md", "notes.txt"}
    assert lock_digest(docs, "documents", "**/*") == f.sha256
    (docs / ".cache" / "big.md").write_text("edited")
    (docs / "dump.bin").write_bytes(b"other")
    assert source_facts(src, str(tmp_path)).sha256 == f.sha256


@pytest.mark.parametrize("pattern", ["/etc/*", "a/**b"])
def test_a_glob_that_is_no_pattern_under_the_folder_is_a_located_error(tmp_path, pattern):
    """A plan file's glob edited to an absolute or malformed pattern: the lock check and the load
    step say which folder and glob, never an internal error."""
    from ftc.compiler.plan.lock import lock_digest
    from ftc.shared.files import DataError, document_files

    (tmp_path / "a.md").write_text("x")
    for call in (lambda: document_files(tmp_path, pattern), lambda: lock_digest(tmp_path, "documents", pattern)):
        with pytest.raises(DataError) as err:
            call()
        assert str(tmp_path) in err.value.message and f"`{pattern}`" in err.value.message
