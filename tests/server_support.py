"""Shared pieces of the server tests: tiny clips, servers in this process or in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint_client.client import InpaintClient
from server.service.child_process import serve_command, wait_for_port
from server.service.errors import ServerConfigError
from server.service.jobs import ServerSettings
from server.service.serve import RunningServer, start_server

FIRST_FRAME = 1001
# Small enough that a job of a few dozen iterations takes seconds on 2 CPU cores.
WIDTH, HEIGHT, FRAMES = 48, 32, 5


def tiny_frames(dtype=np.float16, frames: int = FRAMES, seed: int = 0) -> dict[int, np.ndarray]:
    """RGBA frames of a panning synthetic clip, the occluder's matte in A."""
    clip = make_clip(frames=frames, width=WIDTH, height=HEIGHT, seed=seed)
    rgba = np.concatenate([clip.plate, clip.mask[..., None].astype(np.float32)], axis=-1).astype(dtype)
    return {FIRST_FRAME + i: rgba[i] for i in range(frames)}


def outside_matte_identical(original: np.ndarray, result: np.ndarray) -> bool:
    """Bit-for-bit equality of every channel where the matte (A) is below one half."""
    keep = original[..., 3].astype(np.float32) <= 0.5
    bits = np.uint16 if original.dtype == np.float16 else np.uint32
    return result.dtype == original.dtype and np.array_equal(result[keep].view(bits), original[keep].view(bits))


def local_server(spool: str, **settings: object) -> RunningServer:
    host = settings.pop("host", "127.0.0.1")
    token = settings.pop("token", None)
    workers = settings.pop("workers", 64)
    settings.setdefault("checkpoint_every", 5)
    return start_server(ServerSettings(spool=spool, device="cpu", **settings), host=host, port=0, token=token,
                        workers=workers)


def client_for(server: RunningServer, **options: object) -> InpaintClient:
    options.setdefault("timeout", 30.0)
    options.setdefault("retries", 2)
    options.setdefault("backoff", 0.05)
    return InpaintClient(f"127.0.0.1:{server.port}", **options)


def stall_write_env(write: int, marker: str) -> dict[str, str]:
    """The environment that makes a child's ``write``-th frame write stop half-way and wait to be killed
    (tests/fault_injection/sitecustomize.py); ``marker`` appears when it does."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_injection")
    path = os.pathsep.join([folder, *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"PYTHONPATH": path, "INTERNAL_INPAINT_STALL_WRITE": f"{write}:{marker}"}


def small_filesystem_command(folder: str, size: int, command: list[str]) -> list[str]:
    """``command`` run in a private mount namespace where ``folder`` is a tmpfs of ``size`` bytes: a disk that
    really fills up (ENOSPC), made without touching the machine's mounts. Skips the test where the kernel
    or the user may not make one (no unshare, user namespaces off)."""
    os.makedirs(folder, exist_ok=True)
    user = [] if os.geteuid() == 0 else ["-r"]  # not root: map us to root in a user namespace
    wrapped = ["unshare", *user, "-m", "sh", "-c", 'mount -t tmpfs -o size="$0" tmpfs "$1" && shift && exec "$@"',
               str(size), folder, *command]
    try:
        probe = subprocess.run(["unshare", *user, "-m", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{folder}"'],
                               capture_output=True)
    except OSError as exc:  # no unshare on this system
        pytest.skip(f"cannot make a small filesystem here: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"cannot make a small filesystem here: {probe.stderr.decode().strip()[:200]}")
    return wrapped


class ChildServer:
    """`internal-inpaint serve` in a child process, for tests that kill it."""

    def __init__(self, spool: str, *extra: str, env: dict[str, str] | None = None, spool_bytes: int = 0):
        self.spool = spool
        self.extra = extra
        self.env = env  # added to this process's environment
        self.spool_bytes = spool_bytes  # > 0: the spool is a filesystem of this size, seen by the server only
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> "ChildServer":
        port_file = os.path.join(self.spool, "..", f"port-{time.monotonic_ns()}")
        command = serve_command(self.spool, port_file, *self.extra)
        if self.spool_bytes:
            command = small_filesystem_command(self.spool, self.spool_bytes, command)
        env = {**os.environ, **self.env} if self.env else None
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            self.port = wait_for_port(self.process, port_file, timeout)
        except ServerConfigError as exc:
            self.close()
            raise RuntimeError(f"{exc} Its errors: {self.process.stderr.read().decode()[-2000:]}") from None
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
