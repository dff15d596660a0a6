"""Jobs on the server: creation, the queue, the worker that runs them, events, cancel, retention.

One worker thread runs one job at a time on the server's device (training
needs the whole device); the others wait in creation order. Every change of
a job is an event, stored in the spool with the job's next sequence number,
so a watcher can join at any time, from any point, and a restarted server
knows where each job stood. A job that was running when the server died is
queued again and resumes from its last checkpoint.
"""

from __future__ import annotations

import glob
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from inpaint_core.device import release_memory
from inpaint_core.errors import Cancelled, InpaintError
from inpaint_core.io import resolve_sequence
from inpaint_core.io.display import to_display_uint8
from inpaint_core.jobs import JobReporter, plan_outputs, run_job
from inpaint_core.jobs.types import SEEN_CHANNEL
from inpaint_core.masks import Shot
from inpaint_core.training import Progress
from internal_inpaint.v1 import inpaint_pb2 as pb
from server.progress_log import LOG_INTERVAL, Every, progress_line

from . import specs
from .errors import (
    InvalidRequest,
    JobNotFound,
    JobWasCancelled,
    LimitExceeded,
    WrongJobState,
    is_disk_full,
    spool_full_message,
)
from .paths import AllowedRoots
from .spool import ACTIVE_STATES, FINISHED_STATES, JobRecord, Spool
from .uploads import FrameReceiver, received_frames, write_input_exrs

log = logging.getLogger("internal_inpaint.server")

_PROGRESS_INTERVAL = 0.5  # seconds between stored training-progress events (the last one always goes)
_PREVIEW_SIDE = 256  # longest side of preview images sent to watchers
# Warm starts (auto, force) consider the checkpoints of at most this many finished jobs, newest first: each is
# opened to read its fingerprints, and a re-press of the same shot is nearly always among the last few.
WARM_START_CANDIDATES = 20


@dataclass
class ServerSettings:
    spool: str
    device: str = "auto"
    max_chunk_bytes: int = 1 << 20
    max_frame_bytes: int = 1 << 30
    max_waiting_jobs: int = 64
    checkpoint_every: int = 100  # iterations
    preview_every: int = 100  # iterations, when a job does not say
    retention_hours: float = 168.0  # finished jobs are deleted after this long
    max_finished_jobs: int = 200  # and beyond this many, oldest first
    allowed_roots: list[str] = field(default_factory=list)


