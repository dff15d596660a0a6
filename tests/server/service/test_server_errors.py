"""Bad requests to the gRPC server: each gets its status code and a message naming the problem.

Everything runs against real servers on loopback (no gRPC mocks). Bad input the
client library would refuse on its own (malformed chunks, streams for unknown
jobs) goes through the raw stub; the rest through the client. Every test's
server must still answer afterwards (the ``client`` fixture checks on the way
out), and one test fires the whole matrix at one server while a job trains,
then completes that job and a new one.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import grpc
import numpy as np
import OpenImageIO as oiio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from inpaint_core.io.image_files import MAX_SIDE, write_frame
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc
from internal_inpaint_client.client import InpaintClient, InpaintServiceError, JobFailed
from server.service.errors import ServerConfigError
from server.service.security import is_loopback
from tests.server_support import (
    FIRST_FRAME,
    HEIGHT,
    WIDTH,
    ChildServer,
    client_for,
    local_server,
    outside_matte_identical,
    tiny_frames,
)

Code = grpc.StatusCode
FRAMES = [FIRST_FRAME, FIRST_FRAME + 1]
PIXELS = tiny_frames(frames=len(FRAMES))  # half RGBA, the layout of upload_spec()
FRAME_BYTES = WIDTH * HEIGHT * 4 * 2
CHUNK = 4096  # a frame is three chunks
CALL_TIMEOUT = 20.0
FAST = dict(preset="draft", iterations=2)
PLATE = "plate.####.exr"  # path-mode sequences


# -- helpers ---------------------------------------------------------------------------


def refused(call: Callable[[], object], code: grpc.StatusCode, word: str) -> str:
    """Run a call that must fail with ``code`` and a message containing ``word``; returns the message."""
    with pytest.raises((grpc.RpcError, InpaintServiceError)) as caught:
        call()
    err = caught.value
    actual, message = (err.code(), err.details()) if isinstance(err, grpc.RpcError) else (err.code, err.message)
    assert actual == code, f"{actual.name}: {message}"
    assert word.lower() in message.lower(), message
    return message


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def upload_spec(pixel_type: int = pb.HALF) -> pb.JobSpec:
    """A valid spec for two frames of PIXELS."""
    spec = pb.JobSpec(name="errors")
    spec.upload.frames.extend(FRAMES)
    spec.upload.layout.CopyFrom(pb.FrameLayout(width=WIDTH, height=HEIGHT, channels=list("RGBA"),
                                               pixel_type=pixel_type))
    spec.training.preset = "draft"
    spec.training.iterations = 2
    return spec


def new_upload_job(client: InpaintClient) -> str:
    return client.create_job(upload_spec()).id


def frame_chunks(job_id: str, frame: int = FIRST_FRAME, data: bytes | None = None,
                 size: int = CHUNK) -> list[pb.FrameChunk]:
    """A well-formed frame as chunks (sha256 on the last), for tests to break."""
    data = PIXELS[frame].astype("<f2").tobytes() if data is None else data
    digest = hashlib.sha256(data).hexdigest()
    return [pb.FrameChunk(job_id=job_id, frame=frame, offset=offset, frame_size=len(data),
                          data=data[offset:offset + size], sha256=digest if offset + size >= len(data) else "")
            for offset in range(0, len(data), size)]


def changed(chunk: pb.FrameChunk, **fields: object) -> pb.FrameChunk:
    copy = pb.FrameChunk()
    copy.CopyFrom(chunk)
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


def upload(stub: pb_grpc.InpaintStub, chunks: list[pb.FrameChunk], **options: object) -> pb.UploadSummary:
    return stub.UploadFrames(iter(chunks), timeout=CALL_TIMEOUT, **options)


def upload_dir(server, job_id: str) -> str:
    return server.manager.spool.job_dir(job_id, "upload")


def params(cases: list[tuple]) -> list:
    """pytest params from (id, *values) tuples, so a test can also loop over the raw cases."""
    return [pytest.param(*values, id=case_id) for case_id, *values in cases]


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield pb_grpc.InpaintStub(channel)
    channel.close()


# -- the matrix of malformed requests, as data: the matrix test replays all of it ----------

SPEC_CASES = [
    ("no source", lambda s: s.ClearField("upload"), "no source"),
    ("no frames", lambda s: s.upload.ClearField("frames"), "upload.frames is empty"),
    ("duplicate frames", lambda s: s.upload.frames.append(FIRST_FRAME), "more than once"),
    ("zero width", lambda s: setattr(s.upload.layout, "width", 0), f"0x{HEIGHT}"),
    ("huge width", lambda s: setattr(s.upload.layout, "width", MAX_SIDE + 1), f"{MAX_SIDE + 1}x{HEIGHT}"),
    ("no pixel type", lambda s: s.upload.layout.ClearField("pixel_type"), "pixel_type"),
    ("duplicate channel", lambda s: s.upload.layout.channels.append("A"), "twice"),
    ("matte channel missing", lambda s: setattr(s.matte, "channel", "M"), "matte channel 'M'"),
    ("unknown preset", lambda s: setattr(s.training, "preset", "ultra"), "preset 'ultra'"),
    ("zero iterations", lambda s: setattr(s.training, "iterations", 0), "iterations"),
    ("NaN anti-ambiguity", lambda s: setattr(s.training, "anti_ambiguity", float("nan")),
     "anti_ambiguity must be a finite"),
    ("negative anti-ambiguity", lambda s: setattr(s.training, "anti_ambiguity", -1), "anti_ambiguity must be between"),
    ("infinite time budget", lambda s: setattr(s.training, "time_budget_minutes", float("inf")), "time_budget_minutes"),
    ("negative time budget", lambda s: setattr(s.training, "time_budget_minutes", -5), "time_budget (seconds)"),
    ("negative dilate", lambda s: setattr(s.matte, "dilate", -1), "dilate"),
    ("unknown progressive mode", lambda s: setattr(s.training, "progressive", 7), "training.progressive 7"),
    ("unknown fill mode", lambda s: setattr(s.training, "fill", 7),
     "training.fill 7 is not a known mode (FILL_GUIDED, FILL_PAPER or FILL_PROPAGATION)"),
    ("seen channel over an uploaded one", lambda s: (setattr(s.training, "seen_channel", True),
                                                     s.upload.layout.channels.append("inpaint.seen")),
     "training.seen_channel adds a channel 'inpaint.seen'"),
]

# build(job, other) -> the chunks of one UploadFrames call; `other` is a second upload job.
CHUNK_CASES = [
    ("wrong frame_size", lambda job, other: [changed(c, frame_size=100) for c in frame_chunks(job)], str(FRAME_BYTES)),
    ("frame not in job", lambda job, other: frame_chunks(job, 999, bytes(FRAME_BYTES)), "not in this job"),
    ("offset gap", lambda job, other: (c := frame_chunks(job))[:1] + c[2:], f"expected byte {CHUNK}"),
    ("repeated chunk", lambda job, other: (c := frame_chunks(job))[:1] + c, f"expected byte {CHUNK}"),
    ("frame_size changes", lambda job, other: (c := frame_chunks(job))[:1] + [changed(c[1], frame_size=1)],
     "changed"),
    ("too many bytes", lambda job, other: (c := frame_chunks(job))[:-1] + [changed(c[-1], data=c[-1].data + b"x")],
     "more bytes"),
    ("sha256 mismatch", lambda job, other: (c := frame_chunks(job))[:-1] + [changed(c[-1], sha256="0" * 64)],
     "SHA-256 mismatch"),
    ("no sha256", lambda job, other: (c := frame_chunks(job))[:-1] + [changed(c[-1], sha256="")], "no sha256"),
    ("ends mid-frame", lambda job, other: frame_chunks(job)[:-1], f"ended after {2 * CHUNK}"),
    ("two jobs", lambda job, other: frame_chunks(job)[:1] + frame_chunks(other)[:1], "one job's frames per call"),
    ("empty stream", lambda job, other: [], "no chunks"),
]

NOT_FOUND_CALLS = [
    ("GetJob", lambda stub, job: stub.GetJob(pb.JobRef(job_id=job), timeout=CALL_TIMEOUT)),
    ("CancelJob", lambda stub, job: stub.CancelJob(pb.JobRef(job_id=job), timeout=CALL_TIMEOUT)),
    ("DeleteJob", lambda stub, job: stub.DeleteJob(pb.JobRef(job_id=job), timeout=CALL_TIMEOUT)),
    ("WatchJob", lambda stub, job: list(stub.WatchJob(pb.WatchJobRequest(job_id=job), timeout=CALL_TIMEOUT))),
    ("DownloadResult",
     lambda stub, job: list(stub.DownloadResult(pb.DownloadResultRequest(job_id=job), timeout=CALL_TIMEOUT))),
    ("UploadFrames", lambda stub, job: upload(stub, frame_chunks(job))),
]


def bad_spec(mutate) -> pb.JobSpec:
    spec = upload_spec()
    mutate(spec)
    return spec


# -- INVALID_ARGUMENT ------------------------------------------------------------------


@pytest.mark.parametrize("mutate, word", params(SPEC_CASES))
def test_a_bad_spec_is_refused_naming_the_field(client, mutate, word):
    refused(lambda: client.create_job(bad_spec(mutate)), Code.INVALID_ARGUMENT, word)
    assert client.list_jobs() == []


@pytest.mark.parametrize("build, word", params(CHUNK_CASES))
def test_a_malformed_upload_is_refused_and_leaves_nothing_behind(server, client, stub, build, word):
    job, other = new_upload_job(client), new_upload_job(client)
    refused(lambda: upload(stub, build(job, other)), Code.INVALID_ARGUMENT, word)
    for job_id in (job, other):
        assert os.listdir(upload_dir(server, job_id)) == []  # no .partial left
        record = client.get_job(job_id)
        assert (record.state, record.frames_received) == (pb.UPLOADING, 0)
    summary = upload(stub, frame_chunks(job))  # the frame goes through when sent again whole
    assert list(summary.frames_received) == [FIRST_FRAME] and list(summary.frames_missing) == FRAMES[1:]


def submit_with_a_nan(client: InpaintClient, inpaint: bool) -> str:
    frames = tiny_frames(frames=2)
    frames[FIRST_FRAME][4, 6, 0] = np.nan
    return client.submit_arrays(frames, list("RGBA"), inpaint_non_finite=inpaint, **FAST)


def test_nan_pixels_fail_the_job_by_default(client):
    job = submit_with_a_nan(client, inpaint=False)
    with pytest.raises(JobFailed) as failed:
        client.wait(job, timeout=120)
    assert failed.value.job.state == pb.FAILED
    assert "nan" in failed.value.message.lower()


def test_nan_pixels_are_filled_when_the_job_asks(client):
    job = submit_with_a_nan(client, inpaint=True)
    assert client.wait(job, timeout=120).state == pb.DONE
    assert np.isfinite(client.download(job)[FIRST_FRAME].astype(np.float32)).all()


# Bytes that are not a valid message (found by tests/test_server_fuzz.py): gRPC's own
# deserialization failure would be INTERNAL; the server answers INVALID_ARGUMENT instead.
GARBAGE = b"\x00"
RAW_CALLS = [
    ("CreateJob (unary)", lambda ch: ch.unary_unary("/internal_inpaint.v1.Inpaint/CreateJob",
                                                     request_serializer=lambda b: b)(GARBAGE, timeout=CALL_TIMEOUT)),
    ("WatchJob (server streaming)", lambda ch: list(ch.unary_stream(
        "/internal_inpaint.v1.Inpaint/WatchJob", request_serializer=lambda b: b)(GARBAGE, timeout=CALL_TIMEOUT))),
    ("UploadFrames (client streaming)", lambda ch: ch.stream_unary(
        "/internal_inpaint.v1.Inpaint/UploadFrames", request_serializer=lambda b: b)(iter([GARBAGE]),
                                                                                      timeout=CALL_TIMEOUT)),
]


@pytest.mark.parametrize("call", params(RAW_CALLS))
def test_bytes_that_are_no_message_are_invalid_arguments(server, client, call):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        refused(lambda: call(channel), Code.INVALID_ARGUMENT, "cannot be parsed")
    assert client.list_jobs() == []


# -- NOT_FOUND -------------------------------------------------------------------------


@pytest.mark.parametrize("call", params(NOT_FOUND_CALLS))
@pytest.mark.parametrize("job_id", ["0123456789ab", ""], ids=["unknown", "empty"])
def test_unknown_job_ids_are_not_found(stub, client, call, job_id):
    message = refused(lambda: call(stub, job_id), Code.NOT_FOUND, "no job")
    assert repr(job_id) in message


# -- RESOURCE_EXHAUSTED ----------------------------------------------------------------


@pytest.fixture
def small_server(start_server):
    return start_server(max_chunk_bytes=CHUNK, max_frame_bytes=2 * FRAME_BYTES - 1, max_waiting_jobs=2)


@pytest.fixture
def small_client(small_server):
    with client_for(small_server) as connected:
        yield connected
        assert connected.server_info().max_chunk_bytes == CHUNK


def test_a_chunk_over_the_limit_is_refused(small_server, small_client):
    job = new_upload_job(small_client)
    with grpc.insecure_channel(f"127.0.0.1:{small_server.port}") as channel:
        stub = pb_grpc.InpaintStub(channel)
        refused(lambda: upload(stub, frame_chunks(job, size=2 * CHUNK)), Code.RESOURCE_EXHAUSTED,
                f"at most {CHUNK} per chunk")
        assert os.listdir(upload_dir(small_server, job)) == []
        assert list(upload(stub, frame_chunks(job, size=CHUNK)).frames_received) == [FIRST_FRAME]


def test_a_frame_over_the_limit_is_refused(small_client):
    refused(lambda: small_client.create_job(upload_spec(pb.FLOAT)), Code.RESOURCE_EXHAUSTED, "at most")
    assert small_client.list_jobs() == []
    assert small_client.create_job(upload_spec(pb.HALF)).state == pb.UPLOADING


def test_jobs_beyond_the_waiting_limit_are_refused_until_one_ends(small_client):
    first, _ = new_upload_job(small_client), new_upload_job(small_client)
    refused(lambda: new_upload_job(small_client), Code.RESOURCE_EXHAUSTED, "2 jobs are waiting")
    small_client.cancel(first)
    assert small_client.create_job(upload_spec()).state == pb.UPLOADING


# -- FAILED_PRECONDITION, ALREADY_EXISTS, CANCELLED (upload jobs) -------------------------


def test_an_unfinished_job_can_be_neither_downloaded_nor_deleted(client):
    job = new_upload_job(client)
    refused(lambda: client.download(job), Code.FAILED_PRECONDITION, "once it is DONE")
    refused(lambda: client.delete_job(job), Code.FAILED_PRECONDITION, "cancel it before deleting")
    assert client.get_job(job).state == pb.UPLOADING


def test_a_job_with_all_its_frames_takes_no_more(client, stub):
    job = client.submit_arrays(PIXELS, list("RGBA"), **FAST)
    refused(lambda: upload(stub, frame_chunks(job)), Code.FAILED_PRECONDITION, "not waiting for frames")
    client.wait(job, timeout=120)
    refused(lambda: upload(stub, frame_chunks(job)), Code.FAILED_PRECONDITION, "is DONE")


def test_a_frame_cannot_be_sent_twice(server, client, stub):
    job = new_upload_job(client)
    upload(stub, frame_chunks(job))
    refused(lambda: upload(stub, frame_chunks(job)), Code.ALREADY_EXISTS, "uploaded already")
    record = client.get_job(job)
    assert (record.state, record.frames_received) == (pb.UPLOADING, 1)
    assert os.listdir(upload_dir(server, job)) == [f"{FIRST_FRAME}.raw"]  # the first copy, no partial left


def test_a_cancelled_job_takes_no_frames_and_has_no_results(client, stub):
    job = new_upload_job(client)
    client.cancel(job)
    refused(lambda: upload(stub, frame_chunks(job)), Code.CANCELLED, "cancelled")
    refused(lambda: client.download(job), Code.CANCELLED, "cancelled")
    assert client.delete_job(job).job_id == job  # a cancelled job is finished: it can go


# -- the server outlives all of it --------------------------------------------------------


def test_after_a_matrix_of_bad_calls_the_server_still_serves(server, client, stub):
    frames = tiny_frames(frames=3)
    before = client.submit_arrays(frames, list("RGBA"), **FAST)  # trains while the bad calls come in
    for _, mutate, word in SPEC_CASES:
        refused(lambda mutate=mutate: client.create_job(bad_spec(mutate)), Code.INVALID_ARGUMENT, word)
    for _, build, word in CHUNK_CASES:
        job, other = new_upload_job(client), new_upload_job(client)
        refused(lambda build=build, job=job, other=other: upload(stub, build(job, other)), Code.INVALID_ARGUMENT, word)
    for _, call in NOT_FOUND_CALLS:
        refused(lambda call=call: call(stub, "0123456789ab"), Code.NOT_FOUND, "no job")
    assert client.server_info().api == "internal_inpaint.v1"
    after = client.submit_arrays(frames, list("RGBA"), **FAST)
    for job in (before, after):
        assert client.wait(job, timeout=120).state == pb.DONE
        results = client.download(job)
        assert all(outside_matte_identical(frames[f], results[f]) for f in frames)


def test_a_client_that_hangs_up_mid_frame_leaves_no_partial(server, client, stub):
    job = new_upload_job(client)
    folder = upload_dir(server, job)
    release = threading.Event()

    def partial_exists():
        return any(name.startswith(f"{FIRST_FRAME}.") and name.endswith(".partial") for name in os.listdir(folder))


    def two_chunks_then_silence():
        yield from frame_chunks(job)[:2]
        release.wait(CALL_TIMEOUT)

    call = stub.UploadFrames.future(two_chunks_then_silence(), timeout=CALL_TIMEOUT)
    try:
        eventually(partial_exists)
        call.cancel()
    finally:
        release.set()
    eventually(lambda: not partial_exists())
    record = client.get_job(job)
    assert (record.state, record.frames_received) == (pb.UPLOADING, 0)
    assert client.upload_frames(job, PIXELS).state == pb.QUEUED
    assert client.wait(job, timeout=120).state == pb.DONE


# -- path mode -------------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path):
    """An allowed root with a plate, a sequence outside it, and links from inside to outside."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in ("plates", "link_to_frame", "link_to_text"):
        (root / folder).mkdir(parents=True)
    (outside / "plates").mkdir(parents=True)
    clip = make_clip(frames=3, width=48, height=32)
    write_exr_sequence(clip, str(root / "plates" / PLATE))
    write_exr_sequence(clip, str(outside / "plates" / PLATE))
    (outside / "secret.txt").write_text("not an image\n")
    (root / "linked_dir").symlink_to(outside / "plates", target_is_directory=True)
    for name, target in (("link_to_frame", outside / "plates" / "plate.1003.exr"),
                         ("link_to_text", outside / "secret.txt")):
        folder = root / name
        write_exr_sequence(clip, str(folder / PLATE))
        (folder / "plate.1003.exr").unlink()
        (folder / "plate.1003.exr").symlink_to(target)
    return SimpleNamespace(root=root, outside=outside, plate=str(root / "plates" / PLATE),
                           output=str(root / "clean" / "clean.####.exr"))


