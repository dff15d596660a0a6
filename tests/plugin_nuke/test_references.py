"""Reference frames (clean plates painted by hand) in the Nuke plugin: the node's third input and its
"reference frames" knob.

Against the stand-in nuke (tests/fake_nuke) with a recording client (no server) for what reaches
``submit_paths`` and the reuse of results, and against a real local server for what the server does with them:
the painted pixels are kept exactly, and a reference in another format is refused with the server's reason.
"""

from __future__ import annotations

import os
import shutil
import types

import numpy as np
import OpenImageIO as oiio
import pytest

from internal_inpaint_client import client as real_client
from internal_inpaint_client.reuse_key import reuse_key as shared_reuse_key
from tests.plugin_nuke.test_plugin_nuke import (
    FIRST,
    FRAMES,
    RGBA,
    clean_files,
    clip_frames,
    closed_port,
    inpaint_node,
    press,
    read_half,
    source,
)
from tests.server_support import client_for

LAST = FIRST + FRAMES - 1
PAINT = np.array([0.25, 0.5, 0.75], np.float32)  # the colour the "artist" paints the hole with


@pytest.fixture(scope="module")
def client(path_server):
    with client_for(path_server) as connected:
        yield connected


def shot():
    """(plate RGBA with the matte in A, matte, painted RGBA: the plate's RGB with every hole painted PAINT)."""
    plate, mask = clip_frames()
    rgba = np.concatenate([plate, mask[..., None]], -1)
    painted = rgba.copy()
    painted[mask > 0.5, :3] = PAINT
    painted[..., 3] = 0.0  # the reference's own alpha: replaced by the matte when it is rendered
    return rgba, mask, painted


class RecordingClient:
    """Stands in for InpaintClient: records every submit_paths; ``wait`` "finishes" a job by writing its output
    (the plate's frames as the clean frames) so that the node can reuse it."""

    calls: list = []

    def __init__(self, address, token=None, **options):
        self.address = address

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def close(self):
        pass

    def wait_until_ready(self, timeout):
        pass

    def get_job(self, job_id):
        return types.SimpleNamespace(state=real_client.inpaint_pb2.DONE)

    def submit_paths(self, plate, output, **kwargs):
        RecordingClient.calls.append({"plate": plate, "output": output, **kwargs})
        return f"job{len(RecordingClient.calls)}"

    def wait(self, job_id, on_event=None):
        from internal_inpaint_nuke.render import frame_path

        call = RecordingClient.calls[int(job_id[3:]) - 1]
        first, last = (int(part) for part in call["frames"].split("-"))
        for frame in range(first, last + 1):
            shutil.copyfile(frame_path(call["plate"], frame), frame_path(call["output"], frame))


def reference_node(tmp_path, frames="1002", painted=None, address="127.0.0.1:1", **knobs):
    """A node over the shot with the painted frames on the reference input and ``frames`` listed."""
    from internal_inpaint_nuke import node as plugin_ii

    rgba, mask, default_painted = shot()
    group = inpaint_node(source(rgba, RGBA), tmp_path, address, **knobs)
    reference = source(default_painted if painted is None else painted, RGBA)
    group.setInput(plugin_ii.REFERENCE_INDEX, reference)
    group[plugin_ii.REFERENCE_FRAMES].setValue(frames)
    return group, reference, rgba, mask


def read_spec(path):
    image = oiio.ImageInput.open(path)
    assert image is not None, oiio.geterror()
    try:
        spec = image.spec()
        return tuple(spec.channelnames), str(spec.format), (spec.width, spec.height)
    finally:
        image.close()


# -- the node ---------------------------------------------------------------------------------------------------


def test_the_node_has_a_reference_input_and_an_empty_reference_frames_knob(ii):
    group = inpaint_node(None, "/tmp/unused", "127.0.0.1:1")
    assert [n.name() for n in group.nodes() if n.Class() == "Input"][ii.REFERENCE_INDEX] == ii.REFERENCE_INPUT
    assert group[ii.REFERENCE_FRAMES].value() == ""
    assert "plate's format" in group[ii.REFERENCE_FRAMES].tooltip()
    assert group.node(ii.REFERENCE_WRITE)["disable"].value()  # never rendered by "Render all"


