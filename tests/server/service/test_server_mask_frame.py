"""A single-frame mask through the gRPC service: the field's check, and a whole job on loopback."""

from __future__ import annotations

import os
from dataclasses import replace

import grpc
import numpy as np
import pytest
import torch

from inpaint_core.io.image_files import read_frame
from inpaint_core.training.mask_propagation import PropagationSettings
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintServiceError
from tests.server_support import FIRST_FRAME, tiny_frames

# The server uses the propagation's default settings; fewer iterations keep the test fast.
_FAST = PropagationSettings(iterations=20, width=8, crop_size=64, learning_rate=2e-3)


@pytest.fixture
def one_thread():
    """Tiny nets: one torch thread is as fast alone and far faster on a busy machine (the server runs in-process)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_job_with_mask_frame_inpaints_the_propagated_mattes(client, server, monkeypatch, one_thread):
    monkeypatch.setattr("inpaint_core.jobs.run.PropagationSettings", lambda seed: replace(_FAST, seed=seed))
    frames = tiny_frames()
    annotated = FIRST_FRAME + 2
    for frame, pixels in frames.items():  # only the annotated frame's matte may matter
        if frame != annotated:
            pixels[..., 3] = 0
    job_id = client.submit_arrays(frames, list("RGBA"), preset="draft", iterations=4, mask_frame=annotated)
    job = client.wait(job_id, timeout=180)
    assert job.state == pb.DONE and job.spec.matte.mask_frame == annotated
    results = client.download(job_id)
    mattes = os.path.join(server.manager.spool.job_dir(job_id), "work", "clean.mattes", "matte.{}.exr")
    for frame, original in frames.items():
        hole = read_frame(mattes.format(frame)).pixels[..., 0] > 0.5
        if frame == annotated:
            assert np.array_equal(hole, original[..., 3].astype(np.float32) > 0.5)
        result = results[frame]
        assert np.array_equal(result[~hole].view(np.uint16), original[~hole].view(np.uint16)), frame
        if hole.any():
            assert not np.array_equal(result[hole], original[hole]), frame  # filled, not copied


def test_mask_frame_outside_the_jobs_frames_is_invalid(client):
    with pytest.raises(InpaintServiceError) as refused:
        client.submit_arrays(tiny_frames(), list("RGBA"), preset="draft", iterations=2, mask_frame=FIRST_FRAME + 50)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "matte.mask_frame" in refused.value.message and str(FIRST_FRAME + 50) in refused.value.message
