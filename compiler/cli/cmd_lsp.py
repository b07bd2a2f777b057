"""``ftc lsp``: the language server for editors (docs/editors.md), on stdio or TCP.

Light like ``ftc lint``: the server loads the front end and pygls, never torch.
"""

from __future__ import annotations

import logging
import sys

import click


@click.command()
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default; editors pass it by habit).")
@click.option(
    "--tcp", "port", type=click.IntRange(1, 65535), default=None, help="Listen on this TCP port instead of stdio."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address --tcp listens on.")
@click.option(
    "--allow-outside", is_flag=True, help="Let data paths leave the recipe's project (as `ftc lint --allow-outside`)."
)
@click.option("--log-level", type=click.Choice(["error", "warning", "info", "debug"]), default="warning", show_default=True,
              help="What the server logs to stderr.")  # fmt: skip
def lsp(stdio: bool, port: int | None, host: str, allow_outside: bool, log_level: str) -> None:
    """Run the language server: lint diagnostics as you type, hover, completion, go-to-definition,
    formatting and did-you-mean quick fixes."""
    from ftc.compiler.lsp.server import serve_stdio, serve_tcp

    logging.basicConfig(stream=sys.stderr, level=log_level.upper(), format="%(name)s %(levelname)s: %(message)s")
    if port is not None:
        serve_tcp(host, port, allow_outside)
        return
    # stdout carries the protocol: anything else printed there would corrupt it, so the server gets
    # the real stream and every stray print goes to stderr.
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve_stdio(allow_outside, sys.stdin.buffer, protocol_out)


COMMANDS = [lsp]
