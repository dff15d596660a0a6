"""The client's parts that need no server: chunks, conversions, specs, retries, errors.

A fake stub stands in for the server, so these run in well under a second;
tests against a real server live elsewhere.
"""

from __future__ import annotations

import ast
import hashlib
import pathlib
import sys

import grpc
import numpy as np
import pytest

from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client import client as c
from internal_inpaint_client import plugin_support as support
from tests import ROOT

SOURCE = pathlib.Path(c.__file__)
# Everything the client distribution installs into a host's Python (Nuke 14 runs 3.9): the library, the stubs and
# the Resolve plugin (the Nuke plugin and the Fusion script are checked by their own tests).
PY39_SOURCES = sorted((ROOT / "client" / "src").rglob("*.py"))
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "server went away"):
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class FakeStream:
    """A server stream: yields items, raises the exceptions among them."""

    def __init__(self, items):
        self.items, self.cancelled = list(items), False

    def __iter__(self):
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> None:
        self.cancelled = True


class Scripted:
    """A stub method answering each call with the next scripted outcome, recording requests."""

    def __init__(self, *outcomes):
        self.outcomes, self.calls = list(outcomes), []

    def __call__(self, request, timeout=None, metadata=None):
        if not isinstance(request, (pb.GetServerInfoRequest, pb.JobRef, pb.CreateJobRequest, pb.ListJobsRequest,
                                    pb.WatchJobRequest, pb.DownloadResultRequest)):
            request = list(request)  # a request stream: consume it as gRPC would
        self.calls.append((request, timeout, metadata))
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome(request) if callable(outcome) else outcome


class FakeStub:
    def __init__(self, **methods):
        self.__dict__.update(methods)


@pytest.fixture
def client():
    inpaint = c.InpaintClient("127.0.0.1:1", token="s3cret", retries=3, backoff=0.5)
    inpaint.sleeps = []
    inpaint._sleep = inpaint.sleeps.append
    inpaint._chunk_bytes = 1000
    yield inpaint
    inpaint.close()


def layout(h=3, w=4, channels=("R", "G", "B", "A"), pixel_type=pb.HALF):
    return pb.FrameLayout(width=w, height=h, channels=list(channels), pixel_type=pixel_type)


def frames_of(n=3, shape=(3, 4, 4), dtype=np.float16):
    rng = np.random.default_rng(0)
    return {1001 + i: rng.random(shape).astype(dtype) for i in range(n)}


