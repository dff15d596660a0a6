"""Reference frames (clean plates painted by an artist): kept exactly, learned from, and refused when wrong."""

from __future__ import annotations

import os

import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_core.errors import FrameMismatchError, ImageReadError, InputError, MaskError, NonFiniteError
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import JobSpec, run_job
from inpaint_core.jobs.windowed import WindowedPlan, create_plan, load_plan, window_job
from inpaint_core.masks import ReferenceSpec, Shot, ShotSpec
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main

TINY = TrainSettings(width=4, two_stage=False, iterations=3, batch_size=2, crop_size=16, checkpoint_every=0)
FIRST = 1001


def _shot(tmp_path, frames: int = 4, pixel_type: str = "half"):
    clip = make_clip(frames=frames, width=64, height=40, seed=3, occluder="pinned")
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"), pixel_type=pixel_type)
    return clip


def _write_reference(tmp_path, clip, t: int, name: str = "painted", pixel_type: str = "half",
                     channels=("R", "G", "B", "A"), size=None, values=None) -> str:
    """Frame t's ground truth (the clean background) as a painted frame, alpha the plate's."""
    height, width = size or clip.background.shape[1:3]
    colour = clip.background[t] if values is None else values
    planes = np.concatenate([colour[:height, :width], clip.mask[t][:height, :width, None].astype(np.float32)],
                            axis=-1)[..., : len(channels)]
    spec = oiio.ImageSpec(width, height, len(channels), pixel_type)
    spec.channelnames = channels
    path = str(tmp_path / f"{name}.{FIRST + t}.exr")
    write_frame(path, planes.astype(np.float16 if pixel_type == "half" else np.float32), spec, overwrite=True)
    return path


def _spec(tmp_path, *references: ReferenceSpec) -> ShotSpec:
    return ShotSpec(str(tmp_path / "plate.####.exr"), references=references)


def test_a_reference_keeps_its_painted_pixels_exactly_and_the_plate_elsewhere(tmp_path):
    clip = _shot(tmp_path)
    painted = _write_reference(tmp_path, clip, 1)
    result = run_job(JobSpec(_spec(tmp_path, ReferenceSpec(FIRST + 1, painted)), str(tmp_path / "out" / "c.####.exr"),
                             TINY, device="cpu"))
    out = read_frame(result.outputs[1]).pixels
    plate = read_frame(str(tmp_path / "plate.1002.exr")).pixels
    reference = read_frame(painted).pixels
    hole = clip.mask[1]
    assert out.dtype == np.float16
    assert np.array_equal(out[..., :3][hole].view(np.uint16), reference[..., :3][hole].view(np.uint16))
    assert np.array_equal(out[~hole].view(np.uint16), plate[~hole].view(np.uint16))
    assert np.array_equal(out[..., 3].view(np.uint16), plate[..., 3].view(np.uint16))  # alpha is the plate's


def test_a_reference_matte_paints_part_of_the_hole_and_the_fill_does_the_rest(tmp_path):
    clip = _shot(tmp_path)
    painted = _write_reference(tmp_path, clip, 2)
    matte = np.zeros(clip.mask[2].shape, np.float32)
    matte[:, :32] = 1.0  # the left half was painted
    spec = oiio.ImageSpec(64, 40, 1, "half")
    spec.channelnames = ("A",)
    matte_path = str(tmp_path / "painted_matte.1003.exr")
    write_frame(matte_path, matte[..., None].astype(np.float16), spec)
    shot = Shot(_spec(tmp_path, ReferenceSpec(FIRST + 2, painted, matte_path)))
    plate, hole = shot.read(FIRST + 2)
    assert np.array_equal(hole, clip.mask[2] & (matte == 0))  # what is left to fill
    left = clip.mask[2] & (matte > 0)
    assert np.array_equal(plate.pixels[..., :3][left], read_frame(painted).pixels[..., :3][left])
    assert shot.read(FIRST + 1)[1].sum() == clip.mask[1].sum()  # other frames as they were


def test_the_command_line_takes_references_and_refuses_to_write_over_one(tmp_path, capsys):
    clip = _shot(tmp_path, frames=3)
    painted = _write_reference(tmp_path, clip, 0, name="clean")
    args = ["run", "--input", str(tmp_path / "plate.####.exr"), "--preset", "draft", "--iterations", "2",
            "--quiet", "--reference", f"{FIRST}={painted}"]
    assert main(args + ["--output", str(tmp_path / "clean.####.exr")]) != 0  # clean.1001.exr is the reference
    assert "would overwrite input files" in capsys.readouterr().err
    assert main(args + ["--output", str(tmp_path / "out" / "c.####.exr")]) == 0
    out = read_frame(str(tmp_path / "out" / "c.1001.exr")).pixels
    assert np.array_equal(out[..., :3][clip.mask[0]], read_frame(painted).pixels[..., :3][clip.mask[0]])
    assert main(args[:-1] + ["1001:clean.exr", "--output", str(tmp_path / "o2" / "c.####.exr")]) != 0
    assert "FRAME=IMAGE" in capsys.readouterr().err


