"""`ftc lsp` through a real LSP client session over stdio: pygls' LanguageClient starts the server
as a subprocess (this checkout's Python) and talks JSON-RPC to it over its pipes, as an editor does.

The client runs on its own event loop in a background thread; every request waits with a timeout,
so a hung server fails the test instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path, to_fs_path

from ftc.compiler.lang.formatter import format_text
from ftc.compiler.lang.frontend import load_recipe
from ftc.compiler.lang.keys import BLOCKS, KINDS
from ftc.compiler.plan.rules import BY_ID

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0  # seconds for any one request or notification to be answered
T = TypeVar("T")
pytestmark = pytest.mark.timeout(180)

RECIPE = """\
recipe "support-tickets" {
  goal = behavior("Triage a support ticket and reply as JSON")
  base = model("smollm2-135m-instruct")

  data "tickets" {
    path   = "data/tickets.jsonl"
    format = chat
  }

  constraints {
    device = cpu
    budget = 30m
  }

  train {
    lr     = 1e-3
    epochs = 2
  }

  eval {
    holdout = 20%
    seed    = 7
    expect json_valid >= 0.95
    expect json_schema("schemas/ticket.json") >= 0.90
    beat baseline by 10%
  }
}
"""


class Client(LanguageClient):
    """pygls' client, recording what the server publishes and how its process ends."""

    def __init__(self) -> None:
        super().__init__("ftc-tests", "1")
        self.published: queue.Queue[types.PublishDiagnosticsParams] = queue.Queue()
        self.exit_code: int | None = None
        self.stderr = b""

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published.put(params)

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        self.exit_code = server.returncode
        if server.stderr is not None:
            self.stderr = await server.stderr.read()


