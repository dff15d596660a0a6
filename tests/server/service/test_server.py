"""The gRPC server end to end on loopback, through the client library: no mocks of gRPC."""

from __future__ import annotations

import os
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from inpaint_core.io.image_files import read_frame
from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintClient, InpaintServiceError, JobCancelled, result_channels
from server.service.errors import SpoolLocked
from tests.server_support import (
    ChildServer,
    client_for,
    local_server,
    outside_matte_identical,
    stall_write_env,
    tiny_frames,
)


@pytest.mark.parametrize("dtype", [np.float16, np.float32], ids=["half", "float"])
def test_round_trip_keeps_pixels_outside_the_matte_bit_exact(client, dtype):
    frames = tiny_frames(dtype)
    job_id = client.submit_arrays(frames, ["R", "G", "B", "A"], preset="draft", iterations=8)
    job = client.wait(job_id, timeout=120)
    assert job.state == pb.DONE and job.frames_written == len(frames)
    results = client.download(job_id)
    assert sorted(results) == sorted(frames)
    for frame, original in frames.items():
        assert outside_matte_identical(original, results[frame]), frame
        hole = original[..., 3].astype(np.float32) > 0.5
        assert not np.array_equal(results[frame][hole], original[hole])  # the hole was filled, not copied


@pytest.mark.parametrize("mode, progressive", [("on", True), ("off", False), ("auto", False)])
def test_the_progressive_mode_reaches_the_job(client, mode, progressive):
    frames = tiny_frames()
    job_id = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=4, progressive=mode)
    events = []
    job = client.wait(job_id, events.append, timeout=120)
    wanted = {"on": pb.PROGRESSIVE_ON, "off": pb.PROGRESSIVE_OFF, "auto": pb.PROGRESSIVE_AUTO}[mode]
    assert job.state == pb.DONE and job.spec.training.progressive == wanted
    stages = [e.state_change.message for e in events if e.WhichOneof("detail") == "state_change"]
    assert any(m.startswith("Progressive mode") for m in stages) == progressive, stages
    results = client.download(job_id)
    assert all(outside_matte_identical(frames[f], results[f]) for f in frames)


@pytest.mark.parametrize("dtype", [np.float16, np.float32], ids=["half", "float"])
def test_an_upload_job_with_the_seen_channel_downloads_it_after_the_uploaded_channels(client, dtype):
    """fill='propagation' trains nothing: a few seconds. The result has the uploaded channels, bit-exact outside the
    matte, then inpaint.seen: 1 where another frame showed the hole's pixel, 0 where none did and outside."""
    clip = make_clip(frames=5, width=48, height=32, occluder="pinned")
    rgba = np.concatenate([clip.plate, clip.mask[..., None].astype(np.float32)], axis=-1).astype(dtype)
    frames = {1001 + t: rgba[t] for t in range(len(rgba))}
    job_id = client.submit_arrays(frames, list("RGBA"), fill="propagation", seen_channel=True)
    events = []
    job = client.wait(job_id, events.append, timeout=120)
    assert job.state == pb.DONE and job.spec.training.fill == pb.FILL_PROPAGATION and job.spec.training.seen_channel
    finished = events[-1].finished  # the propagation's time and reach, and the fill time per frame
    assert finished.propagation_seconds > 0 and finished.fill_seconds_per_frame > 0
    assert 0.5 < finished.seen_fraction < 1.0 and finished.iterations == 0
    assert result_channels(job) == ["R", "G", "B", "A", "inpaint.seen"]
    results = client.download(job_id)
    for t, frame in enumerate(sorted(frames)):
        result = results[frame]
        assert result.shape == (32, 48, 5) and result.dtype == dtype
        assert outside_matte_identical(frames[frame], result[..., :4]), frame
        seen, hole, hidden = result[..., 4].astype(np.float32), clip.mask[t], clip.hidden[t] & clip.mask[t]
        assert set(np.unique(seen)) <= {0.0, 1.0}
        assert not seen[~hole].any()
        assert seen[hidden].mean() < 0.5 and seen[hole & ~hidden].mean() > 0.5, frame


def test_without_the_seen_channel_the_result_has_the_uploaded_channels(client):
    frames = tiny_frames()
    job_id = client.submit_arrays(frames, list("RGBA"), fill="propagation")
    job = client.wait(job_id, timeout=120)
    assert job.spec.training.fill == pb.FILL_PROPAGATION and not job.spec.training.seen_channel
    results = client.download(job_id)
    assert all(results[f].shape == frames[f].shape and outside_matte_identical(frames[f], results[f]) for f in frames)


