"""The worker thread of one press of Inpaint: reuse check, the server job, progress and cancel.

Nothing here touches a node or a knob: the thread uses only ``nuke.ProgressTask`` (made for
threads) and sends every change of the node through ``nuke.executeInMainThread``. The server's progress events
(one per training iteration) reach the status line through ``throttle.LatestOnly``: a few updates a second, the
newest one winning, and never after the job's final state.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import traceback
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

import nuke

from internal_inpaint_client.plugin_support import CONNECT_TIMEOUT, discard, environment_token, serve_command
from internal_inpaint_client.reuse_key import reuse_key as shared_reuse_key

from . import node as ii
from .install import missing_client_message
from .render import InputProblem, Previous, Rendered, Settings, frame_path
from .throttle import STATUS_INTERVAL, LatestOnly

KEY_VERSION = "internal-inpaint-nuke/1"
CANCEL_POLL = 0.2  # seconds between looks at the progress bar's cancel button
CLIENT_MODULE = "internal_inpaint_client.client"


def load_client() -> Any:
    """The client library (grpc is imported with it), or an ImportError that names the pip command to run."""
    try:
        from internal_inpaint_client import client
    except ImportError as error:
        raise ImportError(missing_client_message(str(error))) from None
    return client


def connect(client_module: Any, address: str, **options: Any) -> Any:
    """A client for ``address``; sends $INTERNAL_INPAINT_TOKEN when set (servers off localhost need one)."""
    options.setdefault("timeout", 30.0)
    options.setdefault("retries", 3)
    options.setdefault("backoff", 0.5)
    return client_module.InpaintClient(address, token=environment_token(), **options)


def reuse_key(files: Iterable[str], settings: Settings, references: Iterable[str] = ()) -> str:
    """SHA-256 over the rendered inputs' pixels (the plate ``files``, then the rendered ``references``) and the
    settings that change the result.

    The hashing is ``internal_inpaint_client.reuse_key`` (shared with the Resolve plugin). The fill and the
    seen channel joined the fields when the default fill became "guided": a node saved before then holds a
    result of the "paper" fill, whose key must not match a press under the new default, so it runs once more.
    The reference frames join the fields only when there are some, so a press without references keys as before
    and still reuses a result finished before references existed. The warm start joins them likewise only when it
    is not the default (auto): switching it to "off" (train from scratch) or "force" is a new job, never the
    previous result reused, while a node at auto keeps the key, and the result, it had before the knob existed.
    """
    fields: Dict[str, object] = {"preset": settings.preset, "iterations": settings.iterations, "seed": settings.seed,
                                 "mask_channel": settings.mask_channel, "frames": settings.frames,
                                 "fill": settings.fill, "seen_channel": settings.seen_channel}
    if settings.reference_frames:
        fields["reference_frames"] = list(settings.reference_frames)
    if settings.warm_start != ii.DEFAULT_WARM_START:
        fields["warm_start"] = settings.warm_start
    return shared_reuse_key([*files, *references], fields, version=KEY_VERSION)


def parse_frames(frames: str) -> Tuple[int, int]:
    """``"1001-1050"`` -> (1001, 1050); (1, 0), an empty range, for anything else."""
    match = re.fullmatch(r"(-?\d+)-(-?\d+)", frames.strip())
    return (int(match.group(1)), int(match.group(2))) if match else (1, 0)


def outputs_exist(output: str, frames: str) -> bool:
    """True when every frame of ``first-last`` of the output pattern is on disk."""
    first, last = parse_frames(frames)
    return bool(output) and first <= last and all(
        os.path.isfile(frame_path(output, frame)) for frame in range(first, last + 1))


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def describe(error: BaseException, settings: Settings) -> str:
    """One line for the status knob and the script editor."""
    code = getattr(getattr(error, "code", None), "name", "")
    if code == "PERMISSION_DENIED":
        return (f"{error} Start the server with --allow-root {settings.job_folder} (or a folder above it), "
                "or choose a job folder under one of its allowed roots.")
    return str(error) or type(error).__name__


class ServerDown(Exception):
    pass


class Cancelled(Exception):
    pass


class JobRun:
    """One press of Inpaint after its inputs were rendered; ``start()`` runs it in a thread."""

    def __init__(self, group: nuke.Group, label: str, settings: Settings, rendered: Rendered, previous: Previous,
                 on_finish: Optional[Callable[[], None]] = None) -> None:
        self.group = group  # only ever used inside main-thread callbacks
        self.label = label
        self.settings, self.rendered, self.previous = settings, rendered, previous
        self.on_finish = on_finish
        self.job_id = ""
        self.finished = threading.Event()
        self._cancel = threading.Event()
        self._cancel_lock = threading.Lock()
        self._cancel_sent = False
        self._client: Any = None
        # Progress to the status line: at most a few main-thread calls a second, the newest text winning.
        self._updates = LatestOnly(self._status, nuke.executeInMainThread, STATUS_INTERVAL)
        self.thread = threading.Thread(target=self._run, name=f"InternalInpaint {label}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def request_cancel(self) -> None:
        """Any thread: the worker's watcher sends the cancel, so the UI never waits on the network."""
        self._cancel.set()

    # -- the worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        settings, rendered = self.settings, self.rendered
        try:
            self._post(self._status, "Hashing the rendered inputs...")
            key = reuse_key(rendered.files, settings, rendered.reference_files)
            previous = self.previous
            if key == previous.key and outputs_exist(previous.output, previous.frames):
                discard(rendered.folder, rendered.all_files)
                self._post(self._done, previous.job_id, previous.output, previous.frames, True)
                return
            client_module = load_client()
            with connect(client_module, settings.address) as client:
                self._client = client
                try:
                    client.wait_until_ready(CONNECT_TIMEOUT)
                except client_module.InpaintServiceError:
                    raise ServerDown(f"No InternalInpaint server answers at {settings.address}: start one with "
                                     f"`{serve_command(settings.job_folder)}`.") from None
                output, frames = rendered.output, settings.frames
                job_id = self._running_job(client, client_module, key)
                if job_id:  # the same inputs are still being worked on: follow that job
                    output, frames = previous.output, previous.frames
                    discard(rendered.folder, rendered.all_files)
                elif self._cancel.is_set():
                    raise Cancelled("Cancelled before the job was submitted.")
                else:
                    # references only when there are some: a press without them makes the call it always made
                    extra: Dict[str, Any] = {"references": dict(rendered.references)} if rendered.references else {}
                    job_id = client.submit_paths(
                        rendered.plate, rendered.output, frames=frames, matte_channel="A", preset=settings.preset,
                        iterations=settings.iterations or None, seed=settings.seed, name=self.label,
                        fill=settings.fill, seen_channel=settings.seen_channel, warm_start=settings.warm_start,
                        **extra)
                self.job_id = job_id
                self._post(self._submitted, job_id, key, output, frames)
                self._follow(client)
            self._post(self._done, job_id, output, frames, False)
        except Exception as error:  # noqa: BLE001 - every failure ends as a status line, never a dialog
            self._failed(error)
        finally:
            self.finished.set()
            self._post(self._forget)

    def _running_job(self, client: Any, client_module: Any, key: str) -> str:
        """The previous job's id when it had these inputs and is still queued or running."""
        previous = self.previous
        if key != previous.key or not previous.job_id:
            return ""
        try:
            job = client.get_job(previous.job_id)
        except client_module.InpaintServiceError:
            return ""  # deleted on the server, or another server: make a new job
        return "" if client_module.is_finished(job.state) else previous.job_id

    def _follow(self, client: Any) -> None:
        task = nuke.ProgressTask(f"InternalInpaint {self.label}")
        task.setMessage(f"Job {self.job_id}: waiting for the server")
        done = threading.Event()
        watcher = threading.Thread(target=self._watch_cancel, args=(task, done), daemon=True,
                                   name=f"InternalInpaint {self.label} cancel")
        watcher.start()
        on_event = functools.partial(self._on_event, task)
        try:
            if self._cancel.is_set():
                self._send_cancel()
            client.wait(self.job_id, on_event=on_event)
        finally:
            done.set()
            watcher.join()
            self._updates.close()  # the final state follows: no late progress line may overwrite it
            task.setProgress(100)
            del on_event, task  # Nuke closes the progress bar when its task goes away

    def _watch_cancel(self, task: nuke.ProgressTask, done: threading.Event) -> None:
        while not done.wait(CANCEL_POLL):
            if task.isCancelled() or self._cancel.is_set():
                self._send_cancel()
                return

    def _send_cancel(self) -> None:
        with self._cancel_lock:
            if self._cancel_sent or not self.job_id or self._client is None:
                return
            self._cancel_sent = True
        self._cancel.set()
        self._updates.offer(self._job_line("cancelling..."))
        try:
            self._client.cancel(self.job_id)
        except Exception as error:  # noqa: BLE001 - a job that ended meanwhile says so in wait()
            self._post(self._report, f"Cancelling job {self.job_id} failed: {error}")

    def _on_event(self, task: nuke.ProgressTask, event: Any) -> None:
        kind = event.WhichOneof("detail")
        progress = None
        if kind == "training":
            step = event.training
            text = (f"Training: iteration {step.iteration}/{step.iterations}, loss {step.loss:.4g}, "
                    f"ETA {_duration(step.eta_seconds)}")
            progress = 90 * step.iteration // max(step.iterations, 1)
        elif kind == "frame_written":
            written = event.frame_written
            text = f"Writing frames: {written.done}/{written.total}"
            progress = 90 + 10 * written.done // max(written.total, 1)
        elif kind == "state_change":
            text = event.state_change.message
        elif kind == "notice":
            text = event.notice.text
            self._post(self._report, f"Job {self.job_id}: {text}")
        else:
            return
        task.setMessage(text)
        if progress is not None:
            task.setProgress(progress)
        if task.isCancelled():
            self.request_cancel()
        self._updates.offer(self._job_line(text))

    def _job_line(self, text: str) -> str:
        return f"Job {self.job_id}, view {self.settings.view}: {text}"

    def _failed(self, error: Exception) -> None:
        self._updates.close()  # the error is the final state: no progress line may follow it
        client = _loaded_client()
        if isinstance(error, Cancelled) or (client is not None and isinstance(error, client.JobCancelled)):
            if not self.job_id:
                discard(self.rendered.folder, self.rendered.all_files)
            self._post(self._report, f"Cancelled: job {self.job_id}, view {self.settings.view}: {error}"
                       if self.job_id else f"Cancelled: {error}")
            return
        if not self.job_id:  # no job reads these frames: do not leave them behind
            discard(self.rendered.folder, self.rendered.all_files)
        if client is not None and isinstance(error, client.JobFailed):
            message = f"Job {self.job_id} failed: {error}"
        elif isinstance(error, (ServerDown, InputProblem, OSError, ValueError, ImportError)) or (
                client is not None and isinstance(error, client.InpaintServiceError)):
            message = describe(error, self.settings)
        else:
            traceback.print_exc()
            message = f"Unexpected error ({type(error).__name__}): {error}"
        self._post(self._report, f"Error: {message}")

    def _post(self, call: Callable[..., None], *args: Any) -> None:
        nuke.executeInMainThread(call, args=args)

    # -- main-thread callbacks --------------------------------------------------------------

    def _node_alive(self) -> bool:
        try:
            self.group.name()
            return True
        except ValueError:  # the node was deleted while the job ran
            return False

    def _status(self, text: str) -> None:
        if self._node_alive():
            ii.set_status(self.group, text)

    def _report(self, text: str) -> None:
        print(f"InternalInpaint {self.label}: {text}")
        self._status(text)

    def _submitted(self, job_id: str, key: str, output: str, frames: str) -> None:
        if self._node_alive():
            for knob, value in ((ii.JOB_ID, job_id), (ii.JOB_KEY, key), (ii.JOB_OUTPUT, output),
                                (ii.JOB_FRAMES, frames)):
                self.group[knob].setValue(value)
        painted = self.settings.reference_frames
        painted_text = f", reference frames {','.join(map(str, painted))}" if painted else ""
        self._report(f"Job {job_id} submitted (view {self.settings.view}{painted_text}); output {output}")

    def _done(self, job_id: str, output: str, frames: str, reused: bool) -> None:
        view = self.settings.view
        if self._node_alive():
            first, last = parse_frames(frames)
            ii.show_result(self.group, output.replace(os.sep, "/"), first, last, view)
        if reused:
            self._report(f"Reused job {job_id} (view {view}): inputs and settings unchanged. Reading {output}")
        else:
            self._report(f"Done: job {job_id}, view {view}, frames {frames}. Reading {output}")

    def _forget(self) -> None:
        if self.on_finish is not None:
            self.on_finish()


def _loaded_client() -> Any:
    """The client module if it was imported (an ImportError of it is reported like other errors)."""
    return sys.modules.get(CLIENT_MODULE)
