"""The Nuke plugin (plugin_nuke/) against a stand-in `nuke` module (tests/fake_nuke) and a real local server.

The fake renders for real (EXR files through OpenImageIO), runs main-thread calls only when the
test pumps them (as Nuke's event loop would), and raises when another thread touches a knob.
The fake and the plugin are imported by fixtures (tests/conftest.py: fake_nuke, nuke_plugin).
"""

from __future__ import annotations

import ast
import os
import runpy
import socket
import subprocess
import sys

import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint.v1 import inpaint_pb2 as pb
from tests import ROOT
from tests.server_support import client_for

PLUGIN = ROOT / "plugin_nuke"
FAKE_NUKE = ROOT / "tests" / "fake_nuke"
FIRST, FRAMES, WIDTH, HEIGHT = 1001, 4, 48, 32
RGBA = ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"]


@pytest.fixture
def plugin(nuke_plugin):
    return nuke_plugin


@pytest.fixture
def commands(nuke_plugin):
    return nuke_plugin.commands


@pytest.fixture(scope="module")
def client(path_server):
    with client_for(path_server) as connected:
        yield connected


def clip_frames(seed: int = 0):
    clip = make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT, seed=seed)
    return clip.plate, clip.mask.astype(np.float32)


def _host():
    """The stand-in nuke and the plugin's modules for the helpers below (imported by the fixtures first)."""
    import nuke

    import internal_inpaint_nuke
    from internal_inpaint_nuke import commands, node

    return nuke, internal_inpaint_nuke, node, commands


def source(planes: np.ndarray, channels):
    nuke, _, _, _ = _host()
    node = nuke.nodes.ArraySource()
    node.set_frames({FIRST + t: planes[t] for t in range(len(planes))}, channels)
    return node


def inpaint_node(plate, folder, address, matte=None, **knobs):
    _, plugin, ii, _ = _host()
    group = plugin.create_node()
    group.setInput(0, plate)
    if matte is not None:
        group.setInput(1, matte)
    settings = {ii.SERVER: address, ii.JOB_FOLDER: str(folder), ii.PRESET: "draft", ii.ITERATIONS: 4}
    settings.update(knobs)
    for name, value in settings.items():
        group[name].setValue(value)
    return group


def press(group, button=None, timeout=90.0):
    """Click a button as the artist would, then let the main thread run until the node's job is over."""
    nuke, _, ii, commands = _host()
    group[button or ii.INPAINT_BUTTON].execute()
    nuke.run_until(lambda: group.fullName() not in commands._RUNS, timeout)
    return group[ii.STATUS].value()


def read_half(path: str) -> tuple:
    image = oiio.ImageInput.open(path)
    assert image is not None, oiio.geterror()
    try:
        return image.read_image("half"), tuple(image.spec().channelnames)
    finally:
        image.close()


def clean_files(group):
    nuke, _, ii, _ = _host()
    read = group.node(ii.READ)
    pattern, first, last = read["file"].value(), read["first"].value(), read["last"].value()
    return [nuke._frame_path(pattern, f) for f in range(first, last + 1)]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- static checks and registration -------------------------------------------------------------

PLUGIN_SOURCES = sorted(PLUGIN.rglob("*.py"))
HEAVY = {"torch", "OpenImageIO", "cv2", "inpaint_core"}


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=[str(p.relative_to(PLUGIN)) for p in PLUGIN_SOURCES])
def test_plugin_parses_as_python_3_9_and_imports_nothing_heavy(path):
    tree = ast.parse(path.read_text(), filename=str(path), feature_version=(3, 9))
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {name.split(".")[0] for name in imported} & HEAVY


