"""Reference frames (clean plates painted by hand) in the Resolve/Fusion plugin: the dialog's Reference choice and
Reference frames field.

Against the stand-in Fusion (tests/fake_fusion) with a recording client (no server) for what reaches
``submit_paths``, the rendered files and the reuse of results, and against a real local server for what the server
does with them: the painted pixels are kept exactly, and a reference in another format is refused with its reason.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from inpaint_core.io.image_files import read_frame
from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.reuse_key import reuse_key
from internal_inpaint_resolve import comp_io, job
from internal_inpaint_resolve import dialog as dlg
from tests.client.test_fusion_comp_safety import plugin_tools_gone, user_saver, wiring
from tests.client.test_plugin_resolve import (
    FIRST,
    FRAMES,
    HEIGHT,
    LAST,
    WIDTH,
    address_of,
    fill_form,
    finished,
    make_comp,
    open_dialog,
    rgba_frames,
)
from tests.fake_fusion import FakeBMD, FakeComp, FakeFusion
from tests.server_support import client_for

PAINT = np.array([0.25, 0.5, 0.75], np.float16)  # the colour the "artist" paints the hole with


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def painted_frames(clip, size=None):
    """{comp frame: (H, W, 4) half}: the plate's RGB with every hole painted PAINT (alpha 1: a Paint's own)."""
    frames = rgba_frames(clip, np.ones_like(clip.mask, dtype=np.float32))
    for t in range(FRAMES):
        frames[FIRST + t][clip.mask[t] > 0.5, :3] = PAINT
    if size is not None:
        frames = {f: np.ascontiguousarray(a[:size[0], :size[1]]) for f, a in frames.items()}
    return frames


def reference_comp(clip, size=None):
    """The plate (matte in alpha) and a Paint tool showing the painted frames."""
    comp, plate = make_comp(clip)
    painted = comp.add_media("Paint", "Painted", painted_frames(clip, size), 1, 0)
    comp.CurrentFrame.FlowView.Select()
    comp.CurrentFrame.FlowView.Select(plate)
    return comp, plate, painted


class RecordingClient:
    """Stands in for InpaintClient behind JobRunner's client_factory: records every submit_paths and "finishes" the
    job at once (the plate's frames written as the clean frames), so the dialog adds and then reuses a result."""

    def __init__(self):
        self.calls = []

    def wait_until_ready(self, timeout=None):
        pass

    def server_info(self):
        return pb.ServerInfo(path_mode=True)

    def submit_paths(self, plate, output, **kwargs):
        self.calls.append({"plate": plate, "output": output, **kwargs})
        first, last = job.parse_range(kwargs["frames"])
        for frame in range(first, last + 1):
            shutil.copyfile(job.sequence_file(plate, frame), job.sequence_file(output, frame))
        return f"job{len(self.calls)}"

    def get_job(self, job_id):
        return pb.Job(id=job_id, state=pb.DONE, message="Done", iterations=4, loss=0.1)

    def cancel(self, job_id):
        pass

    def close(self):
        pass


def recorded_dialog(comp, folder, recorder, reference=None, frames=""):
    dialog = dlg.Dialog(FakeFusion(comp), comp, FakeBMD(),
                        runner_factory=lambda s: job.JobRunner(s, client_factory=lambda address: recorder))
    win = dialog.build()
    fill_form(win, "127.0.0.1:1", folder)
    if reference is not None:
        win.choose("Reference", reference)
    win.set_text("ReferenceFrames", frames)
    return dialog, win


def start(dialog, win):
    win.click("Start")
    if dialog.runner is not None and dialog.runner.running:
        dialog.disp.pump_until(lambda: finished(dialog), timeout=30)
    return dialog.items["Status"].Text


# -- the form -------------------------------------------------------------------------------------------------


def test_the_dialog_offers_a_reference_choice_and_a_frames_field(tmp_path, clip):
    comp, _, _ = reference_comp(clip)
    dialog, _ = open_dialog(comp, "127.0.0.1:1", tmp_path)
    assert dialog.items["Reference"].choices == [dlg.REFERENCE_NONE, "Painted", "Plate"]  # like the Matte's tools
    assert dialog.items["Reference"].CurrentText == "None" and dialog.items["ReferenceFrames"].Text == ""
    assert "painted pixels are kept exactly" in dialog.items["Reference"].ToolTip
    settings = dialog.settings()
    assert (settings.reference, settings.reference_frames) == ("", ())
    dialog.win.choose("Reference", "Painted")
    dialog.win.set_text("ReferenceFrames", "1003, 1002")
    settings = dialog.settings()
    assert (settings.reference, settings.reference_frames) == ("Painted", (1002, 1003))


@pytest.mark.parametrize("text, frames", [("", ()), (" ", ()), ("1012", (1012,)), ("1012,1040", (1012, 1040)),
                                          ("1040, 1012 1012", (1012, 1040)), ("1010-1012", (1010, 1011, 1012)),
                                          ("0", (0,))])
def test_the_frame_list_syntax(text, frames):
    assert job.parse_frame_list(text) == frames


@pytest.mark.parametrize("text, words", [("10a2", "list frame numbers separated by commas"),
                                         ("1012;1040", "list frame numbers"), ("1012-1010", "ends before it starts"),
                                         ("-5", "negative frames")])
def test_a_bad_frame_list_says_how_to_write_one(text, words):
    with pytest.raises(job.PluginError, match=words):
        job.parse_frame_list(text)


# -- errors shown before anything renders -----------------------------------------------------------------------


@pytest.mark.parametrize("reference, frames, words", [
    (None, "1002", "Reference frames lists 1002 but Reference is None"),
    ("Painted", "", "Reference is Painted but Reference frames is empty"),
    ("Painted", "1002,1100", f"Reference frame 1100 is outside the job's frames {FIRST}-{LAST}"),
    ("Painted", "999-1002", f"Reference frame 999,1000 is outside the job's frames {FIRST}-{LAST}"),
    ("Painted", "10x2", "Reference frames '10x2': list frame numbers separated by commas"),
    ("Plate", "1002", "The reference is the plate itself"),
])
def test_reference_mistakes_are_clear_errors_before_anything_renders(tmp_path, clip, reference, frames, words):
    comp, _, _ = reference_comp(clip)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path / "jobs", recorder, reference, frames)
    win.click("Start")
    assert words in dialog.items["Status"].Text, dialog.items["Status"].Text
    assert comp.renders == [] and not (tmp_path / "jobs").exists() and recorder.calls == []
    assert dialog.items["Start"].Enabled and [t.name for t in comp.tools] == ["Plate", "Painted"]