def _refused(tmp_path, reference: ReferenceSpec, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        run_job(JobSpec(_spec(tmp_path, reference), str(tmp_path / "out" / "c.####.exr"), TINY, device="cpu"))
    assert not os.path.exists(tmp_path / "out" / "c.1001.exr")


def test_a_reference_of_another_size_channel_set_or_pixel_type_is_refused_naming_it(tmp_path):
    clip = _shot(tmp_path)
    small = _write_reference(tmp_path, clip, 1, name="small", size=(32, 64))
    _refused(tmp_path, ReferenceSpec(FIRST + 1, small), FrameMismatchError, r"small\.1002\.exr is 64x32")
    rgb = _write_reference(tmp_path, clip, 1, name="rgb", channels=("R", "G", "B"))
    _refused(tmp_path, ReferenceSpec(FIRST + 1, rgb), FrameMismatchError, r"rgb\.1002\.exr has channels R,G,B")
    full = _write_reference(tmp_path, clip, 1, name="float", pixel_type="float")
    _refused(tmp_path, ReferenceSpec(FIRST + 1, full), FrameMismatchError, r"float\.1002\.exr is float")


def test_a_reference_outside_the_range_twice_for_a_frame_or_for_a_frame_without_hole_is_refused(tmp_path):
    clip = _shot(tmp_path)
    painted = _write_reference(tmp_path, clip, 1)
    _refused(tmp_path, ReferenceSpec(2001, painted), InputError, "frame 2001, which is not among")
    with pytest.raises(InputError, match="two references"):
        Shot(_spec(tmp_path, ReferenceSpec(FIRST + 1, painted), ReferenceSpec(FIRST + 1, painted)))
    plate = read_frame(str(tmp_path / "plate.1003.exr"))
    plate.pixels[..., 3] = 0  # frame 1003 without a hole
    write_frame(str(tmp_path / "plate.1003.exr"), plate.pixels, plate.spec, overwrite=True)
    _refused(tmp_path, ReferenceSpec(FIRST + 2, painted), InputError, "frame 1003, which has no hole")


def test_a_reference_with_nan_in_its_painted_pixels_or_unreadable_is_refused(tmp_path):
    clip = _shot(tmp_path)
    bad = clip.background[1].copy()
    bad[clip.mask[1]] = np.nan
    nan = _write_reference(tmp_path, clip, 1, name="nan", values=bad)
    _refused(tmp_path, ReferenceSpec(FIRST + 1, nan), NonFiniteError, r"nan\.1002\.exr has NaN")
    broken = tmp_path / "broken.1002.exr"
    broken.write_bytes(b"not an exr at all")
    _refused(tmp_path, ReferenceSpec(FIRST + 1, str(broken)), ImageReadError, "broken")
    empty = np.zeros((40, 64, 1), np.float16)
    spec = oiio.ImageSpec(64, 40, 1, "half")
    spec.channelnames = ("A",)
    write_frame(str(tmp_path / "none.exr"), empty, spec)
    painted = _write_reference(tmp_path, clip, 1)
    _refused(tmp_path, ReferenceSpec(FIRST + 1, painted, str(tmp_path / "none.exr")), MaskError, "covers none")


def test_a_windowed_plan_keeps_its_references_and_each_window_takes_those_in_its_range(tmp_path):
    clip = _shot(tmp_path, frames=6)
    early, late = _write_reference(tmp_path, clip, 0), _write_reference(tmp_path, clip, 5)
    plan = WindowedPlan(_spec(tmp_path, ReferenceSpec(FIRST, early), ReferenceSpec(FIRST + 5, late)),
                        str(tmp_path / "out" / "c.####.exr"), window_size=3, overlap=1)
    create_plan(str(tmp_path / "job"), plan)
    loaded = load_plan(str(tmp_path / "job"))
    assert loaded.shot.references == (ReferenceSpec(FIRST, early), ReferenceSpec(FIRST + 5, late))
    first = window_job(str(tmp_path / "job"), loaded, 0).shot
    last = window_job(str(tmp_path / "job"), loaded, len(loaded.windows) - 1).shot
    assert first.references == (ReferenceSpec(FIRST, early),)
    assert last.references == (ReferenceSpec(FIRST + 5, late),)


@pytest.mark.parametrize("text", ["1012", "x=a.exr", "1012=", "=a.exr"])
def test_a_malformed_reference_says_the_form(text):
    with pytest.raises(InputError, match="FRAME=IMAGE"):
        ReferenceSpec.parse(text)
    assert ReferenceSpec.parse("1012=a.exr,m.exr") == ReferenceSpec(1012, "a.exr", "m.exr")
