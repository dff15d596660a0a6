"""Shared pieces of the server tests: tiny clips, servers in this process or in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from inpaint_core.synthetic import make_clip
from server.client import InpaintClient
from server.jobs import ServerSettings
from server.serve_command import RunningServer, start_server

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
    settings.setdefault("checkpoint_every", 5)
    return start_server(ServerSettings(spool=spool, device="cpu", **settings), host=host, port=0, token=token)


def client_for(server: RunningServer, **options: object) -> InpaintClient:
    options.setdefault("timeout", 30.0)
    options.setdefault("retries", 2)
    options.setdefault("backoff", 0.05)
    return InpaintClient(f"127.0.0.1:{server.port}", **options)


class ChildServer:
    """`internal-inpaint serve` in a child process, for tests that kill it."""

    def __init__(self, spool: str, *extra: str):
        self.spool = spool
        self.extra = extra
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> "ChildServer":
        port_file = os.path.join(self.spool, "..", f"port-{time.monotonic_ns()}")
        command = [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--spool", self.spool,
                   "--device", "cpu", "--port-file", port_file, *self.extra]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not os.path.exists(port_file):
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.1)
        with open(port_file) as handle:
            self.port = int(handle.read())
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
