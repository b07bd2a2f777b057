"""Did-you-mean: the nearest known name to a misspelt one, for diagnostics and `ftc explain`."""

from __future__ import annotations


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a transposition costs one), case-insensitive."""
    a, b = a.lower(), b.lower()
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    if len(word) > 64:
        return None
    best = min(options, key=lambda o: (edit_distance(word, o), o), default=None)
    if best is None:
        return None
    limit = max(1, min(len(word), len(best)) // 3)
    return best if edit_distance(word, best) <= limit else None


def suggest(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    guess = did_you_mean(word, options)
    return f"did you mean `{guess}`?" if guess else None
