"""The handlers of `ftc lsp`, on pygls. Each one is thin: it finds the open document, converts
the position, and asks a pure module (``diagnose``, ``scan``, ``hover``, ``complete``,
``paths``) for the answer.

Diagnostics follow every edit: the front end runs on one worker thread, off the event loop, so
hover and completion never wait behind a check, and the front end's module-level state (the
parser's tables, the source excerpts) is only ever touched by one thread. Edits that arrive while
a check runs are coalesced: the next check reads the newest text, and a stale result is dropped.

No request or notification can end the session: a handler that fails is logged (to stderr and to
the client's log) and answered with an empty result.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, ParamSpec, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

from ftc.compiler.lang.diagnostics import Diagnostic
from ftc.compiler.lang.formatter import format_text
from ftc.compiler.lang.thresholds import MAX_BYTES
from ftc.compiler.lsp import complete, diagnose, hover, paths
from ftc.compiler.lsp.positions import UTF16, TextIndex
from ftc.compiler.lsp.scan import Scan

VERSION = "0.1.0"
log = logging.getLogger("ftc.lsp")
P = ParamSpec("P")
R = TypeVar("R")


class FtcLanguageServer(LanguageServer):
    """The server's state: the findings last published per document, and the check worker."""

    def __init__(self, allow_outside: bool = False) -> None:
        super().__init__("ftc", VERSION, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.allow_outside = allow_outside
        self.findings: dict[str, tuple[int | None, list[diagnose.Finding]]] = {}
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftc-check")
        self._checking: set[str] = set()
        self._stale: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held so a running check is not collected

    # --- documents -------------------------------------------------------------------------
    def open_document(self, uri: str) -> TextDocument | None:
        """An open document, or None: pygls would read an unknown URI from disk, which a request
        for a closed or never-opened document must not do."""
        docs = self.workspace.text_documents
        return self.workspace.get_text_document(uri) if _key(uri) in docs else None

    def source(self, uri: str) -> str | None:
        """The text of an open document, for hover, completion, definition and formatting; None
        for one that is not open, or too large to be a recipe (its FTR010 is shown already)."""
        doc = self.open_document(uri)
        return doc.source if doc is not None and len(doc.source) <= MAX_BYTES else None

    def index(self, text: str) -> TextIndex:
        return TextIndex(text, str(self.workspace.position_encoding or UTF16))

    @property
    def snippets(self) -> bool:
        """Whether the client takes snippet syntax in completions."""
        caps = self.client_capabilities.text_document
        item = caps.completion.completion_item if caps and caps.completion else None
        return bool(item and item.snippet_support)

    # --- diagnostics -----------------------------------------------------------------------
    def schedule_check(self, uri: str) -> None:
        """Check the document soon; if a check of it is running, once more after it."""
        if uri in self._checking:
            self._stale.add(uri)
            return
        self._checking.add(uri)
        task = asyncio.ensure_future(self._check(uri))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, uri: str) -> None:
        try:
            while True:
                self._stale.discard(uri)
                doc = self.open_document(uri)
                if doc is None:
                    return
                text, version = doc.source, doc.version
                diags = await self.in_worker(diagnose.check, text, to_fs_path(uri), uri, self.allow_outside)
                if uri not in self._stale:
                    self._publish(uri, version, text, diags)
                    return
        except Exception as exc:  # noqa: BLE001 - a failed check is reported, the session goes on
            self.report("diagnostics", exc)
        finally:
            self._checking.discard(uri)

    def _publish(self, uri: str, version: int | None, text: str, diags: list[Diagnostic]) -> None:
        if self.open_document(uri) is None:
            return  # closed while it was checked: its diagnostics were cleared already
        found = diagnose.findings(diags, self.index(text))
        self.findings[uri] = (version, found)
        params = types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=[f.lsp for f in found])
        self.text_document_publish_diagnostics(params)

    def clear(self, uri: str) -> None:
        self.findings.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # --- plumbing --------------------------------------------------------------------------
    async def in_worker(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run front-end code on the one check thread."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, functools.partial(fn, *args, **kwargs))

    def report(self, what: str, exc: BaseException) -> None:
        log.error("ftc lsp: %s failed", what, exc_info=exc)
        message = f"ftc lsp: {what} failed: {type(exc).__name__}: {exc}"
        try:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
        except Exception:  # noqa: BLE001 - the client is gone; stderr has it already
            log.debug("could not send the log message", exc_info=True)

    def shutdown(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)
        super().shutdown()  # type: ignore[no-untyped-call]  # pygls leaves it unannotated


def _key(uri: str) -> str:
    return unquote(uri)  # pygls keys open documents by the unquoted URI


# --- the guards: one failing request is answered empty, never the end of the session --------
def _guarded(server: FtcLanguageServer) -> Callable[[Callable[P, R | None]], Callable[P, R | None]]:
    def wrap(fn: Callable[P, R | None]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see the module's docstring
                server.report(fn.__name__, exc)
                return None

        return run

    return wrap


def _guarded_async(
    server: FtcLanguageServer,
) -> Callable[[Callable[P, Awaitable[R | None]]], Callable[P, Awaitable[R | None]]]:
    def wrap(fn: Callable[P, Awaitable[R | None]]) -> Callable[P, Awaitable[R | None]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see the module's docstring
                server.report(fn.__name__, exc)
                return None

        return run

    return wrap


# --- the handlers ------------------------------------------------------------------------------
def create_server(allow_outside: bool = False) -> FtcLanguageServer:
    """A server with every feature registered; `ftc lsp` starts it on stdio or TCP."""
    server = FtcLanguageServer(allow_outside)
    _register_sync(server)
    _register_requests(server)
    return server


def _register_sync(server: FtcLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @_guarded(server)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.schedule_check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded(server)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        server.schedule_check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @_guarded(server)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        server.schedule_check(params.text_document.uri)  # data files may have appeared meanwhile

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded(server)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.clear(params.text_document.uri)


def _register_requests(server: FtcLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_guarded(server)
    def on_hover(params: types.HoverParams) -> types.Hover | None:
        text = server.source(params.text_document.uri)
        if text is None:
            return None
        index = server.index(text)
        symbol = Scan(text).symbol(index.offset(params.position))
        shown = hover.markdown(symbol) if symbol is not None else None
        if symbol is None or shown is None:
            return None
        where = types.Range(start=index.position(symbol.token.start), end=index.position(symbol.token.end))
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=shown), range=where)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=['"', "/"]))
    @_guarded(server)
    def on_completion(params: types.CompletionParams) -> types.CompletionList | None:
        text = server.source(params.text_document.uri)
        if text is None:
            return None
        index = server.index(text)
        offset = index.offset(params.position)
        recipe_path = to_fs_path(params.text_document.uri)
        found = complete.items(Scan(text), index, offset, recipe_path, server.snippets, server.allow_outside)
        return types.CompletionList(is_incomplete=False, items=found)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_guarded(server)
    def on_definition(params: types.DefinitionParams) -> types.Location | None:
        text = server.source(params.text_document.uri)
        recipe_path = to_fs_path(params.text_document.uri)
        if text is None or recipe_path is None:
            return None
        symbol = Scan(text).symbol(server.index(text).offset(params.position))
        target = paths.target(symbol, recipe_path, server.allow_outside) if symbol is not None else None
        if target is None:
            return None
        start = types.Position(line=0, character=0)
        return types.Location(uri=from_fs_path(target) or target, range=types.Range(start=start, end=start))

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    @_guarded_async(server)
    async def on_formatting(params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        text = server.source(params.text_document.uri)
        if text is None:
            return None
        formatted, _diags = await server.in_worker(format_text, text, params.text_document.uri)
        if formatted is None or formatted == text:
            return []  # a syntax error (its diagnostics are shown already) or nothing to change
        return [types.TextEdit(range=server.index(text).whole(), new_text=formatted)]

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    @_guarded(server)
    def on_code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        uri = params.text_document.uri
        doc = server.open_document(uri)
        version, found = server.findings.get(uri, (None, []))
        if doc is None or version != doc.version:
            return []  # the text moved on since the findings: fresh ones, with their fixes, follow
        return diagnose.quick_fixes(uri, found, params.range)


# --- starting it -----------------------------------------------------------------------------
def serve_stdio(allow_outside: bool = False, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    create_server(allow_outside).start_io(stdin, stdout)


def serve_tcp(host: str, port: int, allow_outside: bool = False) -> None:
    create_server(allow_outside).start_tcp(host, port)
