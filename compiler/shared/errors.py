"""Errors a user can cause. The CLI prints them without a traceback and exits with their code."""

from __future__ import annotations


class FtcError(Exception):
    """A user-facing failure: bad input, a missing file, a refused plan.

    ``message`` is printed as is (it may already be a rendered diagnostic); ``exit_code``
    follows the CLI contract: 1 for errors in the user's input, 2 for usage errors.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(FtcError):
    exit_code = 2
