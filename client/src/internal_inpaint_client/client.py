"""The thin client of the InternalInpaint service, for host plugins, farm tasks and scripts.

It needs only grpcio, protobuf and numpy (no torch, no image libraries), and
runs on Python 3.9 (Nuke 14) and later, so a host can import it as it is.
Callers see InpaintServiceError (or ValueError for their own bad input),
never a raw grpc.RpcError: a plugin can show ``str(error)`` as it is.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import grpc
import numpy as np

from internal_inpaint.v1 import inpaint_pb2, inpaint_pb2_grpc
from internal_inpaint_client.options import OPTIONS, SEEN_CHANNEL, Option
from internal_inpaint_client.plugin_support import DEFAULT_ADDRESS

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_FALLBACK_CHUNK = 1024 * 1024
_CHUNK_HEADROOM = 64 * 1024  # room for a chunk's other fields inside one message
_MAX_DELAY = 10.0
_MIN_TRANSFER_RATE = 1024 * 1024  # bytes/s: slower than this, a transfer is presumed stuck
_DTYPES = {inpaint_pb2.HALF: np.dtype("<f2"), inpaint_pb2.FLOAT: np.dtype("<f4")}
_PIXEL_TYPES = {2: inpaint_pb2.HALF, 4: inpaint_pb2.FLOAT}  # itemsize -> pixel type


def _enum_values(option: Option) -> Dict[str, int]:
    """An enum option's choices as the contract's values: 'on' -> PROGRESSIVE_ON, 'paper' -> FILL_PAPER."""
    enum = inpaint_pb2.TrainingSettings.DESCRIPTOR.fields_by_name[option.grpc.name].enum_type
    return {choice: enum.values_by_name[option.grpc.enum_prefix + choice.upper()].number
            for choice in option.choices}


# The choices of the options schema, as the contract's enum values.
_PROGRESSIVE_MODES = _enum_values(OPTIONS["progressive"])
_FILL_MODES = _enum_values(OPTIONS["fill"])
_WARM_START_MODES = _enum_values(OPTIONS["warm_start"])
_FINISHED = (inpaint_pb2.DONE, inpaint_pb2.FAILED, inpaint_pb2.CANCELLED)

T = TypeVar("T")


class InpaintServiceError(Exception):
    """A call failed; ``code`` is the gRPC status, ``message`` the server's one-line reason."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class JobFailed(InpaintServiceError):
    """The job ended FAILED; ``job`` holds its final state, ``message`` why."""

    def __init__(self, job: inpaint_pb2.Job):
        super().__init__(grpc.StatusCode.ABORTED, job.message or f"Job {job.id} failed.")
        self.job = job


class JobCancelled(InpaintServiceError):
    """The job ended CANCELLED (by someone, or by the server)."""

    def __init__(self, job: inpaint_pb2.Job):
        super().__init__(grpc.StatusCode.CANCELLED, job.message or f"Job {job.id} was cancelled.")
        self.job = job


def is_finished(state: int) -> bool:
    """True for the states a job never leaves: DONE, FAILED, CANCELLED."""
    return state in _FINISHED


def preview_png(event: inpaint_pb2.JobEvent) -> Optional[bytes]:
    """The PNG of a preview event, None for other events, so callbacks need no oneof logic."""
    return event.preview.png if event.WhichOneof("detail") == "preview" else None