# --- portability -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", PY39_SOURCES, ids=[str(p.relative_to(ROOT)) for p in PY39_SOURCES])
def test_parses_as_python_3_9(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


def test_the_python_3_9_check_covers_the_client_distribution():
    names = {p.relative_to(ROOT).as_posix() for p in PY39_SOURCES}
    assert {"client/src/internal_inpaint_client/client.py", "client/src/internal_inpaint_client/reuse_key.py",
            "client/src/internal_inpaint_client/plugin_support.py", "client/src/internal_inpaint/v1/inpaint_pb2.py",
            "client/src/internal_inpaint_resolve/job.py"} <= names
    assert SOURCE.relative_to(ROOT).as_posix() in names


def test_imports_only_grpc_protobuf_numpy_and_stdlib():
    allowed = {"__future__", "hashlib", "random", "time", "typing", "grpc", "numpy", "internal_inpaint",
               "internal_inpaint_client"}
    tree = ast.parse(SOURCE.read_text())
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert roots <= allowed, roots - allowed


def test_plugin_support_is_standard_library_only():
    """The Resolve plugin imports it before grpc is needed, the Nuke plugin at Nuke's start."""
    path = SOURCE.parent / "plugin_support.py"
    tree = ast.parse(path.read_text())
    roots = {alias.name.split(".")[0]
             for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert roots <= set(sys.stdlib_module_names) | {"__future__"}, roots


def test_plugin_support_helpers(tmp_path):
    assert support.environment_token({}) is None and support.environment_token({support.TOKEN_VARIABLE: ""}) is None
    assert support.environment_token({"INTERNAL_INPAINT_TOKEN": "s3cret"}) == "s3cret"
    assert support.serve_command("/jobs") == "internal-inpaint serve --allow-root /jobs"
    assert support.serve_command() == "internal-inpaint serve --allow-root DIR"
    assert c.DEFAULT_ADDRESS == support.DEFAULT_ADDRESS == "127.0.0.1:50051"
    folder = tmp_path / "render"
    folder.mkdir()
    files = [folder / "plate.0001.exr", folder / "plate.0002.exr"]
    for path in files:
        path.write_bytes(b"x")
    support.discard(str(folder), [str(p) for p in files] + [str(folder / "never_written.exr")])
    assert not folder.exists()  # the files, then the folder they left empty
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "other").write_bytes(b"x")
    support.discard(str(kept), [])
    assert (kept / "other").exists()  # a folder with anything else in it stays


# --- bytes and chunks --------------------------------------------------------------------------

@pytest.mark.parametrize("size,chunk", [(2500, 1000), (3000, 1000), (10, 1000), (1, 1)])
def test_frame_chunks_cover_the_frame_in_order_with_sha_on_the_last(size, chunk):
    data = np.arange(size, dtype=np.uint8)
    chunks = list(c._frame_chunks("j", 7, memoryview(data), chunk))
    assert [ch.offset for ch in chunks] == list(range(0, size, chunk))
    assert all(len(ch.data) <= chunk and ch.frame_size == size and ch.frame == 7 for ch in chunks)
    assert b"".join(ch.data for ch in chunks) == data.tobytes()
    assert chunks[-1].sha256 == hashlib.sha256(data.tobytes()).hexdigest()
    assert all(not ch.sha256 for ch in chunks[:-1])


def test_frame_buffer_is_little_endian_c_order_and_shares_contiguous_memory():
    array = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    buffer = c._frame_buffer(array)
    assert bytes(buffer) == array.tobytes()
    assert np.shares_memory(np.frombuffer(buffer, dtype=np.uint8), array)
    big = array.astype(">f4")
    assert bytes(c._frame_buffer(big)) == array.tobytes()
    transposed = np.arange(24, dtype="<f2").reshape(4, 3, 2).transpose(2, 1, 0)
    assert bytes(c._frame_buffer(transposed)) == np.ascontiguousarray(transposed).tobytes()


def test_frame_buffer_refuses_other_dtypes():
    with pytest.raises(ValueError, match="float16 or float32"):
        c._frame_buffer(np.zeros((2, 2, 1), dtype=np.float64))


@pytest.mark.parametrize("pixel_type,dtype", [(pb.HALF, np.float16), (pb.FLOAT, np.float32)])
def test_array_round_trips_through_bytes(pixel_type, dtype):
    array = frames_of(1, dtype=dtype)[1001]
    back = c._array_from_bytes(bytes(c._frame_buffer(array)), layout(pixel_type=pixel_type))
    assert back.shape == (3, 4, 4) and back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, array)


# --- local validation and specs ----------------------------------------------------------------

@pytest.mark.parametrize("frames,channels,message", [
    ({}, "RGBA", "No frames"),
    (frames_of(1), [], "No channel names"),
    ({1: np.zeros((3, 4), np.float16)}, "RGBA", "height, width, channels"),
    ({1: np.zeros((3, 4, 4), np.float64)}, "RGBA", "float16 or float32"),
    ({1: np.zeros((3, 4, 4), np.int16)}, "RGBA", "float16 or float32"),
    (frames_of(1), "RGB", "4 channels but 3 names"),
    ({1: np.zeros((3, 4, 4), np.float16), 2: np.zeros((3, 5, 4), np.float16)}, "RGBA", "Frame 2 is"),
    ({1: np.zeros((3, 4, 4), np.float16), 2: np.zeros((3, 4, 4), np.float32)}, "RGBA", "Frame 2 is"),
])
def test_check_frames_names_the_problem(frames, channels, message):
    with pytest.raises(ValueError, match=message):
        c._check_frames(frames, list(channels))


