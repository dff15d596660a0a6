"""Transfer: upload and download throughput of 2K half RGBA frames through the gRPC service, against raw TCP.

A real server (``server.service.serve.start_server`` with its default
settings, a fresh spool) runs in this process on 127.0.0.1, and the client
library (``internal_inpaint_client.client.InpaintClient``) talks to it over loopback. Frames
are DCI 2K, 2048x1080, RGBA half: 17.7 MB of pixels each. Timed, each the
best of ``REPEATS`` passes, the passes of the three ways interleaved so that
a busy neighbour slows them alike:

- gRPC: ``InpaintClient.upload_frames`` of every frame to a job waiting for
  them (the server checks each frame's SHA-256 and stores its raw bytes;
  the EXR the job reads is written when the job starts), and
  ``InpaintClient.download`` of a finished job's frames (the server reads
  each result EXR, hashes it and streams it; the client checks the hash).
- raw TCP, the reference: the same bytes in the same chunk size over a plain
  socket on 127.0.0.1, ``sendall`` of slices of the frames on one side and
  ``recv_into`` a preallocated frame buffer on the other.
- bare gRPC: the same ``FrameChunk`` messages, one call per frame up and one
  call for all frames down, through a server that does nothing with them (no
  hash, no file): what gRPC and protobuf cost in Python, whatever the
  service does.

The server's own work per frame (SHA-256, EXR write, EXR read) is then timed
alone on the same frames, to show where the gRPC time goes.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import ExitStack
from dataclasses import dataclass

import grpc
import numpy as np
import OpenImageIO as oiio

from inpaint_core.io.image_files import read_frame, write_frame
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc
from internal_inpaint_client.client import MAX_MESSAGE_BYTES, InpaintClient
from server.service.jobs import ServerSettings
from server.service.serve import start_server

SIZE_2K = (2048, 1080)  # DCI 2K full container
CHANNELS = ("R", "G", "B", "A")
FIRST_FRAME = 1001
REPEATS = 3
_HOLE = 64  # side of the square hole in the first frame's matte, px
_JOB_TIMEOUT_S = 3600.0


@dataclass
class TransferSpeed:
    width: int
    height: int
    frames: int
    frame_mb: float  # pixel bytes of one frame
    chunk_bytes: int  # the server's max_chunk_bytes, which the client sends and asks for
    repeats: int
    upload_mbs: float  # InpaintClient.upload_frames
    download_mbs: float  # InpaintClient.download
    raw_upload_mbs: float  # plain TCP socket, same bytes in the same chunks
    raw_download_mbs: float
    bare_upload_mbs: float  # gRPC carrying the same messages, no work at either end
    bare_download_mbs: float
    sha256_ms: float  # per frame, once (client and server each hash every frame)
    exr_write_ms: float  # per frame: the server's uncompressed EXR write of an uploaded frame
    exr_read_ms: float  # per frame: the server's read of a result EXR before sending it
    job_s: float  # the download job's run (one training step, one frame filled), not part of any figure


def transfer_speed(frames: int, folder: str, device: str, log: Callable[[str], None]) -> TransferSpeed:
    """Upload and download MB/s of ``frames`` 2K frames over loopback: gRPC, raw TCP and bare gRPC."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    pixels = make_frames(frames)
    buffers = [_bytes_of(pixels[f]) for f in sorted(pixels)]
    total_mb = sum(len(b) for b in buffers) / 1e6
    settings = ServerSettings(spool=os.path.join(folder, "spool"), device=device)
    chunk = settings.max_chunk_bytes
    with ExitStack() as cleanup:
        running = start_server(settings, port=0)
        cleanup.callback(running.stop)
        bare = _BareServer(buffers, chunk)
        cleanup.callback(bare.stop)
        client = cleanup.enter_context(InpaintClient(f"127.0.0.1:{running.port}"))
        client.wait_until_ready()
        if client.server_info().max_chunk_bytes != chunk:
            raise RuntimeError("The server does not report the chunk limit it was started with.")
        up = {"grpc": [], "raw": [], "bare": []}
        for _ in range(REPEATS):
            up["raw"].append(_timed(lambda: _raw_tcp(buffers, chunk, upload=True)))
            up["bare"].append(_timed(lambda: bare.upload(buffers)))
            up["grpc"].append(_upload_seconds(client, pixels))
        job_id, job_s = _finished_job(client, pixels)
        log(f"transfer: download job done in {job_s:.1f} s")
        down = {"grpc": [], "raw": [], "bare": []}
        for _ in range(REPEATS):
            down["raw"].append(_timed(lambda: _raw_tcp(buffers, chunk, upload=False)))
            down["bare"].append(_timed(lambda: bare.download(len(buffers) * len(buffers[0]))))
            down["grpc"].append(_download_seconds(client, job_id, pixels))
        client.delete_job(job_id)
    sha256_s, write_s, read_s = _server_work(pixels, os.path.join(folder, "exr"))
    shutil.rmtree(folder, ignore_errors=True)
    width, height = SIZE_2K
    return TransferSpeed(
        width, height, frames, len(buffers[0]) / 1e6, chunk, REPEATS,
        total_mb / min(up["grpc"]), total_mb / min(down["grpc"]),
        total_mb / min(up["raw"]), total_mb / min(down["raw"]),
        total_mb / min(up["bare"]), total_mb / min(down["bare"]),
        1e3 * sha256_s / frames, 1e3 * write_s / frames, 1e3 * read_s / frames, job_s,
    )


