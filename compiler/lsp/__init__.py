"""The language server behind `ftc lsp`: the front end's diagnostics, hover, completion,
go-to-definition, formatting and quick fixes for editors, over the Language Server Protocol.

``server`` holds the handlers and nothing else; what they compute lives in small pure modules:
``positions`` (spans <-> LSP ranges), ``scan`` (where the cursor is, even in half-typed text),
``diagnose`` (the lint front end and its quick fixes), ``hover``, ``complete`` and ``paths``.
"""
