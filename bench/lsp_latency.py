"""`ftc lsp` latency: from a didChange to the publishDiagnostics for it, on a 200-line recipe.

A real stdio session, as an editor holds one: pygls' LanguageClient starts `ftc lsp`, opens a
generated 200-line recipe (17 data sources, 70 expectations, comments) in a scratch project with
its data files, then sends N one-keystroke edits that alternate between a misspelt key (`lrr`,
an FTR102 with its did-you-mean) and the fixed text (clean, so every lint rule runs, row counts
of the data files included). Each edit waits for its own diagnostics before the next is sent.
The target is 50 ms. Usage:
    python bench/lsp_latency.py [-n 50]
Prints the median and p95 in milliseconds, per state and overall, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 50.0
LINES = 200


def recipe_text(sources: int = 17) -> str:
    """A 200-line recipe: the shape of a real one (goal, sources, constraints, eval, train),
    padded with expectations and comments to the length."""
    out = ["# A generated recipe for bench/lsp_latency.py: 200 lines, the shape of a real one.",
           'recipe "bench-200" {',
           '  goal = behavior("Triage a support ticket and reply as JSON with category, priority and reply")',
           '  base = model("smollm2-135m-instruct")',
           ""]  # fmt: skip
    for i in range(1, sources + 1):
        out += [f"  # source {i}: one slice of the ticket export", f'  data "tickets{i:02d}" {{',
                f'    path        = "data/tickets{i:02d}.jsonl"', "    format      = chat",
                "    on_bad_rows = skip", "  }", ""]  # fmt: skip
    out += ["  constraints {", "    device = cpu", "    budget = 30m", "  }", "",
            "  train {", "    lr     = 1e-3", "    epochs = 2", "  }", "", "  eval {", "    holdout = 20%", "    seed    = 7"]  # fmt: skip
    tail = ["    beat baseline by 10%", "  }", "}"]
    i = 0
    while len(out) + len(tail) < LINES:
        i += 1
        out.append(f'    expect contains(text = "marker-{i:03d}") >= {0.5 + (i % 40) / 100:.2f}')
    return "\n".join(out + tail) + "\n"


def make_project(folder: Path, sources: int = 17) -> Path:
    (folder / "pyproject.toml").write_text("", encoding="utf-8")
    (folder / "data").mkdir()
    rows = (ROOT / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()
    for i in range(1, sources + 1):
        chunk = rows[(i - 1) * 20 : i * 20] or rows[:20]
        (folder / "data" / f"tickets{i:02d}.jsonl").write_text("\n".join(chunk) + "\n", encoding="utf-8")
    path = folder / "bench.ftr"
    path.write_text(recipe_text(sources), encoding="utf-8")
    return path


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("ftc-bench", "1")
        self.published: asyncio.Queue[types.PublishDiagnosticsParams] = asyncio.Queue()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published.put_nowait(params)

    async def wait_for(self, version: int) -> tuple[float, list[types.Diagnostic]]:
        while True:
            params = await asyncio.wait_for(self.published.get(), 30)
            if params.version == version:
                return time.perf_counter(), list(params.diagnostics)


async def session(path: Path, edits: int) -> dict[str, list[float]]:
    client = Client()
    await client.start_io(sys.executable, "-m", "ftc.compiler.cli.main", "lsp", cwd=str(path.parent))
    await client.initialize_async(
        types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=os.getpid())
    )
    client.initialized(types.InitializedParams())
    uri = from_fs_path(str(path)) or ""
    text = path.read_text(encoding="utf-8")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="ftr", version=1, text=text)
        )
    )
    _, first = await client.wait_for(1)
    if first:
        raise SystemExit(f"the generated recipe is not clean: {[d.code for d in first]}")
    line = text[: text.index("lr     = 1e-3")].count("\n")
    key = types.Position(line=line, character=6)  # just after `lr`
    times: dict[str, list[float]] = {"error": [], "clean": []}
    for version in range(2, edits + 2):
        typo = version % 2 == 0
        where = types.Range(start=key, end=types.Position(line=line, character=key.character + (0 if typo else 1)))
        change = types.TextDocumentContentChangePartial(range=where, text="r" if typo else "")
        doc = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(text_document=doc, content_changes=[change]))
        got, diags = await client.wait_for(version)
        if [d.code for d in diags] != (["FTR102"] if typo else []):
            raise SystemExit(f"unexpected diagnostics after edit {version}: {[d.code for d in diags]}")
        times["error" if typo else "clean"].append((got - sent) * 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=50, help="number of edits (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ftc-lsp-bench-") as tmp:
        path = make_project(Path(tmp))
        lines = path.read_text(encoding="utf-8").count("\n")
        times = asyncio.run(session(path, args.n))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    every = times["error"] + times["clean"]
    median = statistics.median(every)
    verdict = "ok" if median < GOAL_MS else "over goal"
    print(
        f"ftc lsp: didChange -> publishDiagnostics on a {lines}-line recipe, {len(every)} edits, {os.cpu_count()} CPUs, load average {load}"
    )
    for state in ("error", "clean"):
        values = times[state]
        print(f"  {state:5}  median {statistics.median(values):6.1f} ms  p95 {p95(values):6.1f} ms  (n={len(values)})")
    print(f"  all    median {median:6.1f} ms  p95 {p95(every):6.1f} ms  (goal < {GOAL_MS:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