class Session:
    """One `ftc lsp` process and a client talking to it, driven from the test's thread."""

    def __init__(self, cwd: Path, encodings: list[str] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = Client()
        self.version: dict[str, int] = {}
        self.backlog: list[types.PublishDiagnosticsParams] = []
        self.wait(self.client.start_io(sys.executable, "-m", "ftc.compiler.cli.main", "lsp", cwd=str(cwd)))
        caps = types.ClientCapabilities(
            text_document=types.TextDocumentClientCapabilities(
                completion=types.CompletionClientCapabilities(
                    completion_item=types.ClientCompletionItemOptions(snippet_support=True)
                )
            ),
            general=types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None,
        )
        self.init = self.wait(
            self.client.initialize_async(
                types.InitializeParams(capabilities=caps, root_uri=from_fs_path(str(cwd)), process_id=None)
            )
        )
        self.notify(self.client.initialized, types.InitializedParams())

    # --- plumbing: the client lives on the loop's thread --------------------------------------
    def wait(self, coro: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def notify(self, send: Callable[[Any], None], params: Any) -> None:
        self.loop.call_soon_threadsafe(send, params)

    # --- documents ---------------------------------------------------------------------------
    def open(self, path: Path, text: str) -> str:
        uri = from_fs_path(str(path))
        assert uri is not None
        self.version[uri] = 1
        item = types.TextDocumentItem(uri=uri, language_id="ftr", version=1, text=text)
        self.notify(self.client.text_document_did_open, types.DidOpenTextDocumentParams(text_document=item))
        return uri

    def replace(self, uri: str, text: str) -> None:
        """A whole-text change, as a client sends for a paste or an undo."""
        self.version[uri] += 1
        doc = types.VersionedTextDocumentIdentifier(uri=uri, version=self.version[uri])
        change = types.TextDocumentContentChangeWholeDocument(text=text)
        self.notify(
            self.client.text_document_did_change,
            types.DidChangeTextDocumentParams(text_document=doc, content_changes=[change]),
        )

    def edit(self, uri: str, where: types.Range, text: str) -> None:
        """An incremental change, as a client sends for a keystroke."""
        self.version[uri] += 1
        doc = types.VersionedTextDocumentIdentifier(uri=uri, version=self.version[uri])
        change = types.TextDocumentContentChangePartial(range=where, text=text)
        self.notify(
            self.client.text_document_did_change,
            types.DidChangeTextDocumentParams(text_document=doc, content_changes=[change]),
        )

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        """The diagnostics published for the document's latest version."""
        wanted = self.version[uri]
        for params in self.backlog:
            if params.uri == uri and params.version == wanted:
                return list(params.diagnostics)
        while True:
            params = self.client.published.get(timeout=TIMEOUT)
            self.backlog.append(params)
            if params.uri == uri and params.version == wanted:
                return list(params.diagnostics)

    def close(self) -> int | None:
        self.wait(self.client.shutdown_async(None))
        self.notify(self.client.exit, None)
        self.wait(self.client.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        return self.client.exit_code


def position(text: str, needle: str, at: int = 0) -> types.Position:
    """The LSP position (UTF-16 columns) of ``at`` characters into the first ``needle``."""
    offset = text.index(needle) + at
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    prefix = text[offset - column : offset]
    return types.Position(line=line, character=len(prefix.encode("utf-16-le")) // 2)


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply one client-side text edit (the tests only ever get one)."""
    assert len(edits) == 1
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: p.line]) + p.character

    edit = edits[0]
    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with the quickstart's data (20 rows) and schema."""
    root = tmp_path_factory.mktemp("lsp-project")
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (root / "data").mkdir()
    rows = (ROOT / "recipes" / "data" / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:20]
    (root / "data" / "tickets.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "schemas").mkdir()
    shutil.copy(ROOT / "recipes" / "schemas" / "ticket.json", root / "schemas" / "ticket.json")
    return root


@pytest.fixture(scope="module")
def session(project: Path) -> Iterator[Session]:
    s = Session(project)
    yield s
    code = s.close()
    assert code == 0, s.client.stderr.decode(errors="replace")


def test_the_server_advertises_its_features(session: Session) -> None:
    caps = session.init.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.document_formatting_provider
    assert caps.completion_provider is not None and '"' in (caps.completion_provider.trigger_characters or [])
    assert caps.code_action_provider
    assert caps.position_encoding in (None, types.PositionEncodingKind.Utf16)


def test_diagnostics_match_lint_and_clear_when_fixed(session: Session, project: Path) -> None:
    broken = RECIPE.replace("lr     = 1e-3", "lrr    = 1e-3").replace("format = chat", "format = chta")
    path = project / "broken.ftr"
    path.write_text(broken, encoding="utf-8")  # lint reads the file; the server gets the same text
    uri = session.open(path, broken)
    got = session.diagnostics(uri)
    linted = load_recipe(path)[1]
    assert [d.code for d in got] == [d.code for d in linted] == ["FTR110", "FTR102"]
    for lsp, d in zip(got, linted, strict=True):
        assert lsp.range.start == types.Position(line=d.span.line - 1, character=d.span.col - 1)
        assert lsp.range.end == types.Position(line=d.span.end_line - 1, character=d.span.end_col - 1)
        assert lsp.message == f"{d.message}\nhint: {d.hint}"
        assert lsp.severity == types.DiagnosticSeverity.Error and lsp.source == "ftc"
    assert got[1].range.start == position(broken, "lrr")

    session.replace(uri, RECIPE)
    assert session.diagnostics(uri) == []


def test_a_syntax_error_is_located_and_a_keystroke_fixes_it(session: Session, project: Path) -> None:
    text = RECIPE.replace("seed    = 7", "seed    = 7 +")
    uri = session.open(project / "syntax.ftr", text)
    (found,) = session.diagnostics(uri)
    assert found.code == "FTR003" and found.range.start == position(text, "+")
    plus = position(text, "+")
    session.edit(uri, types.Range(start=plus, end=types.Position(line=plus.line, character=plus.character + 1)), "")
    assert session.diagnostics(uri) == []


def test_columns_are_utf16_code_units(session: Session, project: Path) -> None:
    text = RECIPE.replace("  base = model", '  system_prompt = "🙂🙂 be brief"  lrr = 1\n  base = model')
    uri = session.open(project / "emoji.ftr", text)
    (found,) = session.diagnostics(uri)
    assert found.code == "FTR102"
    start = position(text, "lrr")
    assert found.range.start == start and found.range.end.character == start.character + 3
    assert start.character == text.splitlines()[2].index("lrr") + 2  # each emoji is two UTF-16 units


def test_columns_are_utf8_bytes_when_the_client_asks(project: Path) -> None:
    fresh = Session(project, encodings=[types.PositionEncodingKind.Utf8])
    try:
        assert fresh.init.capabilities.position_encoding == types.PositionEncodingKind.Utf8
        text = RECIPE.replace("  base = model", '  system_prompt = "🙂é"  lrr = 1\n  base = model')
        uri = fresh.open(project / "utf8.ftr", text)
        (found,) = fresh.diagnostics(uri)
        line = text.splitlines()[2]
        column = len(line[: line.index("lrr")].encode("utf-8"))  # the emoji is 4 bytes, é 2
        assert found.code == "FTR102" and found.range.start == types.Position(line=2, character=column)
        # an incremental edit in UTF-8 columns: delete the second `r`; `lr` is reported where it is
        fresh.edit(
            uri,
            types.Range(
                start=types.Position(line=2, character=column + 1), end=types.Position(line=2, character=column + 2)
            ),
            "",
        )
        (found,) = fresh.diagnostics(uri)
        assert found.message.startswith("unknown key `lr` in `recipe`")
        assert found.range == types.Range(
            start=types.Position(line=2, character=column), end=types.Position(line=2, character=column + 2)
        )
    finally:
        assert fresh.close() == 0


def test_hover_on_a_key_shows_its_doc_type_default_and_rule(session: Session, project: Path) -> None:
    uri = session.open(project / "hover.ftr", RECIPE)
    doc = types.TextDocumentIdentifier(uri=uri)
    found = session.wait(
        session.client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=position(RECIPE, "lr ", 1))
        )
    )
    assert found is not None and isinstance(found.contents, types.MarkupContent)
    text = found.contents.value
    lr = BLOCKS["train"].key("lr")  # what `ftc explain train.lr` prints comes from the same entry
    assert lr is not None and lr.decided_by and lr.decided_by in BY_ID
    assert "train.lr" in text and lr.doc in text and KINDS[lr.kind].type in text
    assert f"decided by {lr.decided_by}" in text and BY_ID[lr.decided_by].title in text
    assert found.range == types.Range(start=position(RECIPE, "lr "), end=position(RECIPE, "lr ", 2))

    on_format = session.wait(
        session.client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=position(RECIPE, "format"))
        )
    )
    assert on_format is not None and isinstance(on_format.contents, types.MarkupContent)
    assert "data.format" in on_format.contents.value and "chat | instruction" in on_format.contents.value
    on_block = session.wait(
        session.client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=position(RECIPE, "eval {"))
        )
    )
    assert on_block is not None and "holdout" in on_block.contents.value
    nothing = session.wait(
        session.client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=position(RECIPE, "1e-3"))
        )
    )
    assert nothing is None


