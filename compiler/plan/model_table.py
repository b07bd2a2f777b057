"""A built-in table of common open-weight model families, for planning a model that is not on disk.

Only architecture numbers live here (from each model's published ``config.json``); the parameter
count is computed from them by ``param_count`` so the table cannot drift from the formula the
memory model uses. SmolLM2-135M-Instruct is the embedded default base.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypedDict, Unpack

    class _Extras(TypedDict, total=False):
        """ModelSpec's optional fields, as _s passes them on."""

        head_dim: int | None
        qkv_bias: bool
        max_positions: int


@dataclass(frozen=True)
class ModelSpec:
    name: str  # canonical lower-case name, e.g. "llama-3.1-8b"
    hub_id: str  # the Hugging Face id of the instruct variant
    arch: str  # config.json model_type
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied: bool
    head_dim: int | None = None  # None: hidden // heads
    qkv_bias: bool = False
    max_positions: int = 4096

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def params(self) -> int:
        return param_count(self)


def param_count(m: ModelSpec) -> int:
    """Parameters of a llama-style decoder (GQA attention, gated MLP, RMSNorm)."""
    q_out = m.heads * m.dim_head
    kv_out = m.kv_heads * m.dim_head
    attn = m.hidden * q_out + 2 * m.hidden * kv_out + q_out * m.hidden
    if m.qkv_bias:
        attn += q_out + 2 * kv_out
    mlp = 3 * m.hidden * m.intermediate
    per_layer = attn + mlp + 2 * m.hidden
    embed = m.vocab * m.hidden
    head = 0 if m.tied else m.vocab * m.hidden
    return m.layers * per_layer + embed + head + m.hidden


def linear_shapes(m: ModelSpec) -> list[tuple[int, int]]:
    """(in, out) of every linear layer in one decoder block: what ``all-linear`` LoRA adapts."""
    q_out = m.heads * m.dim_head
    kv_out = m.kv_heads * m.dim_head
    return [
        (m.hidden, q_out),
        (m.hidden, kv_out),
        (m.hidden, kv_out),
        (q_out, m.hidden),
        (m.hidden, m.intermediate),
        (m.hidden, m.intermediate),
        (m.intermediate, m.hidden),
    ]


def _s(
    name: str,
    hub_id: str,
    arch: str,
    layers: int,
    hidden: int,
    inter: int,
    vocab: int,
    heads: int,
    kv: int,
    tied: bool,
    **kw: Unpack[_Extras],
) -> ModelSpec:
    return ModelSpec(name, hub_id, arch, layers, hidden, inter, vocab, heads, kv, tied, **kw)


