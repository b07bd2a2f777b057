"""The README shows the quickstart recipe a user will run: the block it prints is the file itself.

A README recipe whose bars differ from `recipes/quickstart.ftr` would tell a reader the numbers it
reports were held to bars they were not.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_recipe_block() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```hcl\n# recipes/quickstart\.ftr\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no ```hcl block headed `# recipes/quickstart.ftr`"
    return match.group(1)


def _recipe_body(text: str) -> str:
    """The recipe without its leading comment lines (the README block has its own heading)."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def test_readme_quickstart_block_is_the_recipe_file() -> None:
    assert _readme_recipe_block() == _recipe_body((REPO / "recipes" / "quickstart.ftr").read_text(encoding="utf-8"))