def test_events_arrive_in_order_with_progress_and_previews(client):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=12, preview_every=4)
    events = []
    client.wait(job_id, events.append, previews=True, timeout=120)
    numbered = [e for e in events if e.WhichOneof("detail") != "preview"]
    assert [e.sequence for e in numbered] == list(range(1, len(numbered) + 1))
    states = [e.state for e in numbered]
    order = [pb.UPLOADING, pb.QUEUED, pb.TRAINING, pb.INFERRING, pb.DONE]
    assert sorted(set(states), key=order.index) == order
    assert states == sorted(states, key=order.index)  # never goes back
    iterations = [e.training.iteration for e in numbered if e.WhichOneof("detail") == "training"]
    assert iterations == sorted(iterations) and iterations[-1] == 12
    written = [e.frame_written.done for e in numbered if e.WhichOneof("detail") == "frame_written"]
    assert written == list(range(1, 6))
    previews = [e for e in events if e.WhichOneof("detail") == "preview"]
    assert previews and all(p.preview.png.startswith(b"\x89PNG") for p in previews)
    assert numbered[-1].WhichOneof("detail") == "finished"


def test_a_late_watcher_replays_from_any_sequence(client):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=4)
    client.wait(job_id, timeout=120)
    everything = list(client.watch(job_id))
    tail = list(client.watch(job_id, after_sequence=3))
    assert [e.sequence for e in tail] == [e.sequence for e in everything[3:]]


def test_cancel_mid_training(client):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=100_000)
    for event in client.watch(job_id):
        if event.WhichOneof("detail") == "training" and event.training.iteration >= 3:
            break
    job = client.cancel(job_id)
    assert job.state == pb.CANCELLED and "cancelled" in job.message.lower()
    with pytest.raises(JobCancelled):
        client.wait(job_id, timeout=30)
    with pytest.raises(Exception) as refused:
        client.download(job_id)
    assert refused.value.code == grpc.StatusCode.CANCELLED


def test_two_clients_submit_and_watch_at_once(server):
    outcomes = {}

    def one_client(name, seed):
        with client_for(server) as client:
            frames = tiny_frames(seed=seed)
            job_id = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=6, name=name)
            client.wait(job_id, timeout=180)
            results = client.download(job_id)
            outcomes[name] = all(outside_matte_identical(frames[f], results[f]) for f in frames)

    threads = [threading.Thread(target=one_client, args=(f"client{i}", i)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert outcomes == {"client0": True, "client1": True}


def test_a_watcher_that_hangs_up_does_not_hurt_the_job(client):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=10)
    stream = client.watch(job_id)
    next(stream)
    stream.close()  # the client goes away mid-stream
    assert client.wait(job_id, timeout=120).state == pb.DONE


@pytest.mark.slow
def test_more_watchers_than_threads_still_leave_room_for_calls_and_see_every_event(tmp_path):
    running = local_server(str(tmp_path / "spool"), workers=8)  # at most 6 watchers hold a thread
    try:
        with client_for(running, timeout=10.0) as client:
            long_job = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=100_000)
            queued = [client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=2)
                      for _ in range(9)]
            seen: dict[str, list[pb.JobEvent]] = {}
            outcomes: dict[str, str] = {}

            def watch(job_id: str) -> None:
                seen[job_id] = []
                try:
                    outcomes[job_id] = pb.JobState.Name(client.wait(job_id, seen[job_id].append, timeout=120).state)
                except JobCancelled:
                    outcomes[job_id] = "CANCELLED"

            watchers = [threading.Thread(target=watch, args=(j,)) for j in [long_job, *queued]]
            for thread in watchers:
                thread.start()
            time.sleep(1.0)  # ten watchers on eight threads
            assert client.get_job(long_job).state == pb.TRAINING  # answered: a thread was free (10 s timeout)
            assert client.cancel(long_job).state == pb.CANCELLED
            for thread in watchers:
                thread.join(120)
        assert outcomes == {long_job: "CANCELLED", **{j: "DONE" for j in queued}}
        for job_id, events in seen.items():  # watching by polling loses and repeats nothing
            assert [e.sequence for e in events] == list(range(1, len(events) + 1)), job_id
            assert events[-1].WhichOneof("detail") == "finished"
    finally:
        running.stop(grace=0)