@pytest.fixture
def path_server(start_server, shared):
    return start_server(allowed_roots=[str(shared.root)])


@pytest.fixture
def path_client(path_server):
    with client_for(path_server) as connected:
        yield connected
        assert connected.server_info().path_mode


def test_path_mode_off_refuses_every_path(client, shared):
    refused(lambda: client.submit_paths(shared.plate, shared.output, **FAST), Code.PERMISSION_DENIED,
            "path mode is off")


# paths(shared) -> (plate, output, matte)
PATH_CASES = [
    ("plate outside", lambda s: (str(s.outside / "plates" / PLATE), s.output, ""), Code.PERMISSION_DENIED, "plate"),
    ("relative plate", lambda s: ("plates/" + PLATE, s.output, ""), Code.INVALID_ARGUMENT, "absolute"),
    ("dot-dot", lambda s: (f"{s.root}/plates/../../outside/plates/{PLATE}", s.output, ""),
     Code.PERMISSION_DENIED, "'..'"),
    ("directory symlink", lambda s: (str(s.root / "linked_dir" / PLATE), s.output, ""),
     Code.PERMISSION_DENIED, "resolves to"),
    ("frame symlink to a frame", lambda s: (str(s.root / "link_to_frame" / PLATE), s.output, ""),
     Code.PERMISSION_DENIED, "plate file"),
    ("frame symlink to a non-image", lambda s: (str(s.root / "link_to_text" / PLATE), s.output, ""),
     Code.PERMISSION_DENIED, "plate file"),
    ("matte outside", lambda s: (s.plate, s.output, str(s.outside / "plates" / PLATE)),
     Code.PERMISSION_DENIED, "matte"),
    ("output outside", lambda s: (s.plate, str(s.outside / "clean" / "clean.####.exr"), ""),
     Code.PERMISSION_DENIED, "output"),
]


