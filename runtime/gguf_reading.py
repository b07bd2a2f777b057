"""Reading a GGUF file through transformers' loader at the cost of one parse.

transformers' GGUF loader parses the file's header once for the config, once for the weights and
once for the tokenizer (~9 s each for a 49k-token vocabulary, in gguf's Python reader), and
rebuilds gguf's tensor-name table for every module it maps (~400 times, ~12 s). Both are pure
functions of their arguments and only read from; ``read_once`` computes each once for the span of
one load. The loader's own code does the rest, so what comes out is still transformers' reading of
the file. Used for the embedded model's first conversion and the export's read-back."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def read_once() -> Iterator[None]:
    """Within the block, one ``gguf.GGUFReader`` per (file, mode) and one tensor-name table per
    (architecture, blocks); gguf's own functions are back in place afterwards, also on error.
    Not for threads: the steps of a run load one after another in one process."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple, object] = {}

    def read(path: object, mode: str = "r") -> object:
        key = (str(path), mode)
        if key not in readers:
            readers[key] = reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = read, functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