TABLE: tuple[ModelSpec, ...] = (
    _s(
        "smollm2-135m",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "llama",
        30,
        576,
        1536,
        49152,
        9,
        3,
        True,
        max_positions=8192,
    ),
    _s(
        "smollm2-360m",
        "HuggingFaceTB/SmolLM2-360M-Instruct",
        "llama",
        32,
        960,
        2560,
        49152,
        15,
        5,
        True,
        max_positions=8192,
    ),
    _s(
        "smollm2-1.7b",
        "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        "llama",
        24,
        2048,
        8192,
        49152,
        32,
        32,
        True,
        max_positions=8192,
    ),
    _s(
        "llama-3.2-1b",
        "meta-llama/Llama-3.2-1B-Instruct",
        "llama",
        16,
        2048,
        8192,
        128256,
        32,
        8,
        True,
        head_dim=64,
        max_positions=131072,
    ),
    _s(
        "llama-3.2-3b",
        "meta-llama/Llama-3.2-3B-Instruct",
        "llama",
        28,
        3072,
        8192,
        128256,
        24,
        8,
        True,
        head_dim=128,
        max_positions=131072,
    ),
    _s(
        "llama-3.1-8b",
        "meta-llama/Llama-3.1-8B-Instruct",
        "llama",
        32,
        4096,
        14336,
        128256,
        32,
        8,
        False,
        max_positions=131072,
    ),
    _s(
        "llama-3-8b",
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "llama",
        32,
        4096,
        14336,
        128256,
        32,
        8,
        False,
        max_positions=8192,
    ),
    _s(
        "llama-3.1-70b",
        "meta-llama/Llama-3.1-70B-Instruct",
        "llama",
        80,
        8192,
        28672,
        128256,
        64,
        8,
        False,
        max_positions=131072,
    ),
    _s(
        "llama-3.3-70b",
        "meta-llama/Llama-3.3-70B-Instruct",
        "llama",
        80,
        8192,
        28672,
        128256,
        64,
        8,
        False,
        max_positions=131072,
    ),
    _s(
        "qwen2.5-0.5b",
        "Qwen/Qwen2.5-0.5B-Instruct",
        "qwen2",
        24,
        896,
        4864,
        151936,
        14,
        2,
        True,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-1.5b",
        "Qwen/Qwen2.5-1.5B-Instruct",
        "qwen2",
        28,
        1536,
        8960,
        151936,
        12,
        2,
        True,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-3b",
        "Qwen/Qwen2.5-3B-Instruct",
        "qwen2",
        36,
        2048,
        11008,
        151936,
        16,
        2,
        True,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-7b",
        "Qwen/Qwen2.5-7B-Instruct",
        "qwen2",
        28,
        3584,
        18944,
        152064,
        28,
        4,
        False,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-14b",
        "Qwen/Qwen2.5-14B-Instruct",
        "qwen2",
        48,
        5120,
        13824,
        152064,
        40,
        8,
        False,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-32b",
        "Qwen/Qwen2.5-32B-Instruct",
        "qwen2",
        64,
        5120,
        27648,
        152064,
        40,
        8,
        False,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "qwen2.5-72b",
        "Qwen/Qwen2.5-72B-Instruct",
        "qwen2",
        80,
        8192,
        29568,
        152064,
        64,
        8,
        False,
        qkv_bias=True,
        max_positions=32768,
    ),
    _s(
        "mistral-7b",
        "mistralai/Mistral-7B-Instruct-v0.3",
        "mistral",
        32,
        4096,
        14336,
        32768,
        32,
        8,
        False,
        max_positions=32768,
    ),
    _s(
        "gemma-2-2b",
        "google/gemma-2-2b-it",
        "gemma2",
        26,
        2304,
        9216,
        256000,
        8,
        4,
        True,
        head_dim=256,
        max_positions=8192,
    ),
    _s(
        "gemma-2-9b",
        "google/gemma-2-9b-it",
        "gemma2",
        42,
        3584,
        14336,
        256000,
        16,
        8,
        True,
        head_dim=256,
        max_positions=8192,
    ),
    _s(
        "gemma-2-27b",
        "google/gemma-2-27b-it",
        "gemma2",
        46,
        4608,
        36864,
        256000,
        32,
        16,
        True,
        head_dim=128,
        max_positions=8192,
    ),
    _s(
        "phi-3-mini",
        "microsoft/Phi-3-mini-4k-instruct",
        "phi3",
        32,
        3072,
        8192,
        32064,
        32,
        32,
        False,
        max_positions=4096,
    ),
)

EMBEDDED_ALIAS = "smollm2-135m-instruct"

# Suffixes that name a variant of the same architecture (instruct, chat, base...).
_VARIANT = re.compile(r"(-(instruct|it|chat|hf|base|v0\.\d|4k|128k|instruct-v0\.\d))+$")


def normalise(name: str) -> str:
    """'meta-llama/Llama-3.1-8B-Instruct' -> 'llama-3.1-8b'; 'Meta-Llama-3-8B' -> 'llama-3-8b'."""
    key = name.strip().rstrip("/").rsplit("/", 1)[-1].lower().replace("_", "-")
    key = key.removeprefix("meta-")
    return _VARIANT.sub("", key)


_BY_KEY = {m.name: m for m in TABLE}
_BY_KEY.update({normalise(m.hub_id): m for m in TABLE})


def lookup(name: str) -> ModelSpec | None:
    return _BY_KEY.get(normalise(name))


def suggestions(name: str, n: int = 3) -> list[str]:
    names = [EMBEDDED_ALIAS] + [m.name for m in TABLE]
    return difflib.get_close_matches(normalise(name), names, n=n, cutoff=0.5)


# The linear modules LoRA can adapt, by config.json model_type (what `target_modules` is checked
# against; an architecture not listed here is not checked). lm_head is every model's output layer.
_LLAMA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MODULE_NAMES: dict[str, tuple[str, ...]] = {
    **{arch: _LLAMA_MODULES for arch in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text")},
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
}