@pytest.mark.parametrize("text, frames", [("", ()), ("  ", ()), ("1012", (1012,)), ("1012,1040", (1012, 1040)),
                                          ("1040, 1012 1012", (1012, 1040)), ("1010-1012", (1010, 1011, 1012)),
                                          ("-3", (-3,)), ("1012,1040-1041", (1012, 1040, 1041))])
def test_the_frame_list_syntax(render, text, frames):
    assert render.parse_frame_list(text) == frames


@pytest.mark.parametrize("text, words", [("10a2", "list frame numbers separated by commas"),
                                         ("1012;1040", "list frame numbers"), ("1012-1010", "ends before it starts")])
def test_a_bad_frame_list_says_how_to_write_one(render, text, words):
    with pytest.raises(render.InputProblem, match=words):
        render.parse_frame_list(text)


def test_frame_runs_render_exactly_the_listed_frames(render):
    assert render.frame_runs((1002, 1003, 1005, 1010, 1011, 1012)) == [(1002, 1003), (1005, 1005), (1010, 1012)]
    assert render.frame_runs(()) == []


def test_a_node_saved_before_references_has_none(tmp_path, ii, render):
    rgba, _, _ = shot()
    group = inpaint_node(source(rgba, RGBA), tmp_path, "127.0.0.1:1")
    del group._knobs[ii.REFERENCE_FRAMES]  # as a script saved by an earlier version holds the node
    assert render.read_settings(group).reference_frames == ()


# -- errors shown before anything renders ---------------------------------------------------------------------


@pytest.mark.parametrize("case, words", [
    ("listed, nothing connected", "reference frames lists 1002, but nothing is connected to the reference input"),
    ("connected, none listed", "The reference input is connected but reference frames is empty"),
    ("outside the range", f"Reference frame 1100 is outside the job's frames {FIRST}-{LAST}"),
    ("one of two outside", f"Reference frame 999 is outside the job's frames {FIRST}-{LAST}"),
    ("bad syntax", "Reference frames '10x2': list frame numbers separated by commas"),
    ("the plate itself", "The reference input is the plate itself"),
    ("other channels", "The reference input's channels differ from the plate's (it has depth.Z besides)"),
    ("fewer channels", "The reference input's channels differ from the plate's (it lacks rgba.blue)"),
])
def test_reference_mistakes_are_clear_errors_before_anything_renders(tmp_path, ii, recording, case, words):
    group, reference, rgba, _ = reference_node(tmp_path)
    if case == "listed, nothing connected":
        group.setInput(ii.REFERENCE_INDEX, None)
    elif case == "connected, none listed":
        group[ii.REFERENCE_FRAMES].setValue(" ")
    elif case == "outside the range":
        group[ii.REFERENCE_FRAMES].setValue("1002,1100")
    elif case == "one of two outside":
        group[ii.REFERENCE_FRAMES].setValue("999,1002")
    elif case == "bad syntax":
        group[ii.REFERENCE_FRAMES].setValue("10x2")
    elif case == "the plate itself":
        group.setInput(ii.REFERENCE_INDEX, group.input(0))
    elif case == "other channels":
        depth = np.concatenate([rgba, rgba[..., :1]], -1)
        group.setInput(ii.REFERENCE_INDEX, source(depth, RGBA + ["depth.Z"]))
    else:
        group.setInput(ii.REFERENCE_INDEX, source(rgba[..., :2], RGBA[:2]))
    status = press(group)
    assert status.startswith("Error: ") and words in status, status
    assert os.listdir(tmp_path) == [] and recording == []  # nothing rendered, nothing submitted


# -- what reaches submit_paths, and reuse -----------------------------------------------------------------------


