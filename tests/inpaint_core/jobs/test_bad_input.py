"""Bad input, refused early and clearly: the `run` command and `run_job` on broken shots.

Every case builds a tiny shot in tmp_path and runs the real command line with a
two-iteration draft preset, so a run that does reach training takes about a
second. A refused run must exit with its documented code (2 input, 3 output,
4 checkpoint), say on one `error:` line what is wrong and which file or frame,
and leave nothing behind: no output frame, no hidden '.partial' temp file, and
inputs (or existing outputs) byte-for-byte as they were.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_core.errors import (
    CheckpointError,
    FrameMismatchError,
    ImageReadError,
    InputError,
    MaskError,
    NonFiniteError,
    OutputError,
    SequenceError,
)
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import WORK_FOLDER, JobSpec, run_job
from inpaint_core.masks.shot import ShotSpec
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main

FIRST = 1001
FRAMES = 4
WIDTH, HEIGHT = 48, 32
FAST = ["--preset", "draft", "--iterations", "2", "--quiet"]
TINY_TRAINING = TrainSettings(width=8, two_stage=False, iterations=2, batch_size=2, crop_size=32)
EXIT_INPUT, EXIT_OUTPUT, EXIT_CHECKPOINT = 2, 3, 4


# -- building shots --------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _clip(frames: int = FRAMES):
    return make_clip(frames=frames, width=WIDTH, height=HEIGHT, seed=3)


def clip_rgba(frames: int = FRAMES) -> list[np.ndarray]:
    """Fresh (H, W, 4) float32 frames of a panning clip, the occluder's matte in alpha."""
    clip = _clip(frames)
    return [np.concatenate([clip.plate[t], clip.mask[t][..., None].astype(np.float32)], axis=-1) for t in range(frames)]


def clip_matte(frames: int = FRAMES) -> list[np.ndarray]:
    """The clip's matte alone, (H, W, 1) float32."""
    return [m[..., None].astype(np.float32) for m in _clip(frames).mask]


def spec_for(pixels: np.ndarray, channels, pixel_type: str = "half") -> oiio.ImageSpec:
    height, width, count = pixels.shape
    spec = oiio.ImageSpec(width, height, count, pixel_type)
    spec.channelnames = tuple(channels)
    spec.attribute("compression", "zip")
    return spec


def write_seq(folder: Path, name: str, frames: list[np.ndarray], channels=("R", "G", "B", "A"),
              pixel_type: str = "half", first: int = FIRST) -> str:
    """Write frames as name.####.exr from ``first`` on; returns the pattern.

    ``channels`` is one tuple of names for every frame, or a list with one per frame.
    """
    dtype = np.float16 if pixel_type == "half" else np.float32
    per_frame = channels if isinstance(channels, list) else [channels] * len(frames)
    for t, (pixels, names) in enumerate(zip(frames, per_frame)):
        write_frame(str(folder / f"{name}.{first + t:04d}.exr"), pixels.astype(dtype),
                    spec_for(pixels, names, pixel_type))
    return str(folder / f"{name}.####.exr")


def plate_shot(tmp_path: Path, frames: int = FRAMES) -> str:
    """The standard case: an RGBA half plate, matte in alpha, frames 1001-1004."""
    return write_seq(tmp_path, "plate", clip_rgba(frames))


# -- running and checking --------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()  # drop anything earlier
    code = main(["run", *args, *FAST])
    return code, capsys.readouterr().err


def out_pattern(tmp_path: Path) -> str:
    return str(tmp_path / "out" / "clean.####.exr")


