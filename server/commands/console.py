"""What the command line shows: progress bars, messages, summaries, exit codes."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Callable

from tqdm import tqdm

from inpaint_core.errors import Cancelled, InpaintError
from inpaint_core.jobs import JobReporter, JobResult, JobSpec, run_job
from inpaint_core.training import Progress
from server.error_table import EXIT_CANCELLED, EXIT_INTERNAL, exit_code
from server.error_table import EXIT_OK as EXIT_OK  # the commands return it; exit codes live in server/error_table.py
from server.progress_log import LOG_INTERVAL, Every, progress_line


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ConsoleReporter(JobReporter):
    """A tqdm bar for training, another for writing; stages and warnings as lines.

    On a terminal the bars redraw in place; into a pipe or a farm log each redraw would be a line of its own (the
    demo's 500 iterations were 500 lines), so there progress is a plain line every LOG_INTERVAL seconds instead.
    """

    def __init__(self, quiet: bool = False, interactive: bool | None = None):
        self.quiet = quiet
        self.interactive = _is_terminal(sys.stderr) if interactive is None else interactive
        self._bar: tqdm | None = None
        self._lines = LineProgress()

    def stage(self, message: str) -> None:
        self._close_bar()
        if not self.quiet:
            say(message)

    def warning(self, message: str) -> None:
        self._close_bar()
        say(f"warning: {message}")

    def progress(self, progress: Progress) -> None:
        if not self.interactive:
            if not self.quiet:
                self._lines.training(progress)
            return
        bar = self._open_bar(progress.iterations, "train", "it", initial=progress.iteration - 1)
        if bar is not None:
            bar.set_postfix_str(f"loss {progress.loss:.4f}", refresh=False)
            bar.update(progress.iteration - bar.n)

    def frame_written(self, frame: int, path: str, done: int, total: int) -> None:
        if not self.interactive:
            if not self.quiet:
                self._lines.frames(done, total)
            return
        bar = self._open_bar(total, "write", "frame", initial=done - 1)
        if bar is not None:
            bar.update(done - bar.n)
            if done == total:
                self._close_bar()

    def close(self) -> None:
        self._close_bar()

    def _open_bar(self, total: int, label: str, unit: str, initial: int) -> tqdm | None:
        if self.quiet:
            return None
        if self._bar is None or self._bar.desc != label:
            self._close_bar()
            self._bar = tqdm(total=total, initial=max(initial, 0), desc=label, unit=unit, file=sys.stderr,
                             dynamic_ncols=True)
        return self._bar

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LineProgress:
    """Progress as whole lines, at most one every LOG_INTERVAL seconds per kind (the last one always)."""

    def __init__(self, interval: float = LOG_INTERVAL, write: Callable[[str], None] = say,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._training = Every(interval, clock)
        self._frames = Every(interval, clock)

    def training(self, progress: Progress) -> None:
        if self._training(last=progress.iteration >= progress.iterations):
            self._write(progress_line(progress))

    def frames(self, done: int, total: int) -> None:
        if self._frames(last=done >= total):
            self._write(f"write: {done}/{total} frames")


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class JsonReporter(JobReporter):
    """One JSON object per line on stdout, for farm monitors: stages, warnings, progress, frames.

    Training progress is sent at most once a second (and for the last iteration), so a log
    stays readable at thousands of iterations.
    """

    PROGRESS_INTERVAL = 1.0

    def __init__(self) -> None:
        self._progress_due = Every(self.PROGRESS_INTERVAL)

    def stage(self, message: str) -> None:
        emit_json("stage", message=message)

    def warning(self, message: str) -> None:
        emit_json("warning", message=message)

    def progress(self, progress: Progress) -> None:
        if not self._progress_due(last=progress.iteration >= progress.iterations):
            return
        emit_json("progress", iteration=progress.iteration, iterations=progress.iterations,
                  loss=_finite(progress.loss), elapsed=round(progress.elapsed, 3), eta=round(progress.eta, 3))

    def frame_written(self, frame: int, path: str, done: int, total: int) -> None:
        emit_json("frame", frame=frame, path=path, done=done, total=total)

    def close(self) -> None:
        """Nothing to close (the same interface as ConsoleReporter)."""


def emit_json(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, "time": round(time.time(), 3), **fields}), flush=True)


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def make_reporter(log_format: str, quiet: bool = False) -> JobReporter:
    return JsonReporter() if log_format == "json" else ConsoleReporter(quiet=quiet)


class CancelOnInterrupt:
    """First Ctrl-C (or a farm's SIGTERM) stops the job cleanly, checkpoint first; a second one aborts."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.requested.is_set()

    def __enter__(self) -> "CancelOnInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()
        say("\nStopping after this iteration and saving a checkpoint (Ctrl-C again to abort at once)...")


def run_job_with_console(spec: JobSpec, quiet: bool = False, log_format: str = "text") -> JobResult:
    """Run a job with progress bars (or JSON lines) and Ctrl-C/SIGTERM cancellation; print its summary."""
    reporter = make_reporter(log_format, quiet)
    with CancelOnInterrupt() as cancel:
        try:
            result = run_job(spec, reporter, should_cancel=cancel)
        finally:
            reporter.close()
    report_result(result, log_format)
    return result


def report_result(result: JobResult, log_format: str) -> None:
    if log_format == "json":
        emit_json("result", frames=len(result.frames), filled=result.filled_frames, copied=result.copied_frames,
                  iterations=result.iterations, final_loss=_finite(result.final_loss), device=result.device,
                  train_seconds=round(result.train_seconds, 3), total_seconds=round(result.total_seconds, 3),
                  propagation_seconds=round(result.propagation_seconds, 3), fill_seconds=round(result.fill_seconds, 3),
                  fill_seconds_per_frame=round(_per_frame(result), 3), seen_fraction=round(result.seen_fraction, 4),
                  outputs=[result.outputs[0], result.outputs[-1]] if result.outputs else [])
    else:
        say(summary(result))


def run_reporting_errors(job: Callable[[], int], debug: bool = False, log_format: str = "text") -> int:
    """Run ``job``; turn a known failure into one line on stderr (and a JSON line) and an exit code.

    A library error's exit code is its entry in server/error_table.py, the table the service's statuses come from.
    """
    try:
        return job()
    except Cancelled as exc:
        return _failed(exit_code(exc), f"cancelled: {exc} Continue with --resume.", log_format)
    except KeyboardInterrupt:
        return _failed(EXIT_CANCELLED, "aborted.", log_format)
    except InpaintError as exc:
        if debug:
            raise
        return _failed(exit_code(exc), f"error: {exc}", log_format)
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence, re-raised with --debug
        if debug:
            raise
        return _failed(EXIT_INTERNAL, f"internal error: {type(exc).__name__}: {exc} (run again with --debug for a "
                                      "traceback)", log_format)


def _failed(code: int, message: str, log_format: str) -> int:
    say(message)
    if log_format == "json":
        emit_json("error", exit_code=code, message=message)
    return code


def _per_frame(result: JobResult) -> float:
    """Seconds of filling and writing per frame with a hole."""
    return result.fill_seconds / max(result.filled_frames, 1)


def summary(result: JobResult) -> str:
    """The closing lines of a run, for a human reading the terminal."""
    lines = [
        f"Done in {result.total_seconds:.1f} s on {result.device}: {len(result.outputs)} frames written "
        f"({result.filled_frames} filled, {result.copied_frames} without a hole copied unchanged).",
    ]
    if result.iterations:
        lines.append(
            f"Training: {result.iterations} iterations in {result.train_seconds:.1f} s, "
            f"final loss {result.final_loss:.4f}; "
            f"{100 * result.hole_fraction:.1f}% of pixels were filled."
        )
    if result.propagation_seconds:
        lines.append(f"Propagation: {result.propagation_seconds:.1f} s; {100 * result.seen_fraction:.1f}% of the hole "
                     "pixels were taken from other frames of the shot.")
    if result.filled_frames:
        lines.append(f"Fill: {_per_frame(result):.2f} s per frame ({result.fill_seconds:.1f} s for "
                     f"{result.filled_frames} frames, writing included).")
    if result.outputs:
        lines.append(f"Output: {result.outputs[0]} ... {result.outputs[-1]}")
    if result.checkpoint:
        lines.append(f"Checkpoint: {result.checkpoint}")
    return "\n".join(lines)
