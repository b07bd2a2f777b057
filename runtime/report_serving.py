"""The report's serving sections: measured latency beside the plan's estimate, and the GGUF
file with the proof it answers as the tune did. Each is (title, one line, table head, rows), or
None when the run has nothing to show; report.py renders them in Markdown and HTML."""

from __future__ import annotations

Section = tuple[str, str, list[str], list[list[str]]]

LATENCY_HEAD = ["model", "p50 ms", "p95 ms", "requests", "mean new tokens", "device"]
GGUF_HEAD = ["expect", "tune", "GGUF", "difference"]


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):,.0f}"  # type: ignore[arg-type]


def latency_section(info: dict) -> Section | None:
    lat = info.get("latency")
    if not lat:
        return None
    est = lat["estimate"]
    rows = []
    for name, m in lat["measured"].items():
        if not m:
            continue
        device = str(m.get("device")) + (f", {m['threads']} thread(s)" if m.get("threads") else "")
        rows.append(
            [
                "prompted baseline" if name == "baseline" else "tune",
                _ms(m.get("p50_ms")),
                _ms(m.get("p95_ms")),
                str(m.get("requests")),
                str(m.get("mean_new_tokens")),
                device,
            ]
        )
    line = (
        f"The plan estimated ~{_ms(est['ms'])} ms per {est['tokens']}-token response of {est['model']} (cost model: "
        f"weights read once per token). Measured: one request at a time (batch 1), greedy, up to "
        f"{_first(lat, 'max_new_tokens')} new tokens, after one untimed warm-up."
    )
    return "Latency: measured beside the estimate", line, LATENCY_HEAD, rows


def _first(lat: dict, key: str) -> object:
    return next((m.get(key) for m in lat["measured"].values() if m), "-")


def gguf_section(info: dict) -> Section | None:
    g = info.get("gguf")
    if not g:
        return None
    size = g["bytes"] / 1e6
    verdict = "within tolerance" if g["within_tolerance"] else "OUTSIDE tolerance: check the file before serving it"
    line = (
        f"`{g['file']}` ({g['type']}, {size:,.1f} MB, {g['tensors']} tensors) and an Ollama `Modelfile` with the "
        f"system prompt and chat template. Read back with transformers' GGUF loader, it answered "
        f"{g['identical']} of {g['rows']} holdout prompts identically to the tune; tolerance on rate metrics "
        f"{g['tolerance']:g} (f16: identical answers): {verdict}."
    )
    rows = [
        [label, _num(m["tuned"]), _num(m["gguf"]), "-" if m["delta"] is None else f"{m['delta']:+.3f}"]
        for label, m in g["metrics"].items()
    ]
    return "GGUF export", line, GGUF_HEAD, rows


def _num(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def sections(info: dict) -> list[Section]:
    return [s for s in (latency_section(info), gguf_section(info)) if s is not None]
