"""The plugin against the Nuke behaviour the stand-in models: main-thread calls, views, node placement.

Each behaviour of the stand-in cites its source in tests/fake_nuke/nuke/__init__.py; these tests check that the
stand-in follows it and that the plugin works with it.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import OpenImageIO as oiio
import pytest

from internal_inpaint.v1 import inpaint_pb2 as pb
from tests.plugin_nuke.test_plugin_nuke import (
    FIRST,
    RGBA,
    clean_files,
    clip_frames,
    inpaint_node,
    press,
    read_half,
    source,
)

STEREO = "left #ff0000\nright #00ff00"  # as nukescripts.stereo.setViewsForStereo() writes the Root's views


def job_run(group, **settings):
    """A JobRun of ``group`` that is never started: the tests feed its event handler themselves."""
    from internal_inpaint_nuke.job import JobRun
    from internal_inpaint_nuke.render import Previous, Rendered, Settings

    fields = {"address": "127.0.0.1:1", "mask_channel": "rgba.alpha", "first": 1, "last": 1, "preset": "draft",
              "iterations": 0, "seed": 0, "job_folder": "/tmp/unused", **settings}
    return JobRun(group, group.fullName(), Settings(**fields), Rendered("", "", "", []), Previous("", "", "", ""))


def training(iteration: int, iterations: int = 1000):
    return pb.JobEvent(training=pb.TrainingProgress(iteration=iteration, iterations=iterations, loss=0.5))


# -- executeInMainThread -----------------------------------------------------------------------------------------

def test_execute_in_main_thread_wraps_args_that_are_not_a_tuple_as_one_argument(nuke):
    """nuke_internal/executeInMain.py: ``if type(args) != tuple: args = (args,)``, so a list is ONE argument."""
    got = []

    def call(*args, **kwargs):
        got.append((args, kwargs))

    nuke.executeInMainThread(call, args=(1, 2))
    nuke.executeInMainThread(call, args=[1, 2])
    nuke.executeInMainThread(call, args="one")
    nuke.executeInMainThread(call, args=(1,), kwargs={"k": 2})
    nuke.executeInMainThread(call)
    nuke.pump()
    assert got == [((1, 2), {}), (([1, 2],), {}), (("one",), {}), ((1,), {"k": 2}), ((), {})]

    box = []
    worker = threading.Thread(target=lambda: box.append(nuke.executeInMainThreadWithResult(lambda *a: a, args=[3])))
    worker.start()
    nuke.run_until(lambda: not worker.is_alive(), 10)
    assert box == [([3],)]


# -- status updates: a few a second, the last one winning -------------------------------------------------------

def test_a_burst_of_progress_events_makes_few_main_thread_calls_and_the_last_one_shows(nuke, ii, tmp_path):
    from internal_inpaint_nuke.throttle import STATUS_INTERVAL

    group = inpaint_node(None, tmp_path, "127.0.0.1:1")
    run = job_run(group)
    run.job_id = "j1"
    task = nuke.ProgressTask("burst")

    def burst():
        for iteration in range(1, 1001):
            run._on_event(task, training(iteration))
            time.sleep(0.0005)  # ~1000 events a second, as a fast training streams them

    worker = threading.Thread(target=burst)
    start = time.monotonic()
    worker.start()
    nuke.run_until(lambda: not worker.is_alive(), 30)  # the main thread runs its queue meanwhile, as Nuke's would
    took = time.monotonic() - start
    nuke.run_until(lambda: "iteration 1000/1000" in group[ii.STATUS].value(), 10)
    calls = nuke.main_thread_calls.count("_deliver_latest")
    assert 1 <= calls <= 2 + took / STATUS_INTERVAL and calls < 1000 / 20, (calls, took)
    assert group[ii.STATUS].value().startswith("Job j1, view main: Training: iteration 1000/1000, loss 0.5")
    assert len(task.messages) == 1000  # the progress bar (thread-safe, no main thread) still sees every event


def test_the_final_state_is_never_overwritten_by_a_late_progress_update(nuke, ii, tmp_path):
    from internal_inpaint_nuke.throttle import STATUS_INTERVAL

    group = inpaint_node(None, tmp_path, "127.0.0.1:1")
    run = job_run(group)
    run.job_id = "j1"
    task = nuke.ProgressTask("late")
    run._on_event(task, training(1))
    nuke.pump()
    run._on_event(task, training(2))  # within the interval: scheduled for later
    run._updates.close()  # what _follow does when the job ends...
    run._post(run._report, "Done: job j1, view main, frames 1-1.")  # ...before the final state is posted
    time.sleep(STATUS_INTERVAL * 2)
    nuke.pump()
    assert group[ii.STATUS].value() == "Done: job j1, view main, frames 1-1."


# -- views ---------------------------------------------------------------------------------------------------

def test_the_view_knob_lists_the_scripts_views_and_picks_the_first(nuke, ii, tmp_path):
    assert inpaint_node(None, tmp_path, "127.0.0.1:1")[ii.VIEW].values() == ["main"]
    nuke.root()["views"].fromScript(STEREO)
    group = inpaint_node(None, tmp_path, "127.0.0.1:1")
    assert group[ii.VIEW].values() == ["left", "right"] and group[ii.VIEW].value() == "left"
    assert group.node(ii.WRITE)["views"].value() == "left right"  # a Write renders every view unless told


def test_a_view_gone_from_the_script_is_reported_not_replaced(nuke, ii, tmp_path):
    nuke.root()["views"].fromScript(STEREO)
    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), tmp_path, "127.0.0.1:1",
                         **{ii.VIEW: "right"})
    nuke.root()["views"].fromScript("left #ff0000")
    status = press(group)
    assert status == ("Error: The view 'right' is not one of this script's views (left): pick one in the node's "
                      "view knob.")
    assert group[ii.VIEW].values() == ["left", "right"]  # still listed, so the artist sees what was picked
    assert list(tmp_path.iterdir()) == []


def test_only_the_chosen_view_is_rendered_trained_and_read_back(path_server, job_root, nuke, ii):
    nuke.root()["views"].fromScript(STEREO)
    left, left_mask = clip_frames(seed=0)
    right, right_mask = clip_frames(seed=1)
    plates = {"left": np.concatenate([left, left_mask[..., None]], -1),
              "right": np.concatenate([right, right_mask[..., None]], -1)}
    stereo = nuke.nodes.ArraySource()
    for view, rgba in plates.items():
        stereo.set_frames({FIRST + t: rgba[t] for t in range(len(rgba))}, RGBA, view=view)
    group = inpaint_node(stereo, job_root / "stereo", f"127.0.0.1:{path_server.port}", **{ii.VIEW: "right"})

    status = press(group)
    assert status.startswith("Done: job ") and ", view right, " in status, status
    assert group.node(ii.WRITE)["views"].value() == "right"
    for t, path in enumerate(clean_files(group)):
        rendered, _ = read_half(path.replace("clean.", "plate."))
        assert np.array_equal(rendered, plates["right"][t].astype(np.float16))  # the right eye, one part
        clean, _ = read_half(path)
        assert np.array_equal(group._render(FIRST + t, "right")["rgba.red"], clean[..., 0].astype(np.float32))
        assert np.array_equal(group._render(FIRST + t, "left")["rgba.red"], plates["left"][t][..., 0])  # untouched


def test_the_fake_writes_several_views_into_one_exr_unless_the_name_has_percent_v(nuke, tmp_path):
    """The behaviour the plugin avoids by rendering one view: Nuke writes stereo EXRs as one file, a part per view."""
    nuke.root()["views"].fromScript(STEREO)
    image = np.zeros((4, 6, 4), np.float32)
    stereo = nuke.nodes.ArraySource()
    stereo.set_frames({1: image}, RGBA, view="left")
    stereo.set_frames({1: image + 1}, RGBA, view="right")
    write = nuke.nodes.Write(file=str(tmp_path / "both.#.exr"), file_type="exr", channels="all")
    write.setInput(0, stereo)
    nuke.execute(write, 1, 1)
    both = oiio.ImageInput.open(str(tmp_path / "both.1.exr"))
    views = [both.spec().get_string_attribute("view")]
    while both.seek_subimage(len(views), 0):
        views.append(both.spec().get_string_attribute("view"))
    both.close()
    assert views == ["left", "right"]
    write["file"].setValue(str(tmp_path / "eye.%V.#.exr"))
    nuke.execute(write, 1, 1, views=["right"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both.1.exr", "eye.right.1.exr"]
    with pytest.raises(ValueError, match="not a view of this script"):
        write["views"].setValue("centre")


# -- placement: as the Nodes toolbar places its own nodes -------------------------------------------------------

def test_a_new_node_is_placed_below_the_selected_node_fed_by_it_and_selected(nuke, nuke_plugin):
    plate = nuke.nodes.ArraySource()
    plate.setXYpos(100, 50)
    plate.setSelected(True)
    group = nuke_plugin.create_node()
    assert group.input(0) is plate
    assert group.xpos() == plate.xpos() and group.ypos() > plate.ypos() + plate.screenHeight()
    assert group.isSelected() and not plate.isSelected()
    assert nuke.panels_shown == [group]  # its properties open, once its knobs exist
    after = nuke_plugin.create_node()  # the next one follows it, as with the toolbar's nodes
    assert after.input(0) is group and after.ypos() > group.ypos() and after.isSelected() and not group.isSelected()


def test_new_nodes_without_a_selection_are_unconnected_and_do_not_overlap(nuke, nuke_plugin):
    first = nuke_plugin.create_node()
    first.setSelected(False)
    second = nuke_plugin.create_node()
    assert first.input(0) is None and second.input(0) is None
    assert abs(first.ypos() - second.ypos()) >= first.screenHeight() or abs(first.xpos() - second.xpos()) >= 80


def test_the_fakes_create_node_connects_places_and_selects_but_nuke_nodes_does_not(nuke):
    plate = nuke.nodes.ArraySource()
    plate.setSelected(True)
    made = nuke.nodes.Switch()
    assert made.input(0) is None and not made.isSelected() and plate.isSelected()
    created = nuke.createNode("Switch")
    assert created.input(0) is plate and created.ypos() > plate.ypos()
    assert nuke.selectedNodes() == [created]