def test_list_get_and_delete(client, server):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=2, name="shot010")
    client.wait(job_id, timeout=120)
    assert [j.id for j in client.list_jobs([pb.DONE])] == [job_id]
    assert client.get_job(job_id).spec.name == "shot010"
    folder = server.manager.spool.job_dir(job_id)
    assert os.path.isdir(folder)
    assert client.delete_job(job_id).bytes_freed > 0
    assert not os.path.exists(folder)
    assert client.list_jobs() == []


def test_path_mode_reads_and_writes_the_shared_filesystem(tmp_path):
    from inpaint_eval.synthetic import make_clip, write_exr_sequence

    root = tmp_path / "shows"
    (root / "plates").mkdir(parents=True)
    clip = make_clip(frames=4, width=48, height=32)
    write_exr_sequence(clip, str(root / "plates" / "plate.####.exr"))
    running = local_server(str(tmp_path / "spool"), allowed_roots=[str(root)])
    try:
        with client_for(running) as client:
            job_id = client.submit_paths(str(root / "plates" / "plate.####.exr"),
                                         str(root / "clean" / "clean.####.exr"), preset="draft", iterations=4)
            client.wait(job_id, timeout=120)
        outputs = sorted(os.listdir(root / "clean"))
        assert len([o for o in outputs if o.endswith(".exr")]) == 4
        first_plate = read_frame(str(root / "plates" / sorted(os.listdir(root / "plates"))[0]))
        first_clean = read_frame(str(root / "clean" / [o for o in outputs if o.endswith(".exr")][0]))
        assert first_clean.pixels.dtype == first_plate.pixels.dtype
    finally:
        running.stop(grace=0)


def test_a_path_job_with_the_seen_channel_writes_it_and_refuses_a_plate_that_has_one(tmp_path):
    from inpaint_eval.synthetic import write_exr_sequence

    root = tmp_path / "shows"
    (root / "plates").mkdir(parents=True)
    write_exr_sequence(make_clip(frames=4, width=48, height=32), str(root / "plates" / "plate.####.exr"))
    running = local_server(str(tmp_path / "spool"), allowed_roots=[str(root)])
    try:
        with client_for(running) as client:
            job_id = client.submit_paths(str(root / "plates" / "plate.####.exr"), str(root / "clean" / "c.####.exr"),
                                         fill="propagation", seen_channel=True)
            assert client.wait(job_id, timeout=120).spec.training.fill == pb.FILL_PROPAGATION
            assert read_frame(str(root / "clean" / "c.1001.exr")).channel_names == ("R", "G", "B", "A",
                                                                                      "inpaint.seen")
            with pytest.raises(InpaintServiceError, match="has one already") as info:  # a result, inpainted again
                client.submit_paths(str(root / "clean" / "c.####.exr"), str(root / "again" / "c.####.exr"),
                                    fill="propagation", seen_channel=True)
            assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        running.stop(grace=0)


@pytest.mark.slow
def test_sigkill_mid_training_then_restart_resumes_and_completes(tmp_path):
    spool = str(tmp_path / "spool")
    child = ChildServer(spool, "--checkpoint-every", "5").start()
    try:
        with InpaintClient(child.address, retries=2, backoff=0.05) as client:
            frames = tiny_frames()
            job_id = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=60)
            for event in client.watch(job_id):
                if event.WhichOneof("detail") == "training" and event.training.iteration >= 12:
                    break
        child.kill()
        child = ChildServer(spool, "--checkpoint-every", "5").start()
        with InpaintClient(child.address, retries=2, backoff=0.05) as client:
            events = []
            job = client.wait(job_id, events.append, timeout=180)
            assert job.state == pb.DONE and job.iteration == 60
            resumed = [e.state_change.message for e in events if e.WhichOneof("detail") == "state_change"
                       and e.state_change.message.startswith("Resuming")]
            assert resumed and int(resumed[-1].rsplit(" ", 1)[1]) >= 10  # from the checkpoint, not from scratch
            results = client.download(job_id)
            assert all(outside_matte_identical(frames[f], results[f]) for f in frames)
    finally:
        child.close()


def _visible_outputs_are_whole(folder, plate_folder) -> list[str]:
    """Every non-hidden file in ``folder`` decodes in full and keeps its plate's pixels outside the matte."""
    names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    for name in names:
        result = read_frame(os.path.join(folder, name)).pixels  # a cut-short file raises here
        plate = read_frame(os.path.join(plate_folder, name.replace("clean", "plate"))).pixels
        assert result.shape == plate.shape and outside_matte_identical(plate, result), name
    return names