def test_check_frames_gives_the_layout():
    assert c._check_frames(frames_of(2, dtype=np.float32), list("RGBA")) == layout(pixel_type=pb.FLOAT)


def test_job_spec_leaves_optional_fields_unset():
    spec = c._job_spec()
    assert not spec.matte.HasField("threshold")
    assert not spec.training.HasField("iterations") and not spec.training.HasField("seed")
    assert spec.non_finite == pb.REFUSE


def test_job_spec_sets_what_is_given():
    spec = c._job_spec(name="shot", matte_channel="M", threshold=0.0, dilate=3, preset="draft", iterations=200,
                       seed=0, preview_every=25, inpaint_non_finite=True)
    assert spec.name == "shot" and spec.matte.channel == "M" and spec.matte.dilate == 3
    assert spec.matte.HasField("threshold") and spec.matte.threshold == 0.0
    assert spec.training.preset == "draft" and spec.training.iterations == 200
    assert spec.training.HasField("seed") and spec.training.preview_every == 25
    assert spec.non_finite == pb.INPAINT
    for field in ("stabilisation", "anti_ambiguity", "time_budget_minutes"):
        assert not spec.training.HasField(field)  # unset: the server's defaults apply


def test_job_spec_carries_the_regularisers_and_the_time_budget():
    spec = c._job_spec(name="shot", preset="final", stabilisation=0.2, anti_ambiguity=0.1, time_budget_minutes=12.5)
    assert spec.training.stabilisation == pytest.approx(0.2) and spec.training.anti_ambiguity == pytest.approx(0.1)
    assert spec.training.time_budget_minutes == 12.5 and not spec.training.HasField("iterations")


@pytest.mark.parametrize("mode, value", [("auto", pb.PROGRESSIVE_AUTO), ("on", pb.PROGRESSIVE_ON),
                                         ("off", pb.PROGRESSIVE_OFF)])
def test_job_spec_carries_the_progressive_mode(mode, value):
    assert c._job_spec(progressive=mode).training.progressive == value


@pytest.mark.parametrize("mode, value", [("guided", pb.FILL_GUIDED), ("paper", pb.FILL_PAPER),
                                         ("propagation", pb.FILL_PROPAGATION)])
def test_job_spec_carries_the_fill_mode(mode, value):
    assert c._job_spec(fill=mode).training.fill == value
    assert c._job_spec().training.fill == pb.FILL_GUIDED


def test_job_spec_carries_the_seen_channel():
    assert c._job_spec(seen_channel=True).training.seen_channel is True
    assert c._job_spec().training.seen_channel is False


@pytest.mark.parametrize("keywords, words", [
    (dict(fill="best"), "fill must be one of guided, paper, propagation (got 'best')"),
    (dict(fill="Paper"), "fill must be one of guided, paper, propagation (got 'Paper')"),
    (dict(seen_channel="yes"), "seen_channel must be True or False (got 'yes')"),
    (dict(seen_channel=1), "seen_channel must be True or False (got 1)"),
])
def test_job_spec_refuses_a_bad_fill_or_seen_channel_naming_it(keywords, words):
    with pytest.raises(ValueError) as info:
        c._job_spec(**keywords)
    assert str(info.value) == words + "."


def test_job_spec_refuses_an_unknown_progressive_mode():
    with pytest.raises(ValueError, match="progressive must be one of auto, on, off"):
        c._job_spec(progressive="yes")


def test_submit_arrays_creates_an_upload_job_and_sends_every_frame(client):
    frames = frames_of(3)
    create = Scripted(pb.Job(id="j1"))
    upload = Scripted(lambda chunks: pb.UploadSummary(job_id="j1", frames_received=[chunks[0].frame],
                                                      state=pb.UPLOADING))
    client._stub = FakeStub(CreateJob=create, UploadFrames=upload, GetJob=Scripted(pb.Job(state=pb.QUEUED)))
    assert client.submit_arrays({1003: frames[1003], 1001: frames[1001], 1002: frames[1002]}, list("RGBA"),
                                iterations=50) == "j1"
    spec = create.calls[0][0].spec
    assert list(spec.upload.frames) == [1001, 1002, 1003] and spec.upload.layout == layout()
    assert spec.training.iterations == 50
    sent = [chunks for chunks, _, _ in upload.calls]
    assert [chunks[0].frame for chunks in sent] == [1001, 1002, 1003]
    assert all(len(ch.data) <= 1000 for chunks in sent for ch in chunks)
    assert b"".join(ch.data for ch in sent[1]) == frames[1002].tobytes()
    assert create.calls[0][2] == (("authorization", "Bearer s3cret"),)


