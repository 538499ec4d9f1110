"""`equilib compare`: bad input is one line `equilib: error: ...` with exit status 2, refused before any
work; Ctrl-C leaves a partial report; `python -m equilib` is the same command."""

from __future__ import annotations

import csv
import runpy
import sys

import pytest

import equilib as eq
from equilib.compare import report as report_module
from equilib.compare.cli import main
from equilib.compare.run import run_one

NOT_A_GAME = "def not_a_game():\n    return 42\n"


def run_cli(args, capsys):
    """main(args) in-process: (exit status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as exc:
        status = exc.code
    out = capsys.readouterr()
    return status, out.out, out.err


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("equilib: error: "), err
    return lines[0]


@pytest.mark.parametrize("args, needles", [
    (["--games", "xy,nope"], ["'nope'", "known games", "xy", "monotone_quadratic", "cyclic"]),
    (["--solvers", "simgd,magic"], ["'magic'", "known solvers", *eq.SOLVERS]),
    (["--games", "no_such_module_xyz:f"], ["cannot import module 'no_such_module_xyz'"]),
    (["--games", "math:nope"], ["has no function 'nope'"]),
    (["--lr", "-1"], ["--lr", "> 0"]),
    (["--lr-scan", "1:0.1:5"], ["--lr-scan", "lo < hi"]),
    (["--steps", "0"], ["--steps", ">= 1"]),
    (["--lr", "0.1", "--lr-scan", "0.1:1:3"], ["not allowed with"]),
])
def test_bad_input_is_one_line_and_status_2(args, needles, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("equilib.compare.cli.compare", lambda plan: pytest.fail("work started"))
    status, _, err = run_cli(["compare", *args, "--out", str(tmp_path / "r")], capsys)
    assert status == 2
    line = _one_error_line(err)
    for needle in needles:
        assert needle in line


def test_function_not_returning_a_game_and_unwritable_folder_refused_before_work(tmp_path, capsys, monkeypatch):
    (tmp_path / "bad_games.py").write_text(NOT_A_GAME)
    monkeypatch.syspath_prepend(str(tmp_path))
    user_module = "bad_games"
    started = []
    monkeypatch.setattr("equilib.compare.cli.compare", lambda plan: started.append(plan))
    status, _, err = run_cli(["compare", "--games", f"{user_module}:not_a_game", "--out", str(tmp_path / "r")],
                             capsys)
    assert status == 2 and "returned int" in _one_error_line(err)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    status, _, err = run_cli(["compare", "--games", "xy", "--out", str(blocker / "report")], capsys)
    assert status == 2 and "--out" in _one_error_line(err) and "not a writable folder" in err
    status, _, err = run_cli([], capsys)
    assert status == 2 and "compare" in _one_error_line(err)
    assert started == []


def test_keyboard_interrupt_leaves_a_partial_report(tmp_path, capsys, monkeypatch):
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return run_one(*args, **kwargs)

    monkeypatch.setattr(report_module, "run_one", interrupted)
    status, out, err = run_cli(["compare", "--games", "xy,bilinear", "--solvers", "simgd,extragradient",
                                "--steps", "20", "--no-scan", "--out", str(tmp_path)], capsys)
    assert status == 130
    assert (tmp_path / "table.md").read_text().startswith("**PARTIAL REPORT: interrupted")
    html = (tmp_path / "report.html").read_text()
    assert html.index("PARTIAL REPORT") < html.index("<h1>")
    assert [(r["game"], r["solver"]) for r in read_csv(tmp_path / "table.csv")] == [("xy", "simgd"),
                                                                                   ("xy", "extragradient")]
    assert out.startswith("PARTIAL REPORT") and "complete games: xy" in err


def test_python_dash_m_equilib(tmp_path, capsys, monkeypatch):
    """``python -m equilib`` runs the same main (run in-process: a subprocess would re-import torch)."""
    monkeypatch.setattr(sys, "argv", ["equilib", "compare", "--games", "nope", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("equilib", run_name="__main__")
    assert exc.value.code == 2
    assert _one_error_line(capsys.readouterr().err).startswith("equilib: error: unknown game 'nope'")


def test_module_in_the_current_folder_is_found_by_the_console_script(tmp_path, capsys, monkeypatch):
    """The ``equilib`` script's sys.path starts with its own folder, not the current one."""
    (tmp_path / "here_games.py").write_text(NOT_A_GAME)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "here_games", raising=False)
    status, _, err = run_cli(["compare", "--games", "here_games:not_a_game", "--out", "r"], capsys)
    assert status == 2 and "returned int" in _one_error_line(err)  # imported, then refused
    sys.modules.pop("here_games", None)
