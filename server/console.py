"""What the command line shows: progress bars, messages, summaries, exit codes."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable

from tqdm import tqdm

from inpaint_core.errors import Cancelled, CheckpointError, InpaintError, InputError, OutputError
from inpaint_core.pipeline import JobReporter, JobResult, JobSpec, run_job
from inpaint_core.train import Progress

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_OUTPUT, EXIT_CHECKPOINT, EXIT_CANCELLED = 0, 1, 2, 3, 4, 130


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ConsoleReporter(JobReporter):
    """A tqdm bar for training, another for writing; stages and warnings as lines."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar: tqdm | None = None

    def stage(self, message: str) -> None:
        self._close_bar()
        if not self.quiet:
            say(message)

    def warning(self, message: str) -> None:
        self._close_bar()
        say(f"warning: {message}")

    def progress(self, progress: Progress) -> None:
        bar = self._open_bar(progress.iterations, "train", "it", initial=progress.iteration - 1)
        if bar is not None:
            bar.set_postfix_str(f"loss {progress.loss:.4f}", refresh=False)
            bar.update(progress.iteration - bar.n)

    def frame_written(self, frame: int, path: str, done: int, total: int) -> None:
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
            self._bar = tqdm(total=total, initial=max(initial, 0), desc=label, unit=unit, file=sys.stderr, dynamic_ncols=True)
        return self._bar

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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


def run_job_with_console(spec: JobSpec, quiet: bool = False) -> JobResult:
    """Run a job with progress bars and Ctrl-C/SIGTERM cancellation; print its summary."""
    reporter = ConsoleReporter(quiet=quiet)
    with CancelOnInterrupt() as cancel:
        try:
            result = run_job(spec, reporter, should_cancel=cancel)
        finally:
            reporter.close()
    say(summary(result))
    return result


def run_reporting_errors(job: Callable[[], int], debug: bool = False) -> int:
    """Run ``job``; turn a known failure into one line on stderr and an exit code."""
    try:
        return job()
    except Cancelled as exc:
        say(f"cancelled: {exc} Continue with --resume.")
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        say("aborted.")
        return EXIT_CANCELLED
    except InpaintError as exc:
        if debug:
            raise
        say(f"error: {exc}")
        return _exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence, re-raised with --debug
        if debug:
            raise
        say(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for a traceback)")
        return EXIT_INTERNAL


def _exit_code(exc: InpaintError) -> int:
    if isinstance(exc, InputError):
        return EXIT_INPUT
    if isinstance(exc, OutputError):
        return EXIT_OUTPUT
    if isinstance(exc, CheckpointError):
        return EXIT_CHECKPOINT
    return EXIT_INTERNAL


def summary(result: JobResult) -> str:
    """The closing lines of a run, for a human reading the terminal."""
    lines = [
        f"Done in {result.total_seconds:.1f} s on {result.device}: {len(result.outputs)} frames written "
        f"({result.filled_frames} filled, {result.copied_frames} without a hole copied unchanged).",
    ]
    if result.iterations:
        lines.append(
            f"Training: {result.iterations} iterations in {result.train_seconds:.1f} s, final loss {result.final_loss:.4f}; "
            f"{100 * result.hole_fraction:.1f}% of pixels were filled."
        )
    if result.outputs:
        lines.append(f"Output: {result.outputs[0]} ... {result.outputs[-1]}")
    if result.checkpoint:
        lines.append(f"Checkpoint: {result.checkpoint}")
    return "\n".join(lines)
