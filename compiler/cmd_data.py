"""Placeholder: the helper that owns this module replaces it."""

COMMANDS: list = []