def error_line(err: str) -> str:
    """The refusal: exactly one non-empty line on stderr, starting 'error: '."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def assert_refused(code: int, err: str, expected_code: int, *names: str) -> str:
    assert code == expected_code, err
    line = error_line(err)
    for name in names:
        assert name in line, f"{name!r} missing from: {line}"
    return line


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def assert_nothing_written(tmp_path: Path) -> None:
    """No output frame (and no checkpoint) in the output folder; no temp file anywhere."""
    assert files_under(tmp_path / "out") == []
    partial = [p for p in tmp_path.rglob("*") if ".partial" in p.name]
    assert partial == []


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in files_under(folder)}


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# -- 1. missing frames ---------------------------------------------------------


def test_missing_plate_frame_in_requested_range(tmp_path, capsys):
    plate = plate_shot(tmp_path)
    os.remove(tmp_path / "plate.1003.exr")
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path), "--frames", "1001-1004")
    line = assert_refused(code, err, EXIT_INPUT, "1003", "plate.1003.exr")
    assert "missing" in line
    assert_nothing_written(tmp_path)


def test_missing_frame_of_a_separate_matte(tmp_path, capsys):
    plate = write_seq(tmp_path, "plate", [f[..., :3] for f in clip_rgba()], ("R", "G", "B"))
    matte = write_seq(tmp_path, "matte", clip_matte(), ("A",))
    os.remove(tmp_path / "matte.1002.exr")
    code, err = run_cli(capsys, "--input", plate, "--mask", matte, "--output", out_pattern(tmp_path))
    line = assert_refused(code, err, EXIT_INPUT, "1002", "matte.1002.exr")
    assert "missing" in line
    assert_nothing_written(tmp_path)


# -- 2. and 3. frames that disagree -------------------------------------------------


@pytest.mark.parametrize("size", [(40, 32), (48, 30)])
def test_frames_of_different_sizes(tmp_path, capsys, size):
    frames = clip_rgba()
    frames[2] = np.zeros((size[1], size[0], 4), np.float32)  # frame 1003
    plate = write_seq(tmp_path, "plate", frames)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, "1003", "plate.1003.exr", f"{size[0]}x{size[1]}", f"{WIDTH}x{HEIGHT}")
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    "odd_channels",
    [("R", "G", "B"), ("R", "G", "B", "A", "Z")],
    ids=["missing-alpha", "extra-depth"],
)
def test_frames_with_different_channels(tmp_path, capsys, odd_channels):
    frames = clip_rgba()
    odd = np.zeros((HEIGHT, WIDTH, len(odd_channels)), np.float32)
    odd[..., : min(4, len(odd_channels))] = frames[1][..., : min(4, len(odd_channels))]
    frames[1] = odd  # frame 1002
    channels = [("R", "G", "B", "A")] * FRAMES
    channels[1] = odd_channels
    plate = write_seq(tmp_path, "plate", frames, channels)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, "1002", "plate.1002.exr", ",".join(odd_channels), "R,G,B,A")
    assert_nothing_written(tmp_path)


# -- 4. and 5. mattes that do not fit ----------------------------------------------


def _rgb_plate(tmp_path: Path) -> str:
    return write_seq(tmp_path, "plate", [f[..., :3] for f in clip_rgba()], ("R", "G", "B"))


@pytest.mark.parametrize("bad_frame", [0, 2])
def test_matte_of_another_size(tmp_path, capsys, bad_frame):
    plate = _rgb_plate(tmp_path)
    mattes = clip_matte()
    mattes[bad_frame] = np.zeros((HEIGHT // 2, WIDTH // 2, 1), np.float32)
    matte = write_seq(tmp_path, "matte", mattes, ("A",))
    code, err = run_cli(capsys, "--input", plate, "--mask", matte, "--output", out_pattern(tmp_path))
    frame = FIRST + bad_frame
    assert_refused(code, err, EXIT_INPUT, str(frame), f"matte.{frame}.exr", f"{WIDTH // 2}x{HEIGHT // 2}",
                   f"{WIDTH}x{HEIGHT}")
    assert_nothing_written(tmp_path)


def test_matte_with_another_display_window(tmp_path, capsys):
    """Same pixel count, other format (a 64x32 display window): not the plate's format."""
    plate = _rgb_plate(tmp_path)
    for t, pixels in enumerate(clip_matte()):
        spec = spec_for(pixels, ("A",))
        spec.full_width = 64
        write_frame(str(tmp_path / f"matte.{FIRST + t:04d}.exr"), pixels.astype(np.float16), spec)
    code, err = run_cli(capsys, "--input", plate, "--mask", str(tmp_path / "matte.####.exr"),
                        "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, "1001", "matte.1001.exr", "64x32", f"{WIDTH}x{HEIGHT}")
    assert_nothing_written(tmp_path)


def test_separate_matte_missing_the_requested_channel(tmp_path, capsys):
    plate = _rgb_plate(tmp_path)
    matte = write_seq(tmp_path, "matte", [np.repeat(m, 3, axis=-1) for m in clip_matte()], ("R", "G", "B"))
    code, err = run_cli(capsys, "--input", plate, "--mask", matte, "--mask-channel", "A",
                        "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, "matte.1001.exr", "'A'", "R, G, B")
    assert_nothing_written(tmp_path)


def test_plate_missing_the_requested_matte_channel(tmp_path, capsys):
    plate = plate_shot(tmp_path)
    code, err = run_cli(capsys, "--input", plate, "--mask-channel", "holdout", "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, "plate.1001.exr", "'holdout'", "R, G, B, A")
    assert_nothing_written(tmp_path)


# -- 6. no matte at all ---------------------------------------------------------


def test_plate_without_alpha_and_no_matte(tmp_path, capsys):
    plate = _rgb_plate(tmp_path)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    line = assert_refused(code, err, EXIT_INPUT, "plate.1001.exr", "R, G, B", "--mask-channel")
    assert "--mask " in line or "--mask." in line, line  # points at a separate matte too
    assert_nothing_written(tmp_path)


# -- 7. and 8. empty and full mattes ------------------------------------------------


@pytest.mark.parametrize("pixel_type", ["half", "float"])
def test_empty_matte_copies_every_frame_bit_for_bit(tmp_path, capsys, pixel_type):
    frames = clip_rgba()
    for f in frames:
        f[..., 3] = 0.0
    frames[0][0, 0, :3] = [-0.001, 60000.0, 1e-7]  # awkward values must survive as bits
    plate = write_seq(tmp_path, "plate", frames, pixel_type=pixel_type)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    assert code == 0, err
    assert "warning:" in err and "copied through" in err
    dtype = np.float16 if pixel_type == "half" else np.float32
    for t in range(FRAMES):
        frame = FIRST + t
        source = read_frame(str(tmp_path / f"plate.{frame}.exr"))
        result = read_frame(str(tmp_path / "out" / f"clean.{frame}.exr"))
        assert result.pixels.dtype == dtype
        assert same_bits(result.pixels, source.pixels), frame
        assert result.channel_names == source.channel_names
    assert not list(tmp_path.rglob("*.partial*"))


@pytest.mark.parametrize("separate_matte", [False, True])
def test_full_matte_leaves_nothing_to_learn_from(tmp_path, capsys, separate_matte):
    frames = clip_rgba()
    for f in frames:
        f[..., 3] = 1.0
    if separate_matte:
        plate = write_seq(tmp_path, "plate", [f[..., :3] for f in frames], ("R", "G", "B"))
        matte = write_seq(tmp_path, "matte", [f[..., 3:] for f in frames], ("A",))
        extra = ["--mask", matte]
    else:
        plate, extra = write_seq(tmp_path, "plate", frames), []
    code, err = run_cli(capsys, "--input", plate, *extra, "--output", out_pattern(tmp_path))
    line = assert_refused(code, err, EXIT_INPUT, "plate.####.exr", "100.0%")
    assert "learn from" in line
    assert_nothing_written(tmp_path)


# -- 9. and 10. NaN and infinity -------------------------------------------------


def _plate_with_bad_pixels(tmp_path: Path, value: float):
    """Frame 1002 gets ``value`` in one colour channel of 3 pixels outside the matte."""
    frames = clip_rgba()
    outside = np.argwhere(frames[1][..., 3] == 0)
    where = [tuple(outside[i]) for i in (0, len(outside) // 2, len(outside) - 1)]
    for channel, (y, x) in enumerate(where):
        frames[1][y, x, channel] = value
    return write_seq(tmp_path, "plate", frames), where


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_nonfinite_plate_is_refused_by_default(tmp_path, capsys, value):
    plate, _ = _plate_with_bad_pixels(tmp_path, value)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    line = assert_refused(code, err, EXIT_INPUT, "Frame 1002", "plate.1002.exr", "3 pixels", "--nonfinite inpaint")
    assert "NaN" in line
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_nonfinite_plate_is_filled_when_asked(tmp_path, capsys, value):
    plate, where = _plate_with_bad_pixels(tmp_path, value)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path), "--nonfinite", "inpaint")
    assert code == 0, err
    for t in range(FRAMES):
        frame = FIRST + t
        source = read_frame(str(tmp_path / f"plate.{frame}.exr")).pixels
        result = read_frame(str(tmp_path / "out" / f"clean.{frame}.exr")).pixels
        assert result.dtype == source.dtype == np.float16
        changed = source[..., 3] > 0.5
        if frame == 1002:
            for y, x in where:
                assert np.all(np.isfinite(result[y, x, :3])), (y, x, result[y, x])
                changed[y, x] = True
        assert np.all(np.isfinite(result[..., :3]))
        # Outside the matte and the bad pixels: the plate's own bits, every channel.
        assert same_bits(result[~changed], source[~changed]), frame
        assert same_bits(result[..., 3], source[..., 3])  # the matte channel is never touched


@pytest.mark.parametrize("separate_matte", [False, True])
def test_nan_in_the_matte_is_refused(tmp_path, capsys, separate_matte):
    frames = clip_rgba()
    frames[2][5, 7, 3] = np.nan  # frame 1003
    if separate_matte:
        write_seq(tmp_path, "plate", [f[..., :3] for f in frames], ("R", "G", "B"))
        matte = write_seq(tmp_path, "matte", [f[..., 3:] for f in frames], ("A",))
        extra, bad_file = ["--mask", matte], "matte.1003.exr"
    else:
        write_seq(tmp_path, "plate", frames)
        extra, bad_file = [], "plate.1003.exr"
    code, err = run_cli(capsys, "--input", str(tmp_path / "plate.####.exr"), *extra, "--output", out_pattern(tmp_path))
    line = assert_refused(code, err, EXIT_INPUT, bad_file, "NaN")
    assert "atte" in line  # says it is the matte, not the image
    assert_nothing_written(tmp_path)


# -- 11. unreadable files -------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not an EXR file\n" * 40)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncated_pixels(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # header intact, pixels cut


def _truncated_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


@pytest.mark.parametrize("damage", [_garbage, _empty, _truncated_pixels, _truncated_header])
@pytest.mark.parametrize("frame", [1001, 1003])
def test_unreadable_plate_frame(tmp_path, capsys, damage, frame):
    plate = plate_shot(tmp_path)
    damage(tmp_path / f"plate.{frame}.exr")
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_INPUT, f"plate.{frame}.exr")
    assert_nothing_written(tmp_path)


# -- 12. and 13. outputs that would destroy something --------------------------------


@pytest.mark.parametrize("spelling", ["plate.####.exr", "plate.%04d.exr", "sub/../plate.@@@@.exr"])
def test_output_onto_the_plate_is_refused(tmp_path, capsys, spelling):
    plate = plate_shot(tmp_path)
    (tmp_path / "sub").mkdir()
    before = snapshot(tmp_path)
    code, err = run_cli(capsys, "--input", plate, "--output", str(tmp_path / spelling))
    line = assert_refused(code, err, EXIT_OUTPUT, "overwrite input")
    assert "1001-1004" in line
    assert snapshot(tmp_path) == before
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


def test_output_onto_the_matte_is_refused(tmp_path, capsys):
    plate = _rgb_plate(tmp_path)
    matte = write_seq(tmp_path, "matte", clip_matte(), ("A",))
    before = snapshot(tmp_path)
    code, err = run_cli(capsys, "--input", plate, "--mask", matte, "--output", matte)
    assert_refused(code, err, EXIT_OUTPUT, "overwrite input", "matte.####.exr")
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_existing_outputs_need_overwrite(tmp_path, capsys):
    plate = plate_shot(tmp_path)
    (tmp_path / "out").mkdir()
    existing = tmp_path / "out" / "clean.1002.exr"
    existing.write_bytes(b"an earlier render the artist wants to keep")
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path))
    assert_refused(code, err, EXIT_OUTPUT, "clean.1002.exr", "--overwrite")
    assert files_under(tmp_path / "out") == [existing]
    assert existing.read_bytes() == b"an earlier render the artist wants to keep"

    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path), "--overwrite")
    assert code == 0, err
    for t in range(FRAMES):
        result = read_frame(str(tmp_path / "out" / f"clean.{FIRST + t}.exr"))
        assert result.pixels.shape == (HEIGHT, WIDTH, 4)
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