def test_a_custom_range_moves_the_frames_a_reference_may_name(tmp_path, clip):
    comp, _, _ = reference_comp(clip)
    dialog, win = recorded_dialog(comp, tmp_path / "jobs", RecordingClient(), "Painted", "1002")
    win.choose("RangeMode", dlg.RANGE_CUSTOM)
    win.set_text("Range", "1003-1004")
    win.click("Start")
    assert "Reference frame 1002 is outside the job's frames 1003-1004" in dialog.items["Status"].Text


# -- what reaches submit_paths, and reuse -----------------------------------------------------------------------


def test_the_listed_frames_are_rendered_with_the_plates_settings_and_reach_submit_paths(tmp_path, clip):
    comp, plate, painted = reference_comp(clip)
    active = user_saver(comp, plate, tmp_path)  # the user's Saver: it must not render
    before = wiring(comp)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path / "jobs", recorder, "Painted", "1004,1002")
    win.set_checked("Wire", False)
    win.click("Start")
    assert len(recorder.calls) == 1, dialog.items["Status"].Text
    call = recorder.calls[0]
    folder = os.path.dirname(call["plate"])
    expected = {f: os.path.join(folder, f"reference.{f}.exr") for f in (1002, 1004)}
    assert call["references"] == expected and call["frames"] == f"{FIRST}-{LAST}"
    assert sorted(f for f in os.listdir(folder) if f.startswith("reference.")) == ["reference.1002.exr",
                                                                                   "reference.1004.exr"]
    # Exactly the listed frames, one quiet render per run, our Saver alone; everything put back.
    saved = sorted(frame for name, frame in comp.saved if name == comp_io.REFERENCE_SAVER_NAME)
    assert saved == [1002, 1004] and {name for name, _ in comp.saved} == {comp_io.SAVER_NAME,
                                                                          comp_io.REFERENCE_SAVER_NAME}
    reference_renders = comp.renders[1:]
    assert [(r["Start"], r["End"]) for r in reference_renders] == [(1002, 1002), (1004, 1004)]
    assert all(r["Flags"] == comp_io.REQF_QUIET and r["Wait"] is True for r in reference_renders)
    assert not active.pass_through and wiring(comp) == before and plugin_tools_gone(comp)
    assert comp.locks == 0 and comp.undo_depth == 0
    for frame, path in expected.items():
        image, plate_file = read_frame(path), read_frame(job.sequence_file(call["plate"], frame))
        assert image.channel_names == plate_file.channel_names == ("R", "G", "B", "A")
        assert image.pixels.dtype == plate_file.pixels.dtype == np.float16
        assert image.pixels.shape == plate_file.pixels.shape
        assert np.array_equal(image.pixels.view(np.uint16), painted.frames[frame].view(np.uint16))
    dialog.disp.pump_until(lambda: finished(dialog), timeout=30)
    assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text