@pytest.mark.parametrize("paths, code, word", params(PATH_CASES))
def test_paths_outside_the_allowed_roots_are_refused(path_client, shared, paths, code, word):
    plate, output, matte = paths(shared)
    message = refused(lambda: path_client.submit_paths(plate, output, matte=matte, **FAST), code, word)
    if code == Code.PERMISSION_DENIED:
        assert "outside" in message or ".." in message
        assert "cannot read" not in message.lower()  # refused before any file outside is opened
    assert path_client.list_jobs() == []
    assert not (shared.outside / "clean").exists() and not (shared.root / "clean").exists()


def test_existing_outputs_are_kept_without_overwrite(path_client, shared):
    (shared.root / "clean").mkdir()
    write_exr_sequence(make_clip(frames=3, width=48, height=32, seed=1), shared.output)
    before = sorted(os.listdir(shared.root / "clean"))
    refused(lambda: path_client.submit_paths(shared.plate, shared.output, **FAST), Code.ALREADY_EXISTS,
            "exist already")
    assert path_client.list_jobs() == [] and sorted(os.listdir(shared.root / "clean")) == before
    job = path_client.submit_paths(shared.plate, shared.output, overwrite=True, **FAST)
    assert path_client.cancel(job).id == job


def test_a_frame_range_of_billions_is_refused_without_building_it(path_client, shared):
    # Found by tests/test_server_fuzz.py: '1-2000000000' used to be expanded in full (tens of GB).
    refused(lambda: path_client.submit_paths(shared.plate, shared.output, frames="1-2000000000", **FAST),
            Code.INVALID_ARGUMENT, "more than")
    assert path_client.list_jobs() == []