@pytest.mark.slow
def test_sigkill_while_writing_results_leaves_no_half_frame_and_the_job_completes(tmp_path):
    from inpaint_eval.synthetic import make_clip, write_exr_sequence

    root = tmp_path / "shows"
    (root / "plates").mkdir(parents=True)
    write_exr_sequence(make_clip(frames=8, width=64, height=48), str(root / "plates" / "plate.####.exr"))
    clean, marker = root / "clean", tmp_path / "stalled"
    spool = str(tmp_path / "spool")
    # The 4th frame's write stops half-way through its temp file, and the server is killed there.
    child = ChildServer(spool, "--allow-root", str(root), env=stall_write_env(4, str(marker))).start()
    try:
        with InpaintClient(child.address, retries=2, backoff=0.05) as client:
            job_id = client.submit_paths(str(root / "plates" / "plate.####.exr"), str(clean / "clean.####.exr"),
                                         preset="draft", iterations=2)
            deadline = time.monotonic() + 120
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert marker.exists(), "the server never reached the 4th frame"
        child.kill()
        hidden = [n for n in os.listdir(clean) if n.startswith(".")]
        assert len(hidden) == 1 and ".partial-" in hidden[0]  # the cut-short frame, only as a hidden temp file
        assert len(_visible_outputs_are_whole(clean, root / "plates")) == 3

        child = ChildServer(spool, "--allow-root", str(root)).start()
        with InpaintClient(child.address, retries=2, backoff=0.05) as client:
            assert client.wait(job_id, timeout=180).state == pb.DONE
        assert len(_visible_outputs_are_whole(clean, root / "plates")) == 8
        assert [n for n in os.listdir(clean) if n.startswith(".")] == []  # the killed writer's temp file is gone
    finally:
        child.close()


@pytest.mark.slow
def test_sigterm_drains_and_the_job_resumes_at_the_next_start(tmp_path):
    spool = str(tmp_path / "spool")
    child = ChildServer(spool, "--checkpoint-every", "1000").start()
    try:
        with InpaintClient(child.address, retries=1, backoff=0.05) as client:
            job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=40)
            for event in client.watch(job_id):
                if event.WhichOneof("detail") == "training" and event.training.iteration >= 5:
                    break
        assert child.terminate() == 0
        child = ChildServer(spool).start()
        with InpaintClient(child.address, retries=2, backoff=0.05) as client:
            events = []
            assert client.wait(job_id, events.append, timeout=180).state == pb.DONE
            assert any(e.state_change.message.startswith("Resuming") for e in events
                       if e.WhichOneof("detail") == "state_change")
    finally:
        child.close()


def test_a_second_server_on_the_same_spool_is_refused(server):
    with pytest.raises(SpoolLocked, match="in use by another server"):
        local_server(server.manager.spool.root)


def test_health_and_reflection(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "internal_inpaint.v1.Inpaint"):
        status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    assert "internal_inpaint.v1.Inpaint" in [s.name for s in answer.list_services_response.service]
    channel.close()


def test_retention_deletes_the_oldest_finished_jobs(tmp_path):
    spool = str(tmp_path / "spool")
    running = local_server(spool)
    try:
        with client_for(running) as client:
            ids = []
            for _ in range(3):
                ids.append(client.submit_arrays(tiny_frames(frames=2), list("RGBA"), preset="draft", iterations=1))
                client.wait(ids[-1], timeout=120)
    finally:
        running.stop(grace=0)
    running = local_server(spool, max_finished_jobs=1)
    try:
        with client_for(running) as client:
            assert [j.id for j in client.list_jobs()] == ids[-1:]
        assert not os.path.exists(running.manager.spool.job_dir(ids[0]))
    finally:
        running.stop(grace=0)


def test_a_job_can_switch_the_stabilisation_regulariser_on(client, server):
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=2, stabilisation=0.2)
    assert client.wait(job_id, timeout=120).state == pb.DONE
    assert client.get_job(job_id).spec.training.stabilisation == pytest.approx(0.2)


def test_serve_logs_a_job_as_a_few_lines_not_one_per_iteration(client, caplog):
    caplog.set_level("INFO", logger="internal_inpaint.server")
    started = time.monotonic()
    job_id = client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=150, fill="paper")
    client.wait(job_id, timeout=300)
    seconds = time.monotonic() - started
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"job {job_id}:")]
    training = [line for line in lines if ": train: " in line]
    assert training[-1].startswith(f"job {job_id}: train: 150/150 it (100%)")
    assert len(training) <= 2 + seconds / 5  # the first, one every 5 s, the last
    assert any("write: 5/5 frames" in line for line in lines)
    assert any("Writing" in line for line in lines)  # the job's stages too
