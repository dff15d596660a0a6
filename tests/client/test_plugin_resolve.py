"""The Resolve/Fusion plugin (plugin_resolve/InternalInpaint.py and its package internal_inpaint_resolve, installed
with the client from client/src) against a stand-in Fusion (tests/fake_fusion) and a real local server.

The fake comp renders for real (its Saver writes EXRs through OpenImageIO, its
Loader reads them back), so the end-to-end tests check the promise itself: the
Loader the plugin adds shows the plate's pixels, bit for bit, outside the matte.
"""

from __future__ import annotations

import ast
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from inpaint_core.io.image_files import read_frame
from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_resolve import comp_io, job
from internal_inpaint_resolve import dialog as dlg
from tests import ROOT
from tests.fake_fusion import FakeBMD, FakeComp, FakeFusion, read_rgba, split_sequence_name
from tests.server_support import client_for

ENTRY = ROOT / "plugin_resolve" / "InternalInpaint.py"
RECORDER = ROOT / "plugin_resolve" / "record_host.py"
PACKAGE = ROOT / "client" / "src" / "internal_inpaint_resolve"

FIRST, FRAMES, WIDTH, HEIGHT = 1001, 4, 48, 32
LAST = FIRST + FRAMES - 1
PLUGIN_FILES = [ENTRY, RECORDER] + sorted(PACKAGE.rglob("*.py"))


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def rgba_frames(clip, alpha):
    """{comp frame: (H, W, 4) half}: the plate's RGB with ``alpha`` (per frame) in A."""
    return {FIRST + t: np.concatenate([clip.plate[t], alpha[t][..., None].astype(np.float32)], -1).astype(np.float16)
            for t in range(FRAMES)}


def make_comp(clip, separate_matte=False, matte=None):
    comp = FakeComp(FIRST, LAST, global_start=0)
    masks = clip.mask.astype(np.float32) if matte is None else matte
    if separate_matte:
        plate = comp.add_media("MediaIn", "MediaIn1", rgba_frames(clip, np.ones_like(masks)), 0, 0)
        zeros = np.zeros_like(masks)
        matte_frames = {FIRST + t: np.stack([zeros[t], zeros[t], zeros[t], masks[t]], -1).astype(np.float16)
                        for t in range(FRAMES)}
        comp.add_media("Loader", "RotoMatte", matte_frames, 0, 2)
    else:
        plate = comp.add_media("Loader", "Plate", rgba_frames(clip, masks), 0, 0)
    comp.CurrentFrame.FlowView.Select(plate)
    return comp, plate


def open_dialog(comp, address, folder, iterations=4, preset="draft", matte=None, connect_timeout=5.0):
    fusion, bmd = FakeFusion(comp), FakeBMD()
    dialog = dlg.Dialog(fusion, comp, bmd,
                        runner_factory=lambda s: job.JobRunner(s, connect_timeout=connect_timeout))
    win = dialog.build()
    fill_form(win, address, folder, iterations, preset, matte)
    return dialog, win


def fill_form(win, address, folder, iterations=4, preset="draft", matte=None):
    win.set_text("Address", address)
    win.set_text("JobFolder", str(folder))
    win.choose("Preset", preset)
    win.set_value("Iterations", iterations)
    if matte:
        win.choose("Matte", matte)


def address_of(server):
    return f"127.0.0.1:{server.port}"


def finished(dialog):
    return dialog.runner is not None and not dialog.timer.IsActive and not dialog.items["Cancel"].Enabled