def _code(err: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(err, "code", None)
    return code() if callable(code) else grpc.StatusCode.UNKNOWN


def _translate(err: grpc.RpcError, address: str = "") -> InpaintServiceError:
    """The RpcError as an InpaintServiceError whose message fits on one line."""
    details = getattr(err, "details", None)
    text = (details() if callable(details) else None) or str(err)
    message = " ".join(line.strip() for line in text.splitlines() if line.strip())
    code = _code(err)
    if code == grpc.StatusCode.UNAVAILABLE and address:
        message = f"No answer from the InternalInpaint server at {address}: {message}"
    return InpaintServiceError(code, message)


def _delay(attempt: int, backoff: float) -> float:
    """Exponential backoff with a little jitter, so many farm tasks do not retry in step."""
    delay = min(backoff * 2 ** attempt, _MAX_DELAY)
    return delay + random.uniform(0.0, 0.1 * delay)


def _with_retries(call: Callable[[], T], retries: int, backoff: float,
                  sleep: Callable[[float], None] = time.sleep, address: str = "") -> T:
    """Run ``call``, again after UNAVAILABLE (server restarting, network blip) up to ``retries`` times.

    Other errors are final at once: repeating a refused request would be refused again.
    """
    attempt = 0
    while True:
        try:
            return call()
        except grpc.RpcError as err:
            if _code(err) != grpc.StatusCode.UNAVAILABLE or attempt >= retries:
                raise _translate(err, address) from None
        sleep(_delay(attempt, backoff))
        attempt += 1


def _frame_buffer(array: np.ndarray) -> memoryview:
    """The frame's bytes as the contract wants them (little-endian, C order), without a copy if possible."""
    if array.dtype.kind != "f" or array.dtype.itemsize not in _PIXEL_TYPES:
        raise ValueError(f"Frames must be float16 or float32 arrays (got {array.dtype}).")
    dtype = _DTYPES[_PIXEL_TYPES[array.dtype.itemsize]]
    contiguous = np.ascontiguousarray(array, dtype=dtype)
    return memoryview(contiguous.reshape(-1).view(np.uint8))


def _frame_chunks(job_id: str, frame: int, buffer: memoryview, chunk_bytes: int,
                  reference: bool = False) -> Iterator[inpaint_pb2.FrameChunk]:
    """One frame (or its reference) as chunks; the last carries the SHA-256 the server checks the frame against."""
    size = len(buffer)
    digest = hashlib.sha256(buffer).hexdigest()
    for offset in range(0, max(size, 1), chunk_bytes):
        end = min(offset + chunk_bytes, size)
        yield inpaint_pb2.FrameChunk(job_id=job_id, frame=frame, offset=offset, frame_size=size,
                                     data=bytes(buffer[offset:end]), sha256=digest if end == size else "",
                                     reference=reference)


def _array_from_bytes(data: bytes, layout: inpaint_pb2.FrameLayout) -> np.ndarray:
    """A received frame as the (height, width, channels) array it was uploaded as."""
    dtype = _DTYPES[layout.pixel_type]
    return np.frombuffer(data, dtype=dtype).reshape(layout.height, layout.width, len(layout.channels))


class _Assembler:
    """Downloaded chunks back into frames, checking order, size and checksum of each."""

    def __init__(self, layout: inpaint_pb2.FrameLayout, wanted: Iterable[int]):
        self.layout = layout
        self.frame_size = layout.width * layout.height * len(layout.channels) * _DTYPES[layout.pixel_type].itemsize
        self.wanted = set(wanted)
        self.done: Dict[int, np.ndarray] = {}
        self._partial: Dict[int, bytearray] = {}

    def add(self, chunk: inpaint_pb2.FrameChunk) -> None:
        frame = chunk.frame
        if frame not in self.wanted or frame in self.done:
            raise _data_loss(f"Frame {frame} arrived unasked or twice.")
        data = self._partial.setdefault(frame, bytearray())
        if chunk.offset != len(data):
            raise _data_loss(f"Frame {frame}: chunk at byte {chunk.offset}, expected byte {len(data)}.")
        if chunk.frame_size and chunk.frame_size != self.frame_size:
            raise _data_loss(f"Frame {frame} is {chunk.frame_size} bytes; the job's layout makes {self.frame_size}.")
        if len(data) + len(chunk.data) > self.frame_size:
            raise _data_loss(f"Frame {frame}: more than its {self.frame_size} bytes.")
        data += chunk.data
        if len(data) == self.frame_size:
            if chunk.sha256.lower() != hashlib.sha256(data).hexdigest():
                raise _data_loss(f"Frame {frame}: SHA-256 missing or wrong (damaged in transit?).")
            self.done[frame] = _array_from_bytes(data, self.layout)
            del self._partial[frame]

    def missing(self) -> List[int]:
        """Frames still to fetch; a half-received frame starts again from its first byte."""
        self._partial.clear()
        return sorted(self.wanted - set(self.done))


def _data_loss(message: str) -> InpaintServiceError:
    return InpaintServiceError(grpc.StatusCode.DATA_LOSS, message)


def _check_frames(frames: Mapping[int, np.ndarray], channels: Sequence[str]) -> inpaint_pb2.FrameLayout:
    """The layout the frames share, or a ValueError naming what is wrong with them."""
    if not frames:
        raise ValueError("No frames given: pass a mapping of frame number -> (height, width, channels) array.")
    if not channels:
        raise ValueError("No channel names given: name each of the arrays' channels, e.g. ['R', 'G', 'B', 'A'].")
    first_frame = min(frames)
    first = np.asarray(frames[first_frame])
    if first.ndim != 3:
        raise ValueError(f"Frame {first_frame} has shape {first.shape}; frames must be (height, width, channels).")
    if first.dtype.kind != "f" or first.dtype.itemsize not in _PIXEL_TYPES:
        raise ValueError(f"Frame {first_frame} is {first.dtype}; frames must be float16 or float32 "
                         "(convert with array.astype(numpy.float32)).")
    if first.shape[2] != len(channels):
        raise ValueError(f"Frames have {first.shape[2]} channels but {len(channels)} names were given: "
                         f"{list(channels)}.")
    for frame, array in frames.items():
        array = np.asarray(array)
        if array.shape != first.shape or array.dtype.itemsize != first.dtype.itemsize or array.dtype.kind != "f":
            raise ValueError(f"Frame {frame} is {array.shape} {array.dtype}; frame {first_frame} is "
                             f"{first.shape} {first.dtype}: all frames must match.")
    height, width = first.shape[:2]
    return inpaint_pb2.FrameLayout(width=width, height=height, channels=list(channels),
                                   pixel_type=_PIXEL_TYPES[first.dtype.itemsize])


def _job_spec(*, name: str = "", matte_channel: str = "", threshold: Optional[float] = None, dilate: int = 0,
              preset: str = "", iterations: Optional[int] = None, seed: Optional[int] = None, preview_every: int = 0,
              inpaint_non_finite: bool = False, stabilisation: Optional[float] = None,
              mask_frame: Optional[int] = None, anti_ambiguity: Optional[float] = None,
              time_budget_minutes: Optional[float] = None, progressive: str = "auto", fill: str = "guided",
              seen_channel: bool = False, warm_start: str = "auto", warm_start_job: str = "") -> inpaint_pb2.JobSpec:
    """A spec with everything but the source; optional fields stay unset so the server's defaults apply.

    The training keywords (and submit_arrays'/submit_paths') are the options schema's (options.py), written out
    for IDEs; tests/client/test_options.py fails when their names or defaults drift from it.
    """
    spec = inpaint_pb2.JobSpec(name=name)
    spec.matte.channel = matte_channel
    spec.matte.dilate = dilate
    if threshold is not None:
        spec.matte.threshold = threshold
    if mask_frame is not None:
        spec.matte.mask_frame = mask_frame
    spec.training.preset = preset
    spec.training.preview_every = preview_every
    if iterations is not None:
        spec.training.iterations = iterations
    if seed is not None:
        spec.training.seed = seed
    if stabilisation is not None:
        spec.training.stabilisation = stabilisation
    if anti_ambiguity is not None:
        spec.training.anti_ambiguity = anti_ambiguity
    if time_budget_minutes is not None:
        spec.training.time_budget_minutes = time_budget_minutes
    if progressive not in _PROGRESSIVE_MODES:
        raise ValueError(f"progressive must be one of {', '.join(_PROGRESSIVE_MODES)} (got {progressive!r}).")
    spec.training.progressive = _PROGRESSIVE_MODES[progressive]
    if fill not in _FILL_MODES:
        raise ValueError(f"fill must be one of {', '.join(_FILL_MODES)} (got {fill!r}).")
    spec.training.fill = _FILL_MODES[fill]
    if not isinstance(seen_channel, (bool, np.bool_)):
        raise ValueError(f"seen_channel must be True or False (got {seen_channel!r}).")
    spec.training.seen_channel = bool(seen_channel)
    if warm_start not in _WARM_START_MODES:
        raise ValueError(f"warm_start must be one of {', '.join(_WARM_START_MODES)} (got {warm_start!r}).")
    spec.training.warm_start = _WARM_START_MODES[warm_start]
    if not isinstance(warm_start_job, str):
        raise ValueError(f"warm_start_job must be a job id (got {warm_start_job!r}).")
    spec.training.warm_start_job = warm_start_job
    spec.non_finite = inpaint_pb2.INPAINT if inpaint_non_finite else inpaint_pb2.REFUSE
    return spec


class InpaintClient:
    """One connection to a server; every method is one request (with retries) or one stream."""

    def __init__(self, address: str = DEFAULT_ADDRESS, token: Optional[str] = None,
                 root_certificates: Optional[bytes] = None, timeout: float = 30.0,
                 retries: int = 5, backoff: float = 0.5):
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        if root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = inpaint_pb2_grpc.InpaintStub(self._channel)
        self._sleep: Callable[[float], None] = time.sleep
        self._chunk_bytes: Optional[int] = None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> InpaintClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _unary(self, method: Callable[..., T], request: object) -> T:
        return _with_retries(lambda: method(request, timeout=self.timeout, metadata=self._metadata),
                             self.retries, self.backoff, self._sleep, self.address)

    def server_info(self) -> inpaint_pb2.ServerInfo:
        return self._unary(self._stub.GetServerInfo, inpaint_pb2.GetServerInfoRequest())

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait for the channel to connect, so a plugin can say "no server" before building a job."""
        future = grpc.channel_ready_future(self._channel)
        try:
            future.result(timeout=timeout)
        except grpc.FutureTimeoutError:
            future.cancel()
            raise InpaintServiceError(grpc.StatusCode.UNAVAILABLE, f"No InternalInpaint server at {self.address}: "
                                      "start one with `internal-inpaint serve`.") from None

    def create_job(self, spec: inpaint_pb2.JobSpec) -> inpaint_pb2.Job:
        return self._unary(self._stub.CreateJob, inpaint_pb2.CreateJobRequest(spec=spec))

    def get_job(self, job_id: str) -> inpaint_pb2.Job:
        return self._unary(self._stub.GetJob, inpaint_pb2.JobRef(job_id=job_id))

    def cancel(self, job_id: str) -> inpaint_pb2.Job:
        return self._unary(self._stub.CancelJob, inpaint_pb2.JobRef(job_id=job_id))

    def list_jobs(self, states: Sequence[int] = ()) -> List[inpaint_pb2.Job]:
        return list(self._unary(self._stub.ListJobs, inpaint_pb2.ListJobsRequest(states=list(states))).jobs)

    def delete_job(self, job_id: str) -> inpaint_pb2.DeleteJobResponse:
        return self._unary(self._stub.DeleteJob, inpaint_pb2.JobRef(job_id=job_id))

    def submit_arrays(self, frames: Mapping[int, np.ndarray], channels: Sequence[str], *, matte_channel: str = "",
                      preset: str = "", iterations: Optional[int] = None, seed: Optional[int] = None,
                      name: str = "", threshold: Optional[float] = None, dilate: int = 0,
                      inpaint_non_finite: bool = False, preview_every: int = 0,
                      stabilisation: Optional[float] = None, mask_frame: Optional[int] = None,
                      anti_ambiguity: Optional[float] = None, time_budget_minutes: Optional[float] = None,
                      progressive: str = "auto", fill: str = "guided", seen_channel: bool = False,
                      warm_start: str = "auto", warm_start_job: str = "",
                      references: Optional[Mapping[int, np.ndarray]] = None) -> str:
        """Create an upload job from in-memory frames and send them; returns the job id.

        ``references``: clean frames painted by hand, by frame number (frames of ``frames``), in the frames' layout;
        their matte channel says what was painted (send the plate's matte there to paint all of the hole).

        ``mask_frame``: only that frame's matte is used; the server propagates it to the other frames.
        ``progressive``: 'auto' (multi-scale for frames over 2048 px), 'on' or 'off'.
        ``fill``: 'guided' (the other frames along optical flow where they show the pixel, corrected by a network
        trained on the shot), 'paper' (the network alone) or 'propagation' (the other frames alone, no training).
        ``seen_channel``: the results get one more channel, SEEN_CHANNEL ('inpaint.seen'), after ``channels``: 1
        where the fill came from another frame, 0 elsewhere (``result_channels`` names a job's).
        ``warm_start``: 'auto' (the network starts from a finished job's on this server when the frames it was
        trained on are unchanged), 'off' (from scratch) or 'force' (the newest finished job whose network fits,
        even if the plate changed); ``warm_start_job``: that finished job's id instead. The events say which.
        """
        layout = _check_frames(frames, channels)
        spec = _job_spec(name=name, matte_channel=matte_channel, threshold=threshold, dilate=dilate, preset=preset,
                         iterations=iterations, seed=seed, preview_every=preview_every,
                         inpaint_non_finite=inpaint_non_finite, stabilisation=stabilisation, mask_frame=mask_frame,
                         anti_ambiguity=anti_ambiguity, time_budget_minutes=time_budget_minutes,
                         progressive=progressive, fill=fill, seen_channel=seen_channel,
                         warm_start=warm_start, warm_start_job=warm_start_job)
        spec.upload.frames.extend(sorted(int(f) for f in frames))
        spec.upload.layout.CopyFrom(layout)
        references = dict(references or {})
        if references and _check_frames(references, channels) != layout:
            raise ValueError("References must have the frames' size, channels and pixel type.")
        spec.upload.reference_frames.extend(sorted(int(f) for f in references))
        job_id = self.create_job(spec).id
        try:
            self.upload_frames(job_id, frames, references=references)
        except InpaintServiceError:
            self._abandon(job_id)
            raise
        return job_id

    def _abandon(self, job_id: str) -> None:
        """Best effort: a job whose upload failed would otherwise wait in UPLOADING forever."""
        try:
            self.cancel(job_id)
            self.delete_job(job_id)
        except InpaintServiceError:
            pass

    def submit_paths(self, plate: str, output: str, *, matte: str = "", frames: str = "", matte_channel: str = "",
                     preset: str = "", iterations: Optional[int] = None, seed: Optional[int] = None,
                     name: str = "", threshold: Optional[float] = None, dilate: int = 0, overwrite: bool = False,
                     inpaint_non_finite: bool = False, preview_every: int = 0,
                     stabilisation: Optional[float] = None, mask_frame: Optional[int] = None,
                     anti_ambiguity: Optional[float] = None, time_budget_minutes: Optional[float] = None,
                     progressive: str = "auto", fill: str = "guided", seen_channel: bool = False,
                     warm_start: str = "auto", warm_start_job: str = "",
                     references: Optional[Mapping[int, Union[str, Tuple[str, str]]]] = None) -> str:
        """Create a job over sequences on a filesystem the server shares; returns the job id.

        ``references``: clean frames painted by hand, by frame number: an image path, or (image, matte of what was
        painted); every path under one of the server's allowed roots.

        ``mask_frame``: only that frame's matte is used (only it need exist); the server propagates it.
        ``progressive``: 'auto' (multi-scale for frames over 2048 px), 'on' or 'off'.
        ``fill``: 'guided' (default), 'paper' or 'propagation', as for submit_arrays.
        ``seen_channel``: each output file gets one more channel, SEEN_CHANNEL ('inpaint.seen').
        ``warm_start``, ``warm_start_job``: as for submit_arrays.
        """
        if not plate or not output:
            raise ValueError("A path job needs both a plate and an output sequence, e.g. '/shots/plate.####.exr'.")
        spec = _job_spec(name=name, matte_channel=matte_channel, threshold=threshold, dilate=dilate, preset=preset,
                         iterations=iterations, seed=seed, preview_every=preview_every,
                         inpaint_non_finite=inpaint_non_finite, stabilisation=stabilisation, mask_frame=mask_frame,
                         anti_ambiguity=anti_ambiguity, time_budget_minutes=time_budget_minutes,
                         progressive=progressive, fill=fill, seen_channel=seen_channel,
                         warm_start=warm_start, warm_start_job=warm_start_job)
        spec.paths.CopyFrom(inpaint_pb2.PathSource(plate=plate, matte=matte, output=output, frames=frames,
                                                   overwrite=overwrite))
        for frame, files in sorted((references or {}).items()):
            image, painted = (files, "") if isinstance(files, str) else files
            spec.paths.references.add(frame=int(frame), image=image, matte=painted)
        return self.create_job(spec).id

    def _chunk_size(self) -> int:
        """The server's chunk limit (asked once), kept under this client's message size limit."""
        if self._chunk_bytes is None:
            limit = self.server_info().max_chunk_bytes or _FALLBACK_CHUNK
            self._chunk_bytes = min(limit, MAX_MESSAGE_BYTES - _CHUNK_HEADROOM)
        return self._chunk_bytes

    def _transfer_timeout(self, nbytes: int) -> float:
        return self.timeout + nbytes / _MIN_TRANSFER_RATE

    def upload_frames(self, job_id: str, frames: Mapping[int, np.ndarray], chunk_bytes: Optional[int] = None,
                      references: Optional[Mapping[int, np.ndarray]] = None) -> inpaint_pb2.UploadSummary:
        """Send frames of an upload job (and its references, after them), one call per frame.

        One call per frame makes retries exact: the server refuses a frame it already
        has (ALREADY_EXISTS), so after UNAVAILABLE only the interrupted frame is sent
        again, and ALREADY_EXISTS on that retry means the first attempt got through.
        """
        size = chunk_bytes or self._chunk_size()
        if size <= 0:
            raise ValueError(f"chunk_bytes must be positive (got {size}).")
        received: List[int] = []
        last: Optional[inpaint_pb2.UploadSummary] = None
        stale = False
        for frame in sorted(frames):
            summary = self._upload_frame(job_id, int(frame), _frame_buffer(np.asarray(frames[frame])), size)
            received.append(int(frame))
            last, stale = (summary, False) if summary is not None else (last, True)
        for frame in sorted(references or {}):
            summary = self._upload_frame(job_id, int(frame), _frame_buffer(np.asarray(references[frame])), size,
                                         reference=True)
            last, stale = (summary, False) if summary is not None else (last, True)
        done = set(received)
        missing = [f for f in (last.frames_missing if last else []) if f not in done]
        state = self.get_job(job_id).state if stale or last is None else last.state
        return inpaint_pb2.UploadSummary(job_id=job_id, frames_received=received, frames_missing=missing, state=state)

    def _upload_frame(self, job_id: str, frame: int, buffer: memoryview, chunk_bytes: int,
                      reference: bool = False) -> Optional[inpaint_pb2.UploadSummary]:
        """One frame in one call; None when a retry found the frame already there."""
        attempts = []

        def call() -> Optional[inpaint_pb2.UploadSummary]:
            attempts.append(1)
            try:
                return self._stub.UploadFrames(_frame_chunks(job_id, frame, buffer, chunk_bytes, reference),
                                               timeout=self._transfer_timeout(len(buffer)), metadata=self._metadata)
            except grpc.RpcError as err:
                if len(attempts) > 1 and _code(err) == grpc.StatusCode.ALREADY_EXISTS:
                    return None
                raise

        return _with_retries(call, self.retries, self.backoff, self._sleep, self.address)

    def watch(self, job_id: str, *, after_sequence: int = 0,
              previews: bool = False) -> Iterator[inpaint_pb2.JobEvent]:
        """The job's events until it ends; reconnects after UNAVAILABLE without repeating events.

        A busy server may end a watch early (it keeps threads free for other calls, and does so while stopping):
        the job is then watched again after a pause, so the events still run to the job's end.
        """
        return self._watch(job_id, after_sequence, previews, None)

    def _watch(self, job_id: str, last: int, previews: bool,
               deadline: Optional[float]) -> Iterator[inpaint_pb2.JobEvent]:
        failures = quiet = 0
        ended = False  # an event has said the job is over
        while True:
            request = inpaint_pb2.WatchJobRequest(job_id=job_id, after_sequence=last, previews=previews)
            stream = self._stub.WatchJob(request, timeout=_remaining(deadline), metadata=self._metadata)
            news = False
            try:
                for event in stream:
                    failures = 0
                    if event.WhichOneof("detail") != "preview":
                        if event.sequence <= last:
                            continue
                        last, news, ended = event.sequence, True, is_finished(event.state)
                    yield event
                if ended or is_finished(self.get_job(job_id).state):
                    return
            except grpc.RpcError as err:
                if _code(err) != grpc.StatusCode.UNAVAILABLE or failures >= self.retries:
                    raise _translate(err, self.address) from None
                failures += 1
                delay = _delay(failures - 1, self.backoff)
            else:
                # The stream ended before the job did: a busy or stopping server. Ask again, soon after news.
                quiet = 0 if news else quiet + 1
                delay = _delay(min(quiet, 3), self.backoff)
            finally:
                stream.cancel()
            if deadline is not None and time.monotonic() + delay > deadline:
                raise InpaintServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, f"Job {job_id}: watch deadline passed.")
            self._sleep(delay)

    def wait(self, job_id: str, on_event: Optional[Callable[[inpaint_pb2.JobEvent], None]] = None, *,
             previews: bool = False, timeout: Optional[float] = None) -> inpaint_pb2.Job:
        """Block until the job ends; returns it when DONE, raises JobFailed/JobCancelled otherwise."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for event in self._watch(job_id, 0, previews, deadline):
                if on_event is not None:
                    on_event(event)
        except InpaintServiceError as exc:
            if exc.code == grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
                raise InpaintServiceError(exc.code, f"Job {job_id} did not finish within {timeout:g} s.") from None
            raise
        job = self.get_job(job_id)
        if job.state == inpaint_pb2.FAILED:
            raise JobFailed(job)
        if job.state == inpaint_pb2.CANCELLED:
            raise JobCancelled(job)
        return job

    def download(self, job_id: str, frames: Optional[Sequence[int]] = None) -> Dict[int, np.ndarray]:
        """The filled frames of a finished upload job, as (height, width, channels) arrays.

        The channels are those uploaded, in their order, and, for a job submitted with ``seen_channel``, one more
        after them: SEEN_CHANNEL. ``result_channels(job)`` names them.
        """
        job = self.get_job(job_id)
        if job.spec.WhichOneof("source") == "paths":
            raise ValueError(f"results of path jobs are files: read {job.spec.paths.output}")
        if job.spec.upload.layout.pixel_type not in _DTYPES:
            raise InpaintServiceError(grpc.StatusCode.FAILED_PRECONDITION, f"Job {job_id} has no frame layout.")
        layout = inpaint_pb2.FrameLayout()
        layout.CopyFrom(job.spec.upload.layout)
        layout.channels[:] = result_channels(job)
        wanted = list(frames) if frames is not None else list(job.spec.upload.frames)
        if not wanted:
            return {}
        assembler = _Assembler(layout, wanted)
        chunk = self._chunk_size()

        def call() -> None:
            todo = assembler.missing()
            if not todo:  # an empty list would ask the server for every frame
                return
            request = inpaint_pb2.DownloadResultRequest(job_id=job_id, frames=todo, chunk_bytes=chunk)
            timeout = self._transfer_timeout(len(todo) * assembler.frame_size)
            for message in self._stub.DownloadResult(request, timeout=timeout, metadata=self._metadata):
                assembler.add(message)

        _with_retries(call, self.retries, self.backoff, self._sleep, self.address)
        missing = assembler.missing()
        if missing:
            raise _data_loss(f"The server did not send frames {missing[:10]} of job {job_id}.")
        return assembler.done


def result_channels(job: inpaint_pb2.Job) -> List[str]:
    """The channels of an upload job's results, in the order ``download`` gives them: the uploaded channels, then
    SEEN_CHANNEL when the job was submitted with ``seen_channel``."""
    channels = list(job.spec.upload.layout.channels)
    return channels + [SEEN_CHANNEL] if job.spec.training.seen_channel else channels


def _remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left until ``deadline`` (a monotonic time); DEADLINE_EXCEEDED once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise InpaintServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline passed.")
    return left