# -- 14. malformed options --------------------------------------------------------


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"--input": "plate.exr"}, ["plate.exr", "frame-number token", "####"]),
        ({"--output": "out/clean.exr"}, ["clean.exr", "frame-number token", "####"]),
        ({"--output": "out/clean.####.v.####.exr"}, ["more than one frame-number token"]),
        ({"--frames": "10-5"}, ["'10-5'", "ends before it starts"]),
        ({"--frames": "abc"}, ["'abc'", "1001-1100"]),
        ({"--frames": "1001-1004x0"}, ["1001-1004x0", "step"]),
        ({"--iterations": "0"}, ["iterations", "at least 1", "got 0"]),
        ({"--mask-dilate": "-2"}, ["dilation", "-2"]),
    ],
    ids=["input-no-token", "output-no-token", "output-two-tokens", "range-backwards", "range-text",
         "range-step-0", "iterations-0", "negative-dilate"],
)
def test_malformed_options(tmp_path, capsys, change, expected):
    plate_shot(tmp_path)
    options = {"--input": "plate.####.exr", "--output": "out/clean.####.exr"}
    options.update(change)
    argv = [part for key, value in options.items()
            for part in (key, str(tmp_path / value) if key in ("--input", "--output") else value)]
    capsys.readouterr()
    code = main(["run", *argv, "--preset", "draft", "--quiet"]
                + ([] if "--iterations" in options else ["--iterations", "2"]))
    assert_refused(code, capsys.readouterr().err, EXIT_INPUT, *expected)
    assert not (tmp_path / "out").exists()