def make_frames(count: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Noise RGBA half frames (incompressible, as grain is); the matte (A) is 0 but for a small square
    hole in the first frame, so a job on them trains and fills one frame and copies the others through."""
    width, height = SIZE_2K
    generator = np.random.default_rng(seed)
    frames = {}
    for index in range(count):
        frame = generator.random((height, width, 4), dtype=np.float32).astype(np.float16)
        frame[..., 3] = 0
        if index == 0:
            top, left = (height - _HOLE) // 2, (width - _HOLE) // 2
            frame[top:top + _HOLE, left:left + _HOLE, 3] = 1
        frames[FIRST_FRAME + index] = frame
    return frames


def _bytes_of(frame: np.ndarray) -> memoryview:
    """The frame's bytes as they travel (little-endian half, C order), without a copy."""
    return memoryview(np.ascontiguousarray(frame, dtype="<f2").reshape(-1).view(np.uint8))


def _timed(action: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# -- the service ------------------------------------------------------------------------


def _job_spec(frames: list[int]) -> pb.JobSpec:
    width, height = SIZE_2K
    spec = pb.JobSpec(name="transfer benchmark")
    spec.upload.frames.extend(frames)
    spec.upload.layout.CopyFrom(pb.FrameLayout(width=width, height=height, channels=CHANNELS, pixel_type=pb.HALF))
    spec.training.preset = "draft"
    spec.training.iterations = 1
    spec.training.seed = 0
    return spec


def _upload_seconds(client: InpaintClient, frames: dict[int, np.ndarray]) -> float:
    """One timed ``upload_frames`` of every frame, to a job that lists one frame more than is sent: it stays
    waiting for that frame, so it never trains while the next measurements run. Deleted afterwards."""
    job_id = client.create_job(_job_spec(sorted(frames) + [max(frames) + 1])).id
    try:
        gc.collect()
        start = time.perf_counter()
        summary = client.upload_frames(job_id, frames)
        seconds = time.perf_counter() - start
    finally:
        client.cancel(job_id)
        client.delete_job(job_id)
    if sorted(summary.frames_received) != sorted(frames):
        raise RuntimeError(f"The server took frames {list(summary.frames_received)} of {sorted(frames)}.")
    return seconds


def _finished_job(client: InpaintClient, frames: dict[int, np.ndarray]) -> tuple[str, float]:
    """A DONE job over the frames (upload not timed), and how long it ran."""
    job_id = client.create_job(_job_spec(sorted(frames))).id
    client.upload_frames(job_id, frames)
    start = time.perf_counter()
    client.wait(job_id, timeout=_JOB_TIMEOUT_S)
    return job_id, time.perf_counter() - start


def _download_seconds(client: InpaintClient, job_id: str, frames: dict[int, np.ndarray]) -> float:
    gc.collect()
    start = time.perf_counter()
    result = client.download(job_id)
    seconds = time.perf_counter() - start
    # Frames without a hole come back exactly as sent: proof the bytes are the frames, not just their count.
    last = max(frames)  # the first frame is the one with a hole
    if sorted(result) != sorted(frames) or (
            len(frames) > 1 and not np.array_equal(result[last].view(np.uint16), frames[last].view(np.uint16))):
        raise RuntimeError("The download does not hold the frames that were uploaded.")
    return seconds


def _server_work(frames: dict[int, np.ndarray], folder: str) -> tuple[float, float, float]:
    """Seconds for all frames (best of REPEATS) of what the server does besides moving bytes: SHA-256,
    and the EXR write (as ``server.service.uploads`` does it: uncompressed, temp file and rename) and read."""
    os.makedirs(folder, exist_ok=True)
    width, height = SIZE_2K
    spec = oiio.ImageSpec(width, height, len(CHANNELS), oiio.HALF)
    spec.channelnames = CHANNELS
    spec.attribute("compression", "none")
    spec.alpha_channel = CHANNELS.index("A")
    paths = {f: os.path.join(folder, f"plate.{f:04d}.exr") for f in frames}
    sha256_s = write_s = read_s = float("inf")
    for _ in range(REPEATS):
        for path in paths.values():  # the server writes each frame to a new file
            if os.path.exists(path):
                os.remove(path)
        sha256_s = min(sha256_s, _timed(lambda: [hashlib.sha256(_bytes_of(p)).hexdigest() for p in frames.values()]))
        write_s = min(write_s, _timed(lambda: [write_frame(paths[f], p, spec) for f, p in frames.items()]))
        read_s = min(read_s, _timed(lambda: [read_frame(path) for path in paths.values()]))
    return sha256_s, write_s, read_s


# -- the references ---------------------------------------------------------------------


def _raw_tcp(buffers: list[memoryview], chunk: int, upload: bool) -> None:
    """The frames' bytes once over a loopback TCP connection, towards the listening end (upload) or from it."""
    size = len(buffers[0])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60.0)  # a client that never connects must not hang the run
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            with connection:
                if upload:
                    _receive(connection, size, len(buffers))
                    connection.sendall(b"!")
                else:
                    connection.recv(1)
                    _send(connection, buffers, chunk)
        except OSError as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, name="raw-tcp", daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname()) as connection:
            if upload:
                _send(connection, buffers, chunk)
                if connection.recv(1) != b"!":
                    raise ConnectionError("The raw TCP receiver hung up early.")
            else:
                connection.sendall(b"?")
                _receive(connection, size, len(buffers))
    finally:
        thread.join()
        listener.close()
    if failures:
        raise failures[0]