def check_clean_loader(comp, loader, plate_frames, matte):
    """The added Loader, evaluated at every comp frame: the plate's RGB bit for bit outside the matte."""
    assert loader.GetAttrs()["TOOLS_RegID"] == "Loader"
    for t in range(FRAMES):
        frame = FIRST + t
        clean = comp.evaluate(loader, frame)
        plate = plate_frames[frame]
        assert clean.dtype == np.float16 and clean.shape == plate.shape
        keep = matte[t] <= 0.5
        rgb_clean, rgb_plate = clean[..., :3], plate[..., :3]
        assert np.array_equal(rgb_clean[keep].view(np.uint16), rgb_plate[keep].view(np.uint16)), frame
        assert np.array_equal(clean[..., 3], matte[t].astype(np.float16))  # the matte went through in alpha
        assert not np.array_equal(rgb_clean[~keep], rgb_plate[~keep])  # the hole was filled


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_keyed_comp(clip):
    """A plate (alpha solid) and, fed by it, a keyer holding the matte (fed also by a tracker of the plate),
    and a Merge taking the plate as its Background and the keyer as its mask: the usual tree downstream."""
    masks = clip.mask.astype(np.float32)
    comp = FakeComp(FIRST, LAST, global_start=0)
    plate = comp.add_media("MediaIn", "MediaIn1", rgba_frames(clip, np.ones_like(masks)), 0, 0)
    zeros = np.zeros_like(masks)
    keyed = {FIRST + t: np.stack([zeros[t], zeros[t], zeros[t], masks[t]], -1).astype(np.float16)
             for t in range(FRAMES)}
    keyer = comp.add_media("DeltaKeyer", "Keyer", keyed, 1, 1)
    track = comp.AddTool("Transform", 1, 2)
    track.SetAttrs({"TOOLS_Name": "MatteTrack"})
    merge = comp.AddTool("Merge", 2, 0)
    grade = comp.AddTool("Transform", 3, 0)
    for tool, name, source in ((keyer, "Input", plate), (track, "Input", plate), (keyer, "GarbageMatte", track),
                               (merge, "Background", plate), (merge, "EffectMask", keyer), (grade, "Input", merge)):
        assert tool.ConnectInput(name, source)
    comp.CurrentFrame.FlowView.Select(plate)
    return comp, plate, {"Keyer": keyer, "MatteTrack": track, "Merge1": merge, "Transform1": grade}


def fed_by(tool, input_name):
    """The name of the tool feeding ``input_name``, through the Input object as a script sees it."""
    index = 1
    while True:
        inp = tool.FindMainInput(index)
        assert inp is not None, f"{tool.Name} has no main input {input_name}"
        if inp.GetAttrs("INPS_ID") == input_name:
            output = inp.GetConnectedOutput()
            return None if output is None else output.GetTool().Name
        index += 1


def temporary_tools_gone(comp):
    """The Saver and Matte Control were removed again, and no input the plugin set was unknown to Fusion."""
    assert [(t.name, t.ignored) for t in comp.ever if t.ignored] == []
    return [t.name for t in comp.tools if t.reg_id in ("Saver", "MatteControl")] == []


# -- the host contract -----------------------------------------------------------------


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_plugin_parses_as_python_3_9(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.name)
def test_plugin_imports_no_heavy_modules(path):
    banned = {"torch", "OpenImageIO", "cv2", "inpaint_core", "PIL"}
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not {n.split(".")[0] for n in names} & banned, (path.name, names)


def test_importing_the_plugin_and_client_loads_no_torch():
    code = ("import sys; "
            "import internal_inpaint_resolve.dialog, internal_inpaint_client.client; "
            "print(sorted(m for m in ('torch', 'OpenImageIO', 'cv2', 'inpaint_core') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_plugin_is_installed_with_the_client_and_edits_no_sys_path():
    assert Path(job.__file__).resolve().parent == PACKAGE  # the editable install of client/
    for path in PLUGIN_FILES:
        tree = ast.parse(path.read_text())
        uses = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path"
                and isinstance(n.value, ast.Name) and n.value.id == "sys"]
        assert uses == [], f"{path.relative_to(ROOT)} uses sys.path on lines {uses}"


# -- host-independent logic --------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("1001-1050", (1001, 1050)), (" 1001 - 1050 ", (1001, 1050)),
                                            ("7", (7, 7)), ("0..3", (0, 3))])
def test_parse_range(text, expected):
    assert job.parse_range(text) == expected


@pytest.mark.parametrize("text, words", [("1050-1001", "ends before"), ("-5-3", "negative"), ("abc", "first-last"),
                                         ("", "first-last")])
def test_parse_range_refuses(text, words):
    with pytest.raises(job.PluginError, match=words):
        job.parse_range(text)


def test_comp_ranges_are_whole_frames_from_zero():
    assert job.check_range(1001.0, 1004.0) == (1001, 1004)
    with pytest.raises(job.PluginError, match="before frame 0"):
        job.check_range(-10.0, 20.0)


