"""Single-frame mask propagation: accuracy on a clip with known masks, determinism, errors, the job and the CLI."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import OpenImageIO as oiio
import pytest
import torch

from inpaint_core.errors import InputError, MaskError
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks.propagation import check_annotation, write_mattes
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.mask_propagation import MaskPropagator, PropagationSettings, propagate_masks
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main

# Small enough for seconds on 2 CPU cores; enough to learn a flat-coloured blob.
FAST = PropagationSettings(iterations=60, width=8, crop_size=64, batch_size=6, learning_rate=2e-3)
TINY_TRAINING = TrainSettings(width=8, two_stage=False, iterations=2, batch_size=2, crop_size=32, checkpoint_every=0)
# Measured: mean IoU 0.94 (min 0.91) over frames 1-7 from frame 0 after 150 iterations (0.60 after 60);
# copying frame 0's mask to every frame scores 0.05.
MIN_MEAN_IOU = 0.8


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1))


def _mean_iou(masks: np.ndarray, truth: np.ndarray, annotated: int) -> float:
    return float(np.mean([_iou(masks[t], truth[t]) for t in range(len(truth)) if t != annotated]))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These nets and crops are tiny: one thread is as fast alone and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def blob_clip():
    """A magenta blob crossing 70% of a panning frame in 8 frames: far from where it was annotated."""
    return make_clip(frames=8, width=96, height=64, seed=1, occluder="blob")


@pytest.fixture(scope="module")
def propagated(blob_clip):
    return propagate_masks(blob_clip.plate, 0, blob_clip.mask[0], replace(FAST, iterations=150))


@pytest.mark.slow
def test_propagation_follows_the_moving_object(blob_clip, propagated):
    assert propagated.shape == blob_clip.mask.shape and propagated.dtype == bool
    assert _mean_iou(propagated, blob_clip.mask, 0) > MIN_MEAN_IOU
    # The measure tells a learned propagation from none: a static copy of the annotation fails it.
    copied = np.repeat(blob_clip.mask[:1], len(blob_clip.mask), axis=0)
    assert _mean_iou(copied, blob_clip.mask, 0) < MIN_MEAN_IOU


def test_the_annotated_frame_keeps_the_users_mask_exactly(blob_clip):
    user = blob_clip.mask[3].copy()
    user[10:14, 2:6] = True  # a stray bit the net would never predict: it must survive
    masks = propagate_masks(blob_clip.plate, 3, user, replace(FAST, iterations=3, dilate=2))
    assert np.array_equal(masks[3], user)


def test_same_seed_same_masks_other_seed_other_weights(blob_clip):
    settings = replace(FAST, iterations=4)
    runs = [MaskPropagator(blob_clip.plate, 2, blob_clip.mask[2], replace(settings, seed=s)) for s in (5, 5, 6)]
    for run in runs:
        run.train()
    first, again, other = (run.probabilities(6) for run in runs)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.array_equal(runs[0].predict(), runs[1].predict())


def test_annotation_errors_say_what_to_fix():
    mask = np.zeros((8, 8), bool)
    with pytest.raises(MaskError, match="empty"):
        check_annotation(mask, 1001, [1001, 1002])
    with pytest.raises(MaskError, match="whole frame"):
        check_annotation(~mask, 1001, [1001, 1002])
    mask[2:4, 2:4] = True
    with pytest.raises(InputError, match="not among the shot's frames.*--mask-frame"):
        check_annotation(mask, 1005, [1001, 1002])
    with pytest.raises(InputError, match="iterations"):
        PropagationSettings(iterations=0)


def test_mattes_are_single_channel_half_in_the_plates_windows(tmp_path):
    spec = oiio.ImageSpec(12, 10, 4, oiio.HALF)
    spec.x, spec.y, spec.full_width, spec.full_height = 2, -1, 16, 8
    masks = np.zeros((2, 10, 12), bool)
    masks[1, 3:5, 4:9] = True
    pattern = write_mattes(masks, [7, 8], spec, str(tmp_path / "mattes"))
    matte = read_frame(pattern.replace("####", "0008"))
    assert matte.channel_names == ("A",) and matte.pixels.dtype == np.float16
    assert matte.data_window == (2, -1, 12, 10) and matte.display_window == (0, 0, 16, 8)
    assert np.array_equal(matte.pixels[..., 0] > 0.5, masks[1])
    assert (not os.listdir(tmp_path / "mattes") == []
            and all(not n.startswith(".") for n in os.listdir(tmp_path / "mattes")))


def _write_shot_with_one_matte(folder, clip, annotated_frame: int) -> tuple[str, str]:
    """RGB plates for every frame, a matte file for the annotated frame only."""
    write_exr_sequence(clip, str(folder / "plate.####.exr"), first_frame=1010, matte_in_alpha=False)
    spec = oiio.ImageSpec(clip.plate.shape[2], clip.plate.shape[1], 1, oiio.HALF)
    spec.channelnames = ("A",)
    write_frame(str(folder / f"matte.{annotated_frame:04d}.exr"),
                clip.mask[annotated_frame - 1010][..., None].astype(np.float16), spec)
    return str(folder / "plate.####.exr"), str(folder / "matte.####.exr")


class _Recorder(JobReporter):
    def __init__(self):
        self.stages, self.iterations = [], []

    def stage(self, message):
        self.stages.append(message)

    def progress(self, progress):
        self.iterations.append(progress.iteration)


def test_a_job_propagates_then_inpaints_with_those_mattes(tmp_path, blob_clip):
    plate, matte = _write_shot_with_one_matte(tmp_path, blob_clip, 1012)
    output = str(tmp_path / "out" / "clean.####.exr")
    reporter = _Recorder()
    spec = JobSpec(ShotSpec(plate, mask=matte, mask_frame=1012), output, TINY_TRAINING, device="cpu",
                   propagation=replace(FAST, iterations=20))
    result = run_job(spec, reporter)
    assert reporter.stages[0] == "Propagating the mask of frame 1012 through 8 frames"
    assert reporter.iterations[:20] == list(range(1, 21))
    mattes = tmp_path / "out" / ".internal_inpaint" / "clean.mattes"
    assert sorted(os.listdir(mattes)) == [f"matte.{f}.exr" for f in range(1010, 1018)]
    assert sorted(os.listdir(tmp_path)) == ["matte.1012.exr", "out"] + [f"plate.{f}.exr" for f in range(1010, 1018)]
    for t, (frame, path) in enumerate(zip(result.frames, result.outputs)):
        hole = read_frame(str(mattes / f"matte.{frame}.exr")).pixels[..., 0] > 0.5
        original, filled = read_frame(f"{tmp_path}/plate.{frame}.exr").pixels, read_frame(path).pixels
        assert np.array_equal(filled[~hole].view(np.uint16), original[~hole].view(np.uint16)), frame
        if frame == 1012:
            assert np.array_equal(hole, blob_clip.mask[t])


def test_mask_frame_outside_the_range_is_refused_before_any_work(tmp_path, blob_clip):
    plate, matte = _write_shot_with_one_matte(tmp_path, blob_clip, 1012)
    with pytest.raises(InputError, match="mask frame 1030 is not among.*1010-1017"):
        Shot(ShotSpec(plate, mask=matte, mask_frame=1030))
    with pytest.raises(InputError, match="1013"):  # only the annotated frame's matte is looked for
        Shot(ShotSpec(plate, mask=matte, mask_frame=1013))
    empty = np.zeros(blob_clip.mask[0].shape + (1,), np.float16)
    spec = read_frame(matte.replace("####", "1012")).spec
    write_frame(matte.replace("####", "1012"), empty, spec, overwrite=True)
    job = JobSpec(ShotSpec(plate, mask=matte, mask_frame=1012), str(tmp_path / "o.####.exr"), TINY_TRAINING)
    with pytest.raises(MaskError, match="frame 1012 is empty"):
        run_job(job)


def test_cli_run_with_mask_frame(tmp_path, blob_clip, monkeypatch, capsys):
    # The CLI uses the propagation's default settings; fewer iterations keep this test fast.
    monkeypatch.setattr("inpaint_core.jobs.run.PropagationSettings",
                        lambda seed: replace(FAST, iterations=10, seed=seed))
    plate, matte = _write_shot_with_one_matte(tmp_path, blob_clip, 1012)
    output = str(tmp_path / "out" / "clean.####.exr")
    code = main(["run", "-i", plate, "-m", matte, "--mask-frame", "1012", "-o", output, "--preset", "draft",
                 "--iterations", "2", "--width", "8", "--device", "cpu", "--quiet"])
    assert code == 0
    assert all(os.path.exists(output.replace("####", str(f))) for f in range(1010, 1018))
    assert os.path.isdir(tmp_path / "out" / ".internal_inpaint" / "clean.mattes")


def test_windowed_farm_jobs_refuse_a_single_frame_mask(tmp_path, blob_clip):
    from inpaint_core.jobs import windowed

    plate, matte = _write_shot_with_one_matte(tmp_path, blob_clip, 1012)
    plan = windowed.WindowedPlan(shot=ShotSpec(plate, mask=matte, mask_frame=1012), output=str(tmp_path / "o.####.exr"))
    with pytest.raises(InputError, match="--mask-frame.*not supported by windowed"):
        windowed.create_plan(str(tmp_path / "job"), plan)
    assert not os.path.exists(tmp_path / "job")
