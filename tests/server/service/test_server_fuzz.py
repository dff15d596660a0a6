"""Property-based fuzzing of the gRPC requests (hypothesis) against one real server on loopback.

Arbitrary JobSpecs (upload and path sources), arbitrary FrameChunk streams and raw
random bytes sent as a serialized CreateJobRequest: every call either succeeds or
fails with a client-error status and a message, never UNKNOWN/INTERNAL. A small
valid job, created before the fuzzing, must still finish DONE with a correct
result afterwards, and the server must still answer.

Path-mode specs only ever name outputs inside this module's tmp dir, and the
server's allowed roots are that tmp dir, so no fuzzed job can write elsewhere.
Jobs the fuzzer creates validly are cancelled and deleted at once.
"""

from __future__ import annotations

import hashlib
import math

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inpaint_core.io.image_files import MAX_SIDE
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc
from tests.server_support import client_for, local_server, outside_matte_identical, tiny_frames

Code = grpc.StatusCode
CLIENT_ERRORS = {Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED, Code.FAILED_PRECONDITION,
                 Code.ALREADY_EXISTS, Code.PERMISSION_DENIED, Code.OUT_OF_RANGE}
CALL_TIMEOUT = 20.0
PLATE = "plate.####.exr"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# -- one server for the module, path mode restricted to a tmp dir ------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    root, outside = base / "root", base / "outside"
    (root / "plates").mkdir(parents=True)
    (outside / "plates").mkdir(parents=True)
    clip = make_clip(frames=3, width=32, height=32)
    write_exr_sequence(clip, str(root / "plates" / PLATE))
    write_exr_sequence(clip, str(outside / "plates" / PLATE))
    running = local_server(str(base / "spool"), allowed_roots=[str(root)])
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    with client_for(running) as client:
        frames = tiny_frames(frames=3)
        # Created before any fuzzing; checked by the last test of the module.
        early = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=2)
        yield dict(base=base, root=root, outside=outside, server=running, client=client,
                   stub=pb_grpc.InpaintStub(channel), channel=channel, early=early, frames=frames)
    channel.close()
    running.stop(grace=0)


def call_ok_or_client_error(call):
    """Run a call; returns its answer, or None when it failed with an expected client error."""
    try:
        return call()
    except grpc.RpcError as err:
        assert err.code() in CLIENT_ERRORS, f"{err.code().name}: {err.details()}"
        assert err.details(), f"{err.code().name} without a message"
        return None


def discard(env, job_id: str) -> None:
    """Cancel and delete a job the fuzzer created (it may have ended already)."""
    stub = env["stub"]
    for call in (stub.CancelJob, stub.DeleteJob):
        try:
            call(pb.JobRef(job_id=job_id), timeout=CALL_TIMEOUT)
        except grpc.RpcError as err:
            assert err.code() in CLIENT_ERRORS, f"{err.code().name}: {err.details()}"


# -- strategies --------------------------------------------------------------------------

INT32 = st.one_of(st.integers(-3, 3), st.sampled_from([1001, 2 ** 31 - 1, -(2 ** 31), MAX_SIDE, MAX_SIDE + 1]),
                  st.integers(-(2 ** 31), 2 ** 31 - 1))
UINT64 = st.one_of(st.integers(0, 300), st.sampled_from([2 ** 63, 2 ** 64 - 1, 2 ** 31]), st.integers(0, 2 ** 64 - 1))
FLOATS = st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e38, -1.0, 0.5]),
                   st.floats(width=32))
TEXT = st.text(max_size=12)
CHANNEL = st.one_of(st.sampled_from(["R", "G", "B", "A", "", "\x00", "R\x00", "Z", "alpha", "A" * 300]), TEXT)
PIXEL_TYPE = st.one_of(st.sampled_from([0, 1, 2]), st.integers(-5, 2 ** 31 - 1))


@st.composite
def layouts(draw):
    layout = pb.FrameLayout()
    layout.width = draw(st.one_of(st.integers(-2, 20), INT32))
    layout.height = draw(st.one_of(st.integers(-2, 20), INT32))
    layout.channels.extend(draw(st.one_of(st.just(list("RGBA")), st.lists(CHANNEL, max_size=6))))
    layout.pixel_type = draw(PIXEL_TYPE)  # open enum: unknown values are kept
    return layout