def complete(session: Session, uri: str, where: types.Position) -> list[types.CompletionItem]:
    doc = types.TextDocumentIdentifier(uri=uri)
    result = session.wait(
        session.client.text_document_completion_async(types.CompletionParams(text_document=doc, position=where))
    )
    assert isinstance(result, types.CompletionList)
    return list(result.items)  # the client's converter makes arrays tuples


def test_completion_of_keys_blocks_values_and_files(session: Session, project: Path) -> None:
    text = (
        RECIPE.replace("    epochs = 2\n", "    epochs = 2\n    \n")
        .replace("format = chat", "format = ")
        .replace('"data/tickets.jsonl"', '"data/"')
    )
    uri = session.open(project / "complete.ftr", text)

    in_train = {i.label for i in complete(session, uri, position(text, "epochs = 2\n    ", 15))}
    assert {"method", "lora_r", "batch", "max_steps"} <= in_train
    assert "lr" not in in_train and "epochs" not in in_train  # set already
    assert "holdout" not in in_train and "data" not in in_train  # other blocks' keys and blocks

    in_recipe = {i.label for i in complete(session, uri, position(text, "\n\n  train {", 1))}
    assert {"data", "documents", "export", "teacher", "system_prompt"} <= in_recipe
    assert not {"goal", "constraints", "eval"} & in_recipe  # set already, or a block there may be one of

    formats = [i.label for i in complete(session, uri, position(text, "format = ", 9))]
    assert formats == ["chat", "instruction", "completion", "preference", "kto", "text", "documents"]

    files = complete(session, uri, position(text, '"data/', 6))
    assert [i.label for i in files] == ["tickets.jsonl"]
    edit = files[0].text_edit
    assert isinstance(edit, types.TextEdit) and edit.range.start == position(text, '"data/', 6)

    metrics = {i.label for i in complete(session, uri, position(text, "expect json_valid", 7))}
    assert {"json_valid", "exact_match", "rouge_l"} <= metrics
    assert complete(session, uri, position(text, "1e-3", 2)) == []  # inside a number

    # an editor that closes quotes asks between them: `eval { data = "|" }` offers the sources
    sources = RECIPE.replace("    seed    = 7\n", '    seed    = 7\n    data    = ""\n')
    uri = session.open(project / "sources.ftr", sources)
    assert [i.label for i in complete(session, uri, position(sources, 'data    = ""', 11))] == ["tickets"]


def test_go_to_definition_on_a_data_path_opens_the_file(session: Session, project: Path) -> None:
    uri = session.open(project / "definition.ftr", RECIPE)
    doc = types.TextDocumentIdentifier(uri=uri)

    def definition(where: types.Position) -> Any:
        return session.wait(
            session.client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=where))
        )

    found = definition(position(RECIPE, "data/tickets.jsonl", 3))
    assert isinstance(found, types.Location)
    assert to_fs_path(found.uri) == str(project / "data" / "tickets.jsonl")
    schema = definition(position(RECIPE, "schemas/ticket.json", 2))
    assert isinstance(schema, types.Location) and to_fs_path(schema.uri) == str(project / "schemas" / "ticket.json")
    assert definition(position(RECIPE, "smollm2")) is None  # a model name is not a file


