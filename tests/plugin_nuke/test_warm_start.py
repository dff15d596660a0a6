"""The "warm start" knob of the Nuke plugin: where the server starts the network (auto, off, force).

Against the stand-in nuke (tests/fake_nuke) with the recording client of test_references (no server): the knob
follows the options schema, a node saved before the knob existed submits "auto", the chosen value reaches
``submit_paths``, and a change of the knob is a new job, never the previous result reused.
"""

from __future__ import annotations

import pytest

from internal_inpaint_client.options import OPTIONS
from internal_inpaint_client.reuse_key import reuse_key as shared_reuse_key
from tests.plugin_nuke.test_plugin_nuke import RGBA, inpaint_node, press, source
from tests.plugin_nuke.test_references import shot


def plate_node(tmp_path, **knobs):
    rgba, _, _ = shot()
    return inpaint_node(source(rgba, RGBA), tmp_path, "127.0.0.1:1", **knobs)


def test_the_warm_start_knob_offers_the_schemas_choices_and_default_next_to_fill(ii):
    group = inpaint_node(None, "/tmp/unused", "127.0.0.1:1")
    knob = group[ii.WARM_START]
    assert ii.WARM_START == "warm_start" and knob.Class() == "Enumeration_Knob" and knob.label() == "warm start"
    assert knob.values() == list(OPTIONS["warm_start"].choices) == ["auto", "off", "force"]
    assert knob.value() == OPTIONS["warm_start"].default == "auto"
    assert all(mode in knob.tooltip() for mode in OPTIONS["warm_start"].choices)
    assert "from scratch" in knob.tooltip()
    names = list(group.knobs())
    assert names.index(ii.WARM_START) == names.index(ii.FILL) + 1  # beside the fill knob


def test_a_node_saved_before_the_warm_start_knob_submits_auto(tmp_path, ii, render, recording):
    group = plate_node(tmp_path)
    del group._knobs[ii.WARM_START]  # as a script saved by an earlier version holds the node
    assert render.read_settings(group).warm_start == "auto"
    assert press(group).startswith("Done: job job1")
    assert recording[0]["warm_start"] == "auto"


@pytest.mark.parametrize("mode", OPTIONS["warm_start"].choices)
def test_the_chosen_warm_start_reaches_submit_paths(tmp_path, ii, recording, mode):
    group = plate_node(tmp_path, **{ii.WARM_START: mode})
    assert press(group).startswith("Done: job job1")
    assert len(recording) == 1 and recording[0]["warm_start"] == mode


def test_changing_warm_start_is_a_new_job_not_the_previous_result(tmp_path, ii, recording):
    group = plate_node(tmp_path)
    assert press(group).startswith("Done: job job1")
    assert press(group).startswith("Reused job job1")  # nothing changed: no new job
    group[ii.WARM_START].setValue("off")  # train from scratch: must not reuse the warm-started result
    assert press(group).startswith("Done: job job2")
    assert recording[-1]["warm_start"] == "off"
    assert press(group).startswith("Reused job job2")
    group[ii.WARM_START].setValue("force")
    assert press(group).startswith("Done: job job3") and recording[-1]["warm_start"] == "force"
    assert len(recording) == 3


def test_the_reuse_key_follows_warm_start_and_keeps_auto_as_before(tmp_path, job):
    from internal_inpaint_nuke.render import Settings

    files = [str(tmp_path / "p.0001.exr")]
    (tmp_path / "p.0001.exr").write_bytes(b"pixels")
    base = Settings("a:1", "rgba.alpha", 1, 1, "draft", 0, 0, str(tmp_path))
    assert base.warm_start == "auto"
    keys = {mode: job.reuse_key(files, Settings(**{**vars(base), "warm_start": mode}))
            for mode in OPTIONS["warm_start"].choices}
    assert len(set(keys.values())) == 3
    # At auto the key is what it was before the knob existed: a node's earlier result is still reused.
    old_fields = {"preset": "draft", "iterations": 0, "seed": 0, "mask_channel": "rgba.alpha", "frames": "1-1",
                  "fill": base.fill, "seen_channel": False}
    assert keys["auto"] == shared_reuse_key(files, old_fields, version=job.KEY_VERSION)