# -- 15. checkpoints ---------------------------------------------------------------


def checkpoint_of(tmp_path: Path) -> Path:
    return tmp_path / "out" / WORK_FOLDER / "clean.ckpt"


@pytest.mark.parametrize(
    "content",
    [b"garbage" * 100, b"", b"PK\x03\x04" + b"\x00" * 64],
    ids=["garbage", "empty", "broken-zip"],
)
def test_corrupt_checkpoint_with_resume(tmp_path, capsys, content):
    plate = plate_shot(tmp_path)
    checkpoint = checkpoint_of(tmp_path)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(content)
    code, err = run_cli(capsys, "--input", plate, "--output", out_pattern(tmp_path), "--resume")
    line = assert_refused(code, err, EXIT_CHECKPOINT, str(checkpoint))
    assert "corrupt" in line or "Cannot read" in line
    assert files_under(tmp_path / "out") == [checkpoint]  # no frame written
    assert checkpoint.read_bytes() == content  # left for the user to look at
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]


@pytest.mark.parametrize(
    "second_run, expected",
    [("five-frames", "another shot"), ("other-seed", "seed=0")],
)
def test_checkpoint_of_another_shot_or_settings(tmp_path, capsys, second_run, expected):
    (tmp_path / "a").mkdir()
    plate_a = write_seq(tmp_path / "a", "plate", clip_rgba())
    code, err = run_cli(capsys, "--input", plate_a, "--output", out_pattern(tmp_path))
    assert code == 0, err
    checkpoint = checkpoint_of(tmp_path)
    assert checkpoint.is_file()
    before = snapshot(tmp_path / "out")

    if second_run == "five-frames":
        (tmp_path / "b").mkdir()
        args = ["--input", write_seq(tmp_path / "b", "plate", clip_rgba(5))]
    else:
        args = ["--input", plate_a, "--seed", "1"]
    code, err = run_cli(capsys, *args, "--output", out_pattern(tmp_path), "--resume", "--overwrite")
    assert_refused(code, err, EXIT_CHECKPOINT, str(checkpoint), expected)
    assert snapshot(tmp_path / "out") == before  # neither the frames nor the checkpoint touched
    assert not (tmp_path / "out" / "clean.1005.exr").exists()