def test_without_references_submit_paths_is_called_as_before(tmp_path, clip):
    comp, _, _ = reference_comp(clip)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path / "jobs", recorder)
    assert start(dialog, win).startswith("Done")
    assert "references" not in recorder.calls[0]
    assert not [f for f in os.listdir(os.path.dirname(recorder.calls[0]["plate"])) if f.startswith("reference.")]
    assert [n for n, _ in comp.saved] == [comp_io.SAVER_NAME] * FRAMES


def test_the_reuse_key_follows_the_painted_pixels_and_the_frame_list(tmp_path, clip):
    comp, _, painted = reference_comp(clip)
    recorder = RecordingClient()
    folder = tmp_path / "jobs"
    dialog, win = recorded_dialog(comp, folder, recorder, "Painted", "1002")
    assert start(dialog, win).startswith("Done")
    assert start(dialog, win).startswith("Reused job job1")  # nothing changed: no new job
    assert len(recorder.calls) == 1 and len(os.listdir(folder)) == 1  # the re-rendered frames were removed

    repainted = {f: a.copy() for f, a in painted.frames.items()}
    repainted[1002][5, 5, 0] += np.float16(0.125)  # one pixel of the painted frame changes
    painted.frames = repainted
    assert start(dialog, win).startswith("Done") and len(recorder.calls) == 2
    assert start(dialog, win).startswith("Reused job job2")

    unlisted = {f: a.copy() for f, a in repainted.items()}
    unlisted[1003][5, 5, 0] += np.float16(0.125)  # a frame that is not listed changes: not rendered, not keyed
    painted.frames = unlisted
    assert start(dialog, win).startswith("Reused job job2")

    win.set_text("ReferenceFrames", "1002-1003")
    assert start(dialog, win).startswith("Done") and sorted(recorder.calls[-1]["references"]) == [1002, 1003]
    win.set_text("ReferenceFrames", "1003,1002")  # the same frames written otherwise
    assert start(dialog, win).startswith("Reused job job3")

    win.choose("Reference", dlg.REFERENCE_NONE)
    win.set_text("ReferenceFrames", "")
    assert start(dialog, win).startswith("Done") and "references" not in recorder.calls[-1]
    assert len(recorder.calls) == 4


def test_the_reuse_key_of_references_files_and_frames(tmp_path, clip):
    comp, plate, painted = reference_comp(clip)
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, pattern)
    files = job.sequence_files(pattern, FIRST, LAST)
    base = job.JobSettings(address="a:1", job_folder=str(tmp_path), first=FIRST, last=LAST).validate()
    # Without references the key is what it was before references existed: a comp's earlier record still matches.
    old_fields = {"preset": base.preset, "iterations": 0, "seed": 0, "matte_channel": "Alpha",
                  "frames": f"{FIRST}-{LAST}", "dilate": 0, "fill": base.fill, "seen_channel": False}
    assert job.job_key(files, base) == reuse_key(files, old_fields, version=job.KEY_VERSION)

    def key(name, frames=(1002,), tool="Painted"):
        references = comp_io.render_reference(comp, painted, frames, str(tmp_path / name / "reference.####.exr"))
        settings = job.JobSettings(**{**vars(base), "reference": tool, "reference_frames": frames}).validate()
        return job.job_key(files, settings, references)

    first = key("a")
    assert first != job.job_key(files, base)
    assert key("b") == first  # another render of the same pixels, in another folder
    assert key("c", tool="Renamed") == first  # the tool's name is not what the job sees
    assert key("d", frames=(1002, 1003)) != first
    changed = {f: a.copy() for f, a in painted.frames.items()}
    changed[1002][0, 0, 2] += np.float16(0.5)
    painted.frames = changed
    assert key("e") != first