def test_submit_paths_builds_a_path_spec(client):
    create = Scripted(pb.Job(id="p1"))
    client._stub = FakeStub(CreateJob=create)
    assert client.submit_paths("/s/plate.####.exr", "/s/out.####.exr", frames="1-10", overwrite=True) == "p1"
    paths = create.calls[0][0].spec.paths
    assert (paths.plate, paths.output, paths.frames, paths.overwrite) == ("/s/plate.####.exr", "/s/out.####.exr",
                                                                          "1-10", True)
    with pytest.raises(ValueError):
        client.submit_paths("", "/s/out.####.exr")


# --- retries and errors ------------------------------------------------------------------------

def test_with_retries_retries_unavailable_with_growing_delays():
    fake, sleeps = Scripted(FakeRpcError(UNAVAILABLE), FakeRpcError(UNAVAILABLE), FakeRpcError(UNAVAILABLE),
                            "ok"), []
    assert c._with_retries(lambda: fake(pb.JobRef()), retries=3, backoff=0.5, sleep=sleeps.append) == "ok"
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):
        assert 0.5 * 2 ** attempt <= delay <= 0.55 * 2 ** attempt


def test_with_retries_gives_up_after_retries():
    sleeps, call = [], Scripted(FakeRpcError(UNAVAILABLE, "connection refused"))
    with pytest.raises(c.InpaintServiceError) as info:
        c._with_retries(lambda: call(pb.JobRef()), retries=2, backoff=0.5, sleep=sleeps.append,
                        address="farm:50051")
    assert info.value.code == UNAVAILABLE and len(sleeps) == 2 and len(call.calls) == 3
    assert "farm:50051" in str(info.value) and "connection refused" in str(info.value)


def test_with_retries_does_not_retry_other_errors():
    sleeps = []
    call = Scripted(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "Unknown preset 'x'."))
    with pytest.raises(c.InpaintServiceError) as info:
        c._with_retries(lambda: call(pb.JobRef()), retries=5, backoff=0.5, sleep=sleeps.append)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and str(info.value) == "Unknown preset 'x'."
    assert sleeps == [] and len(call.calls) == 1


def test_delay_is_capped():
    assert 10.0 <= c._delay(30, 0.5) <= 11.0


def test_translate_makes_one_line_and_keeps_the_code():
    error = c._translate(FakeRpcError(grpc.StatusCode.NOT_FOUND, "No job abc.\n  Check the id.\n"))
    assert isinstance(error, c.InpaintServiceError) and error.code == grpc.StatusCode.NOT_FOUND
    assert error.message == str(error) == "No job abc. Check the id."


def test_unary_calls_retry_and_pass_deadline_and_token(client):
    get = Scripted(FakeRpcError(UNAVAILABLE), FakeRpcError(UNAVAILABLE), pb.Job(id="j", state=pb.QUEUED))
    client._stub = FakeStub(GetJob=get)
    assert client.get_job("j").state == pb.QUEUED
    assert len(client.sleeps) == 2
    assert all(timeout == 30.0 and metadata == (("authorization", "Bearer s3cret"),)
               for _, timeout, metadata in get.calls)


def test_job_errors_carry_the_job():
    job = pb.Job(id="j", state=pb.FAILED, message="Out of GPU memory.")
    failed = c.JobFailed(job)
    assert isinstance(failed, c.InpaintServiceError) and failed.job is job and str(failed) == "Out of GPU memory."
    assert c.JobCancelled(pb.Job(id="j")).code == grpc.StatusCode.CANCELLED