class JobManager:
    def __init__(self, settings: ServerSettings, device_name: str):
        self.settings = settings
        self.device_name = device_name
        self.spool = Spool(settings.spool)
        self.roots = AllowedRoots(settings.allowed_roots)
        self._changed = threading.Condition()
        self._cancel_requested: set[str] = set()
        self._previews: dict[str, pb.JobEvent] = {}
        self._stopping = threading.Event()
        self._running: str | None = None
        self._unrecorded: dict[str, tuple[int, pb.Finished]] = {}  # job endings the spool could not store yet
        self._requeue_interrupted()
        self.apply_retention()
        self._worker = threading.Thread(target=self._work, name="job-worker", daemon=True)

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker: a running job is checkpointed and stays queued, to resume at the next start."""
        self._stopping.set()
        self._notify()
        if self._worker.is_alive():
            self._worker.join(timeout)
        self.spool.close()

    # -- creating and feeding jobs -----------------------------------------------------

    def create(self, spec: pb.JobSpec) -> JobRecord:
        settings = specs.check_spec(spec, self.settings.max_frame_bytes)
        self._check_warm_start_job(spec.training.warm_start_job)
        waiting = len(self.spool.list((pb.UPLOADING, pb.QUEUED)))
        if waiting >= self.settings.max_waiting_jobs:
            raise LimitExceeded(f"{waiting} jobs are waiting already (the limit is {self.settings.max_waiting_jobs}); "
                                "try again later or delete finished jobs.")
        if spec.WhichOneof("source") == "upload":
            return self._create_upload_job(spec, settings.iterations)
        return self._create_path_job(spec, settings.iterations)

    def _check_warm_start_job(self, job_id: str) -> None:
        if not job_id:
            return
        record = self.spool.get(job_id)
        if record is None:
            raise InvalidRequest(f"training.warm_start_job: no job {job_id!r} on this server (deleted, expired, or "
                                 "never created); name a finished job, or leave it empty.")
        if record.state != pb.DONE:
            raise InvalidRequest(f"training.warm_start_job: job {job_id} is {pb.JobState.Name(record.state)}, not "
                                 "DONE; only a finished job's network can seed another.")

    def warm_start_sources(self, record: JobRecord) -> tuple[str, ...]:
        """The checkpoints a job may warm-start from, best first: the job it names (warm_start_job), else the
        finished jobs' on this server, newest first. They are kept as long as their jobs (the retention)."""
        training = record.spec.training
        if training.warm_start == pb.WARM_START_OFF and not training.warm_start_job:
            return ()
        if training.warm_start_job:
            chosen = self.spool.get(training.warm_start_job)
            jobs = [chosen] if chosen is not None and chosen.state == pb.DONE else []
        else:
            done = [r for r in self.spool.list((pb.DONE,)) if r.id != record.id]
            jobs = sorted(done, key=lambda r: r.updated, reverse=True)[:WARM_START_CANDIDATES]
        return tuple(path for job in jobs
                     for path in sorted(glob.glob(os.path.join(glob.escape(self.spool.job_dir(job.id, "work")),
                                                               "*.ckpt"))))

    def _create_upload_job(self, spec: pb.JobSpec, iterations: int) -> JobRecord:
        frames = len(spec.upload.frames)
        outputs = specs.frame_bytes(spec.upload.layout, extra_channels=int(spec.training.seen_channel))
        inputs = specs.frame_bytes(spec.upload.layout) * (frames + len(spec.upload.reference_frames))
        needed = inputs + frames * outputs
        free = self.spool.free_bytes()
        if needed > free:
            raise LimitExceeded(f"The job needs about {_megabytes(needed)} in the spool {self.spool.root} and only "
                                f"{_megabytes(free)} are free: delete finished jobs or free space on that disk.")
        record = self.spool.create(spec, pb.UPLOADING, frames, iterations)
        self._event(record.id, pb.UPLOADING, state_change=pb.StateChange(message=f"Waiting for {frames} frames"))
        return self.spool.get(record.id)

    def _create_path_job(self, spec: pb.JobSpec, iterations: int) -> JobRecord:
        paths = spec.paths
        resolved = pb.JobSpec()
        resolved.CopyFrom(spec)
        resolved.paths.plate = self.roots.check_pattern(paths.plate, "plate")
        resolved.paths.output = self.roots.check_pattern(paths.output, "output")
        if paths.matte:
            resolved.paths.matte = self.roots.check_pattern(paths.matte, "matte")
        for given, checked in zip(paths.references, resolved.paths.references):
            for part in ("image", "matte"):
                if getattr(given, part):
                    setattr(checked, part, self.roots.check_pattern(getattr(given, part), f"reference {part}"))
                    self.roots.check_file(getattr(checked, part), f"reference {part} file")
        library = specs.library_spec(resolved, "", self.settings.device, 0, overwrite_own_outputs=False)
        # Every file (a frame may be a symlink) is checked before Shot opens any: a refused file must not be read,
        # nor its content echoed in an error message. What the library refuses (a missing frame, outputs that
        # exist) answers with its class's status in server/error_table.py.
        plate_paths = resolve_sequence(library.shot.plate, library.shot.frames)
        specs.check_mask_frame(spec.matte, list(plate_paths))
        matte_frames = list(plate_paths) if library.shot.mask_frame is None else [library.shot.mask_frame]
        mask_paths = resolve_sequence(library.shot.mask, matte_frames) if library.shot.mask else {}
        for what, files in (("plate", plate_paths), ("matte", mask_paths)):
            for path in files.values():
                self.roots.check_file(path, f"{what} file")
        shot = Shot(library.shot)
        if library.seen_channel and SEEN_CHANNEL in shot.channel_names:
            raise InvalidRequest(f"training.seen_channel adds a channel {SEEN_CHANNEL!r} to the outputs, and the plate "
                                 f"{paths.plate} has one already: rename or drop it, or leave seen_channel off.")
        plan_outputs(library.output, shot, library.overwrite)
        record = self.spool.create(resolved, pb.QUEUED, len(shot.frames), iterations)
        self._event(record.id, pb.QUEUED, state_change=pb.StateChange(message="Queued"))
        return self.spool.get(record.id)

    def receiver(self, job_id: str) -> FrameReceiver:
        record = self.get(job_id)
        if record.spec.WhichOneof("source") != "upload":
            raise WrongJobState(f"Job {job_id} reads its frames from paths; it takes no uploads.")
        if record.state == pb.CANCELLED:
            raise JobWasCancelled(f"Job {job_id} was cancelled; it takes no more frames.")
        if record.state != pb.UPLOADING:
            raise WrongJobState(f"Job {job_id} is {pb.JobState.Name(record.state)}, not waiting for frames.")
        return FrameReceiver(job_id, self.spool.job_dir(job_id), record.spec.upload.layout,
                             list(record.spec.upload.frames), self.settings.max_chunk_bytes,
                             list(record.spec.upload.reference_frames))

    def frames_arrived(self, job_id: str) -> pb.UploadSummary:
        """After an upload call: count what is there; queue the job once everything is."""
        record = self.get(job_id)
        frames = list(record.spec.upload.frames)
        have = received_frames(self.spool.job_dir(job_id), frames)
        missing = sorted(set(frames) - set(have))
        references = list(record.spec.upload.reference_frames)
        references_missing = sorted(set(references) - set(received_frames(self.spool.job_dir(job_id), references,
                                                                           reference=True)))
        self.spool.update(job_id, frames_received=len(have))
        state = record.state
        if not missing and not references_missing and state == pb.UPLOADING:
            state = pb.QUEUED
            self._event(job_id, pb.QUEUED, state_change=pb.StateChange(message="All frames received; queued"))
        return pb.UploadSummary(job_id=job_id, frames_missing=missing, state=state,
                                references_missing=references_missing)

    # -- reading jobs -----------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        record = self.spool.get(job_id) if job_id else None
        if record is None:
            raise JobNotFound(f"No job {job_id!r} on this server (deleted, expired, or never created).")
        return record

    def job_proto(self, record: JobRecord) -> pb.Job:
        return self.job_protos([record])[0]

    def job_protos(self, records: list[JobRecord]) -> list[pb.Job]:
        """The records as the contract's Jobs, with queue positions (the queue is read once, not per job)."""
        queued = {r.id: position for position, r in enumerate(self.spool.list((pb.QUEUED,)), start=1)}
        return [r.to_proto(queued.get(r.id, 0) if r.state == pb.QUEUED else 0) for r in records]

    def waiting_count(self) -> int:
        return len(self.spool.list((pb.UPLOADING, pb.QUEUED)))

    def events(self, job_id: str, after: int, previews: bool, is_active: Callable[[], bool],
               follow: bool = True) -> Iterator[pb.JobEvent]:
        """The job's events after ``after``, then live ones, until it ends or the watcher leaves
        (without ``follow``: only those there are now)."""
        self.get(job_id)
        last_preview = None
        while is_active():
            with self._changed:
                batch = self.spool.events_after(job_id, after)
                preview = self._previews.get(job_id) if previews else None
                if preview is last_preview:
                    preview = None  # seen already
                if not batch and preview is None:
                    record = self.spool.get(job_id)
                    if record is None or (record.state in FINISHED_STATES and after >= record.last_sequence):
                        return
                    if not follow:
                        return
                    self._changed.wait(timeout=1.0)
                    continue
            for event in batch:
                yield event
                after = event.sequence
            if preview is not None:
                last_preview = preview
                yield preview

    # -- changing jobs -----------------------------------------------------------------

    def cancel(self, job_id: str) -> JobRecord:
        record = self.get(job_id)
        if record.state in FINISHED_STATES:
            return record
        if record.state in (pb.UPLOADING, pb.QUEUED):
            self._finish(job_id, pb.CANCELLED, "Cancelled before it started")
        else:
            with self._changed:
                self._cancel_requested.add(job_id)  # the worker stops at the next iteration
            self._wait_until(lambda: self.spool.get(job_id).state in FINISHED_STATES, timeout=30.0)
        return self.get(job_id)

    def delete(self, job_id: str) -> int:
        record = self.get(job_id)
        if record.state not in FINISHED_STATES:
            raise WrongJobState(f"Job {job_id} is {pb.JobState.Name(record.state)}; cancel it before deleting it.")
        self._previews.pop(job_id, None)
        freed = self.spool.delete(job_id)
        self._notify()
        return freed

    def apply_retention(self) -> list[str]:
        """Delete finished jobs older than the retention time, and the oldest beyond the count limit."""
        finished = sorted(self.spool.list(FINISHED_STATES), key=lambda r: r.updated)
        cutoff = time.time() - 3600.0 * self.settings.retention_hours
        expired = [r for r in finished if r.updated < cutoff]
        surplus = finished[: max(0, len(finished) - self.settings.max_finished_jobs)]
        doomed = {r.id for r in expired + surplus}
        for job_id in doomed:
            self.spool.delete(job_id)
            log.info("deleted finished job %s (retention)", job_id)
        return sorted(doomed)

    # -- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        last_retention = time.monotonic()
        while not self._stopping.is_set():
            self._record_unrecorded()
            queued = self.spool.list((pb.QUEUED,))
            if not queued:
                with self._changed:
                    self._changed.wait(timeout=1.0)
                if time.monotonic() - last_retention > 600:
                    self.apply_retention()
                    last_retention = time.monotonic()
                continue
            try:
                self._run(queued[0])
            except Exception:  # noqa: BLE001 - the worker must outlive any job; _run records what it can
                log.exception("job %s: the worker could not finish it cleanly", queued[0].id)
                self._stopping.wait(1.0)

    def _run(self, record: JobRecord) -> None:
        job_id = record.id
        self._running = job_id
        self.spool.update(job_id, iteration=0)
        self._event(job_id, pb.TRAINING, state_change=pb.StateChange(message="Started"))
        reporter = _EventReporter(self, job_id, record.spec.training.preview_every or self.settings.preview_every)
        sources = self.warm_start_sources(record)
        library = specs.library_spec(record.spec, self.spool.job_dir(job_id), self.settings.device,
                                     self.settings.checkpoint_every, overwrite_own_outputs=record.outputs_started,
                                     warm_start_sources=sources)
        if record.spec.training.warm_start_job and not sources:
            self._event(job_id, pb.TRAINING, notice=pb.Notice(
                level=pb.Notice.WARNING, text=f"Job {record.spec.training.warm_start_job} (warm_start_job) was "
                "deleted before this job ran, or kept no checkpoint: this job starts cold."))
        try:
            if record.spec.WhichOneof("source") == "upload":
                write_input_exrs(self.spool.job_dir(job_id), record.spec.upload.layout, list(record.spec.upload.frames))
                write_input_exrs(self.spool.job_dir(job_id), record.spec.upload.layout,
                                 list(record.spec.upload.reference_frames), reference=True)
            result = run_job(library, reporter, lambda: self._should_stop(job_id), reporter.preview_every)
        except Cancelled as exc:
            if self._stopping.is_set() and job_id not in self._cancel_requested:
                self._event(job_id, pb.QUEUED, state_change=pb.StateChange(
                    message="Server stopping: checkpoint saved, the job resumes when the server starts again"))
            else:
                self._finish(job_id, pb.CANCELLED, str(exc))
        except InpaintError as exc:
            self._finish(job_id, pb.FAILED, str(exc))
        except Exception as exc:  # a bug (or a full spool) must fail the job, not the server
            if is_disk_full(exc):
                log.error("job %s failed: %s", job_id, exc)
                self._finish(job_id, pb.FAILED, spool_full_message(self.spool.root))
            else:
                log.exception("job %s failed unexpectedly", job_id)
                self._finish(job_id, pb.FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        else:
            self._finish(job_id, pb.DONE, f"Done: {len(result.frames)} frames, {result.filled_frames} filled",
                         finished=pb.Finished(iterations=result.iterations, final_loss=_finite(result.final_loss),
                                              train_seconds=result.train_seconds, total_seconds=result.total_seconds,
                                              propagation_seconds=result.propagation_seconds,
                                              fill_seconds_per_frame=result.fill_seconds / max(result.filled_frames, 1),
                                              seen_fraction=result.seen_fraction))
        finally:
            self._running = None
            with self._changed:
                self._cancel_requested.discard(job_id)
            self._previews.pop(job_id, None)
            release_memory()  # the server idles at its own size between jobs, not at the largest job's

    def _should_stop(self, job_id: str) -> bool:
        return self._stopping.is_set() or job_id in self._cancel_requested

    def _requeue_interrupted(self) -> None:
        for record in self.spool.list(ACTIVE_STATES):
            self._event(record.id, pb.QUEUED, notice=pb.Notice(
                level=pb.Notice.WARNING,
                text="The server stopped while this job ran; it resumes from its last checkpoint."))

    # -- events ------------------------------------------------------------------------

    def _finish(self, job_id: str, state: int, message: str, finished: pb.Finished | None = None) -> None:
        finished = finished or pb.Finished()
        finished.message = message
        try:
            self._record_finish(job_id, state, finished)
        except sqlite3.Error as exc:
            # The spool's disk is full, mostly: keep the outcome and record it once the database takes writes
            # again (the worker retries before each job), rather than leave the job 'running' for ever.
            log.error("job %s: cannot record its end yet (%s); will retry", job_id, exc)
            self._unrecorded[job_id] = (state, finished)

    def _record_finish(self, job_id: str, state: int, finished: pb.Finished) -> None:
        self.spool.update(job_id, message=finished.message)
        self._event(job_id, state, finished=finished)

    def _record_unrecorded(self) -> None:
        for job_id, (state, finished) in list(self._unrecorded.items()):
            try:
                self._record_finish(job_id, state, finished)
            except sqlite3.Error:
                return  # still full; the next round tries again
            del self._unrecorded[job_id]

    def _event(self, job_id: str, state: int, **detail: object) -> pb.JobEvent:
        event = pb.JobEvent(job_id=job_id, time_unix=time.time(), state=state, **detail)
        which = event.WhichOneof("detail")
        if which in ("state_change", "notice"):
            self.spool.update(job_id, message=getattr(event, which).message if which == "state_change"
                              else event.notice.text)
        self.spool.append_event(event)
        self._notify()
        return event

    def _preview(self, job_id: str, event: pb.JobEvent) -> None:
        self._previews[job_id] = event
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _wait_until(self, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition() and time.monotonic() < deadline:
                self._changed.wait(timeout=0.2)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


class _EventReporter(JobReporter):
    """The library's news about one job, as the job's events."""

    def __init__(self, manager: JobManager, job_id: str, preview_every: int):
        self.manager = manager
        self.job_id = job_id
        self.preview_every = preview_every
        self._progress_due = Every(_PROGRESS_INTERVAL)
        self._state = pb.TRAINING
        # serve's log (stderr, often a file or a service manager's journal): a line every few seconds per job
        self._log_training = Every(LOG_INTERVAL)
        self._log_frames = Every(LOG_INTERVAL)

    def stage(self, message: str) -> None:
        log.info("job %s: %s", self.job_id, message)
        if message.startswith("Writing"):
            self._state = pb.INFERRING
            self.manager.spool.update(self.job_id, outputs_started=1)
        self.manager._event(self.job_id, self._state, state_change=pb.StateChange(message=message))

    def warning(self, message: str) -> None:
        log.warning("job %s: %s", self.job_id, message)
        self.manager._event(self.job_id, self._state, notice=pb.Notice(level=pb.Notice.WARNING, text=message))

    def progress(self, progress: Progress) -> None:
        if progress.preview is not None:
            self._send_preview(progress)
        if self._log_training(last=progress.iteration >= progress.iterations):
            log.info("job %s: %s", self.job_id, progress_line(progress))
        if not self._progress_due(last=progress.iteration >= progress.iterations):
            return
        self.manager.spool.update(self.job_id, iteration=progress.iteration, iterations=progress.iterations,
                                  loss=_finite(progress.loss))
        self.manager._event(self.job_id, pb.TRAINING, training=pb.TrainingProgress(
            iteration=progress.iteration, iterations=progress.iterations, loss=_finite(progress.loss),
            elapsed_seconds=progress.elapsed, eta_seconds=progress.eta))

    def frame_written(self, frame: int, path: str, done: int, total: int) -> None:
        if self._log_frames(last=done >= total):
            log.info("job %s: write: %d/%d frames", self.job_id, done, total)
        self.manager.spool.update(self.job_id, frames_written=done)
        self.manager._event(self.job_id, pb.INFERRING,
                            frame_written=pb.FrameWritten(frame=frame, done=done, total=total))

    def _send_preview(self, progress: Progress) -> None:
        preview = progress.preview
        image = preview[..., :3] if preview.shape[2] >= 3 else np.repeat(preview[..., :1], 3, 2)
        scale = _PREVIEW_SIDE / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
        ok, png = cv2.imencode(".png", cv2.cvtColor(to_display_uint8(image), cv2.COLOR_RGB2BGR))
        if not ok:
            return
        record = self.manager.spool.get(self.job_id)
        event = pb.JobEvent(job_id=self.job_id, sequence=record.last_sequence, time_unix=time.time(), state=pb.TRAINING,
                            preview=pb.Preview(iteration=progress.iteration, width=image.shape[1],
                                               height=image.shape[0], png=png.tobytes()))
        self.manager._preview(self.job_id, event)


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0