def test_job_folders_are_unique_and_named_after_comp_and_plate(tmp_path):
    a = job.unique_job_dir(str(tmp_path / "jobs"), "My Comp.comp", "MediaIn 1", now=0)
    b = job.unique_job_dir(str(tmp_path / "jobs"), "My Comp.comp", "MediaIn 1", now=0)
    assert a != b and os.path.isdir(a) and os.path.isdir(b)
    assert os.path.basename(a).startswith("My_Comp_MediaIn_1_")
    assert os.path.dirname(a) == str(tmp_path / "jobs")


def test_sequence_names_agree_between_fusion_and_the_server():
    pattern = os.path.join("/jobs", "x", "plate.####.exr")
    assert job.fusion_saver_name(pattern) == os.path.join("/jobs", "x", "plate.0000.exr")
    assert job.sequence_file(pattern, 7) == os.path.join("/jobs", "x", "plate.0007.exr")
    assert job.sequence_file(pattern, 12345) == os.path.join("/jobs", "x", "plate.12345.exr")
    assert split_sequence_name(job.fusion_saver_name(pattern)) == (os.path.join("/jobs", "x"), "plate.", 4, ".exr")


def test_settings_validation():
    settings = job.JobSettings(address=" 127.0.0.1:1 ", job_folder="~/jobs", first=1, last=2).validate()
    assert settings.address == "127.0.0.1:1" and os.path.isabs(settings.job_folder) and "~" not in settings.job_folder
    assert settings.frames == "1-2"
    with pytest.raises(job.PluginError, match="preset"):
        job.JobSettings(address="a:1", job_folder="/j", first=1, last=2, preset="best").validate()
    with pytest.raises(job.PluginError, match="address"):
        job.JobSettings(address=" ", job_folder="/j", first=1, last=2).validate()
    assert (settings.fill, settings.seen_channel) == ("guided", False)
    with pytest.raises(job.PluginError, match="Unknown fill 'best': pick one of guided, paper, propagation"):
        job.JobSettings(address="a:1", job_folder="/j", first=1, last=2, fill="best").validate()


def test_progress_text_from_events():
    progress = job.Progress()
    job.apply_event(progress, pb.JobEvent(state=pb.QUEUED, state_change=pb.StateChange(message="Queued")))
    assert progress.status == "Queued"
    job.apply_event(progress, pb.JobEvent(state=pb.TRAINING, training=pb.TrainingProgress(
        iteration=120, iterations=2000, loss=0.01234, eta_seconds=200)))
    assert progress.status == "Training"
    assert progress.detail == "Iteration 120/2000, loss 0.01234, ETA 3 min 20 s"
    job.apply_event(progress, pb.JobEvent(state=pb.INFERRING, frame_written=pb.FrameWritten(frame=1, done=3, total=50)))
    assert progress.status == "Writing frames 3/50"
    job.apply_event(progress, pb.JobEvent(state=pb.DONE, finished=pb.Finished(message="Done: 4 frames, 4 filled",
                                                                               iterations=4, total_seconds=3725)))
    assert progress.status == "Done: 4 frames, 4 filled" and "1 h 02 min" in progress.detail
    job.apply_event(progress, pb.JobEvent(state=pb.FAILED, finished=pb.Finished(message="Out of memory")))
    assert progress.status == "Failed: Out of memory"
    assert job.format_eta(59.4) == "59 s"


def test_error_text():
    from internal_inpaint_client.client import InpaintServiceError, JobCancelled, JobFailed

    denied = InpaintServiceError(grpc.StatusCode.PERMISSION_DENIED, "The plate /x/p.####.exr is outside the roots.")
    text = job.describe_error(denied, "127.0.0.1:50051", "/x/jobs")
    assert "outside the roots" in text and "internal-inpaint serve --allow-root /x/jobs" in text
    down = InpaintServiceError(grpc.StatusCode.UNAVAILABLE, "No answer from the InternalInpaint server at h:1: reset")
    assert job.describe_error(down, "h:1", "/j").endswith("Start it with `internal-inpaint serve --allow-root /j`.")
    assert job.describe_error(JobFailed(pb.Job(id="j", message="Frame 3 is missing."))) == "Failed: Frame 3 is missing."
    assert job.describe_error(JobCancelled(pb.Job(id="j", message="Cancelled by a client."))).startswith("Cancelled")
    assert job.describe_error(RuntimeError("boom\nline two")) == "Unexpected error (RuntimeError): boom line two"