# -- 16. the library raises specific errors (the server maps them to statuses) -------


def _missing_frame(tmp_path):
    plate = plate_shot(tmp_path)
    os.remove(tmp_path / "plate.1002.exr")
    return JobSpec(ShotSpec(plate, frames=[1001, 1002, 1003]), out_pattern(tmp_path), TINY_TRAINING)


def _mixed_sizes(tmp_path):
    frames = clip_rgba()
    frames[3] = np.zeros((HEIGHT, WIDTH - 8, 4), np.float32)
    return JobSpec(ShotSpec(write_seq(tmp_path, "plate", frames)), out_pattern(tmp_path), TINY_TRAINING)


def _no_such_channel(tmp_path):
    return JobSpec(ShotSpec(plate_shot(tmp_path), mask_channel="M"), out_pattern(tmp_path), TINY_TRAINING)


def _full_matte(tmp_path):
    frames = clip_rgba()
    for f in frames:
        f[..., 3] = 1.0
    return JobSpec(ShotSpec(write_seq(tmp_path, "plate", frames)), out_pattern(tmp_path), TINY_TRAINING)


def _nan_plate(tmp_path):
    plate, _ = _plate_with_bad_pixels(tmp_path, np.nan)
    return JobSpec(ShotSpec(plate), out_pattern(tmp_path), TINY_TRAINING)