def test_helpers():
    assert [s for s in range(8) if c.is_finished(s)] == [pb.DONE, pb.FAILED, pb.CANCELLED]
    assert c.preview_png(pb.JobEvent(preview=pb.Preview(png=b"\x89PNG"))) == b"\x89PNG"
    assert c.preview_png(pb.JobEvent(notice=pb.Notice(text="hi"))) is None


# --- uploads, watching, downloads through a fake stub ------------------------------------------

def test_upload_retry_resends_only_the_interrupted_frame(client):
    frames = frames_of(2)
    summary = pb.UploadSummary(job_id="j", frames_received=[1001], frames_missing=[1002], state=pb.UPLOADING)
    upload = Scripted(summary, FakeRpcError(UNAVAILABLE), FakeRpcError(grpc.StatusCode.ALREADY_EXISTS))
    client._stub = FakeStub(UploadFrames=upload, GetJob=Scripted(pb.Job(id="j", state=pb.QUEUED)))
    result = client.upload_frames("j", frames)
    assert [chunks[0].frame for chunks, _, _ in upload.calls] == [1001, 1002, 1002]
    assert list(result.frames_received) == [1001, 1002] and list(result.frames_missing) == []
    assert result.state == pb.QUEUED and len(client.sleeps) == 1


def test_upload_already_exists_on_the_first_attempt_is_an_error(client):
    client._stub = FakeStub(UploadFrames=Scripted(FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "Frame 1001 was "
                                                                                              "uploaded already.")))
    with pytest.raises(c.InpaintServiceError, match="uploaded already") as info:
        client.upload_frames("j", frames_of(1))
    assert info.value.code == grpc.StatusCode.ALREADY_EXISTS


def event(sequence, state=pb.TRAINING, **detail):
    return pb.JobEvent(job_id="j", sequence=sequence, state=state, **detail)


def test_watch_resumes_after_unavailable_without_duplicates(client):
    first = FakeStream([event(1), event(2), FakeRpcError(UNAVAILABLE)])
    second = FakeStream([event(2), event(3), event(3, preview=pb.Preview(iteration=5)),
                         event(4, pb.DONE, finished=pb.Finished())])
    watch = Scripted(first, second)
    client._stub = FakeStub(WatchJob=watch)
    seen = [(e.sequence, e.WhichOneof("detail")) for e in client.watch("j", previews=True)]
    assert seen == [(1, None), (2, None), (3, None), (3, "preview"), (4, "finished")]
    assert [request.after_sequence for request, _, _ in watch.calls] == [0, 2]
    assert all(request.previews and timeout is None for request, timeout, _ in watch.calls)
    assert first.cancelled and len(client.sleeps) == 1


def test_watch_raises_other_errors_translated(client):
    client._stub = FakeStub(WatchJob=Scripted(FakeStream([FakeRpcError(grpc.StatusCode.NOT_FOUND, "No job j.")])))
    with pytest.raises(c.InpaintServiceError, match="No job j.") as info:
        list(client.watch("j"))
    assert info.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("state,error", [(pb.DONE, None), (pb.FAILED, c.JobFailed), (pb.CANCELLED, c.JobCancelled)])
def test_wait_ends_with_the_jobs_state(client, state, error):
    events = [event(1), event(2, state, finished=pb.Finished(message="over"))]
    client._stub = FakeStub(WatchJob=Scripted(FakeStream(events)),
                            GetJob=Scripted(pb.Job(id="j", state=state, message="why")))
    seen = []
    if error is None:
        assert client.wait("j", seen.append).state == pb.DONE
    else:
        with pytest.raises(error, match="why"):
            client.wait("j", seen.append)
    assert [e.sequence for e in seen] == [1, 2]


