"""``read_once``: inside the block one parse of a GGUF file serves every reader of it (the
embedded model's conversion and the export's read-back rely on that for their speed); outside,
and after an error inside, gguf's own reader and name table are back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _tiny_gguf(path: Path) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.arange(12, dtype=np.float32).reshape(3, 4))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_one_reader_per_file_inside_and_gguf_own_functions_after(tmp_path: Path) -> None:
    import gguf

    from ftc.runtime.gguf_reading import read_once

    path = _tiny_gguf(tmp_path / "tiny.gguf")
    own_reader, own_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with read_once():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again
        assert gguf.GGUFReader(path, "r+") is not first  # another mode is another reader
        arch = gguf.MODEL_ARCH.LLAMA
        assert gguf.get_tensor_name_map(arch, 1) is gguf.get_tensor_name_map(arch, 1)
        tensor = first.tensors[0]
        assert tensor.name == "token_embd.weight" and tensor.data.reshape(3, 4)[2, 3] == 11
    assert gguf.GGUFReader is own_reader and gguf.get_tensor_name_map is own_map
    assert gguf.GGUFReader(path) is not gguf.GGUFReader(path)


def test_an_error_inside_still_puts_gguf_back(tmp_path: Path) -> None:
    import gguf

    from ftc.runtime.gguf_reading import read_once

    own_reader = gguf.GGUFReader
    with pytest.raises(ValueError), read_once():
        raise ValueError("a load that failed")
    assert gguf.GGUFReader is own_reader