def test_init_and_menu_register_a_toolbar_command_that_builds_the_node(nuke, ii):
    runpy.run_path(str(PLUGIN / "init.py"))
    runpy.run_path(str(PLUGIN / "menu.py"))
    item = nuke.menu("Nodes").findItem("InternalInpaint/InternalInpaint")
    assert item is not None and "create_node" in item.script()
    item.invoke()
    group = nuke.toNode("InternalInpaint1")
    assert group is not None and group.Class() == "Group"
    inputs = [n.name() for n in group.nodes() if n.Class() == "Input"]  # Nuke numbers Inputs in creation order
    assert inputs == ["plate", "matte", "reference"] and group.maximumInputs() == 3
    assert group.output() is not None and group.node(ii.SWITCH)["which"].value() == 0  # passes the plate through
    assert group.node(ii.WRITE)["disable"].value()  # never rendered by "Render all"
    assert group.node(ii.REFERENCE_WRITE)["disable"].value()
    for knob in (ii.SERVER, ii.MASK_CHANNEL, ii.RANGE_MODE, ii.FIRST, ii.LAST, ii.PRESET, ii.ITERATIONS, ii.SEED,
                 ii.JOB_FOLDER, ii.INPAINT_BUTTON, ii.CANCEL_BUTTON, ii.STATUS, ii.JOB_ID, ii.REFERENCE_FRAMES):
        assert group.knob(knob) is not None, knob
    assert group[ii.SERVER].value() == "127.0.0.1:50051"
    assert group[ii.JOB_FOLDER].value().endswith("internal_inpaint_jobs")
    assert all(group[k].getFlag(nuke.INVISIBLE) for k in (ii.JOB_KEY, ii.JOB_OUTPUT, ii.JOB_FRAMES))
    item.invoke()
    assert nuke.toNode("InternalInpaint2") is not None


def test_no_plugin_file_edits_sys_path():
    """Nuke puts the NUKE_PATH folder on sys.path; the client is installed into Nuke's Python with pip."""
    for path in PLUGIN_SOURCES:
        tree = ast.parse(path.read_text())
        uses = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path"
                and isinstance(n.value, ast.Name) and n.value.id == "sys"]
        assert uses == [], f"{path.relative_to(ROOT)} uses sys.path on lines {uses}"


