"""The "Warm start" choice of the Resolve/Fusion plugin: where the server starts the network (auto, off, force).

Against the stand-in Fusion (tests/fake_fusion) with the recording client of test_fusion_references (no server):
the choice follows the options schema, settings made without it submit "auto", the chosen value reaches
``submit_paths``, and a change of the choice is a new job, never the comp's previous result reused.
"""

from __future__ import annotations

import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint_client.options import OPTIONS
from internal_inpaint_client.reuse_key import reuse_key
from internal_inpaint_resolve import comp_io, job
from tests.client.test_fusion_references import RecordingClient, recorded_dialog, start
from tests.client.test_plugin_resolve import FIRST, FRAMES, HEIGHT, LAST, WIDTH, make_comp, open_dialog


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def test_the_dialog_offers_the_schemas_warm_start_choices_and_default(tmp_path, clip):
    comp, _ = make_comp(clip)
    dialog, win = open_dialog(comp, "127.0.0.1:1", tmp_path)
    control = dialog.items["WarmStart"]
    assert control.choices == list(OPTIONS["warm_start"].choices) == ["auto", "off", "force"]
    assert control.CurrentText == OPTIONS["warm_start"].default == "auto"
    assert all(mode in control.ToolTip for mode in OPTIONS["warm_start"].choices) and "from scratch" in control.ToolTip
    assert dialog.settings().warm_start == "auto"
    win.choose("WarmStart", "off")
    assert dialog.settings().warm_start == "off"


def test_settings_without_warm_start_are_auto_and_an_unknown_one_is_refused():
    settings = job.JobSettings(address="a:1", job_folder="/j", first=1, last=2).validate()
    assert settings.warm_start == "auto"
    with pytest.raises(job.PluginError, match="Unknown warm start 'hot': pick one of auto, off, force"):
        job.JobSettings(address="a:1", job_folder="/j", first=1, last=2, warm_start="hot").validate()


def test_a_runner_given_settings_made_without_warm_start_submits_auto(tmp_path):
    recorder = RecordingClient()
    settings = job.JobSettings(address="a:1", job_folder=str(tmp_path), first=FIRST, last=FIRST).validate()
    runner = job.JobRunner(settings, client_factory=lambda address: recorder)
    plate = tmp_path / "plate.####.exr"
    (tmp_path / f"plate.{FIRST:04d}.exr").write_bytes(b"pixels")
    runner.submit(str(plate), str(tmp_path / "clean.####.exr"))
    assert recorder.calls[0]["warm_start"] == "auto"


@pytest.mark.parametrize("mode", OPTIONS["warm_start"].choices)
def test_the_chosen_warm_start_reaches_submit_paths(tmp_path, clip, mode):
    comp, _ = make_comp(clip)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path, recorder)
    win.choose("WarmStart", mode)
    assert start(dialog, win).startswith("Done")
    assert len(recorder.calls) == 1 and recorder.calls[0]["warm_start"] == mode


def test_changing_warm_start_is_a_new_job_not_the_previous_result(tmp_path, clip):
    comp, _ = make_comp(clip)
    recorder = RecordingClient()
    dialog, win = recorded_dialog(comp, tmp_path, recorder)
    assert start(dialog, win).startswith("Done")
    assert start(dialog, win).startswith("Reused job job1")  # nothing changed: no new job
    win.choose("WarmStart", "off")  # train from scratch: must not reuse the warm-started result
    assert start(dialog, win).startswith("Done") and recorder.calls[-1]["warm_start"] == "off"
    assert start(dialog, win).startswith("Reused job job2")
    win.choose("WarmStart", "force")
    assert start(dialog, win).startswith("Done") and recorder.calls[-1]["warm_start"] == "force"
    assert len(recorder.calls) == 3


def test_the_reuse_key_follows_warm_start_and_keeps_auto_as_before(tmp_path, clip):
    comp, plate = make_comp(clip)
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, pattern)
    files = job.sequence_files(pattern, FIRST, LAST)
    base = job.JobSettings(address="a:1", job_folder=str(tmp_path), first=FIRST, last=LAST).validate()
    keys = {mode: job.job_key(files, job.JobSettings(**{**vars(base), "warm_start": mode}).validate())
            for mode in OPTIONS["warm_start"].choices}
    assert len(set(keys.values())) == 3
    # At auto the key is what it was before the choice existed: a comp's earlier record still matches.
    old_fields = {"preset": base.preset, "iterations": 0, "seed": 0, "matte_channel": "Alpha",
                  "frames": f"{FIRST}-{LAST}", "dilate": 0, "fill": base.fill, "seen_channel": False}
    assert keys["auto"] == reuse_key(files, old_fields, version=job.KEY_VERSION)