def test_the_listed_frames_are_rendered_in_the_plates_format_and_reach_submit_paths(tmp_path, ii, recording,
                                                                                     capsys):
    group, _, rgba, mask = reference_node(tmp_path, frames="1003, 1002")
    status = press(group)
    assert status.startswith("Done: job job1"), status
    assert len(recording) == 1
    call = recording[0]
    folder = os.path.dirname(call["plate"])
    expected = {frame: os.path.join(folder, f"reference.{frame}.exr") for frame in (1002, 1003)}
    assert call["references"] == expected and call["frames"] == f"{FIRST}-{LAST}"
    assert sorted(f for f in os.listdir(folder) if f.startswith("reference.")) == ["reference.1002.exr",
                                                                                   "reference.1003.exr"]  # only those
    _, _, painted = shot()
    for frame, path in expected.items():
        plate_file = os.path.join(folder, f"plate.{frame}.exr")
        assert read_spec(path) == read_spec(plate_file) == (("R", "G", "B", "A"), "half", (48, 32))
        pixels, _ = read_half(path)
        t = frame - FIRST
        assert np.array_equal(pixels[..., :3].view(np.uint16), painted[t][..., :3].astype(np.float16).view(np.uint16))
        assert np.array_equal(pixels[..., 3], mask[t].astype(np.float16))  # the plate's alpha: the same matte
    assert "Job job1 submitted (view main, reference frames 1002,1003)" in capsys.readouterr().out
    assert group.node(ii.REFERENCE_WRITE)["disable"].value() and group.node(ii.WRITE)["disable"].value()


def test_without_references_submit_paths_is_called_as_before(tmp_path, recording):
    rgba, _, _ = shot()
    group = inpaint_node(source(rgba, RGBA), tmp_path, "127.0.0.1:1")
    assert press(group).startswith("Done: job job1")
    assert "references" not in recording[0]
    assert not [f for f in os.listdir(os.path.dirname(recording[0]["plate"])) if f.startswith("reference.")]


def test_a_separate_matte_goes_into_the_references_alpha_too(tmp_path, ii, recording):
    rgba, mask, painted = shot()
    solid = rgba.copy()
    solid[..., 3] = 1.0
    matte = np.repeat(mask[..., None], 3, axis=-1)
    group = inpaint_node(source(solid, RGBA), tmp_path, "127.0.0.1:1", matte=source(matte, RGBA[:3]),
                         **{ii.MASK_CHANNEL: "rgba.green"})
    group.setInput(ii.REFERENCE_INDEX, source(painted[..., :3], RGBA[:3]))  # painted RGB only: alpha comes with it
    group[ii.REFERENCE_FRAMES].setValue("1002")
    assert press(group).startswith("Done: job job1")
    path = recording[0]["references"][1002]
    assert read_spec(path) == read_spec(recording[0]["plate"].replace("####", "1002"))
    pixels, _ = read_half(path)
    assert np.array_equal(pixels[..., 3], mask[1].astype(np.float16))


def test_the_reuse_key_follows_the_painted_pixels_and_the_frame_list(tmp_path, ii, recording):
    group, reference, _, _ = reference_node(tmp_path)
    assert press(group).startswith("Done: job job1")
    assert press(group).startswith("Reused job job1")  # nothing changed: no new job
    assert len(recording) == 1 and len(os.listdir(tmp_path)) == 1  # the re-rendered inputs were removed

    _, _, painted = shot()
    repainted = painted.copy()
    repainted[1, 5, 5, 0] += 0.125  # one pixel of the painted frame changes
    reference.set_frames({FIRST + t: repainted[t] for t in range(FRAMES)}, RGBA)
    assert press(group).startswith("Done: job job2")
    assert press(group).startswith("Reused job job2")

    unpainted = repainted.copy()
    unpainted[2, 5, 5, 0] += 0.125  # a frame that is not listed changes: not rendered, not keyed
    reference.set_frames({FIRST + t: unpainted[t] for t in range(FRAMES)}, RGBA)
    assert press(group).startswith("Reused job job2")

    group[ii.REFERENCE_FRAMES].setValue("1002,1003")
    assert press(group).startswith("Done: job job3")
    assert sorted(recording[-1]["references"]) == [1002, 1003]
    group[ii.REFERENCE_FRAMES].setValue("1003, 1002")  # the same frames written otherwise
    assert press(group).startswith("Reused job job3")

    group.setInput(ii.REFERENCE_INDEX, None)
    group[ii.REFERENCE_FRAMES].setValue("")
    assert press(group).startswith("Done: job job4") and "references" not in recording[-1]
    assert len(recording) == 4


