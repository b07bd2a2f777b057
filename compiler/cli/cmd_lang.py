"""``ftc lint`` and ``ftc fmt``.

Light on purpose: this path must start fast and never import torch (only the front end, click and
the standard library are loaded; no rich either, colour is plain ANSI).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ftc.compiler.lang.diagnostics import Diagnostic

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "runs", ".tox", ".mypy_cache", ".pytest_cache"}


def _check_paths_arg(paths: tuple[str, ...]) -> None:
    """Usage errors in PATHS (exit 2): stdin can be read only once (a second '-' would lint an empty
    text under the same name), and an empty argument names no file."""
    from ftc.shared.errors import UsageError

    if paths.count("-") > 1:
        raise UsageError("error: PATHS: '-' (stdin) may be given only once")
    if any(not p.strip() for p in paths):
        raise UsageError("error: PATHS: an empty path names no file")


def collect(paths: tuple[str, ...]) -> list[str]:
    """Files to check: files as given, folders searched recursively for *.ftr, '-' for stdin."""
    _check_paths_arg(paths)
    out: list[str] = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                found += [os.path.join(root, f) for f in files if f.endswith(".ftr")]
            out += sorted(found) if found else [p]  # an empty folder is reported as FTR001
        else:
            out.append(p)
    return out


def _check(path: str, allow_outside: bool) -> list[Diagnostic]:
    from ftc.compiler.lang import frontend

    if path == "-":
        text = sys.stdin.buffer.read()
        from ftc.compiler.lang import parser

        decoded, diags = parser.decode(text, "<stdin>")
        if decoded is None:
            return diags
        return frontend.check_text(decoded, "<stdin>", allow_outside=allow_outside)[1]
    if os.path.isdir(path):
        from ftc.compiler.lang.diagnostics import error
        from ftc.compiler.lang.recipe import Span

        return [error("FTR001", "a folder with no .ftr recipes in it", Span(path, 1, 1, 1, 1))]
    return frontend.load_recipe(path, allow_outside=allow_outside)[1]


# --- output formats --------------------------------------------------------------------------
def _as_json(d: Diagnostic) -> dict[str, object]:
    s = d.span
    return {
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "file": s.file,
        "line": s.line,
        "col": s.col,
        "end_line": s.end_line,
        "end_col": s.end_col,
        "hint": d.hint,
    }


def _rule_meta() -> list[dict[str, object]]:
    """Every code `ftc lint` can report, from the one registry, as SARIF rule metadata."""
    from ftc.compiler.lang.codes import CODES

    return [
        {
            "id": c.code,
            "name": c.name,
            "shortDescription": {"text": c.summary},
            "fullDescription": {"text": c.doc},
            "help": {"text": f"{c.doc}\n\nExample:\n{c.example}\n\nUse instead:\n{c.use_instead}"},
            "defaultConfiguration": {"level": "error" if c.severity == "error" else "warning"},
        }
        for c in CODES.values()
        if c.lints
    ]


def _sarif(diags: list[Diagnostic]) -> str:
    results: list[dict[str, object]] = []
    for d in diags:
        s = d.span
        results.append(
            {
                "ruleId": d.code,
                "level": {"error": "error", "warning": "warning"}.get(d.severity, "note"),
                "message": {"text": d.message + (f" ({d.hint})" if d.hint else "")},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": Path(s.file).as_posix()},
                            "region": {
                                "startLine": s.line,
                                "startColumn": s.col,
                                "endLine": max(s.end_line, s.line),
                                "endColumn": max(s.end_col, 1),
                            },
                        }
                    }
                ],
            }
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "ftc", "version": "0.1.0", "rules": _rule_meta()}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2)


def _github(diags: list[Diagnostic]) -> str:
    def esc(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    lines = []
    for d in diags:
        kind = {"error": "error", "warning": "warning"}.get(d.severity, "notice")
        s = d.span
        msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
        lines.append(
            f"::{kind} file={esc(s.file, True)},line={s.line},col={s.col},endLine={s.end_line},endColumn={s.end_col},"
            f"title={d.code}::{esc(msg)}"
        )
    return "\n".join(lines)


def _safe(text: str) -> str:
    # A recipe may smuggle lone surrogates in through \uD800 escapes; never crash on printing them.
    return text.encode("utf-8", "replace").decode("utf-8")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True
)
@click.option("--strict", is_flag=True, help="Warnings fail the run too.")
@click.option("--allow-outside", is_flag=True, help="Let data paths leave the recipe's project.")
@click.pass_context
def lint(ctx: click.Context, paths: tuple[str, ...], fmt: str, strict: bool, allow_outside: bool) -> None:
    """Check recipes (files or folders, recursively *.ftr; '-' reads stdin). Exit 0 clean, 1 findings."""
    from ftc.compiler.lang.diagnostics import render, sort_key, summary

    files = collect(paths)
    diags: list[Diagnostic] = []
    for path in files:
        diags += _check(path, allow_outside)
    diags.sort(key=sort_key)
    if fmt == "json":
        click.echo(json.dumps({"files": len(files), "diagnostics": [_as_json(d) for d in diags]}, indent=2))
    elif fmt == "sarif":
        click.echo(_sarif(diags))
    elif fmt == "github":
        if diags:
            click.echo(_safe(_github(diags)))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        if diags:
            click.echo(_safe(render(diags, color=color)), nl=False)
        click.echo(f"{len(files)} file{'s' * (len(files) != 1)} checked: {summary(diags)}")
    failing = {"error", "warning"} if strict else {"error"}
    ctx.exit(1 if any(d.severity in failing for d in diags) else 0)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff instead of writing.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the formatted text instead of writing.")
@click.pass_context
def fmt(ctx: click.Context, paths: tuple[str, ...], check: bool, show_diff: bool, to_stdout: bool) -> None:
    """Rewrite recipes in the canonical layout ('-' reads stdin and prints)."""
    from ftc.compiler.lang.diagnostics import render
    from ftc.compiler.lang.formatter import format_text
    from ftc.compiler.lang.frontend import read_source
    from ftc.compiler.lang.parser import normalize_newlines

    changed = failed = 0
    for path in collect(paths):
        if path == "-":
            from ftc.compiler.lang import parser

            text, diags = parser.decode(sys.stdin.buffer.read(), "<stdin>")
            name = "<stdin>"
        else:
            text, diags = read_source(path)
            name = path
        formatted = None
        if text is not None:
            formatted, diags = format_text(text, name)
        if formatted is None or text is None:  # text is None only when formatted is too
            click.echo(_safe(render(diags)), err=True, nl=False)
            failed += 1
            continue
        original = normalize_newlines(text.lstrip("\ufeff"))
        if formatted != text:
            changed += 1
        if show_diff and formatted != text:
            diff = difflib.unified_diff(original.splitlines(True), formatted.splitlines(True), f"a/{name}", f"b/{name}")
            click.echo(_safe("".join(diff)), nl=False)
        if path == "-" or to_stdout:
            if not check and not show_diff:
                click.echo(_safe(formatted), nl=False)
        elif check and formatted != text:
            click.echo(f"would reformat {path}", err=True)
        elif not check and not show_diff and formatted != text:
            try:
                _write(path, formatted)
            except OSError as exc:
                click.echo(
                    f"error[FTR001]: cannot write the formatted file: {exc.strerror or exc}\n --> {path}:1:1", err=True
                )
                failed += 1
    ctx.exit(1 if failed or (check and changed) else 0)


def _write(path: str, text: str) -> None:
    """Atomic (a crash mid-write never leaves a half-formatted recipe), through a symlink."""
    from ftc.shared.atomic import write_text

    write_text(path, text)


COMMANDS = [lint, fmt]