@st.composite
def upload_sources(draw):
    source = pb.UploadSource()
    source.frames.extend(draw(st.one_of(st.just([1001, 1002]), st.lists(st.one_of(st.integers(1, 4), INT32),
                                                                         max_size=5))))
    if draw(st.integers(0, 4)):
        source.layout.CopyFrom(draw(layouts()))
    return source


@st.composite
def path_sources(draw, root, outside):
    inside = str(root)
    plate = draw(st.one_of(
        st.sampled_from([f"{inside}/plates/{PLATE}", f"{outside}/plates/{PLATE}", f"plates/{PLATE}", "",
                         f"{inside}/plates/../../outside/plates/{PLATE}", f"{inside}/plates/plate.%04d.exr",
                         f"{inside}/plates/plate.1001.exr", f"{inside}/plates/nothing.####.exr",
                         f"{inside}/plates\x00/{PLATE}", f"{inside}/plates"]),
        TEXT.map(lambda t: f"{inside}/{t}")))
    # Outputs stay inside the tmp dir: under root, relative, or '..' that still lands in the tmp dir.
    output = draw(st.one_of(
        st.sampled_from([f"{inside}/clean/clean.####.exr", f"{inside}/plates/{PLATE}", "clean.####.exr", "",
                         f"{inside}/../escape/clean.####.exr", f"{outside}/clean/clean.####.exr",
                         f"{inside}/clean\x00/c.####.exr", f"{inside}/clean/clean.exr", inside]),
        TEXT.filter(lambda t: ".." not in t and not t.startswith("/")).map(lambda t: f"{inside}/out/{t}")))
    matte = draw(st.sampled_from(["", f"{inside}/plates/{PLATE}", f"{outside}/plates/{PLATE}", "matte.####.exr"]))
    frames = draw(st.one_of(
        st.sampled_from(["", "1001-1003", "1001", "1003-1001", "1001-1003x0", "1001-1003x-1", "1-2000000000",
                         "-5--1", "1001,1002", "x", "1001-1003x2000000000", "99999999999999999999"]),
        TEXT))
    return pb.PathSource(plate=plate, matte=matte, output=output, frames=frames, overwrite=draw(st.booleans()))


@st.composite
def specs(draw, root, outside):
    spec = pb.JobSpec(name=draw(TEXT))
    source = draw(st.sampled_from(["upload", "upload", "paths", "paths", "none"]))
    if source == "upload":
        spec.upload.CopyFrom(draw(upload_sources()))
    elif source == "paths":
        spec.paths.CopyFrom(draw(path_sources(root, outside)))
    if draw(st.booleans()):
        spec.matte.channel = draw(CHANNEL)
        if draw(st.booleans()):
            spec.matte.threshold = draw(FLOATS)
        spec.matte.dilate = draw(INT32)
        if draw(st.booleans()):
            spec.matte.mask_frame = draw(INT32)
    training = spec.training
    training.preset = draw(st.one_of(st.sampled_from(["draft", "standard", "final", "wide", "", "ultra", "DRAFT",
                                                      "draft\x00"]), TEXT))
    # Mostly few iterations, so a spec that happens to be valid trains for no time.
    if draw(st.integers(0, 9)) < 8:
        training.iterations = draw(st.one_of(st.integers(-2, 3), INT32))
    if draw(st.booleans()):
        training.seed = draw(st.integers(-(2 ** 63), 2 ** 63 - 1))
    training.preview_every = draw(INT32)
    for field in ("stabilisation", "anti_ambiguity", "time_budget_minutes"):
        if draw(st.booleans()):
            setattr(training, field, draw(FLOATS))
    spec.non_finite = draw(st.one_of(st.sampled_from([0, 1, 2]), st.integers(-5, 2 ** 31 - 1)))
    return spec


# -- properties -------------------------------------------------------------------------


def test_fuzzed_specs_get_a_job_or_a_client_error(env):
    stub, base = env["stub"], env["base"]
    before = set(base.parent.iterdir())  # nothing may appear beside this module's tmp dir

    @FUZZ
    @given(spec=specs(env["root"], env["outside"]))
    def check(spec):
        job = call_ok_or_client_error(lambda: stub.CreateJob(pb.CreateJobRequest(spec=spec), timeout=CALL_TIMEOUT))
        if job is not None:
            assert job.id
            discard(env, job.id)

    check()
    assert set(base.parent.iterdir()) == before, "a fuzzed spec wrote outside its tmp dir"
    assert not (env["outside"] / "clean").exists()


