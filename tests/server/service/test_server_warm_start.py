"""Warm starts on the server: a finished job's network seeds the next job of the same shot, which the server
recognises by the plate's fingerprints (each job has its own work folder in the spool)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintServiceError
from tests.server_support import FIRST_FRAME, outside_matte_identical, tiny_frames

SHORT = dict(preset="draft", iterations=4)


def _run(client, frames, **options) -> tuple[pb.Job, list[str], list[str]]:
    """Submit, wait; the job and its stage messages and warnings."""
    events: list[pb.JobEvent] = []
    job = client.wait(client.submit_arrays(frames, list("RGBA"), **SHORT, **options), events.append, timeout=180)
    assert job.state == pb.DONE, job.message
    stages = [e.state_change.message for e in events if e.WhichOneof("detail") == "state_change"]
    warnings = [e.notice.text for e in events if e.WhichOneof("detail") == "notice"]
    return job, stages, warnings


def _grown(frames: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The same frames with the matte in A grown by a pixel each side: a re-press after widening the roto."""
    out = {}
    for frame, pixels in frames.items():
        alpha = pixels[..., 3] > 0.5
        grown = alpha | np.roll(alpha, 1, axis=0) | np.roll(alpha, -1, axis=0) | np.roll(alpha, 1, axis=1)
        out[frame] = pixels.copy()
        out[frame][..., 3] = grown
    return out


def test_a_re_press_with_a_grown_matte_starts_from_the_finished_job(client):
    frames = tiny_frames()
    first, stages, _ = _run(client, frames)
    assert any(s.startswith("Starting cold: there is no finished run") for s in stages), stages
    second, stages, warnings = _run(client, _grown(frames))
    started = [s for s in stages if s.startswith("Warm start from")]
    assert len(started) == 1 and f"/{first.id}/work/" in started[0] and "5 frames unchanged" in started[0], stages
    assert not warnings
    results = client.download(second.id)
    grown = _grown(frames)
    assert all(outside_matte_identical(grown[f], results[f]) for f in frames)

    _, stages, _ = _run(client, frames, warm_start="off")
    assert not any(s.startswith(("Warm start", "Starting cold")) for s in stages), stages


def test_a_changed_plate_starts_cold_and_says_why_unless_forced(client):
    frames = tiny_frames()
    first, _, _ = _run(client, frames)
    changed = {f: p.copy() for f, p in frames.items()}
    changed[FIRST_FRAME + 2][..., :3] *= np.float16(0.5)  # one frame regraded
    _, stages, warnings = _run(client, changed)
    assert not any(s.startswith("Warm start") for s in stages), stages
    assert any(w.startswith("Starting cold: the plate's pixels changed in 1 of the frames") for w in warnings), \
        warnings

    _, stages, _ = _run(client, changed, warm_start_job=first.id)
    assert any(s.startswith("Warm start from") and f"/{first.id}/work/" in s and "(forced)" in s for s in stages), \
        stages


def test_another_shot_starts_cold_quietly_and_force_takes_the_newest_fitting_network(client):
    first, _, _ = _run(client, tiny_frames(seed=0))
    _, stages, warnings = _run(client, tiny_frames(seed=5))
    assert "Starting cold: none of the 1 finished runs considered was trained on this plate" in stages, stages
    assert not warnings
    _, stages, _ = _run(client, tiny_frames(seed=7), warm_start="force")
    assert any(s.startswith("Warm start from") and "(forced)" in s for s in stages), stages
    assert not any(f"/{first.id}/" in s for s in stages if s.startswith("Warm start"))  # the newest, not the first


def test_a_warm_start_job_must_be_a_finished_job_of_this_server(client):
    with pytest.raises(InpaintServiceError, match="warm_start_job: no job 'nosuchjob' on this server") as info:
        client.submit_arrays(tiny_frames(), list("RGBA"), **SHORT, warm_start_job="nosuchjob")
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    spec = pb.JobSpec(upload=pb.UploadSource(frames=[FIRST_FRAME], layout=pb.FrameLayout(
        width=48, height=32, channels=list("RGBA"), pixel_type=pb.HALF)))
    waiting = client.create_job(spec).id  # UPLOADING: not a finished job
    with pytest.raises(InpaintServiceError, match=f"job {waiting} is UPLOADING, not DONE"):
        client.submit_arrays(tiny_frames(), list("RGBA"), **SHORT, warm_start_job=waiting)
    with pytest.raises(ValueError, match="warm_start must be one of auto, off, force"):
        client.submit_arrays(tiny_frames(), list("RGBA"), warm_start="always")


def test_a_deleted_job_no_longer_seeds_the_next(client):
    frames = tiny_frames()
    first, _, _ = _run(client, frames)
    client.delete_job(first.id)
    _, stages, _ = _run(client, frames)
    assert not any(s.startswith("Warm start") for s in stages), stages
    assert any(s.startswith("Starting cold: there is no finished run") for s in stages), stages