def test_formatting_returns_the_canonical_text(session: Session, project: Path) -> None:
    messy = RECIPE.replace("    format = chat", "  format=chat").replace(
        "  train {\n    lr     = 1e-3", "  train {  lr = 1e-3"
    )
    uri = session.open(project / "messy.ftr", messy)
    doc = types.TextDocumentIdentifier(uri=uri)
    options = types.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = session.wait(
        session.client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=doc, options=options)
        )
    )
    assert edits is not None
    assert apply(messy, edits) == format_text(messy)[0] == RECIPE

    broken = session.open(project / "unformattable.ftr", messy + "}\n")
    doc = types.TextDocumentIdentifier(uri=broken)
    none = session.wait(
        session.client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=doc, options=options)
        )
    )
    assert none is not None and list(none) == []


# Each did-you-mean the checks make, as (what the recipe says, the typo): the quick fix restores it.
TYPOS = [
    ('goal = behavior("', 'goal = behaviour("'),  # FTR110, a goal
    ("format = chat", "format = chta"),  # FTR110, an enum value
    ("budget = 30m", "budget = 30M"),  # FTR104, a unit's case
    ("lr     = 1e-3", "lrr     = 1e-3"),  # FTR102, a key
    ("expect json_valid", "expect json_vlaid"),  # FTR111, a metric
]


def test_code_actions_apply_the_did_you_means(session: Session, project: Path) -> None:
    text = RECIPE
    for right, wrong in TYPOS:
        text = text.replace(right, wrong)
    uri = session.open(project / "fix.ftr", text)
    found = session.diagnostics(uri)
    assert [d.code for d in found] == ["FTR110", "FTR110", "FTR104", "FTR102", "FTR111"]
    doc = types.TextDocumentIdentifier(uri=uri)
    edits = []
    for diagnostic in found:
        at = diagnostic.range.end  # a cursor at the word's end asks for its fix too
        context = types.CodeActionContext(diagnostics=[diagnostic])
        params = types.CodeActionParams(text_document=doc, range=types.Range(start=at, end=at), context=context)
        (action,) = session.wait(session.client.text_document_code_action_async(params)) or []
        assert isinstance(action, types.CodeAction) and action.kind == types.CodeActionKind.QuickFix
        assert action.edit is not None and action.edit.changes is not None
        (edit,) = action.edit.changes[uri]
        assert action.title == f"Replace with `{edit.new_text}`"
        edits.append(edit)
    for edit in reversed(edits):  # from the end, so that earlier ranges stay where they are
        text = apply(text, [edit])
    assert text == RECIPE
    session.replace(uri, text)
    assert session.diagnostics(uri) == []

    nowhere = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    params = types.CodeActionParams(text_document=doc, range=nowhere, context=types.CodeActionContext(diagnostics=[]))
    assert list(session.wait(session.client.text_document_code_action_async(params)) or []) == []


def test_bad_input_never_ends_the_session(session: Session, project: Path) -> None:
    unknown = types.TextDocumentIdentifier(uri=from_fs_path(str(project / "never-opened.ftr")) or "")
    far = types.Position(line=10_000, character=10_000)
    assert (
        session.wait(session.client.text_document_hover_async(types.HoverParams(text_document=unknown, position=far)))
        is None
    )
    uri = session.open(project / "binary.ftr", "recipe \x00 {")
    assert [d.code for d in session.diagnostics(uri)] == ["FTR002"]
    doc = types.TextDocumentIdentifier(uri=uri)
    assert (
        session.wait(session.client.text_document_hover_async(types.HoverParams(text_document=doc, position=far)))
        is None
    )
    garbage = '}}}) recipe "x" { data "d" { path = "\\q'
    session.replace(uri, garbage)
    assert session.diagnostics(uri)[0].code == "FTR005"
    end = position(garbage, "\\q", 2)
    assert complete(session, uri, end) == []  # a string with an escape names no folder to list
    assert (
        session.wait(
            session.client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=end))
        )
        is None
    )
    # Frames no client should send: a request whose params are the wrong shape, a body that is not
    # JSON, a notification about a document that is not an object. pygls answers or logs each.
    for body in (
        b'{"jsonrpc": "2.0", "id": 9999, "method": "textDocument/hover", "params": {"textDocument": {"uri": 5}}}',
        b"{not json",
        b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 3}}',
    ):
        session.loop.call_soon_threadsafe(
            session.client.protocol.writer.write, b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    # and the session still answers
    assert [i.label for i in complete(session, uri, types.Position(line=0, character=0))] == ["recipe"]
    ok = session.open(project / "after.ftr", RECIPE)
    assert session.diagnostics(ok) == []


def test_shutdown_and_exit_end_the_process_cleanly(project: Path) -> None:
    fresh = Session(project)
    assert fresh.close() == 0, fresh.client.stderr.decode(errors="replace")
