"""`internal-inpaint run` and `plan` with --fill and --seen-channel: the flags reach the library's JobSpec, bad
values are refused naming the flag, and a propagation run (no training: a few seconds) writes inpaint.seen."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobSpec, windowed
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands import run as run_command
from server.commands.cli import build_parser, main
from server.commands.shot_options import job_options

FIRST, FRAMES, WIDTH, HEIGHT = 1001, 6, 64, 48


@pytest.mark.parametrize("command", ["run", "plan"])
def test_the_flags_give_the_library_its_fill_and_seen_channel(command):
    args = build_parser().parse_args([command, "-i", "p.####.exr", "-o", "c.####.exr", "--job-dir", "j",
                                      "--fill", "propagation", "--seen-channel"])
    assert job_options(args) == {"fill": "propagation", "seen_channel": True}
    defaults = build_parser().parse_args([command, "-i", "p.####.exr", "-o", "c.####.exr", "--job-dir", "j"])
    spec = JobSpec(shot=None, output="")
    assert job_options(defaults) == {"fill": spec.fill, "seen_channel": spec.seen_channel}


@pytest.mark.parametrize("command", ["run", "plan"])
def test_an_unknown_fill_is_refused_naming_the_flag(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--fill", "best"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.replace("'", "")  # argparse quotes the choices from Python 3.12.8 on
    assert "argument --fill: invalid choice: best (choose from guided, paper, propagation)" in error


def test_the_run_reaches_the_library_spec(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(run_command, "run_job_with_console", lambda spec, **kwargs: seen.append(spec))
    assert main(["run", "-i", str(tmp_path / "p.####.exr"), "-o", str(tmp_path / "c.####.exr"),
                 "--fill", "paper", "--seen-channel"]) == 0
    assert seen[0].fill == "paper" and seen[0].seen_channel is True


def test_a_windowed_run_takes_the_fill_from_its_plan(tmp_path, capsys):
    code = main(["run", "--job-dir", str(tmp_path), "--window", "0", "--fill", "paper", "--seen-channel"])
    assert code != 0
    error = capsys.readouterr().err
    assert "--fill and --seen-channel come from the job folder's plan" in error


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    """A clip whose pinned box hides some background in every frame (clip.hidden), written as RGBA EXRs."""
    folder = tmp_path_factory.mktemp("pinned")
    clip = make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT, occluder="pinned")
    assert (clip.hidden & clip.mask).any() and (clip.mask & ~clip.hidden).any()
    write_exr_sequence(clip, str(folder / "plate.####.exr"), first_frame=FIRST)
    return clip, folder


def check_seen_channel(clip, plate_pattern: str, clean_pattern: str) -> None:
    """inpaint.seen after the plate's channels: 0 outside the matte and over most of what no frame shows, 1 over
    most of the rest of the hole; the plate's channels bit-identical outside the matte."""
    for t in range(FRAMES):
        frame = FIRST + t
        plate = read_frame(plate_pattern.replace("####", str(frame)))
        clean = read_frame(clean_pattern.replace("####", str(frame)))
        assert clean.channel_names == (*plate.channel_names, "inpaint.seen")
        assert clean.pixels.dtype == plate.pixels.dtype == np.float16
        hole = plate.pixels[..., 3].astype(np.float32) > 0.5
        outside = clean.pixels[..., :4][~hole]
        assert np.array_equal(outside.view(np.uint16), plate.pixels[~hole].view(np.uint16)), frame
        seen = clean.pixels[..., 4].astype(np.float32)
        hidden = clip.hidden[t] & hole
        assert np.all((seen >= 0) & (seen <= 1)), frame
        assert not seen[~hole].any(), frame
        assert seen[hidden].mean() < 0.2, frame
        assert seen[hole & ~hidden].mean() > 0.8, frame
        assert not np.array_equal(clean.pixels[..., :3][hole], plate.pixels[..., :3][hole])  # the hole was filled


def test_a_propagation_run_writes_the_seen_channel(pinned, capsys):
    clip, folder = pinned
    plate, clean = str(folder / "plate.####.exr"), str(folder / "run" / "clean.####.exr")
    assert main(["run", "-i", plate, "-o", clean, "--fill", "propagation", "--seen-channel", "--device", "cpu",
                 "--quiet"]) == 0
    check_seen_channel(clip, plate, clean)


def test_without_the_flag_the_outputs_have_the_plates_channels(pinned):
    clip, folder = pinned
    plate, clean = str(folder / "plate.####.exr"), str(folder / "plain" / "clean.####.exr")
    assert main(["run", "-i", plate, "-o", clean, "--fill", "propagation", "--device", "cpu", "--quiet"]) == 0
    for frame in range(FIRST, FIRST + FRAMES):
        assert read_frame(clean.replace("####", str(frame))).channel_names == ("R", "G", "B", "A")


def test_a_windowed_job_carries_fill_and_seen_channel_to_each_window_and_the_assembly(pinned, capsys):
    clip, folder = pinned
    job_dir = folder / "farm"
    plate, clean = str(folder / "plate.####.exr"), str(folder / "farm_out" / "clean.####.exr")
    assert main(["plan", "-i", plate, "-o", clean, "--job-dir", str(job_dir), "--window-size", "4", "--overlap", "2",
                 "--fill", "propagation", "--seen-channel"]) == 0
    stored = json.loads((job_dir / "plan.json").read_text())
    assert stored["fill"] == "propagation" and stored["seen_channel"] is True
    plan = windowed.load_plan(str(job_dir))
    for index in range(len(plan.windows)):
        spec = windowed.window_job(str(job_dir), plan, index)
        assert spec.fill == "propagation" and spec.seen_channel is True
        assert main(["run", "--job-dir", str(job_dir), "--window", str(index), "--device", "cpu", "--quiet"]) == 0
    assert main(["assemble", "--job-dir", str(job_dir), "--quiet"]) == 0
    check_seen_channel(clip, plate, clean)


def test_the_summary_reports_the_propagation_and_the_fill_time_per_frame(capsys):
    from inpaint_core.jobs.types import JobResult
    from server.commands.console import report_result, summary

    result = JobResult(frames=[1, 2, 3, 4], outputs=["a", "d"], filled_frames=4, copied_frames=0, iterations=0,
                       final_loss=float("nan"), hole_fraction=0.05, device="cpu", checkpoint=None, train_seconds=0.0,
                       total_seconds=9.0, propagation_seconds=2.5, fill_seconds=2.0, seen_fraction=0.84)
    text = summary(result)
    assert "Propagation: 2.5 s; 84.0% of the hole pixels were taken from other frames" in text
    assert "Fill: 0.50 s per frame (2.0 s for 4 frames" in text
    assert "Training" not in text  # nothing was trained
    report_result(result, "json")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["propagation_seconds"] == 2.5 and line["fill_seconds_per_frame"] == 0.5
    assert line["seen_fraction"] == 0.84
