"""Placeholder: the helper that owns this module replaces it."""

COMMANDS: list = []


def explain_rule(rule_id: str) -> str | None:
    return None