# -- the comp side --------------------------------------------------------------------------


def test_result_loader_lands_on_the_plate_frames_either_side_of_the_global_start(tmp_path, clip):
    masks = clip.mask.astype(np.float32)
    for global_start in (0, 2000):  # clip shifted later (out first) or earlier (in first)
        comp = FakeComp(FIRST, LAST, global_start=global_start)
        plate = comp.add_media("Loader", "Plate", rgba_frames(clip, masks))
        folder = tmp_path / f"g{global_start}"
        pattern = str(folder / "plate.####.exr")
        comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, pattern)
        assert sorted(os.listdir(folder)) == [f"plate.{f}.exr" for f in range(FIRST, LAST + 1)]
        loader = comp_io.add_result_loader(comp, plate, pattern, FIRST, LAST)
        assert loader.ignored == [] and comp.locks == 0 and comp.undo_depth == 0
        assert loader.GetInput("GlobalIn") == FIRST and loader.GetInput("GlobalOut") == LAST
        assert comp.ActiveTool is loader and loader.GetAttrs()["TOOLB_Selected"]
        for t in range(FRAMES):
            assert np.array_equal(comp.evaluate(loader, FIRST + t).view(np.uint16),
                                  rgba_frames(clip, masks)[FIRST + t].view(np.uint16))


def test_render_plate_copies_the_matte_into_alpha_and_cleans_up(tmp_path, clip):
    masks = clip.mask.astype(np.float32)
    comp, plate = make_comp(clip, separate_matte=True)
    matte = comp_io.find_tool(comp, "RotoMatte")
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, matte, "Alpha", FIRST, LAST, pattern)
    assert temporary_tools_gone(comp) and comp.locks == 0 and comp.undo_depth == 0
    render = comp.renders[-1]
    assert (render["Start"], render["End"], render["Wait"]) == (FIRST, LAST, True)
    for t in range(FRAMES):
        written = read_rgba(job.sequence_file(pattern, FIRST + t))
        assert written.dtype == np.float16  # OpenEXRFormat.Depth 1: half
        assert np.array_equal(written[..., :3], plate.frames[FIRST + t][..., :3])
        assert np.array_equal(written[..., 3], masks[t].astype(np.float16))


def test_render_failure_is_reported(tmp_path, clip):
    comp, plate = make_comp(clip)
    # Fusion's Render answers nil (None) when it fails: a clear message, not "missing frames" nor success.
    with pytest.raises(job.PluginError, match=r"Fusion did not render the plate \(comp.Render answered None\)"):
        comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST + 3, str(tmp_path / "plate.####.exr"))
    assert temporary_tools_gone(comp)


def test_wiring_moves_the_plates_consumers_but_not_the_matte_nor_what_feeds_it(tmp_path, clip):
    comp, plate, tools = make_keyed_comp(clip)
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST, pattern)
    loader = comp_io.add_result_loader(comp, plate, pattern, FIRST, LAST)
    keep = comp_io.upstream_names(tools["Keyer"])
    assert keep == {"Keyer", "MatteTrack", "MediaIn1"}
    moved = comp_io.wire_downstream(comp, [plate], loader, keep)
    assert moved == ["Merge1.Background"]
    assert fed_by(tools["Merge1"], "Background") == "InpaintClean"
    assert fed_by(tools["Merge1"], "EffectMask") == "Keyer"  # the mask stays
    assert fed_by(tools["Keyer"], "Input") == "MediaIn1" and fed_by(tools["MatteTrack"], "Input") == "MediaIn1"
    assert fed_by(tools["Keyer"], "GarbageMatte") == "MatteTrack" and fed_by(tools["Transform1"], "Input") == "Merge1"
    assert comp.locks == 0 and comp.undo_depth == 0 and temporary_tools_gone(comp)
    assert [i.GetTool().Name for i in comp_io._values(loader.FindMainOutput(1).GetConnectedInputs())] == ["Merge1"]
    # Without a matte tool only the plugin's own tools and the Loader itself would be left alone.
    other = comp.AddTool("Loader", 4, 0)
    assert comp_io.wire_downstream(comp, [plate], other, ()) == ["Keyer.Input", "MatteTrack.Input"]


