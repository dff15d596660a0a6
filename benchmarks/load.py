"""Load: many clients submitting and watching small jobs at once, on loopback.

A real server (``python -m server serve`` in a child process, so that its
memory is its own; CPU device; a fresh spool) is driven by ``clients``
threads of this process, each with its own ``InpaintClient``. In each of
``rounds`` rounds every client submits one small upload job (the tiny
synthetic clip, the draft preset, a few iterations) and watches it to the end
(``InpaintClient.wait``), all at once; the server runs jobs one at a time, so
most watchers wait in the queue. Meanwhile a prober thread asks for a job's
state (``GetJob``) every 0.2 s and a sampler reads the server's resident
memory (/proc/PID/status) every 0.2 s.

Measured:
- every job ends DONE, and every watcher saw its job's end;
- watch latency: for each event stamped (``JobEvent.time_unix``; one machine,
  one clock) after its watcher started watching, the time until it arrived;
  with more clients than the server lets hold a watch (three quarters of its
  64 RPC threads), the others watch by polling and their events come later;
- GetJob round trips under that load, and submit times (create and upload);
- the server's resident memory: idle, after each round (it must not grow
  round after round) and its peak (VmHWM).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintClient, InpaintServiceError
from server.service.child_process import serve_command, wait_for_port
from server.service.errors import ServerConfigError

FIRST_FRAME = 1001
_SERVER_START_S = 120.0
_JOB_TIMEOUT_S = 1800.0


@dataclass
class LoadResult:
    clients: int
    rounds: int
    iterations: int  # training iterations per job
    frame_size: str  # of the jobs' frames, e.g. '48x32x4 half, 5 frames'
    jobs_total: int
    jobs_done: int
    errors: list[str] = field(default_factory=list)  # what went wrong, one line each (none expected)
    events: int = 0  # events the watchers received
    wall_s: list[float] = field(default_factory=list)  # per round, first submit to last job's end
    watch_ms: list[float] = field(default_factory=list)  # p50, p95, max of event delivery
    get_job_ms: list[float] = field(default_factory=list)  # p50, p95, max of GetJob round trips
    get_job_calls: int = 0
    submit_ms: list[float] = field(default_factory=list)  # p50, p95, max of create + upload
    rss_idle_mb: float = 0.0  # the server's, before the first round
    rss_after_round_mb: list[float] = field(default_factory=list)
    rss_peak_mb: float = 0.0  # VmHWM at the end

    @classmethod
    def from_dict(cls, values: dict) -> "LoadResult":
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def measure(clients: int, rounds: int, iterations: int, log: Callable[[str], None] = print) -> LoadResult:
    """Run the load against a fresh child server."""
    frames = _tiny_frames()
    first = next(iter(frames.values()))
    size = f"{first.shape[1]}x{first.shape[0]}x{first.shape[2]} half, {len(frames)} frames"
    with tempfile.TemporaryDirectory(prefix="inpaint-load-") as folder:
        server = _ChildServer(folder)
        try:
            result = LoadResult(clients, rounds, iterations, size, clients * rounds, 0)
            _drive(server, frames, result, log)
        finally:
            server.stop()
    return result


def _drive(
    server: "_ChildServer", frames: dict[int, np.ndarray], result: LoadResult, log: Callable[[str], None]
) -> None:
    watch, submit, probes = [], [], []
    stop_probing = threading.Event()
    prober = threading.Thread(target=_probe, args=(server.address, stop_probing, probes), daemon=True)
    result.rss_idle_mb = server.rss_mb()
    prober.start()
    try:
        for round_index in range(result.rounds):
            started = time.monotonic()
            outcomes = _one_round(server.address, frames, result.clients, result.iterations, watch, submit)
            result.wall_s.append(time.monotonic() - started)
            result.jobs_done += sum(1 for o in outcomes if o == "DONE")
            result.errors += [o for o in outcomes if o != "DONE"]
            result.rss_after_round_mb.append(server.rss_mb())
            log(f"load: round {round_index + 1}/{result.rounds}: {outcomes.count('DONE')}/{result.clients} done in "
                f"{result.wall_s[-1]:.1f} s, server RSS {result.rss_after_round_mb[-1]:.0f} MB")
    finally:
        stop_probing.set()
        prober.join()
    result.events = len(watch)
    result.watch_ms = _percentiles(watch)
    result.submit_ms = _percentiles(submit)
    result.get_job_ms = _percentiles([p for p in probes if p >= 0])
    result.get_job_calls = len(probes)
    result.errors += [f"GetJob failed {sum(1 for p in probes if p < 0)} times"] if any(p < 0 for p in probes) else []
    result.rss_peak_mb = server.peak_rss_mb()


def _one_round(address: str, frames: dict[int, np.ndarray], clients: int, iterations: int,
               watch: list[float], submit: list[float]) -> list[str]:
    outcomes: list[str] = [""] * clients
    gate = threading.Barrier(clients)
    lock = threading.Lock()

    def client_thread(index: int) -> None:
        latencies, submit_s, watching_since = [], 0.0, float("inf")

        def on_event(event: pb.JobEvent) -> None:
            # Live events only: the backlog a watch starts with (the job's creation, say) is not late.
            if event.time_unix >= watching_since:
                latencies.append(1e3 * (time.time() - event.time_unix))

        try:
            with InpaintClient(address, timeout=120.0, retries=3, backoff=0.2) as client:
                gate.wait(timeout=60)  # all clients submit at once
                start = time.perf_counter()
                job_id = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=iterations,
                                              name=f"load{index}")
                submit_s = time.perf_counter() - start
                watching_since = time.time()
                job = client.wait(job_id, on_event, timeout=_JOB_TIMEOUT_S)
                outcomes[index] = (
                    pb.JobState.Name(job.state) if job.state == pb.DONE else f"job {job_id}: {job.message}"
                )
                client.delete_job(job_id)  # rounds must not pile up results in the spool
        except (InpaintServiceError, threading.BrokenBarrierError) as exc:
            outcomes[index] = f"client {index}: {type(exc).__name__}: {exc}"
        with lock:
            watch.extend(latencies)
            submit.append(1e3 * submit_s)

    threads = [threading.Thread(target=client_thread, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _probe(address: str, stop: threading.Event, probes: list[float]) -> None:
    """GetJob of the newest job (or ListJobs while there is none) every 0.2 s; -1 marks a failed call."""
    with InpaintClient(address, timeout=60.0, retries=0) as client:
        while not stop.wait(0.2):
            start = time.perf_counter()
            try:
                jobs = client.list_jobs([pb.QUEUED])
                if jobs:
                    client.get_job(jobs[-1].id)
                probes.append(1e3 * (time.perf_counter() - start) / (2 if jobs else 1))
            except InpaintServiceError:
                probes.append(-1.0)


def _percentiles(values: list[float]) -> list[float]:
    if not values:
        return []
    return [float(np.percentile(values, 50)), float(np.percentile(values, 95)), float(np.max(values))]


def _tiny_frames() -> dict[int, np.ndarray]:
    """The tests' tiny clip: 5 RGBA half frames of 48x32, the occluder's matte in A."""
    clip = make_clip(frames=5, width=48, height=32)
    rgba = np.concatenate([clip.plate, clip.mask[..., None].astype(np.float32)], axis=-1).astype(np.float16)
    return {FIRST_FRAME + i: rgba[i] for i in range(len(rgba))}


class _ChildServer:
    """``python -m server serve`` on a free port with a spool in ``folder``."""

    def __init__(self, folder: str):
        port_file = os.path.join(folder, "port")
        command = serve_command(os.path.join(folder, "spool"), port_file, "--max-waiting-jobs", "1000")
        self.log = open(os.path.join(folder, "server.log"), "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.address = f"127.0.0.1:{wait_for_port(self.process, port_file, _SERVER_START_S)}"
        except ServerConfigError as exc:
            self.stop()
            raise RuntimeError(f"{exc} See {self.log.name}.") from None
        with InpaintClient(self.address) as client:
            client.wait_until_ready()

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self._status_kb("VmHWM") / 1024

    def _status_kb(self, key: str) -> float:
        with open(f"/proc/{self.process.pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
