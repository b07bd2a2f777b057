"""The lint front end for an open document, its findings as LSP diagnostics, and the quick fixes
their did-you-means make.

A document is checked exactly as `ftc lint` checks the file: the same decoding limits, parser,
semantic checks and lint rules, relative to the file's folder and project; no planner. The
editor's text is checked, not the file on disk, so findings follow every keystroke.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lsprotocol import types

from ftc.compiler.lang import frontend, parser
from ftc.compiler.lang.diagnostics import Diagnostic
from ftc.compiler.lsp.positions import TextIndex

SOURCE = "ftc"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "note": types.DiagnosticSeverity.Information,
}


@dataclass(frozen=True)
class Finding:
    """One front-end diagnostic and the LSP diagnostic it is published as."""

    diagnostic: Diagnostic
    lsp: types.Diagnostic


def check(text: str, path: str | None, name: str, allow_outside: bool = False) -> list[Diagnostic]:
    """`ftc lint` on the document's text. ``path``: the file it is saved as (None for an unsaved
    buffer, checked relative to the working folder); ``name``: what the findings' spans name."""
    # The same limits as a file read from disk: FTR010 for a huge buffer, FTR002 for NUL bytes.
    decoded, diags = parser.decode(text.encode("utf-8", "surrogatepass"), name)
    if decoded is None:
        return diags
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    recipe_path = os.path.abspath(path) if path else None
    return frontend.check_text(decoded, name, recipe_dir=folder, recipe_path=recipe_path, allow_outside=allow_outside)[
        1
    ]


def findings(diags: list[Diagnostic], index: TextIndex) -> list[Finding]:
    return [Finding(d, to_lsp(d, index)) for d in diags]


def to_lsp(d: Diagnostic, index: TextIndex) -> types.Diagnostic:
    """The LSP form: same code, severity, message and range; the hint follows the message on its
    own line, as `ftc lint` prints it below the excerpt."""
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return types.Diagnostic(
        range=index.span_range(d.span),
        message=message,
        severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Information),
        code=d.code,
        source=SOURCE,
        data={"fix": d.fix} if d.fix is not None else None,
    )


def quick_fixes(uri: str, found: list[Finding], wanted: types.Range) -> list[types.CodeAction]:
    """A quick fix for each finding with a did-you-mean whose range meets ``wanted``."""
    return [_fix(uri, f) for f in found if f.diagnostic.fix is not None and _meets(f.lsp.range, wanted)]


def _fix(uri: str, f: Finding) -> types.CodeAction:
    fix = f.diagnostic.fix or ""
    edit = types.TextEdit(range=f.lsp.range, new_text=fix)
    return types.CodeAction(
        title=f"Replace with `{fix}`",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[f.lsp],
        edit=types.WorkspaceEdit(changes={uri: [edit]}),
        is_preferred=True,
    )


def _meets(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges overlap or touch (a cursor at a word's end still asks for its fix)."""
    return _at(a.start) <= _at(b.end) and _at(b.start) <= _at(a.end)


def _at(p: types.Position) -> tuple[int, int]:
    return (p.line, p.character)