def test_the_comp_remembers_the_last_job_per_plate(tmp_path, clip):
    comp, _ = make_comp(clip)
    assert comp_io.read_record(comp, "Plate") is None
    record = job.Record(key="k" * 64, job_id="j1", output=str(tmp_path / "clean.####.exr"), first=FIRST, last=LAST,
                        loader="InpaintClean")
    comp_io.write_record(comp, "Plate", record)
    assert comp.GetData("InternalInpaint.Plate")["Frames"] == f"{FIRST}-{LAST}"
    assert comp_io.read_record(comp, "Plate") == record and comp_io.read_record(comp, "Other") is None
    assert not record.outputs_exist()
    for f in range(FIRST, LAST + 1):
        (tmp_path / f"clean.{f}.exr").write_bytes(b"")
    assert record.outputs_exist()
    comp.SetData("InternalInpaint.Plate", {"Key": "", "Output": "x"})
    assert comp_io.read_record(comp, "Plate") is None


def test_the_key_follows_the_rendered_pixels_and_the_settings_not_the_render(tmp_path, clip):
    masks = clip.mask.astype(np.float32)
    comp, plate = make_comp(clip)
    settings = job.JobSettings(address="a:1", job_folder=str(tmp_path), first=FIRST, last=LAST).validate()

    def key(name, **changes):
        pattern = str(tmp_path / name / "plate.####.exr")
        comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, pattern)
        return job.job_key(job.sequence_files(pattern, FIRST, LAST), job.JobSettings(**{**vars(settings), **changes}))

    first = key("a")
    assert key("b") == first  # another render of the same pixels, in another folder
    assert key("c", dilate=2) != first and key("d", seed=3) != first and key("e", matte_channel="Red") != first
    assert key("g", fill="paper") != first and key("h", seen_channel=True) != first
    darker = rgba_frames(clip, masks)
    darker[LAST] = darker[LAST] * np.float16(0.5)  # one frame's pixels change
    plate.frames = darker
    assert key("f") != first


def test_dialog_form_reads_the_comp_range_or_a_custom_one(tmp_path, clip):
    comp, _ = make_comp(clip, separate_matte=True)
    dialog, win = open_dialog(comp, "127.0.0.1:1", tmp_path)
    assert dialog.items["Plate"].choices == ["MediaIn1", "RotoMatte"]  # Loaders and MediaIns, the selected first
    assert dialog.items["Matte"].choices[0] == dlg.PLATE_ALPHA
    assert dialog.items["Preset"].CurrentText == "draft" and dialog.items["Range"].Text == f"{FIRST}-{LAST}"
    assert (dialog.settings().first, dialog.settings().last) == (FIRST, LAST)
    assert dialog.items["Fill"].choices == ["guided", "paper", "propagation"]
    assert (dialog.settings().fill, dialog.settings().seen_channel) == ("guided", False)
    assert "inpaint.seen" in dialog.items["SeenChannel"].ToolTip and "propagation" in dialog.items["Fill"].ToolTip
    win.choose("Fill", "paper")
    win.set_checked("SeenChannel", True)
    assert (dialog.settings().fill, dialog.settings().seen_channel) == ("paper", True)
    win.choose("Fill", "guided")
    win.set_checked("SeenChannel", False)
    win.choose("RangeMode", dlg.RANGE_CUSTOM)
    win.set_text("Range", "1002-1003")
    assert (dialog.settings().first, dialog.settings().last) == (1002, 1003)
    win.set_text("Range", "1003-1002")
    win.click("Start")
    assert "ends before it starts" in dialog.items["Status"].Text
    win.set_text("Range", "1002-1003")
    win.choose("Matte", "MediaIn1")
    win.click("Start")
    assert "The matte is the plate itself" in dialog.items["Status"].Text
    assert [t.name for t in comp.tools] == ["MediaIn1", "RotoMatte"]


