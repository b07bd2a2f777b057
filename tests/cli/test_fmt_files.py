"""`ftc fmt` rewrites a recipe in place without breaking what the file is: a symlink stays a link
(the file it points at is formatted), and the file keeps its permissions."""

from __future__ import annotations

import os
from pathlib import Path

from ftc.compiler.cli.main import main

UGLY = 'recipe "x" {\ngoal=behavior("Reply as JSON")\n}\n'


def test_fmt_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "real.ftr"
    real.parent.mkdir()
    real.write_text(UGLY, encoding="utf-8")
    link = tmp_path / "link.ftr"
    link.symlink_to(real)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") != UGLY
    assert 'goal = behavior("Reply as JSON")' in real.read_text(encoding="utf-8")


def test_fmt_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "r.ftr"
    path.write_text(UGLY, encoding="utf-8")
    path.chmod(0o640)
    assert main(["fmt", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.read_text(encoding="utf-8") != UGLY