def _garbage_frame(tmp_path):
    plate = plate_shot(tmp_path)
    _garbage(tmp_path / "plate.1004.exr")
    return JobSpec(ShotSpec(plate), out_pattern(tmp_path), TINY_TRAINING)


def _onto_inputs(tmp_path):
    plate = plate_shot(tmp_path)
    return JobSpec(ShotSpec(plate), plate, TINY_TRAINING)


def _existing_output(tmp_path):
    plate = plate_shot(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "clean.1001.exr").write_bytes(b"keep")
    return JobSpec(ShotSpec(plate), out_pattern(tmp_path), TINY_TRAINING)


def _corrupt_checkpoint(tmp_path):
    plate = plate_shot(tmp_path)
    checkpoint_of(tmp_path).parent.mkdir(parents=True)
    checkpoint_of(tmp_path).write_bytes(b"garbage" * 10)
    return JobSpec(ShotSpec(plate), out_pattern(tmp_path), TINY_TRAINING, resume=True)


@pytest.mark.parametrize(
    "build, error, family, words",
    [
        (_missing_frame, SequenceError, InputError, ["1002"]),
        (_mixed_sizes, FrameMismatchError, InputError, ["1004", "40x32"]),
        (_no_such_channel, MaskError, InputError, ["'M'"]),
        (_full_matte, MaskError, InputError, ["learn from"]),
        (_nan_plate, NonFiniteError, InputError, ["1002"]),
        (_garbage_frame, ImageReadError, InputError, ["plate.1004.exr"]),
        (_onto_inputs, OutputError, OutputError, ["overwrite input"]),
        (_existing_output, OutputError, OutputError, ["clean.1001.exr"]),
        (_corrupt_checkpoint, CheckpointError, CheckpointError, ["clean.ckpt"]),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_run_job_raises_specific_errors(tmp_path, build, error, family, words):
    spec = build(tmp_path)
    with pytest.raises(error) as info:
        run_job(spec)
    assert isinstance(info.value, family)
    for word in words:
        assert word in str(info.value)
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name]
    assert not list((tmp_path / "out").glob("clean.100[2-9].exr"))


@pytest.mark.slow
def test_gap_in_a_scanned_sequence_is_warned_about(tmp_path, capsys):
    clip = make_clip(frames=4, width=48, height=32, seed=3)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    os.remove(tmp_path / "plate.1003.exr")
    code = main(["run", "--input", str(tmp_path / "plate.####.exr"), "--output", str(tmp_path / "o" / "c.####.exr"),
                 "--preset", "draft", "--iterations", "2", "--quiet"])
    assert code == 0
    assert "Frames 1003 of" in capsys.readouterr().err