# -- end to end with a real server ------------------------------------------------------------


def test_entry_script_renders_submits_and_adds_the_clean_loader(path_server, job_root, clip, monkeypatch):
    """The whole path as a user runs it: Scripts > Comp > InternalInpaint, Start, wait, Close."""
    comp, plate = make_comp(clip)
    fusion, bmd = FakeFusion(comp), FakeBMD()
    monkeypatch.setenv("INTERNAL_INPAINT_ADDRESS", address_of(path_server))
    monkeypatch.setenv("INTERNAL_INPAINT_JOBS", str(job_root / "entry"))
    seen = {}

    def driver(disp):
        win = disp.windows[0]
        items = win.GetItems()
        if not seen:
            seen["plate"] = items["Plate"].CurrentText
            win.choose("Preset", "draft")
            win.set_value("Iterations", 4)
            win.click("Start")
            seen["started"] = True
        elif items["Start"].Enabled and not items["Cancel"].Enabled:
            seen["status"] = items["Status"].Text
            win.click("Close")

    original = FakeBMD.UIDispatcher

    def dispatcher(self, ui):
        made = original(self, ui)
        made.driver = driver
        return made

    monkeypatch.setattr(FakeBMD, "UIDispatcher", dispatcher)
    result = runpy.run_path(str(ENTRY), init_globals={"fu": fusion, "comp": comp, "bmd": bmd})
    assert result is not None
    assert seen["plate"] == "Plate"  # the selected Loader is preselected
    assert seen["status"].startswith("Done: Loader InpaintClean added"), seen["status"]
    loader = comp_io.find_tool(comp, "InpaintClean")
    folder = os.path.dirname(loader.GetInput("Clip"))
    assert os.path.dirname(folder) == str(job_root / "entry")
    assert loader.GetInput("Clip") == os.path.join(folder, f"clean.{FIRST}.exr")
    plates = sorted(f for f in os.listdir(folder) if f.startswith("plate."))
    assert plates == [f"plate.{f}.exr" for f in range(FIRST, LAST + 1)]
    check_clean_loader(comp, loader, plate.frames, clip.mask.astype(np.float32))
    assert temporary_tools_gone(comp) and comp.locks == 0 and comp.undo_depth == 0


def test_fill_and_seen_channel_reach_the_job_and_the_clean_frames(path_server, job_root, clip):
    comp, plate = make_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "seen")
    win.choose("Fill", "propagation")
    win.set_checked("SeenChannel", True)
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text
    with client_for(path_server) as client:
        training = client.get_job(dialog.runner.job_id).spec.training
    assert training.fill == pb.FILL_PROPAGATION and training.seen_channel
    masks = clip.mask.astype(np.float32)
    for t in range(FRAMES):
        clean = read_frame(job.sequence_file(dialog.job["output"], FIRST + t))
        assert clean.channel_names == ("R", "G", "B", "A", "inpaint.seen")
        keep = masks[t] <= 0.5
        original = plate.frames[FIRST + t]
        assert np.array_equal(clean.pixels[..., :3][keep].view(np.uint16), original[..., :3][keep].view(np.uint16))
        assert not clean.pixels[..., 4][keep].any()


def test_separate_matte_tool(path_server, job_root, clip):
    comp, plate = make_comp(clip, separate_matte=True)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "separate", matte="RotoMatte")
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text
    assert "loss" in dialog.items["Detail"].Text
    check_clean_loader(comp, dialog.result_loader, plate.frames, clip.mask.astype(np.float32))
    assert temporary_tools_gone(comp)