def _declare_huge_size(path) -> None:
    """Rewrite the header's data window to 100000 x 100000 pixels: a decompression bomb's header."""
    data = bytearray(path.read_bytes())
    at = data.index(b"dataWindow\0box2i\0") + len(b"dataWindow\0box2i\0") + 4  # past the attribute's size
    data[at + 8:at + 16] = np.array([99_999, 99_999], "<i4").tobytes()  # xMax, yMax
    path.write_bytes(bytes(data))


def _replace_with(width: int, height: int, channels: int):
    def replace_frame(path) -> None:
        clip = make_clip(frames=1, width=width, height=height)
        pixels = np.concatenate([clip.plate[0], clip.mask[0][..., None]], axis=-1)[..., :channels]
        path.unlink()
        write_frame(str(path), pixels.astype(np.float16), oiio.ImageSpec(width, height, channels, "half"))
    return replace_frame


# damage(path of frame 1002) -> the frame is unusable; the word the refusal must contain
DAMAGED_FRAMES = [
    ("wrong magic", lambda p: p.write_bytes(b"this is not an EXR file\n" * 40), "plate.1002.exr"),
    ("truncated", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "plate.1002.exr"),
    ("zero bytes", lambda p: p.write_bytes(b""), "plate.1002.exr"),
    ("huge declared size", _declare_huge_size, "100000x100000"),
    ("another size", _replace_with(64, 48, 4), "64x48"),
    ("other channels", _replace_with(48, 32, 3), "channel"),
    ("missing", lambda p: p.unlink(), "1002"),
]