def tiny_upload_spec() -> pb.JobSpec:
    spec = pb.JobSpec(name="fuzz-upload")
    spec.upload.frames.extend([1, 2])
    spec.upload.layout.CopyFrom(pb.FrameLayout(width=4, height=2, channels=list("RGBA"), pixel_type=pb.HALF))
    spec.training.preset = "draft"
    spec.training.iterations = 2
    return spec


TINY_FRAME = 4 * 2 * 4 * 2  # bytes of one tiny_upload_spec frame


@st.composite
def chunk_streams(draw):
    """(chunks as field dicts, whether to address the fresh job); job_id None: the fresh job's."""
    chunks = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 3)) == 0:  # a well-formed whole frame, for the success paths
            data = draw(st.binary(min_size=TINY_FRAME, max_size=TINY_FRAME))
            chunks.append(dict(job_id=None, frame=draw(st.sampled_from([1, 2])), offset=0, frame_size=TINY_FRAME,
                               data=data, sha256=hashlib.sha256(data).hexdigest()))
            continue
        data = draw(st.binary(max_size=2 * TINY_FRAME))
        sha = draw(st.one_of(st.just(hashlib.sha256(data).hexdigest()), st.just(""), st.just("0" * 64), TEXT))
        chunks.append(dict(
            job_id=draw(st.one_of(st.none(), st.sampled_from(["", "0123456789ab", "../x", "\x00"]), TEXT)),
            frame=draw(st.one_of(st.sampled_from([1, 2, 3]), INT32)),
            offset=draw(st.one_of(st.sampled_from([0, 32, 64]), UINT64)),
            frame_size=draw(st.one_of(st.sampled_from([TINY_FRAME, 0, 1, TINY_FRAME + 1]), UINT64)),
            data=data, sha256=sha))
    return chunks


@pytest.mark.slow
def test_fuzzed_upload_streams_get_a_summary_or_a_client_error(env):
    stub = env["stub"]

    @FUZZ
    @given(stream=chunk_streams())
    def check(stream):
        job = stub.CreateJob(pb.CreateJobRequest(spec=tiny_upload_spec()), timeout=CALL_TIMEOUT).id
        chunks = [pb.FrameChunk(**{**fields, "job_id": job if fields["job_id"] is None else fields["job_id"]})
                  for fields in stream]
        try:
            summary = call_ok_or_client_error(lambda: stub.UploadFrames(iter(chunks), timeout=CALL_TIMEOUT))
            if summary is not None:
                assert summary.job_id
        finally:
            discard(env, job)

    check()


CREATE_JOB = "/internal_inpaint.v1.Inpaint/CreateJob"


def test_random_bytes_as_a_create_job_request_get_a_job_or_a_client_error(env):
    create = env["channel"].unary_unary(CREATE_JOB, request_serializer=lambda b: b,
                                        response_deserializer=pb.Job.FromString)
    valid = pb.CreateJobRequest(spec=tiny_upload_spec()).SerializeToString()

    @FUZZ
    @given(raw=st.one_of(st.binary(max_size=200),
                         st.binary(max_size=len(valid)).map(lambda b: valid[:len(b)]),  # truncated
                         st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255))
                         .map(lambda p: valid[:p[0]] + bytes([p[1]]) + valid[p[0] + 1:])))  # one byte changed
    def check(raw):
        job = call_ok_or_client_error(lambda: create(raw, timeout=CALL_TIMEOUT))
        if job is not None and job.id:
            discard(env, job.id)

    check()


def test_after_the_fuzzing_the_server_still_serves(env):
    client, channel = env["client"], env["channel"]
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service=""),
                        timeout=CALL_TIMEOUT).status == health_pb2.HealthCheckResponse.SERVING
    assert client.server_info().api == "internal_inpaint.v1"
    frames, early = env["frames"], env["early"]
    assert client.wait(early, timeout=120).state == pb.DONE
    results = client.download(early)
    assert sorted(results) == sorted(frames)
    assert all(outside_matte_identical(frames[f], results[f]) for f in frames)
    assert all(math.isfinite(float(results[f].astype("float32").sum())) for f in frames)