def test_an_unchanged_repress_reuses_the_result_and_a_changed_setting_runs_a_new_job(path_server, job_root, clip):
    comp, plate = make_comp(clip)
    folder = job_root / "reuse"
    with client_for(path_server) as client:
        dialog, win = open_dialog(comp, address_of(path_server), folder)
        win.click("Start")
        dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
        assert dialog.items["Status"].Text.startswith("Done"), dialog.items["Status"].Text
        job_id, loader = dialog.runner.job_id, dialog.result_loader
        clip_path = loader.GetInput("Clip")
        jobs = len(client.list_jobs())
        record = comp_io.read_record(comp, "Plate")
        assert (record.job_id, record.loader, record.first, record.last) == (job_id, "InpaintClean", FIRST, LAST)

        # The script run again over the same comp: its data, not the dialog, remembers the job.
        again, win = open_dialog(comp, address_of(path_server), folder)
        assert comp.ActiveTool is loader and again.items["Plate"].choices == ["Plate", "InpaintClean"]  # not the result
        win.click("Start")
        status = again.items["Status"].Text
        assert status.startswith(f"Reused job {job_id}"), status
        assert again.runner is None and len(client.list_jobs()) == jobs
        assert again.result_loader.Name == "InpaintClean" and again.result_loader.GetInput("Clip") == clip_path
        assert [t.name for t in comp.tools] == ["Plate", "InpaintClean"] and comp.ActiveTool is again.result_loader
        assert len(os.listdir(folder)) == 1  # the re-rendered inputs were removed
        assert again.items["Start"].Enabled

        loader.Delete()  # the Loader is gone, the frames are not: a new Loader of the same frames, no job
        win.click("Start")
        assert again.items["Status"].Text.startswith(f"Reused job {job_id}"), again.items["Status"].Text
        assert again.result_loader.GetInput("Clip") == clip_path and len(client.list_jobs()) == jobs
        check_clean_loader(comp, again.result_loader, plate.frames, clip.mask.astype(np.float32))

        win.set_value("Seed", 7)
        win.click("Start")
        again.disp.pump_until(lambda: finished(again), timeout=60)
        assert again.items["Status"].Text.startswith("Done"), again.items["Status"].Text
        assert len(client.list_jobs()) == jobs + 1 and again.runner.job_id != job_id
        assert client.get_job(again.runner.job_id).spec.training.seed == 7
        assert again.result_loader.GetInput("Clip") != clip_path and len(os.listdir(folder)) == 2
        assert comp_io.read_record(comp, "Plate").job_id == again.runner.job_id
    assert temporary_tools_gone(comp)


def test_wire_result_downstream_off_then_on(path_server, job_root, clip):
    comp, plate, tools = make_keyed_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "wired", matte="Keyer")
    assert dialog.items["Wire"].Checked  # on by default
    win.set_checked("Wire", False)
    win.click("Start")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=60)
    status = dialog.items["Status"].Text
    assert status == "Done: Loader InpaintClean added beside MediaIn1 and selected.", status
    loader = dialog.result_loader
    assert fed_by(tools["Merge1"], "Background") == "MediaIn1" and comp.ActiveTool is loader  # untouched
    assert loader.Output.GetConnectedInputs() == {}

    win.set_checked("Wire", True)  # pressed again, unchanged: the result is reused, and now wired
    win.click("Start")
    status = dialog.items["Status"].Text
    assert status.startswith("Reused job") and "It now feeds Merge1.Background." in status, status
    assert dialog.result_loader.Name == "InpaintClean"
    assert dialog.result_loader.GetInput("Clip") == loader.GetInput("Clip")
    assert fed_by(tools["Merge1"], "Background") == "InpaintClean" and fed_by(tools["Merge1"], "EffectMask") == "Keyer"
    assert fed_by(tools["Keyer"], "Input") == "MediaIn1" and fed_by(tools["MatteTrack"], "Input") == "MediaIn1"
    assert fed_by(tools["Transform1"], "Input") == "Merge1"
    check_clean_loader(comp, dialog.result_loader, plate.frames, clip.mask.astype(np.float32))
    assert temporary_tools_gone(comp) and comp.locks == 0 and comp.undo_depth == 0


def test_server_down_is_a_status_message(tmp_path, clip, capsys):
    comp, _ = make_comp(clip)
    address = f"127.0.0.1:{free_port()}"
    dialog, win = open_dialog(comp, address, tmp_path / "jobs", connect_timeout=1.0)
    win.click("Start")  # the guard turns every failure into text: nothing escapes
    status = dialog.items["Status"].Text
    assert f"No InternalInpaint server at {address}" in status and "internal-inpaint serve" in status
    assert "Traceback" not in capsys.readouterr().out
    assert dialog.items["Start"].Enabled and not dialog.items["Cancel"].Enabled
    assert not (tmp_path / "jobs").exists()  # nothing rendered for a server that is not there
    assert [t.name for t in comp.tools] == ["Plate"]