@pytest.mark.parametrize("damage, word", params(DAMAGED_FRAMES))
def test_a_damaged_frame_in_path_mode_is_named_and_harms_nothing(path_client, shared, damage, word):
    folder = shared.root / "damaged"
    folder.mkdir()
    write_exr_sequence(make_clip(frames=4, width=48, height=32), str(folder / PLATE))
    damage(folder / "plate.1002.exr")
    output = shared.root / "damaged_clean" / "clean.####.exr"
    try:  # refused at submit (headers are read then), or failed when the job reads the pixels
        job = path_client.submit_paths(str(folder / PLATE), str(output), frames="1001-1004", **FAST)
        with pytest.raises(JobFailed) as failed:
            path_client.wait(job, timeout=120)
        message = failed.value.message
    except JobFailed:
        raise
    except InpaintServiceError as refusal:
        assert refusal.code == Code.INVALID_ARGUMENT, refusal
        message = refusal.message
    assert word in message and "Internal error" not in message, message
    assert not output.parent.exists() or os.listdir(output.parent) == []  # no output, not even a temp file
    assert path_client.server_info().path_mode  # still serving


def test_a_path_job_takes_no_uploads(path_server, path_client, shared):
    job = path_client.submit_paths(shared.plate, shared.output, **FAST)
    with grpc.insecure_channel(f"127.0.0.1:{path_server.port}") as channel:
        refused(lambda: upload(pb_grpc.InpaintStub(channel), frame_chunks(job)), Code.FAILED_PRECONDITION,
                "takes no uploads")
    path_client.cancel(job)