def _write_exr(path, pixels, stamp="2024:01:01 00:00:00"):
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "half")
    spec.channelnames = ("R", "G", "B", "A")
    spec.attribute("DateTime", stamp)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels)
    out.close()
    return str(path)


def test_the_reuse_key_of_references_files_and_frames(tmp_path, job):
    from internal_inpaint_nuke.render import Settings

    pixels = np.random.default_rng(0).random((8, 8, 4)).astype(np.float16)
    plate = [_write_exr(tmp_path / "plate.0001.exr", pixels)]
    base = Settings("a:1", "rgba.alpha", 1, 2, "draft", 0, 0, str(tmp_path))
    painted = Settings(**{**vars(base), "reference_frames": (1,)})
    old_fields = {"preset": "draft", "iterations": 0, "seed": 0, "mask_channel": "rgba.alpha", "frames": "1-2",
                  "fill": base.fill, "seen_channel": False}
    # Without references the key is what it was before references existed: earlier results are still reused.
    assert job.reuse_key(plate, base) == shared_reuse_key(plate, old_fields, version=job.KEY_VERSION)
    reference = _write_exr(tmp_path / "reference.0001.exr", pixels)
    key = job.reuse_key(plate, painted, [reference])
    assert key != job.reuse_key(plate, base)
    _write_exr(tmp_path / "reference.0001.exr", pixels, stamp="2025:06:30 12:34:56")  # a new render, same pixels
    assert job.reuse_key(plate, painted, [reference]) == key
    changed = pixels.copy()
    changed[2, 2, 1] += np.float16(0.25)
    _write_exr(tmp_path / "reference.0001.exr", changed)
    assert job.reuse_key(plate, painted, [reference]) != key
    _write_exr(tmp_path / "reference.0001.exr", pixels)
    assert job.reuse_key(plate, painted, [reference]) == key
    two = Settings(**{**vars(base), "reference_frames": (1, 2)})
    assert job.reuse_key(plate, two, [reference]) != key  # the frame list counts on its own


# -- with a real server -------------------------------------------------------------------------------------------


def test_the_painted_pixels_are_kept_exactly_in_the_result(path_server, client, job_root, ii):
    group, _, rgba, mask = reference_node(job_root / "painted", frames="1002",
                                          address=f"127.0.0.1:{path_server.port}")
    status = press(group)
    assert status.startswith("Done: job "), status
    spec = client.get_job(group[ii.JOB_ID].value()).spec
    [given] = spec.paths.references
    assert given.frame == 1002 and given.image.endswith("/reference.1002.exr") and not given.matte
    _, _, painted = shot()
    for t, path in enumerate(clean_files(group)):
        clean, names = read_half(path)
        assert names == ("R", "G", "B", "A")
        hole, keep = mask[t] > 0.5, mask[t] <= 0.5
        original = rgba[t].astype(np.float16)
        assert np.array_equal(clean[keep].view(np.uint16), original[keep].view(np.uint16))  # outside: the plate's
        if FIRST + t == 1002:  # the painted frame's hole: the painted pixels, bit for bit
            assert np.array_equal(clean[..., :3][hole].view(np.uint16),
                                  painted[t][..., :3][hole].astype(np.float16).view(np.uint16))


def test_a_reference_in_another_format_is_refused_with_the_servers_reason(path_server, job_root, ii):
    folder = job_root / "small"
    _, _, painted = shot()
    group, _, _, _ = reference_node(folder, painted=painted[:, :16, :24], address=f"127.0.0.1:{path_server.port}")
    status = press(group)
    assert status.startswith("Error: ") and "reference.1002.exr" in status and "plate's format" in status, status
    assert os.listdir(folder) == []  # no job reads the rendered frames: removed


def test_no_server_still_renders_then_says_so(tmp_path, job, monkeypatch):
    monkeypatch.setattr(job, "CONNECT_TIMEOUT", 0.5)
    group, _, _, _ = reference_node(tmp_path, address=f"127.0.0.1:{closed_port()}")
    assert press(group).startswith("Error: No InternalInpaint server answers")
    assert os.listdir(tmp_path) == []  # plate and reference renders removed