def test_without_the_client_the_plugin_says_the_pip_command_to_run():
    """In a Nuke whose Python lacks the client: init.py, the menu command and a saved node's buttons say so."""
    code = """if True:
        import runpy, sys
        sys.modules["internal_inpaint_client"] = None  # not installed: every import of it fails
        runpy.run_path("init.py")
        runpy.run_path("menu.py")
        import nuke
        nuke.menu("Nodes").findItem("InternalInpaint/InternalInpaint").invoke()
        print("MESSAGE", nuke.messages)
        group = nuke.nodes.Group()
        group.addKnob(nuke.Text_Knob("status", "status", ""))
        import internal_inpaint_nuke
        internal_inpaint_nuke.inpaint(group)
        print("STATUS", group["status"].value())
        print("MODULES", sorted(m for m in ("grpc", "internal_inpaint_nuke.node") if m in sys.modules))
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_NUKE), str(PLUGIN)])}  # as NUKE_PATH would
    done = subprocess.run([sys.executable, "-c", code], cwd=PLUGIN, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    command = f'-m pip install "{ROOT / "client"}"'
    lines = {line.split(" ", 1)[0]: line for line in done.stdout.splitlines()}
    assert lines["InternalInpaint:"].startswith(
        "InternalInpaint: The InternalInpaint client library cannot be imported"
    )
    assert command in lines["InternalInpaint:"] and "restart Nuke" in lines["InternalInpaint:"]
    assert command in lines["MESSAGE"]  # the menu command opens a dialog instead of a node
    assert lines["STATUS"].startswith("STATUS Error: The InternalInpaint client") and command in lines["STATUS"]
    assert lines["MODULES"] == "MODULES []"  # nothing of the plugin that needs the client was imported


def test_the_install_command_names_nukes_python_and_this_checkouts_client(plugin):
    install = plugin.install
    python = os.path.join(os.path.dirname(sys.executable), "python.exe" if os.name == "nt" else "python")
    assert install.install_command() == f'"{python}" -m pip install "{ROOT / "client"}"'
    assert install.client_installed()


# -- errors that never reach the server ---------------------------------------------------------

def test_input_problems_are_reported_on_the_node(tmp_path, ii):
    group = inpaint_node(None, tmp_path, "127.0.0.1:1")
    assert press(group).startswith("Error: Connect the plate")
    plate, _ = clip_frames()
    group.setInput(0, source(plate, RGBA[:3]))  # no alpha: the matte must come from somewhere
    assert "has no channel rgba.alpha" in press(group)
    group[ii.RANGE_MODE].setValue("custom")
    group[ii.FIRST].setValue(10)
    group[ii.LAST].setValue(5)
    assert "frame range 10-5 is empty" in press(group)
    assert os.listdir(tmp_path) == []


def test_server_down_is_a_status_message(tmp_path, monkeypatch, capsys, job):
    monkeypatch.setattr(job, "CONNECT_TIMEOUT", 1.0)
    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), tmp_path,
                         f"127.0.0.1:{closed_port()}")
    status = press(group)
    assert status.startswith("Error: No InternalInpaint server answers at 127.0.0.1:")
    assert "--allow-root" in status and status in capsys.readouterr().out
    assert os.listdir(tmp_path) == []  # the rendered inputs of a job that never was are removed


# -- end to end with a real server --------------------------------------------------------------

def test_inpaint_reads_back_a_clean_plate_then_reuses_it_until_settings_change(path_server, client, job_root, nuke,
                                                                               ii):
    plate, mask = clip_frames()
    rgba = np.concatenate([plate, mask[..., None]], -1)
    folder = job_root / "alpha"
    group = inpaint_node(source(rgba, RGBA), folder, f"127.0.0.1:{path_server.port}")
    jobs_before = len(client.list_jobs())

    status = press(group)
    assert status.startswith("Done: job "), status
    job_id = group[ii.JOB_ID].value()
    assert client.get_job(job_id).state == pb.DONE and len(client.list_jobs()) == jobs_before + 1
    read = group.node(ii.READ)
    assert read["file"].value().endswith("/clean.####.exr")
    assert (read["first"].value(), read["last"].value()) == (FIRST, FIRST + FRAMES - 1)
    assert group.node(ii.SWITCH)["which"].value() == 1
    for t, path in enumerate(clean_files(group)):
        clean, names = read_half(path)
        rendered, _ = read_half(path.replace("clean.", "plate."))
        assert names == ("R", "G", "B", "A")
        original = rgba[t].astype(np.float16)
        assert np.array_equal(rendered.view(np.uint16), original.view(np.uint16))
        keep = mask[t] <= 0.5
        assert np.array_equal(clean[keep].view(np.uint16), original[keep].view(np.uint16))  # bit-exact outside
        assert not np.array_equal(clean[~keep], original[~keep])  # the hole was filled
        assert np.array_equal(group._render(FIRST + t, "main")["rgba.red"], clean[..., 0].astype(np.float32))
    task = nuke.progress_tasks[-1]
    assert any("iteration 4/4" in m and "loss" in m and "ETA" in m for m in task.messages)
    assert task.progress[-1] == 100
    assert "_status" in nuke.main_thread_calls and "_done" in nuke.main_thread_calls
    assert "_deliver_latest" in nuke.main_thread_calls  # progress came through the throttle

    assert press(group).startswith(f"Reused job {job_id}")  # same inputs, same settings: no new job
    assert len(client.list_jobs()) == jobs_before + 1 and group[ii.JOB_ID].value() == job_id
    assert len(os.listdir(folder)) == 1  # the re-rendered inputs were not kept

    group[ii.SEED].setValue(7)
    assert press(group).startswith("Done: job ")
    assert group[ii.JOB_ID].value() != job_id and len(client.list_jobs()) == jobs_before + 2
    assert client.get_job(group[ii.JOB_ID].value()).spec.training.seed == 7
    assert all(os.path.isfile(p) for p in clean_files(group)) and len(os.listdir(folder)) == 2


def test_a_separate_matte_input_replaces_the_plates_alpha(path_server, job_root, ii):
    plate, mask = clip_frames(seed=1)
    solid = np.ones(plate.shape[:3] + (1,), np.float32)  # a plate whose alpha is no matte at all
    matte = np.repeat(mask[..., None], 3, axis=-1)
    group = inpaint_node(source(np.concatenate([plate, solid], -1), RGBA), job_root / "matte",
                         f"127.0.0.1:{path_server.port}", matte=source(matte, RGBA[:3]),
                         **{ii.MASK_CHANNEL: "rgba.green"})
    assert press(group).startswith("Done: job ")
    for t, path in enumerate(clean_files(group)):
        rendered, _ = read_half(path.replace("clean.", "plate."))
        assert np.array_equal(rendered[..., 3], mask[t].astype(np.float16))  # the matte went into A
        clean, _ = read_half(path)
        keep = mask[t] <= 0.5
        original = plate[t].astype(np.float16)
        assert np.array_equal(clean[..., :3][keep].view(np.uint16), original[keep].view(np.uint16))
        output = group._render(FIRST + t, "main")
        assert np.all(output["rgba.alpha"] == 1.0)  # the node's output keeps the plate's own alpha


def test_a_full_matte_fails_with_the_servers_reason(path_server, job_root, ii):
    plate, _ = clip_frames()
    full = np.ones(plate.shape[:3] + (1,), np.float32)
    group = inpaint_node(source(np.concatenate([plate, full], -1), RGBA), job_root / "full",
                         f"127.0.0.1:{path_server.port}")
    status = press(group)
    assert status.startswith("Error: Job ") and "failed" in status and "matte covers" in status
    assert group.node(ii.SWITCH)["which"].value() == 0


def test_a_job_folder_outside_the_allowed_roots_says_how_to_start_the_server(path_server, tmp_path):
    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), tmp_path / "elsewhere",
                         f"127.0.0.1:{path_server.port}")
    status = press(group)
    assert "outside the server's allowed roots" in status
    assert f"--allow-root {tmp_path / 'elsewhere'}" in status


@pytest.mark.parametrize("how", ["button", "progress bar"])
def test_cancel_mid_training(path_server, client, job_root, how, nuke, ii, commands):
    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), job_root / how.replace(" ", "_"),
                         f"127.0.0.1:{path_server.port}", **{ii.ITERATIONS: 100_000})
    group[ii.INPAINT_BUTTON].execute()
    nuke.run_until(lambda: "Training: iteration" in group[ii.STATUS].value(), 90)
    group[ii.INPAINT_BUTTON].execute()  # pressed again while it runs: refused, the job goes on
    assert "still running" in group[ii.STATUS].value()
    if how == "button":
        group[ii.CANCEL_BUTTON].execute()
    else:
        nuke.progress_tasks[-1].press_cancel()
    nuke.run_until(lambda: group.fullName() not in commands._RUNS, 60)
    status = group[ii.STATUS].value()
    assert status.startswith("Cancelled: job "), status
    assert client.get_job(group[ii.JOB_ID].value()).state == pb.CANCELLED
    assert group.node(ii.SWITCH)["which"].value() == 0


def test_a_reopened_script_follows_its_running_job_and_can_cancel_it(path_server, client, job_root, nuke, ii,
                                                                     commands):
    plate, mask = clip_frames()
    rgba = np.concatenate([plate, mask[..., None]], -1)
    address, folder = f"127.0.0.1:{path_server.port}", job_root / "reopened"
    first = inpaint_node(source(rgba, RGBA), folder, address, **{ii.ITERATIONS: 100_000})
    first[ii.INPAINT_BUTTON].execute()
    nuke.run_until(lambda: "Training: iteration" in first[ii.STATUS].value(), 90)
    jobs = len(client.list_jobs())
    remembered = {k: first[k].value() for k in (ii.JOB_ID, ii.JOB_KEY, ii.JOB_OUTPUT, ii.JOB_FRAMES)}

    # The same node in a later session: its hidden knobs came back with the script, its thread did not.
    again = inpaint_node(source(rgba, RGBA), folder, address, **{ii.ITERATIONS: 100_000}, **remembered)
    again[ii.INPAINT_BUTTON].execute()
    nuke.run_until(lambda: "Training: iteration" in again[ii.STATUS].value(), 60)
    assert again[ii.STATUS].value().startswith(f"Job {remembered[ii.JOB_ID]}, view main: ")
    assert len(client.list_jobs()) == jobs

    # Without a running thread, Cancel still reaches the server.
    orphan = inpaint_node(source(rgba, RGBA), folder, address, **{ii.JOB_ID: remembered[ii.JOB_ID]})
    orphan[ii.CANCEL_BUTTON].execute()
    nuke.run_until(lambda: "CANCELLED" in orphan[ii.STATUS].value(), 30)
    nuke.run_until(lambda: not commands._RUNS, 60)
    assert all(g[ii.STATUS].value().startswith("Cancelled: job ") for g in (first, again))
    assert len(os.listdir(folder)) == 1  # the follower's own render was not kept


def test_the_reuse_key_ignores_header_stamps_but_not_pixels_or_settings(tmp_path, job):
    from internal_inpaint_nuke.render import Settings

    pixels = np.random.default_rng(0).random((8, 8, 4)).astype(np.float16)

    def write(name, image, stamp):
        spec = oiio.ImageSpec(8, 8, 4, "half")
        spec.channelnames = ("R", "G", "B", "A")
        spec.attribute("DateTime", stamp)
        out = oiio.ImageOutput.create(str(tmp_path / name))
        assert out.open(str(tmp_path / name), spec) and out.write_image(image)
        out.close()
        return [str(tmp_path / name)]

    settings = Settings("a:1", "rgba.alpha", 1, 1, "draft", 0, 0, str(tmp_path))
    key = job.reuse_key(write("a_p.0001.exr", pixels, "2024:01:01 00:00:00"), settings)
    assert job.reuse_key(write("a_p.0001.exr", pixels, "2025:06:30 12:34:56 and longer"), settings) == key
    changed = pixels.copy()
    changed[3, 3, 0] += np.float16(0.5)
    assert job.reuse_key(write("a_p.0001.exr", changed, "2024:01:01 00:00:00"), settings) != key
    files = write("a_p.0001.exr", pixels, "2024:01:01 00:00:00")
    assert job.reuse_key(files, settings) == key
    assert job.reuse_key(files, Settings("a:1", "rgba.alpha", 1, 1, "draft", 0, 1, str(tmp_path))) != key


# -- fill mode and seen channel ---------------------------------------------------------------------

def test_the_fill_knobs_offer_the_schemas_choices_and_defaults(ii):
    from internal_inpaint_client.options import OPTIONS

    group = inpaint_node(None, "/tmp/unused", "127.0.0.1:1")
    assert group[ii.FILL].values() == list(OPTIONS["fill"].choices) == ["guided", "paper", "propagation"]
    assert group[ii.FILL].value() == OPTIONS["fill"].default == "guided"
    assert group[ii.SEEN].value() is False and "inpaint.seen" in group[ii.SEEN].tooltip()
    assert all(mode in group[ii.FILL].tooltip() for mode in OPTIONS["fill"].choices)


def test_a_node_saved_before_the_fill_knobs_reads_their_defaults(tmp_path, ii):
    from internal_inpaint_nuke.render import read_settings

    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), tmp_path, "127.0.0.1:1")
    del group._knobs[ii.FILL], group._knobs[ii.SEEN]  # as a script saved by an earlier version holds the node
    settings = read_settings(group)
    assert (settings.fill, settings.seen_channel) == ("guided", False)


def test_the_reuse_key_follows_fill_and_seen_channel(tmp_path, job):
    from internal_inpaint_nuke.render import Settings

    files = [str(tmp_path / "p.0001.exr")]
    (tmp_path / "p.0001.exr").write_bytes(b"pixels")
    base = Settings("a:1", "rgba.alpha", 1, 1, "draft", 0, 0, str(tmp_path))
    variants = (base, Settings(**{**vars(base), "fill": "paper"}), Settings(**{**vars(base), "seen_channel": True}))
    assert len({job.reuse_key(files, settings) for settings in variants}) == 3


def test_fill_and_seen_channel_reach_the_job_and_the_seen_channel_the_nodes_output(path_server, client, job_root, ii):
    plate, mask = clip_frames()
    rgba = np.concatenate([plate, mask[..., None]], -1)
    group = inpaint_node(source(rgba, RGBA), job_root / "seen", f"127.0.0.1:{path_server.port}",
                         **{ii.FILL: "propagation", ii.SEEN: True})
    status = press(group)
    assert status.startswith("Done: job "), status
    training = client.get_job(group[ii.JOB_ID].value()).spec.training
    assert training.fill == pb.FILL_PROPAGATION and training.seen_channel
    for t, path in enumerate(clean_files(group)):
        clean, names = read_half(path)
        assert names == ("R", "G", "B", "A", "inpaint.seen")
        keep = mask[t] <= 0.5
        original = rgba[t].astype(np.float16)
        assert np.array_equal(clean[..., :4][keep].view(np.uint16), original[keep].view(np.uint16))
        assert not clean[..., 4][keep].any()
        output = group._render(FIRST + t, "main")
        assert np.array_equal(output["inpaint.seen"], clean[..., 4].astype(np.float32))  # reaches the node's output

    group[ii.SEEN].setValue(False)  # another setting: another job, without the channel
    assert press(group).startswith("Done: job ")
    assert not client.get_job(group[ii.JOB_ID].value()).spec.training.seen_channel
    assert read_half(clean_files(group)[0])[1] == ("R", "G", "B", "A")
