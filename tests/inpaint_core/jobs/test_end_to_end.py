"""Whole jobs on tiny clips: quality against a classical fill, and the bit-exact promise."""

from __future__ import annotations

import os

import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import JobSpec, run_job
from inpaint_core.masks.shot import ShotSpec
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.baselines import telea_fill
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main

TINY_TRAINING = TrainSettings(width=16, two_stage=False, iterations=300, batch_size=8, crop_size=64, learning_rate=2e-3)


@pytest.mark.slow
def test_fills_the_hole_better_than_per_frame_telea(tmp_path):
    clip = make_clip(frames=8, width=96, height=64, seed=1)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    result = run_job(JobSpec(ShotSpec(str(tmp_path / "plate.####.exr")), str(tmp_path / "out" / "clean.####.exr"),
                             TINY_TRAINING))

    ours = np.stack([read_frame(p).pixels[..., :3].astype(np.float32) for p in result.outputs])
    telea = np.stack([telea_fill(clip.plate[t], clip.mask[t]) for t in range(len(clip.plate))])
    ours_db = psnr_in_mask(ours, clip.background, clip.mask)
    telea_db = psnr_in_mask(telea, clip.background, clip.mask)
    # Measured 18.5 dB against 15.9 dB: the network remembers what the pan revealed.
    assert ours_db > telea_db + 1.0, (ours_db, telea_db)
    assert result.filled_frames == 8 and result.iterations == 300


def _plate_spec(pixel_type: str) -> oiio.ImageSpec:
    """An awkward but realistic header: extra channel, overscan data window, custom metadata."""
    spec = oiio.ImageSpec(40, 24, 5, pixel_type)
    spec.channelnames = ("R", "G", "B", "A", "Z")
    spec.x, spec.y = -4, 2  # data window offset inside a larger display window
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, 36, 30
    spec.attribute("compression", "piz")
    spec.attribute("studio:shot", "sq010_sh0040")
    spec.attribute("studio:exposure", 1.5)
    return spec


def _write_awkward_shot(folder, pixel_type: str, dtype) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(7)
    plates, holes = [], []
    for t, frame in enumerate(range(1, 5)):
        pixels = (rng.normal(0.3, 0.8, (24, 40, 5)) * np.array([1, 1, 1, 0.1, 50])).astype(dtype)
        pixels[0, 0, :3] = 60000.0  # near half's maximum; must come back untouched
        hole = np.zeros((24, 40), dtype=bool)
        hole[6:14, 5 + 4 * t : 13 + 4 * t] = True
        matte_spec = oiio.ImageSpec(_plate_spec(pixel_type))
        matte_spec.nchannels, matte_spec.channelnames = 1, ("A",)
        write_frame(str(folder / f"plate.{frame:04d}.exr"), pixels, _plate_spec(pixel_type))
        write_frame(str(folder / f"matte.{frame:04d}.exr"), hole[..., None].astype(dtype), matte_spec)
        plates.append(pixels)
        holes.append(hole)
    return plates, holes


@pytest.mark.parametrize("pixel_type,dtype,bits", [("half", np.float16, np.uint16), ("float", np.float32, np.uint32)])
@pytest.mark.parametrize("fill", ["guided", "paper", "propagation"])
@pytest.mark.slow
def test_pixels_outside_the_matte_are_bit_identical(tmp_path, pixel_type, dtype, bits, fill):
    plates, holes = _write_awkward_shot(tmp_path, pixel_type, dtype)
    spec = JobSpec(
        ShotSpec(str(tmp_path / "plate.####.exr"), mask=str(tmp_path / "matte.####.exr")),
        str(tmp_path / "out" / "clean.####.exr"),
        TrainSettings(width=4, two_stage=True, iterations=3, batch_size=2, crop_size=16),
        fill=fill,
        seen_channel=fill == "guided",  # the extra channel goes after the plate's, which stay as they are
    )
    result = run_job(spec)

    for path, plate, hole in zip(result.outputs, plates, holes):
        out = read_frame(path)
        assert out.pixels.dtype == dtype
        if fill == "guided":
            assert out.channel_names[5:] == ("inpaint.seen",) and not out.pixels[..., 5][~hole].any()
            out.pixels = out.pixels[..., :5]
            out.spec.nchannels, out.spec.channelnames = 5, out.channel_names[:5]
        same = out.pixels.view(bits) == plate.view(bits)
        assert same[~hole].all(), "a pixel outside the matte changed"
        assert same[..., 3:].all(), "alpha or Z changed inside the hole"
        assert not same[hole][:, :3].all(), "the hole was not filled"
        assert np.isfinite(out.pixels).all()
        assert out.channel_names == ("R", "G", "B", "A", "Z")
        assert out.data_window == (-4, 2, 40, 24) and out.display_window == (0, 0, 36, 30)
        assert out.spec.getattribute("studio:shot") == "sq010_sh0040"
        assert out.spec.getattribute("studio:exposure") == 1.5
        assert out.spec.getattribute("compression") == "piz"


@pytest.mark.slow
def test_command_line_run_with_frame_step_and_summary(tmp_path, capsys):
    clip = make_clip(frames=6, width=48, height=32, seed=2)
    write_exr_sequence(clip, str(tmp_path / "plate.%04d.exr"))
    out = tmp_path / "clean.@@@@.exr"
    code = main(["run", "--input", str(tmp_path / "plate.####.exr"), "--output", str(out),
                 "--frames", "1001-1005x2", "--preset", "draft", "--iterations", "3", "--quiet"])
    assert code == 0
    written = sorted(os.listdir(tmp_path))
    assert [n for n in written if n.startswith("clean.")] == ["clean.1001.exr", "clean.1003.exr", "clean.1005.exr"]
    err = capsys.readouterr().err
    assert "3 frames written" in err and "3 iterations" in err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for option in ("--input", "--mask", "--frames", "--output", "--mask-channel", "--preset", "--iterations",
                   "--device", "--resume", "--overwrite", "--nonfinite", "exit codes"):
        assert option in text