def _send(connection: socket.socket, buffers: list[memoryview], chunk: int) -> None:
    for buffer in buffers:
        for offset in range(0, len(buffer), chunk):
            connection.sendall(buffer[offset:offset + chunk])


def _receive(connection: socket.socket, size: int, count: int) -> None:
    buffer = memoryview(bytearray(size))
    for _ in range(count):
        got = 0
        while got < size:
            received = connection.recv_into(buffer[got:])
            if not received:
                raise ConnectionError("The raw TCP sender hung up early.")
            got += received


def _chunks(frame: int, buffer: memoryview, chunk: int) -> Iterator[pb.FrameChunk]:
    size = len(buffer)
    for offset in range(0, size, chunk):
        yield pb.FrameChunk(job_id="bare", frame=frame, offset=offset, frame_size=size,
                            data=bytes(buffer[offset:offset + chunk]))


class _BareService(pb_grpc.InpaintServicer):
    """Takes and sends frame chunks and does nothing else with them."""

    def __init__(self, buffers: list[memoryview], chunk: int):
        self.buffers = buffers
        self.chunk = chunk

    def UploadFrames(self, request_iterator, context):
        received = sum(len(chunk.data) for chunk in request_iterator)
        return pb.UploadSummary(job_id="bare", frames_received=[received])

    def DownloadResult(self, request, context):
        for frame, buffer in enumerate(self.buffers):
            yield from _chunks(frame, buffer, self.chunk)


class _BareServer:
    """A bare gRPC server on a free loopback port and a channel to it, with the client's message limits."""

    def __init__(self, buffers: list[memoryview], chunk: int):
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        self.chunk = chunk
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
        pb_grpc.add_InpaintServicer_to_server(_BareService(buffers, chunk), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        self.stub = pb_grpc.InpaintStub(self.channel)

    def upload(self, buffers: list[memoryview]) -> None:
        for frame, buffer in enumerate(buffers):  # one call per frame, as the client does
            summary = self.stub.UploadFrames(_chunks(frame, buffer, self.chunk))
            if list(summary.frames_received) != [len(buffer)]:
                raise RuntimeError("The bare gRPC server lost bytes.")

    def download(self, expected: int) -> None:
        received = sum(len(message.data) for message in self.stub.DownloadResult(pb.DownloadResultRequest()))
        if received != expected:
            raise RuntimeError(f"The bare gRPC server sent {received} bytes of {expected}.")

    def stop(self) -> None:
        self.channel.close()
        self.server.stop(0).wait()