def test_wait_timeout_is_deadline_exceeded(client):
    watch = Scripted(FakeStream([event(1), FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")]))
    client._stub = FakeStub(WatchJob=watch)
    with pytest.raises(c.InpaintServiceError, match="did not finish within 5 s") as info:
        client.wait("j", timeout=5)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0 < watch.calls[0][1] <= 5


def upload_job(frames=(1001, 1002), pixel_type=pb.HALF):
    return pb.Job(id="j", state=pb.DONE, spec=pb.JobSpec(upload=pb.UploadSource(frames=list(frames),
                                                                                layout=layout(pixel_type=pixel_type))))


def chunks_of(frames, chunk=40):
    return [ch for f, a in sorted(frames.items()) for ch in c._frame_chunks("j", f, c._frame_buffer(a), chunk)]


def test_download_reassembles_frames(client):
    frames = frames_of(2, dtype=np.float32)
    download = Scripted(FakeStream(chunks_of(frames)))
    client._stub = FakeStub(GetJob=Scripted(upload_job(pixel_type=pb.FLOAT)), DownloadResult=download)
    result = client.download("j")
    assert sorted(result) == [1001, 1002]
    for frame, array in frames.items():
        np.testing.assert_array_equal(result[frame], array)
        assert result[frame].dtype == np.float32
    assert list(download.calls[0][0].frames) == [1001, 1002]


def test_download_of_a_seen_channel_job_has_one_more_channel(client):
    frames = frames_of(2, shape=(3, 4, 5))  # the four uploaded channels and the server's inpaint.seen
    job = upload_job()
    job.spec.training.seen_channel = True
    client._stub = FakeStub(GetJob=Scripted(job, job), DownloadResult=Scripted(FakeStream(chunks_of(frames))))
    result = client.download("j")
    for frame, array in frames.items():
        assert result[frame].shape == (3, 4, 5)
        np.testing.assert_array_equal(result[frame], array)
    assert c.result_channels(job) == ["R", "G", "B", "A", "inpaint.seen"]
    assert c.result_channels(upload_job()) == ["R", "G", "B", "A"]
    assert list(job.spec.upload.layout.channels) == ["R", "G", "B", "A"]  # the job's own layout is left alone


def test_download_retry_asks_only_for_missing_frames(client):
    frames = frames_of(2)
    chunks = chunks_of(frames)
    first = FakeStream(chunks[:len(chunks) // 2 + 1] + [FakeRpcError(UNAVAILABLE)])
    download = Scripted(first, FakeStream([ch for ch in chunks if ch.frame == 1002]))
    client._stub = FakeStub(GetJob=Scripted(upload_job()), DownloadResult=download)
    result = client.download("j")
    np.testing.assert_array_equal(result[1002], frames[1002])
    assert [list(request.frames) for request, _, _ in download.calls] == [[1001, 1002], [1002]]


@pytest.mark.parametrize("damage", ["sha", "gap", "missing", "size"])
def test_download_detects_damage(client, damage):
    chunks = chunks_of(frames_of(2))
    if damage == "sha":
        chunks[-1].sha256 = "0" * 64
    elif damage == "gap":
        del chunks[1]
    elif damage == "missing":
        chunks = [ch for ch in chunks if ch.frame == 1001]
    else:
        chunks[0].frame_size += 2
    client._stub = FakeStub(GetJob=Scripted(upload_job()), DownloadResult=Scripted(FakeStream(chunks)))
    with pytest.raises(c.InpaintServiceError) as info:
        client.download("j")
    assert info.value.code == grpc.StatusCode.DATA_LOSS


def test_download_of_a_path_job_is_a_value_error(client):
    job = pb.Job(id="j", spec=pb.JobSpec(paths=pb.PathSource(plate="/a.####.exr", output="/b.####.exr")))
    client._stub = FakeStub(GetJob=Scripted(job))
    with pytest.raises(ValueError, match="read /b.####.exr"):
        client.download("j")


def test_wait_until_ready_without_a_server_says_how_to_start_one():
    with c.InpaintClient("127.0.0.1:1") as inpaint:
        with pytest.raises(c.InpaintServiceError, match="internal-inpaint serve") as info:
            inpaint.wait_until_ready(timeout=0.2)
    assert info.value.code == UNAVAILABLE