# -- UNAUTHENTICATED -------------------------------------------------------------------

TOKEN = "s3cret"


@pytest.fixture
def guarded(tmp_path):
    """A server on every interface, which therefore needs the token."""
    running = local_server(str(tmp_path / "spool"), host="0.0.0.0", token=TOKEN)
    yield running
    running.stop(grace=0)


@pytest.fixture
def guarded_channel(guarded):
    with grpc.insecure_channel(f"127.0.0.1:{guarded.port}") as channel:
        yield channel


AUTH_CALLS = [
    ("unary", lambda stub, md: stub.GetServerInfo(pb.GetServerInfoRequest(), metadata=md, timeout=CALL_TIMEOUT)),
    ("server streaming",
     lambda stub, md: list(stub.WatchJob(pb.WatchJobRequest(job_id="x"), metadata=md, timeout=CALL_TIMEOUT))),
    ("client streaming", lambda stub, md: upload(stub, frame_chunks("x"), metadata=md)),
]


@pytest.mark.parametrize("call", params(AUTH_CALLS))
@pytest.mark.parametrize("metadata, word", [(None, "missing"), ((("authorization", "Bearer guess"),), "wrong")],
                         ids=["no token", "wrong token"])
def test_calls_without_the_right_token_are_unauthenticated(guarded_channel, call, metadata, word):
    message = refused(lambda: call(pb_grpc.InpaintStub(guarded_channel), metadata), Code.UNAUTHENTICATED, word)
    assert "token" in message and TOKEN not in message


