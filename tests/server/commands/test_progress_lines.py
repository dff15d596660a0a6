"""Progress on the command line: bars on a terminal, a line every few seconds into a pipe or a farm log."""

from __future__ import annotations

import math

from inpaint_core.training import Progress
from server.commands.console import ConsoleReporter, LineProgress
from server.progress_log import Every, progress_line


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def progress(iteration: int, iterations: int = 1000) -> Progress:
    return Progress(iteration=iteration, iterations=iterations, loss=0.0123, elapsed=iteration * 0.1,
                    eta=(iterations - iteration) * 0.1)


def test_every_passes_the_first_call_then_once_an_interval_and_always_the_last():
    clock = FakeClock()
    gate = Every(5.0, clock)
    passed = []
    for step in range(100):  # 0.2 s a step: 20 s in all
        clock.now = step * 0.2
        passed.append(gate(last=step == 99))
    assert [i for i, p in enumerate(passed) if p] == [0, 25, 50, 75, 99]


def test_a_thousand_iterations_in_a_log_are_a_line_every_five_seconds():
    clock, lines = FakeClock(), []
    out = LineProgress(interval=5.0, write=lines.append, clock=clock)
    for iteration in range(1, 1001):  # 0.1 s an iteration: 100 s
        clock.now = iteration * 0.1
        out.training(progress(iteration))
    assert len(lines) == 21  # the first, one every 5 s, and the last
    assert lines[-1].startswith("train: 1000/1000 it (100%)") and "\r" not in "".join(lines)
    for done in range(1, 25):
        clock.now = 100 + done * 0.01
        out.frames(done, 24)
    assert lines[-2:] == ["write: 1/24 frames", "write: 24/24 frames"]


def test_the_line_says_where_the_job_is_and_how_long_is_left():
    line = progress_line(Progress(iteration=120, iterations=500, loss=0.5, elapsed=62.0, eta=3725.0))
    assert line == "train: 120/500 it (24%), loss 0.5000, 1:02 elapsed, about 1:02:05 left"
    assert "about ? left" in progress_line(Progress(1, 10, 0.1, 0.0, math.inf))


def test_not_on_a_terminal_the_reporter_writes_whole_lines_not_bar_redraws(capsys):
    reporter = ConsoleReporter(interactive=False)
    for iteration in range(1, 501):  # as fast as the loop goes: well inside one interval
        reporter.progress(progress(iteration, 500))
    for done in range(1, 25):
        reporter.frame_written(1000 + done, f"out.{done}.exr", done, 24)
    reporter.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    assert [line.split(",")[0] for line in err.splitlines()] == [
        "train: 1/500 it (0%)", "train: 500/500 it (100%)", "write: 1/24 frames", "write: 24/24 frames"]


def test_on_a_terminal_the_reporter_draws_bars(capsys):
    reporter = ConsoleReporter(interactive=True)
    for iteration in range(1, 51):
        reporter.progress(progress(iteration, 50))
    reporter.close()
    err = capsys.readouterr().err
    assert "\r" in err and "50/50" in err and "it (100%)" not in err


def test_quiet_writes_no_progress(capsys):
    reporter = ConsoleReporter(quiet=True, interactive=False)
    reporter.progress(progress(10, 10))
    reporter.frame_written(1001, "a.exr", 1, 1)
    assert capsys.readouterr().err == ""
