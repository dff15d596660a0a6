"""Reference frames through the gRPC service: path mode under the allowed roots, and upload mode."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from inpaint_core.io.image_files import read_frame
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.client import InpaintServiceError
from tests.server_support import FIRST_FRAME, client_for, local_server, outside_matte_identical, tiny_frames


def _painted(frame: np.ndarray, value: float) -> np.ndarray:
    """The frame with its hole painted a flat colour, the plate's matte in A: paint all of the hole."""
    out = frame.copy()
    hole = frame[..., 3].astype(np.float32) > 0.5
    out[..., :3][hole] = value
    return out


def test_an_upload_job_keeps_its_uploaded_reference_exactly_in_the_hole(client):
    frames = tiny_frames()
    reference = _painted(frames[FIRST_FRAME + 2], 0.375)
    job_id = client.submit_arrays(frames, list("RGBA"), fill="propagation",
                                  references={FIRST_FRAME + 2: reference})
    job = client.wait(job_id, timeout=120)
    assert job.state == pb.DONE and list(job.spec.upload.reference_frames) == [FIRST_FRAME + 2]
    results = client.download(job_id)
    assert all(outside_matte_identical(frames[f], results[f]) for f in frames)
    hole = frames[FIRST_FRAME + 2][..., 3].astype(np.float32) > 0.5
    assert (results[FIRST_FRAME + 2][..., :3][hole] == np.float16(0.375)).all()
    other = frames[FIRST_FRAME + 1][..., 3].astype(np.float32) > 0.5
    assert not (results[FIRST_FRAME + 1][..., :3][other] == np.float16(0.375)).all()


def test_an_upload_job_waits_for_its_references_and_refuses_one_it_did_not_announce(client):
    frames = tiny_frames()
    spec_frames = {FIRST_FRAME: frames[FIRST_FRAME]}
    with pytest.raises(ValueError, match="References must have the frames' size"):
        client.submit_arrays(spec_frames, list("RGBA"), references={FIRST_FRAME: frames[FIRST_FRAME][:8]})
    with pytest.raises(InpaintServiceError, match="reference_frames"):
        client.submit_arrays(frames, list("RGBA"), references={FIRST_FRAME + 9: frames[FIRST_FRAME]})
    spec = pb.JobSpec(upload=pb.UploadSource(frames=sorted(frames), reference_frames=[FIRST_FRAME + 1],
                                             layout=pb.FrameLayout(width=48, height=32, channels=list("RGBA"),
                                                                   pixel_type=pb.HALF)))
    spec.training.fill = pb.FILL_PROPAGATION
    job_id = client.create_job(spec).id
    summary = client.upload_frames(job_id, frames)
    assert summary.state == pb.UPLOADING and not summary.frames_missing  # every plate frame, no reference yet
    assert client.get_job(job_id).state == pb.UPLOADING
    with pytest.raises(InpaintServiceError, match="has no reference in this job") as info:
        client.upload_frames(job_id, {}, references={FIRST_FRAME: frames[FIRST_FRAME]})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    summary = client.upload_frames(job_id, {}, references={FIRST_FRAME + 1: _painted(frames[FIRST_FRAME + 1], 0.5)})
    assert client.wait(job_id, timeout=120).state == pb.DONE


def test_a_path_job_takes_references_under_the_allowed_roots_only(tmp_path):
    root = tmp_path / "shows"
    (root / "plates").mkdir(parents=True)
    clip = make_clip(frames=4, width=48, height=32)
    write_exr_sequence(clip, str(root / "plates" / "plate.####.exr"))
    plate = read_frame(str(root / "plates" / "plate.1002.exr"))
    painted = plate.pixels.copy()
    painted[..., :3][clip.mask[1]] = 0.25
    from inpaint_core.io.image_files import write_frame
    write_frame(str(root / "plates" / "painted.1002.exr"), painted, plate.spec)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_frame(str(outside / "painted.1002.exr"), painted, plate.spec)
    running = local_server(str(tmp_path / "spool"), allowed_roots=[str(root)])
    try:
        with client_for(running) as client:
            with pytest.raises(InpaintServiceError, match="outside the server's allowed roots") as info:
                client.submit_paths(str(root / "plates" / "plate.####.exr"), str(root / "clean" / "c.####.exr"),
                                    fill="propagation", references={1002: str(outside / "painted.1002.exr")})
            assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(InpaintServiceError, match="not among the shot's frames"):
                client.submit_paths(str(root / "plates" / "plate.####.exr"), str(root / "clean" / "c.####.exr"),
                                    fill="propagation", references={1102: str(root / "plates" / "painted.1002.exr")})
            job_id = client.submit_paths(str(root / "plates" / "plate.####.exr"), str(root / "clean" / "c.####.exr"),
                                         fill="propagation",
                                         references={1002: str(root / "plates" / "painted.1002.exr")})
            assert client.wait(job_id, timeout=120).state == pb.DONE
        out = read_frame(str(root / "clean" / "c.1002.exr")).pixels
        assert (out[..., :3][clip.mask[1]] == np.float16(0.25)).all()
    finally:
        running.stop(grace=0)
