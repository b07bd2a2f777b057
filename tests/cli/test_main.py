"""The command line's last line of defence: an internal error is one plain line, exit 2, and names
no bug tracker the package does not declare."""

from __future__ import annotations

import pytest

from ftc.compiler.cli import main as cli_main


def test_an_internal_error_is_one_line_without_an_invented_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_main, "_register", broken)
    monkeypatch.setattr(cli_main, "issue_url", lambda: None)
    assert cli_main.main(["lint", "x.ftr"]) == 2
    err = capsys.readouterr().err
    assert err == "internal error: RuntimeError: boom\nThis is a bug in ftc (re-run with --debug for the traceback).\n"


def test_a_declared_tracker_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_main, "_register", lambda: (_ for _ in ()).throw(KeyError("k")))
    monkeypatch.setattr(cli_main, "issue_url", lambda: "https://example.org/ftc/issues")
    assert cli_main.main(["lint", "x.ftr"]) == 2
    assert "please report it at https://example.org/ftc/issues" in capsys.readouterr().err


def test_the_installed_package_declares_no_invented_tracker() -> None:
    url = cli_main.issue_url()
    assert url is None or "ftc-dev" not in url


def test_ftc_run_without_the_runtime_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    # Stands in for an install without `ftc[run]`: torch and trl are absent.
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "trl") else real(name, *a)
    )
    (tmp_path / "r.ftr").write_text('recipe "x" {}\n')
    assert cli_main.main(["run", str(tmp_path / "r.ftr")]) == 2
    err = capsys.readouterr().err
    assert "missing: torch, trl" in err and "pip install 'ftc[run]'" in err