# -- render_reference and the comp ------------------------------------------------------------------------------


def test_render_reference_renders_each_run_once_and_puts_everything_back(tmp_path, clip):
    comp, plate, painted = reference_comp(clip)
    active = user_saver(comp, plate, tmp_path)
    resting = user_saver(comp, plate, tmp_path, "Resting", passed_through=True)
    before = wiring(comp)
    files = comp_io.render_reference(comp, painted, [1004, 1001, 1002], str(tmp_path / "r" / "reference.####.exr"))
    assert files == [str(tmp_path / "r" / f"reference.{f}.exr") for f in (1001, 1002, 1004)]
    assert [(r["Start"], r["End"]) for r in comp.renders] == [(1001, 1002), (1004, 1004)]
    assert {name for name, _ in comp.saved} == {comp_io.REFERENCE_SAVER_NAME}
    assert not active.pass_through and resting.pass_through and wiring(comp) == before and plugin_tools_gone(comp)
    assert comp_io.render_reference(comp, painted, [], str(tmp_path / "none" / "reference.####.exr")) == []


def test_a_failed_reference_render_is_a_clear_error_and_puts_everything_back(tmp_path, clip, monkeypatch):
    comp, plate, painted = reference_comp(clip)
    active = user_saver(comp, plate, tmp_path)
    before = wiring(comp)
    monkeypatch.setattr(FakeComp, "Render", lambda self, args: None)
    with pytest.raises(job.PluginError, match=r"Fusion did not render the reference Painted \(comp.Render answered"):
        comp_io.render_reference(comp, painted, [1002], str(tmp_path / "r" / "reference.####.exr"))
    assert not active.pass_through and wiring(comp) == before and plugin_tools_gone(comp)
    assert comp.locks == 0 and comp.undo_depth == 0


def test_a_failed_reference_render_in_the_dialog_removes_the_press_files(tmp_path, clip, monkeypatch):
    comp, _, _ = reference_comp(clip)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path / "jobs", recorder, "Painted", "1002")
    real = comp_io.render_reference

    def failing(*args):
        real(*args)
        raise job.PluginError("Rendering the reference failed")

    monkeypatch.setattr(comp_io, "render_reference", failing)
    win.click("Start")
    assert dialog.items["Status"].Text == "Rendering the reference failed"
    assert os.listdir(tmp_path / "jobs") == [] and recorder.calls == []  # plate and reference files removed


# -- with a real server -------------------------------------------------------------------------------------------


def test_the_painted_pixels_are_kept_exactly_in_the_result(path_server, job_root, clip):
    comp, plate, painted = reference_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "painted")
    win.choose("Reference", "Painted")
    win.set_text("ReferenceFrames", "1002")
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text
    with client_for(path_server) as client:
        [given] = client.get_job(dialog.runner.job_id).spec.paths.references
    assert given.frame == 1002 and given.image.endswith(os.sep + "reference.1002.exr") and not given.matte
    masks = clip.mask.astype(np.float32)
    for t in range(FRAMES):
        clean = read_frame(job.sequence_file(dialog.job["output"], FIRST + t)).pixels
        hole, keep = masks[t] > 0.5, masks[t] <= 0.5
        original = plate.frames[FIRST + t]
        assert np.array_equal(clean[..., :3][keep].view(np.uint16), original[..., :3][keep].view(np.uint16))
        if FIRST + t == 1002:  # the painted frame's hole: the painted pixels, bit for bit
            assert np.array_equal(clean[..., :3][hole].view(np.uint16),
                                  painted.frames[1002][..., :3][hole].view(np.uint16))


def test_a_reference_in_another_format_is_refused_with_the_servers_reason(path_server, job_root, clip):
    comp, _, _ = reference_comp(clip, size=(16, 24))
    folder = job_root / "small"
    dialog, win = open_dialog(comp, address_of(path_server), folder)
    win.choose("Reference", "Painted")
    win.set_text("ReferenceFrames", "1002")
    win.click("Start")
    status = dialog.items["Status"].Text
    assert "reference.1002.exr" in status and "plate's format" in status, status
    assert os.listdir(folder) == [] and dialog.items["Start"].Enabled  # no job reads the rendered frames: removed
