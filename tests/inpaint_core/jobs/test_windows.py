"""Temporal windows: planning, cross-fade weights, windowed runs that resume, assembly, JSON logs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from inpaint_core.errors import Cancelled, InputError
from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobReporter, run_job, windowed
from inpaint_core.jobs.windows import Window, blend_weights, plan_windows
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main


@pytest.mark.parametrize(
    "count,size,overlap", [(10, 6, 2), (100, 40, 8), (41, 40, 8), (7, 10, 3), (30, 5, 4), (9, 3, 0)]
)
def test_windows_cover_every_frame_and_weights_sum_to_one(count, size, overlap):
    frames = list(range(1001, 1001 + count))
    windows = plan_windows(frames, size, overlap)
    assert windows[0].first == frames[0] and windows[-1].last == frames[-1]
    assert all(len(w.frames) == min(size, count) for w in windows)
    for earlier, later in zip(windows, windows[1:]):
        assert len(set(earlier.frames) & set(later.frames)) >= overlap  # at least the overlap is shared
    for frame in frames:
        weights = blend_weights(frame, windows)
        assert sum(weights.values()) == pytest.approx(1.0)
        assert all(0.0 < w <= 1.0 for w in weights.values())


def test_the_cross_fade_rises_across_the_overlap():
    windows = [Window(0, (1, 2, 3, 4, 5, 6)), Window(1, (5, 6, 7, 8, 9, 10))]
    later = [blend_weights(f, windows).get(1, 0.0) for f in range(1, 11)]
    assert later[:4] == [0.0] * 4 and later[6:] == [1.0] * 4
    assert later[4] == pytest.approx(1 / 3) and later[5] == pytest.approx(2 / 3)


def test_windows_follow_the_frame_list_not_the_numbers():
    frames = list(range(1001, 1021, 2))  # 1001-1019x2
    windows = plan_windows(frames, 4, 1)
    assert [f for w in windows for f in w.frames if f not in frames] == []


@pytest.mark.parametrize("size,overlap", [(1, 0), (5, 5), (5, -1)])
def test_impossible_windows_are_refused(size, overlap):
    with pytest.raises(InputError):
        plan_windows(list(range(10)), size, overlap)


@pytest.fixture
def shot(tmp_path):
    clip = make_clip(frames=10, width=48, height=32)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    return tmp_path


def _plan_args(shot, job_dir, output="out/clean.####.exr", *extra):
    return ["plan", "--input", str(shot / "plate.####.exr"), "--output", str(shot / output), "--frames", "1001-1010",
            "--job-dir", str(job_dir), "--window-size", "6", "--overlap", "2", "--preset", "draft",
            "--iterations", "3", *extra]


def test_plan_run_assemble_covers_the_range_once_and_keeps_pixels_outside_the_matte(shot, capsys):
    job = shot / "job"
    assert main(_plan_args(shot, job)) == 0
    assert capsys.readouterr().out.strip().endswith("window range: 0-1")
    for index in (0, 1):
        assert main(["run", "--job-dir", str(job), "--window", str(index), "--quiet"]) == 0
    assert main(["assemble", "--job-dir", str(job), "--quiet"]) == 0
    outputs = sorted(os.listdir(shot / "out"))
    assert outputs == [f"clean.{f}.exr" for f in range(1001, 1011)]
    for frame in range(1001, 1011):
        plate = read_frame(str(shot / f"plate.{frame}.exr")).pixels
        clean = read_frame(str(shot / "out" / f"clean.{frame}.exr")).pixels
        keep = plate[..., 3].astype(np.float32) <= 0.5
        assert np.array_equal(clean[keep].view(np.uint16), plate[keep].view(np.uint16)), frame
    # Frames of one window only are that window's frames exactly; overlap frames are a blend of both.
    window0 = read_frame(str(job / "windows" / "000" / "clean.1002.exr")).pixels
    assert np.array_equal(read_frame(str(shot / "out" / "clean.1002.exr")).pixels.view(np.uint16),
                          window0.view(np.uint16))


def test_assembly_refuses_until_every_window_is_done(shot, capsys):
    job = shot / "job"
    main(_plan_args(shot, job))
    main(["run", "--job-dir", str(job), "--window", "0", "--quiet"])
    capsys.readouterr()
    assert main(["assemble", "--job-dir", str(job)]) == 2
    assert "Windows 1 " in capsys.readouterr().err


def test_an_interrupted_window_resumes_from_its_checkpoint(shot, capsys):
    job = str(shot / "job")
    main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--iterations", "6"))
    spec = windowed.window_job(job, windowed.load_plan(job), 1, "cpu")

    class StopAfterTwo(JobReporter):
        def __init__(self):
            self.seen = 0

        def progress(self, progress):
            self.seen = progress.iteration

    reporter = StopAfterTwo()
    with pytest.raises(Cancelled):
        run_job(spec, reporter, should_cancel=lambda: reporter.seen >= 2)  # a task killed mid-training
    capsys.readouterr()
    assert main(["run", "--job-dir", job, "--window", "1"]) == 0
    assert "Resuming from" in capsys.readouterr().err
    assert windowed.window_done(job, 1)
    assert main(["run", "--job-dir", job, "--window", "1"]) == 0  # done: nothing to do
    assert "done already" in capsys.readouterr().err


def test_json_log_lines(shot, capsys):
    job = shot / "job"
    assert main(_plan_args(shot, job, "out/clean.####.exr", "--log-format", "json")) == 0
    plan_events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert plan_events[-1]["event"] == "plan" and plan_events[-1]["window_range"] == "0-1"
    assert main(["run", "--job-dir", str(job), "--window", "0", "--log-format", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events]
    assert "progress" in kinds and kinds.count("frame") == 6 and kinds[-1] == "result"
    assert main(["run", "--job-dir", str(job), "--window", "7", "--log-format", "json"]) == 2
    error = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert error["event"] == "error" and error["exit_code"] == 2 and "Window 7 does not exist" in error["message"]


def test_a_job_folder_holds_one_plan(shot, capsys):
    job = shot / "job"
    assert main(_plan_args(shot, job)) == 0
    assert main(_plan_args(shot, job)) == 0  # the same plan again: fine (a retried farm task)
    assert main(_plan_args(shot, job, "other/clean.####.exr")) == 2
    assert "another job's plan" in capsys.readouterr().err


def test_print_window_range_writes_nothing(shot, capsys):
    assert main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--print-window-range")) == 0
    assert capsys.readouterr().out.strip() == "0-1"
    assert not os.path.exists(shot / "job")


def test_the_plan_carries_fill_and_seen_channel_to_each_window(shot, capsys):
    job = str(shot / "job")
    assert main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--fill", "paper", "--seen-channel")) == 0
    plan = windowed.load_plan(job)
    assert (plan.fill, plan.seen_channel) == ("paper", True)
    for index in range(len(plan.windows)):
        spec = windowed.window_job(job, plan, index, "cpu")
        assert (spec.fill, spec.seen_channel) == ("paper", True)
    assert main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--fill", "paper", "--seen-channel")) == 0
    assert main(_plan_args(shot, shot / "job")) == 2  # another fill: another job's plan
    assert "another job's plan" in capsys.readouterr().err


def test_a_plan_written_before_fill_modes_keeps_filling_as_it_did(shot, capsys):
    job = str(shot / "job")
    assert main(_plan_args(shot, shot / "job")) == 0
    path = os.path.join(job, windowed.PLAN_FILE)
    with open(path) as handle:
        stored = json.load(handle)
    old = {k: v for k, v in stored.items() if k not in ("fill", "seen_channel")}
    assert len(old) == len(stored) - 2
    with open(path, "w") as handle:
        json.dump(old, handle)
    plan = windowed.load_plan(job)
    # Its windows filled with the network alone: the rest do too, so the shot does not change method mid-way.
    assert (plan.fill, plan.seen_channel) == ("paper", False)
    spec = windowed.window_job(job, plan, 0, "cpu")
    assert (spec.fill, spec.seen_channel) == ("paper", False)
    assert main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--fill", "paper")) == 0  # the same job
    assert main(_plan_args(shot, shot / "job")) == 2  # the default fill now: another job's plan
    assert "another job's plan" in capsys.readouterr().err


@pytest.mark.parametrize("key, value, words", [("fill", "best", "Unknown fill mode 'best'; choose one of guided"),
                                               ("seen_channel", "yes", "seen_channel must be true or false")])
def test_a_plan_with_a_bad_fill_or_seen_channel_is_refused_naming_it(shot, key, value, words):
    job = str(shot / "job")
    assert main(_plan_args(shot, shot / "job")) == 0
    path = os.path.join(job, windowed.PLAN_FILE)
    with open(path) as handle:
        stored = json.load(handle)
    with open(path, "w") as handle:
        json.dump({**stored, key: value}, handle)
    with pytest.raises(InputError, match=words):
        windowed.load_plan(job)
    with pytest.raises(InputError, match=words):
        windowed.WindowedPlan(shot=None, output="", **{key: value})


def test_assembly_keeps_the_seen_channel_and_cross_fades_it_in_overlaps(shot):
    job = str(shot / "job")
    assert main(_plan_args(shot, shot / "job", "out/clean.####.exr", "--fill", "propagation", "--seen-channel")) == 0
    for index in (0, 1):
        assert main(["run", "--job-dir", job, "--window", str(index), "--quiet"]) == 0
    assert main(["assemble", "--job-dir", job, "--quiet"]) == 0
    plan = windowed.load_plan(job)
    for frame in range(1001, 1011):
        plate = read_frame(str(shot / f"plate.{frame}.exr"))
        clean = read_frame(str(shot / "out" / f"clean.{frame}.exr"))
        assert clean.channel_names == ("R", "G", "B", "A", "inpaint.seen")
        keep = plate.pixels[..., 3].astype(np.float32) <= 0.5
        assert np.array_equal(clean.pixels[..., :4][keep].view(np.uint16), plate.pixels[keep].view(np.uint16))
        assert not clean.pixels[..., 4][keep].any()
        weights = blend_weights(frame, plan.windows)
        windows = {i: read_frame(os.path.join(windowed.window_dir(job, i), f"clean.{frame}.exr")).pixels[..., 4]
                   for i in weights}
        expected = sum(w * windows[i].astype(np.float32) for i, w in weights.items())
        assert np.allclose(clean.pixels[..., 4].astype(np.float32)[~keep], expected[~keep], atol=1e-3), frame


def test_a_plan_with_the_seen_channel_refuses_a_plate_that_has_one(tmp_path):
    from inpaint_core.io.image_files import with_channel, write_frame
    from inpaint_core.masks import ShotSpec

    clip = make_clip(frames=4, width=48, height=32)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    for frame in range(1001, 1005):  # a result with its seen channel, planned again as a plate
        path = str(tmp_path / f"plate.{frame}.exr")
        plate = read_frame(path)
        extended = with_channel(plate, plate.pixels, "inpaint.seen", np.zeros(plate.pixels.shape[:2]))
        write_frame(path, extended.pixels, extended.spec, overwrite=True)
    plan = windowed.WindowedPlan(shot=ShotSpec(plate=str(tmp_path / "plate.####.exr")),
                                 output=str(tmp_path / "out" / "c.####.exr"), seen_channel=True)
    with pytest.raises(InputError, match="has one already"):
        windowed.create_plan(str(tmp_path / "job"), plan)