def test_the_right_token_is_let_in(guarded):
    with InpaintClient(f"127.0.0.1:{guarded.port}", token=TOKEN, timeout=CALL_TIMEOUT, retries=1) as client:
        assert client.server_info().api == "internal_inpaint.v1"
        job = new_upload_job(client)
        summary = client.upload_frames(job, {FIRST_FRAME: PIXELS[FIRST_FRAME]})  # a client-streaming call
        assert list(summary.frames_missing) == FRAMES[1:]
        client.cancel(job)
        assert [e.state for e in client.watch(job)][-1] == pb.CANCELLED  # a server-streaming call


def test_health_checks_need_no_token(guarded_channel):
    health = health_pb2_grpc.HealthStub(guarded_channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_public_address_without_a_token_is_refused_at_start(tmp_path):
    with pytest.raises(ServerConfigError, match="token"):
        local_server(str(tmp_path / "spool"), host="0.0.0.0")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("10.1.2.3", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_a_client_that_hangs_up_mid_download_harms_nothing(server, client, stub):
    frames = tiny_frames(frames=3)
    job = client.submit_arrays(frames, list("RGBA"), **FAST)
    assert client.wait(job, timeout=120).state == pb.DONE
    stream = stub.DownloadResult(pb.DownloadResultRequest(job_id=job, chunk_bytes=64), timeout=CALL_TIMEOUT)
    received = [next(stream), next(stream)]  # a few chunks of the first frame, then the client goes away
    stream.cancel()
    assert all(len(m.data) <= 64 for m in received)
    assert client.get_job(job).state == pb.DONE  # the job and its results are untouched
    results = client.download(job)
    assert sorted(results) == sorted(frames)
    assert all(outside_matte_identical(frames[f], results[f]) for f in frames)
    assert client.server_info().api == "internal_inpaint.v1"


# --------------------------------------------------------------------------
# A full spool disk (a real one: a small tmpfs the server alone sees)
# --------------------------------------------------------------------------


def _filler_frames(count: int, seed: int) -> dict[int, np.ndarray]:
    """1 MB float RGBA frames with an empty matte: no training, only files in the spool."""
    rgb = np.random.default_rng(seed).random((count, 256, 256, 3), dtype=np.float32)
    rgba = np.concatenate([rgb, np.zeros((count, 256, 256, 1), np.float32)], axis=-1)
    return {FIRST_FRAME + i: rgba[i] for i in range(count)}


def _create_upload_job(client: InpaintClient, frames: dict[int, np.ndarray]) -> str:
    """An upload job created but not yet sent: the server checks free space when it creates a job."""
    spec = pb.JobSpec(training=pb.TrainingSettings(preset="draft", iterations=4))
    spec.upload.frames.extend(sorted(frames))
    spec.upload.layout.CopyFrom(pb.FrameLayout(width=256, height=256, channels=list("RGBA"), pixel_type=pb.FLOAT))
    return client.create_job(spec).id


@pytest.mark.slow
def test_a_full_spool_fails_jobs_clearly_harms_no_earlier_job_and_recovers(tmp_path):
    # 20 MB: room for one finished job (its checkpoint is ~12 MB), not for another's checkpoint or many uploads.
    child = ChildServer(str(tmp_path / "spool"), "--checkpoint-every", "1000", spool_bytes=20 * 1024**2).start()
    try:
        with InpaintClient(child.address, retries=1, backoff=0.05) as client:
            earlier = tiny_frames()
            # The paper fill: its network's checkpoint (~12 MB) is the size this spool is made for.
            earlier_id = client.submit_arrays(earlier, list("RGBA"), preset="draft", iterations=4, fill="paper")
            assert client.wait(earlier_id, timeout=120).state == pb.DONE

            full = []  # what met the full disk
            try:
                client.wait(client.submit_arrays(tiny_frames(seed=1), list("RGBA"), preset="draft", iterations=4,
                                                 fill="paper"), timeout=120)
            except JobFailed as failed:  # its checkpoint does not fit
                full.append(failed.message)
            # Each of these fits the free space when created; together their frames do not.
            fillers = [_filler_frames(3, seed) for seed in range(3)]
            jobs = [_create_upload_job(client, frames) for frames in fillers]
            for job_id, frames in zip(jobs, fillers):
                try:
                    client.upload_frames(job_id, frames)
                except InpaintServiceError as refused:
                    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED, refused
                    full.append(refused.message)
                    continue
                try:
                    client.wait(job_id, timeout=120)
                except JobFailed as failed:
                    full.append(failed.message)
            assert len(full) >= 2, full  # the next job's checkpoint, and at least one upload
            for message in full:
                assert " is full" in message and "Internal error" not in message, message

            # Nothing earlier was harmed, the records are readable, the server serves.
            results = client.download(earlier_id)
            assert all(outside_matte_identical(earlier[f], results[f]) for f in earlier)
            assert client.get_job(earlier_id).state == pb.DONE
            # Space freed, work goes on without a restart.
            for job in client.list_jobs():
                if job.state == pb.UPLOADING:  # the refused upload's job waits for frames that will not come
                    client.cancel(job.id)
                client.delete_job(job.id)
            again = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=4)
            assert client.wait(again, timeout=120).state == pb.DONE
    finally:
        child.close()
