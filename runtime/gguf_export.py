"""Write a merged model folder as one GGUF file (llama.cpp's and Ollama's format).

The ``gguf`` package (gguf-py, llama.cpp's own Python writer) provides the file writer, the
tensor-name map and the block quantisers; this module is the small part of llama.cpp's
``convert_hf_to_gguf.py`` that a llama-architecture model needs: the metadata keys, the
byte-level BPE vocabulary, and the q/k row permutation llama.cpp's rotary embedding expects
(transformers' GGUF loader undoes it when reading the file back).

Quantisation types are the ones gguf-py can really write in Python: ``f16``, ``q8_0`` and
``q4_0``. The k-quants (``q4_k_m`` & co.) have only a dequantiser there; llama.cpp's C tool
``llama-quantize`` turns the f16 file into them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc.shared.contract import GGUF_ARCHITECTURES, GGUF_TYPES
from ftc.shared.errors import FtcError

# llama.cpp's name for a tokenizer's pre-tokenisation, by the base model family it came with.
# llama.cpp detects it from a hash of test encodings; an unknown family gets "default", which
# llama.cpp accepts with its generic GPT-2 split.
_PRE_TOKENIZERS = (("smollm", "smollm"), ("llama-3", "llama-bpe"), ("llama3", "llama-bpe"))


@dataclass(frozen=True)
class Written:
    path: Path
    qtype: str
    bytes: int
    tensors: int


def write_gguf(model_dir: Path, out: Path, qtype: str, *, name: str = "") -> Written:
    """``model_dir`` (a transformers folder with merged weights) -> ``out`` in ``qtype``."""
    import gguf

    if qtype not in GGUF_TYPES:
        raise FtcError(f"GGUF type '{qtype}' cannot be written here; use one of {', '.join(GGUF_TYPES)}")
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    arch = config.get("model_type")
    if arch not in GGUF_ARCHITECTURES:
        raise FtcError(f"the GGUF writer maps only {', '.join(GGUF_ARCHITECTURES)} models; {model_dir} is '{arch}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(tmp), arch)
    _metadata(writer, config, qtype, name or model_dir.name)
    _vocabulary(writer, model_dir, name.lower())
    count = _tensors(writer, model_dir, config, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)  # a reader never sees a half-written file under the final name
    return Written(out, qtype, out.stat().st_size, count)


def _rope_theta(config: dict) -> float:
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = rope.get("rope_type") or rope.get("type") or "default"
    if kind != "default":
        raise FtcError(f"rope scaling '{kind}' is not written to GGUF here (only the default rotary embedding)")
    return float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0)


def _metadata(writer: Any, config: dict, qtype: str, name: str) -> None:  # noqa: ANN401 - a gguf.GGUFWriter
    import gguf

    heads = int(config["num_attention_heads"])
    writer.add_name(name)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    writer.add_rope_dimension_count(int(config.get("head_dim") or config["hidden_size"] // heads))
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_vocab_size(int(config["vocab_size"]))
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}
    writer.add_file_type(int(file_type.get(qtype, gguf.LlamaFileType.MOSTLY_Q4_0)))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _vocabulary(writer: Any, model_dir: Path, family: str) -> None:  # noqa: ANN401
    """A byte-level BPE vocabulary (``tokenizer.ggml.model = gpt2``): tokens by id, their types,
    the merges, the special ids and the chat template."""
    import gguf
    from transformers import AutoTokenizer

    tok_json = model_dir / "tokenizer.json"
    model = json.loads(tok_json.read_text(encoding="utf-8"))["model"] if tok_json.exists() else {}
    if model.get("type") != "BPE":
        raise FtcError(f"{model_dir}: only byte-level BPE tokenizers (tokenizer.json) are written to GGUF here")
    tok = AutoTokenizer.from_pretrained(model_dir)
    vocab = tok.get_vocab()
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [int(gguf.TokenType.UNUSED)] * size
    for text, i in vocab.items():
        tokens[i], types[i] = text, int(gguf.TokenType.NORMAL)
    for i, added in tok.added_tokens_decoder.items():
        types[i] = int(gguf.TokenType.CONTROL if added.special else gguf.TokenType.USER_DEFINED)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(next((pre for key, pre in _PRE_TOKENIZERS if key in family), "default"))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])])
    for setter, token_id in (
        (writer.add_bos_token_id, tok.bos_token_id),
        (writer.add_eos_token_id, tok.eos_token_id),
        (writer.add_unk_token_id, tok.unk_token_id),
        (writer.add_pad_token_id, tok.pad_token_id),
    ):
        if token_id is not None:
            setter(int(token_id))
    writer.add_add_bos_token(bool(getattr(tok, "add_bos_token", False)))
    if tok.chat_template:
        writer.add_chat_template(tok.chat_template)


def _tensors(writer: Any, model_dir: Path, config: dict, qtype: str) -> int:  # noqa: ANN401
    import gguf
    from safetensors import safe_open

    blocks = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    count = 0
    for file in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for hf_name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                if hf_name == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue  # tied: llama.cpp reuses token_embd (transformers reads it back tied)
                new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
                if new is None:
                    raise FtcError(f"{file.name}: tensor '{hf_name}' has no GGUF name")
                data = f.get_tensor(hf_name).float().numpy()
                if hf_name.endswith("q_proj.weight"):
                    data = _permute(data, heads, heads)
                elif hf_name.endswith("k_proj.weight"):
                    data = _permute(data, heads, kv_heads)
                _add(writer, new, data, qtype)
                count += 1
    return count


def _permute(weights: Any, heads: int, kv_heads: int) -> Any:  # noqa: ANN401 - numpy arrays
    """llama.cpp's rotary layout (convert_hf_to_gguf.py, LlamaModel.permute): per head, the two
    rotated halves interleaved."""
    n = kv_heads if kv_heads != heads else heads
    return weights.reshape(n, 2, weights.shape[0] // n // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _add(writer: Any, name: str, data: Any, qtype: str) -> None:  # noqa: ANN401
    """Vectors (norms) stay f32 as llama.cpp keeps them; matrices take ``qtype``. The token
    embedding keeps q8_0 under q4_0 (llama.cpp's own mixes keep it above 4 bits: it is also the
    tied output layer), and a row whose width is not a whole number of blocks falls back to f16."""
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quantize

    if data.ndim < 2:
        writer.add_tensor(name, data.astype(np.float32))
        return
    kind = {"f16": Q.F16, "q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[qtype]
    if kind == Q.Q4_0 and name == "token_embd.weight":
        kind = Q.Q8_0
    if kind != Q.F16 and data.shape[-1] % 32 != 0:
        kind = Q.F16
    if kind == Q.F16:
        writer.add_tensor(name, data.astype(np.float16))
    else:
        writer.add_tensor(name, quantize(data, kind), raw_dtype=kind)