def test_cancel_mid_training(path_server, job_root, clip):
    comp, _ = make_comp(clip)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "cancel", iterations=100000)
    win.click("Start")
    assert dialog.items["Cancel"].Enabled and not dialog.items["Start"].Enabled
    dialog.disp.pump_until(lambda: dialog.items["Detail"].Text.startswith("Iteration"), timeout=60)
    assert "loss" in dialog.items["Detail"].Text
    win.click("Cancel")
    dialog.disp.pump_until(lambda: finished(dialog), timeout=30)
    assert dialog.items["Status"].Text.startswith("Cancelled"), dialog.items["Status"].Text
    assert dialog.result_loader is None and [t.name for t in comp.tools] == ["Plate"]
    assert dialog.items["Start"].Enabled


def test_job_folder_outside_the_allowed_roots(path_server, tmp_path, clip):
    comp, _ = make_comp(clip)
    outside = tmp_path / "elsewhere"
    dialog, win = open_dialog(comp, address_of(path_server), outside)
    win.click("Start")
    status = dialog.items["Status"].Text
    assert "outside the server's allowed roots" in status and f"--allow-root {outside}" in status
    assert not outside.exists()  # refused before rendering


def test_permission_denied_from_the_server_says_how_to_start_it(path_server, job_root, tmp_path):
    """A server that refuses the paths themselves (PERMISSION_DENIED) gets the same advice."""
    settings = job.JobSettings(address=address_of(path_server), job_folder=str(tmp_path), first=FIRST,
                               last=LAST).validate()
    runner = job.JobRunner(settings)
    try:
        with pytest.raises(Exception) as refused:
            runner.submit(str(tmp_path / "plate.####.exr"), str(tmp_path / "clean.####.exr"))
    finally:
        runner.close()
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    text = job.describe_error(refused.value, settings.address, settings.job_folder)
    assert "allowed roots" in text and f"internal-inpaint serve --allow-root {tmp_path}" in text


def test_bad_matte_is_a_status_message(path_server, job_root, clip):
    full = np.ones((FRAMES, HEIGHT, WIDTH), np.float32)
    comp, _ = make_comp(clip, matte=full)
    dialog, win = open_dialog(comp, address_of(path_server), job_root / "bad")
    win.click("Start")
    if dialog.runner is not None:  # refused at submission, or failed on the server: either way, text
        dialog.disp.pump_until(lambda: finished(dialog), timeout=30)
    status = dialog.items["Status"].Text
    assert status and not status.startswith("Done") and "matte" in status.lower(), status
    assert dialog.result_loader is None and dialog.items["Start"].Enabled


def test_a_copied_entry_script_needs_no_checkout_and_says_the_pip_command_without_the_plugin(tmp_path, monkeypatch,
                                                                                           capsys):
    copied = tmp_path / "Scripts" / "Comp" / "InternalInpaint.py"
    copied.parent.mkdir(parents=True)
    copied.write_text(ENTRY.read_text())
    # The plugin is installed (with the client): a copy anywhere opens it (and says there is no comp).
    runpy.run_path(str(copied), init_globals={"fu": FakeFusion(), "comp": None, "bmd": FakeBMD()})
    assert "No comp is open" in capsys.readouterr().out
    # Not installed in this Python: the one pip command to run, with a placeholder for a copy's checkout...
    monkeypatch.setitem(sys.modules, "internal_inpaint_resolve", None)
    monkeypatch.setitem(sys.modules, "internal_inpaint_resolve.dialog", None)
    runpy.run_path(str(copied), init_globals={"fu": FakeFusion(), "comp": None, "bmd": FakeBMD()})
    out = capsys.readouterr().out
    assert "not installed in this Python" in out
    assert f'"{sys.executable}" -m pip install "/path/to/InternalInpaint/client"' in out
    # ...and the checkout's own client folder when the script is the checkout's (or a link to it).
    runpy.run_path(str(ENTRY), init_globals={"fu": FakeFusion(), "comp": None, "bmd": FakeBMD()})
    assert f'-m pip install "{ROOT / "client"}"' in capsys.readouterr().out
