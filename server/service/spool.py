"""The server's spool directory: job records in SQLite, each job's files in a folder.

Layout::

    SPOOL/server.lock          held (flock) by the one server using this spool
    SPOOL/jobs.sqlite          job records and their events
    SPOOL/jobs/<id>/upload/    frames arriving (raw bytes, .partial while incomplete)
    SPOOL/jobs/<id>/input/     uploaded frames as EXR, what the job reads
    SPOOL/jobs/<id>/output/    inpainted frames of upload jobs
    SPOOL/jobs/<id>/work/      checkpoints

Records and events survive restarts; so do files. A job's spec and events are
stored as serialized protobuf messages (the contract is the schema).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Iterable

from internal_inpaint.v1 import inpaint_pb2 as pb

from .errors import SpoolLocked

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    spec BLOB NOT NULL,
    state INTEGER NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    iteration INTEGER NOT NULL DEFAULT 0,
    iterations INTEGER NOT NULL DEFAULT 0,
    loss REAL NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL DEFAULT 0,
    frames_received INTEGER NOT NULL DEFAULT 0,
    frames_written INTEGER NOT NULL DEFAULT 0,
    outputs_started INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    last_sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
"""

FINISHED_STATES = (pb.DONE, pb.FAILED, pb.CANCELLED)
ACTIVE_STATES = (pb.TRAINING, pb.INFERRING)
_FIELDS = ("state", "message", "iteration", "iterations", "loss", "frames_total", "frames_received",
           "frames_written", "outputs_started")


@dataclass
class JobRecord:
    id: str
    spec: pb.JobSpec
    state: int
    message: str
    iteration: int
    iterations: int
    loss: float
    frames_total: int
    frames_received: int
    frames_written: int
    outputs_started: bool
    created: float
    updated: float
    last_sequence: int

    def to_proto(self, queue_position: int = 0) -> pb.Job:
        return pb.Job(
            id=self.id, spec=self.spec, state=self.state, message=self.message, iteration=self.iteration,
            iterations=self.iterations, loss=self.loss, frames_total=self.frames_total,
            frames_received=self.frames_received, frames_written=self.frames_written,
            queue_position=queue_position, created_unix=self.created, updated_unix=self.updated,
            last_sequence=self.last_sequence,
        )


class Spool:
    """One server's spool: exclusive, thread-safe, durable."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(os.path.join(self.root, "jobs"), exist_ok=True)
        self._lock_file = _lock_exclusively(os.path.join(self.root, "server.lock"))
        self._db = sqlite3.connect(os.path.join(self.root, "jobs.sqlite"), check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        self._db.executescript(_SCHEMA)
        self._mutex = threading.Lock()

    def close(self) -> None:
        with self._mutex:
            self._db.close()
        self._lock_file.close()

    # -- folders --------------------------------------------------------------

    def job_dir(self, job_id: str, part: str = "") -> str:
        return os.path.join(self.root, "jobs", job_id, part) if part else os.path.join(self.root, "jobs", job_id)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    # -- records ----------------------------------------------------------------

    def create(self, spec: pb.JobSpec, state: int, frames_total: int, iterations: int) -> JobRecord:
        job_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._mutex:
            self._db.execute(
                "INSERT INTO jobs (id, spec, state, frames_total, iterations, created, updated) VALUES (?,?,?,?,?,?,?)",
                (job_id, spec.SerializeToString(), state, frames_total, iterations, now, now),
            )
        for part in ("upload", "input", "output", "work"):
            os.makedirs(self.job_dir(job_id, part), exist_ok=True)
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord | None:
        with self._mutex:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def list(self, states: Iterable[int] = ()) -> list[JobRecord]:
        states = tuple(states)
        query = f"SELECT {_COLUMNS} FROM jobs"
        if states:
            query += f" WHERE state IN ({','.join('?' * len(states))})"
        with self._mutex:
            rows = self._db.execute(query + " ORDER BY created, id", states).fetchall()
        return [_record(row) for row in rows]

    def update(self, job_id: str, **values: object) -> None:
        unknown = set(values) - set(_FIELDS)
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._mutex:
            self._db.execute(f"UPDATE jobs SET {assignments}, updated = ? WHERE id = ?",
                             (*values.values(), time.time(), job_id))

    def delete(self, job_id: str) -> int:
        """Remove the record, events and files; returns the bytes freed."""
        folder = self.job_dir(job_id)
        freed = _tree_size(folder)
        with self._mutex:
            self._db.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(folder, ignore_errors=True)
        return freed

    # -- events -------------------------------------------------------------------

    def append_event(self, event: pb.JobEvent) -> pb.JobEvent:
        """Store an event as the job's next one (its sequence is set here) and update the job's state."""
        with self._mutex:
            (last,) = self._db.execute("SELECT last_sequence FROM jobs WHERE id = ?", (event.job_id,)).fetchone()
            event.sequence = last + 1
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT INTO events (job_id, sequence, event) VALUES (?,?,?)",
                                 (event.job_id, event.sequence, event.SerializeToString()))
                self._db.execute("UPDATE jobs SET last_sequence = ?, state = ?, updated = ? WHERE id = ?",
                                 (event.sequence, event.state, event.time_unix, event.job_id))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                # A full disk fails the INSERT: without the rollback the transaction stays open and every
                # later BEGIN fails too, long after space is free again. (SQLite may have rolled back itself.)
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return event

    def events_after(self, job_id: str, sequence: int, limit: int = 500) -> list[pb.JobEvent]:
        with self._mutex:
            rows = self._db.execute(
                "SELECT event FROM events WHERE job_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                (job_id, sequence, limit),
            ).fetchall()
        return [pb.JobEvent.FromString(row[0]) for row in rows]


_COLUMNS = "id, spec, " + ", ".join(_FIELDS) + ", created, updated, last_sequence"


def _record(row: tuple) -> JobRecord:
    job_id, spec, *values, created, updated, last_sequence = row
    fields = dict(zip(_FIELDS, values))
    fields["outputs_started"] = bool(fields["outputs_started"])
    return JobRecord(id=job_id, spec=pb.JobSpec.FromString(spec), created=created, updated=updated,
                     last_sequence=last_sequence, **fields)


def _lock_exclusively(path: str):
    """Hold an exclusive lock for the process's lifetime: two servers on one spool would corrupt jobs."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SpoolLocked(f"The spool {os.path.dirname(path)} is in use by another server ({holder}); "
                          "stop it, or start this one with another --spool.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def _tree_size(folder: str) -> int:
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue  # removed meanwhile
    return total
