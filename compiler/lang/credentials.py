"""What a leaked credential looks like (FTR208), as a table: one row per format, most specific first.

Two ways to find one: a pattern in any text (a string or a comment: ``find_secret``), and a value
assigned to a credential-like name in the recipe's own syntax (``aws_secret_access_key = "..."``:
``find_assigned``), where the value alone would not give it away. Generic names (password, token,
api_key ...) only count with a long value that mixes letters and digits and is not a placeholder,
so ordinary recipe text ("the token comes from HF_TOKEN", ``max_tokens = 4096``) stays clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

_AWS_SECRET_NAME = r"aws[ _-]?secret(?:[ _-]?access)?[ _-]?key"
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?)[A-Za-z0-9_.-]*"
)
GENERIC_MIN_LENGTH = 12  # a generic name's value must be at least this long to look like a credential


@dataclass(frozen=True)
class Credential:
    what: str  # "an AWS secret access key": the message reads "this looks like {what}"
    pattern: re.Pattern[str]
    group: int = 0  # the part of the match that is the secret (underlined)
    generic: bool = False  # the value must also look random (see looks_secret)


CREDENTIALS: tuple[Credential, ...] = (
    Credential("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    Credential("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    Credential("an Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    Credential("an OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    Credential("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    Credential(
        "an AWS secret access key",
        re.compile(rf"(?i)(?<![A-Za-z0-9]){_AWS_SECRET_NAME}[\s\"'=:]{{1,6}}([A-Za-z0-9/+]{{40}})(?![A-Za-z0-9/+=])"),
        1,
    ),
    Credential("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    Credential("a Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    Credential(
        "a Slack webhook", re.compile(r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+")
    ),
    Credential("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    Credential("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    Credential("a bearer token", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{20,}=*)"), 1, generic=True),
    Credential(
        "a password or API key",
        re.compile(rf"(?i)(?<![A-Za-z0-9]){_SECRET_NAME}[\"']?\s*[:=]\s*[\"']?([^\s\"'`,;]{{{GENERIC_MIN_LENGTH},}})"),
        1,
        generic=True,
    ),
)


class Found(NamedTuple):
    what: str
    start: int  # of the secret in the text searched
    end: int


def looks_secret(value: str) -> bool:
    """A long value that mixes letters and digits and is not a placeholder like <token> or ${KEY}."""
    if len(value) < GENERIC_MIN_LENGTH or value[0] in "$<{%([":
        return False
    if "..." in value or re.search(r"(.)\1{3,}", value):  # xxxx, ****, 0000: a redaction or a filler
        return False
    return bool(re.search(r"[A-Za-z]", value) and re.search(r"[0-9]", value))


def find_secret(text: str) -> Found | None:
    """The first credential format (in table order) that occurs in ``text``."""
    for cred in CREDENTIALS:
        for m in cred.pattern.finditer(text):
            if not cred.generic or looks_secret(m.group(cred.group)):
                return Found(cred.what, m.start(cred.group), m.end(cred.group))
    return None


_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+]{40}")


def find_assigned(name: str, value: str) -> str | None:
    """What ``name = "value"`` in the recipe's syntax looks like, when the name says credential."""
    if re.fullmatch(_AWS_SECRET_NAME, name, re.I) and _AWS_SECRET_VALUE.fullmatch(value):
        return "an AWS secret access key"
    if re.fullmatch(_SECRET_NAME, name, re.I) and looks_secret(value) and not re.search(r"\s", value):
        return f"a credential assigned to `{name}`"
    return None
