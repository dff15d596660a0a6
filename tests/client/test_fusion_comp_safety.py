"""What rendering the plate and adding the result does to the user's comp: nothing it did not ask for.

Only the plugin's Saver renders, quietly, with the documented Render keys; every other Saver is passed through for
the render and put back, even when the render fails or raises. Every input the plugin relies on is set (the fake's
defaults are the unsafe ones: Matte Control's Post-Multiply Image on would send a black plate). Tools are added
where Fusion connects them to nothing, and the user's connections are the same afterwards, a failure included.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint_resolve import comp_io, job
from tests.client.test_plugin_resolve import (
    FIRST,
    FRAMES,
    HEIGHT,
    LAST,
    WIDTH,
    make_comp,
    make_keyed_comp,
    temporary_tools_gone,
)
from tests.fake_fusion import FakeComp, read_rgba
from tests.fake_fusion import comp as fake_comp


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def wiring(comp):
    """The comp's connections, read from the fake itself (not through the plugin's helpers)."""
    return {t.name: {k: (v.name if v is not None else None) for k, v in t.connections.items()} for t in comp.tools}


def plugin_tools_gone(comp):
    """The plugin's Saver and Matte Control were removed (the user's own Savers stay), no input was unknown."""
    assert [(t.name, t.ignored) for t in comp.ever if t.ignored] == []
    return not [t.name for t in comp.tools if t.name.startswith(comp_io.PLUGIN_TOOL_PREFIX)]


def user_saver(comp, source, folder, name="UserSaver", passed_through=False):
    saver = comp.AddTool("Saver", 5, 0)
    saver.SetAttrs({"TOOLS_Name": name, "TOOLB_PassThrough": passed_through})
    saver.ConnectInput("Input", source)
    saver.SetInput("Clip", str(folder / name / "out.0000.exr"))
    saver.SetInput("OutputFormat", "OpenEXRFormat")
    saver.SetInput("CreateDir", 1)
    return saver


# -- rule: only our Saver renders, quietly ----------------------------------------------------------


def test_only_the_plugins_saver_renders_quietly_and_the_others_are_put_back(tmp_path, clip):
    comp, plate = make_comp(clip)
    active = user_saver(comp, plate, tmp_path)
    resting = user_saver(comp, plate, tmp_path, "Resting", passed_through=True)
    comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, str(tmp_path / "job" / "plate.####.exr"))
    render = comp.renders[-1]
    assert set(render) <= fake_comp.RENDER_KEYS  # the documented keys only
    assert render["Flags"] == comp_io.REQF_QUIET == 1 << 19 and render["Wait"] is True
    assert {name for name, _ in comp.saved} == {comp_io.SAVER_NAME}  # the user's Saver wrote nothing
    assert not active.pass_through and resting.pass_through  # each as it was
    assert not (tmp_path / "UserSaver").exists() and plugin_tools_gone(comp)


def _failing_render(kind):
    def render(self, args):
        self.renders.append(dict(args))
        savers = {t.name: t.pass_through for t in self.tools if t.reg_id == "Saver"}
        self.pass_through_during_render = savers
        if kind == "raises":
            raise RuntimeError("the render node crashed")
        return None if kind == "nil" else False

    return render


@pytest.mark.parametrize("kind, words", [
    ("nil", r"comp.Render answered None"),
    ("false", r"comp.Render answered False"),
    ("raises", r"Fusion stopped rendering the plate: RuntimeError: the render node crashed"),
])
def test_a_failed_or_raising_render_is_a_clear_error_and_puts_everything_back(tmp_path, clip, monkeypatch, kind,
                                                                               words):
    comp, plate, tools = make_keyed_comp(clip)
    active = user_saver(comp, tools["Transform1"], tmp_path)
    resting = user_saver(comp, plate, tmp_path, "Resting", passed_through=True)
    before = wiring(comp)
    monkeypatch.setattr(FakeComp, "Render", _failing_render(kind))
    with pytest.raises(job.PluginError, match=words):
        comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST, str(tmp_path / "j" / "p.####.exr"))
    during = comp.pass_through_during_render
    assert during == {"UserSaver": True, "Resting": True, comp_io.SAVER_NAME: False}  # ours alone rendered
    assert not active.pass_through and resting.pass_through  # restored in the finally
    assert wiring(comp) == before and plugin_tools_gone(comp) and comp.locks == 0 and comp.undo_depth == 0


def test_the_fakes_render_refuses_keys_the_reference_does_not_list():
    comp = FakeComp(1, 2)
    with pytest.raises(ValueError, match="RenderFlags"):
        comp.Render({"Start": 1, "End": 2, "Wait": True, "RenderFlags": comp_io.REQF_QUIET})


# -- rule: every input the plugin relies on is set --------------------------------------------------


def test_the_fakes_matte_control_defaults_to_post_multiply_and_blacks_out_the_plate(clip):
    """The unsafe default is real in the fake: a Matte Control left as added multiplies RGB by the new alpha."""
    comp, plate = make_comp(clip, separate_matte=True)
    control = comp.AddTool("MatteControl", 3, 3)
    control.ConnectInput("Background", plate)
    control.ConnectInput("Foreground", comp_io.find_tool(comp, "RotoMatte"))
    control.SetInput("MatteCombine", comp_io.MATTE_CHANNELS["Alpha"])
    image = comp.evaluate(control, FIRST)
    outside = clip.mask[0] <= 0.5
    assert not image[..., :3][outside].any()  # black outside the matte: a plugin that forgot would send this
    control.SetInput("PostMultiplyImage", 0)
    assert np.array_equal(comp.evaluate(control, FIRST)[..., :3], plate.frames[FIRST][..., :3])


def test_the_plugin_sets_post_multiply_and_the_other_matte_inputs_itself(tmp_path, clip, monkeypatch):
    comp, plate = make_comp(clip, separate_matte=True)
    seen = {}
    render = FakeComp.Render

    def spying(self, args):
        control = comp_io.find_tool(self, comp_io.MATTE_COPY_NAME)
        seen.update({name: control.GetInput(name) for name in ("PostMultiplyImage", "InvertMatte", "MatteBlur",
                                                                "MatteCombine", "CombineOp")})
        return render(self, args)

    monkeypatch.setattr(FakeComp, "Render", spying)
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, comp_io.find_tool(comp, "RotoMatte"), "Alpha", FIRST, LAST, pattern)
    assert seen == {"PostMultiplyImage": 0, "InvertMatte": 0, "MatteBlur": 0, "MatteCombine": 4, "CombineOp": 0}
    written = read_rgba(job.sequence_file(pattern, FIRST))
    assert np.array_equal(written[..., :3], plate.frames[FIRST][..., :3])  # not black: RGB untouched


def test_an_input_this_fusion_lacks_is_an_error_that_says_what_to_do(tmp_path, clip, monkeypatch):
    """Fusion ignores an input a tool does not have; the plugin reads each back and says so, instead of rendering a
    plate with the tool's default."""
    table = copy.deepcopy(fake_comp.TABLE)
    del table["nodes"]["MatteControl"]["inputs"]["PostMultiplyImage"]
    monkeypatch.setattr(fake_comp, "TABLE", table)
    comp, plate = make_comp(clip, separate_matte=True)
    before = wiring(comp)
    with pytest.raises(job.PluginError, match=r"MatteControl has no input 'PostMultiplyImage'.*record_host\.py"):
        comp_io.render_plate(comp, plate, comp_io.find_tool(comp, "RotoMatte"), "Alpha", FIRST, LAST,
                             str(tmp_path / "plate.####.exr"))
    assert comp.renders == [] and wiring(comp) == before
    assert [t.name for t in comp.tools] == ["MediaIn1", "RotoMatte"]


# -- rule: the user's connections stay as they were -----------------------------------------------------


def test_the_fake_connects_a_tool_added_at_minus_32768_to_the_selected_one(clip):
    comp, plate = make_comp(clip)
    comp.SetActiveTool(plate)
    saver = comp.AddTool("Saver", fake_comp.AUTO_POSITION, fake_comp.AUTO_POSITION)
    assert saver.connections["Input"] is plate and comp.auto_connections == [("Saver1", "Input", "Plate")]


@pytest.mark.parametrize("flow_view", [True, False], ids=["flow view", "no flow view"])
def test_tools_are_added_where_fusion_connects_nothing(tmp_path, clip, flow_view):
    """Without a flow view there is no position beside the plate; the tools still get explicit ones."""
    comp = FakeComp(FIRST, LAST, global_start=0, flow_view=flow_view)
    masks = clip.mask.astype(np.float32)
    frames = {FIRST + t: np.concatenate([clip.plate[t], masks[t][..., None]], -1).astype(np.float16)
              for t in range(len(masks))}
    plate = comp.add_media("Loader", "Plate", frames)
    comp.SetActiveTool(plate)
    comp.selected.add(plate)
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, None, "Alpha", FIRST, LAST, pattern)
    comp_io.add_result_loader(comp, plate, pattern, FIRST, LAST)
    assert comp.auto_connections == [] and comp.added[1:] == ["Saver", "Loader"]


def test_the_users_connections_are_the_same_after_a_job_and_after_a_failure(tmp_path, clip):
    comp, plate, tools = make_keyed_comp(clip)
    before = wiring(comp)
    pattern = str(tmp_path / "a" / "plate.####.exr")
    comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST, pattern)
    assert wiring(comp) == before
    with pytest.raises(job.PluginError):  # frames the plate does not have: the render fails
        comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST + 2, str(tmp_path / "b" / "p.####.exr"))
    assert wiring(comp) == before
    comp_io.add_result_loader(comp, plate, pattern, FIRST, LAST)
    after = wiring(comp)
    assert after.pop("InpaintClean") == {} and after == before  # a new Loader, fed by nothing, feeding nothing
    assert temporary_tools_gone(comp)


def test_connections_fusion_changes_on_its_own_are_put_back(tmp_path, clip, monkeypatch):
    """Were Fusion to rewire the user's tree when a tool is added (an insert after the selected tool), the plugin
    restores it: on success and when the render fails."""
    comp, plate, tools = make_keyed_comp(clip)
    before = wiring(comp)
    add_tool = FakeComp.AddTool

    def inserting(self, reg_id, x=comp_io.FALLBACK_POSITION[0], y=comp_io.FALLBACK_POSITION[1]):
        tool = add_tool(self, reg_id, x, y)
        if reg_id == "MatteControl":  # take over the Merge's background, as an insert would
            tools["Merge1"].connections["Background"] = tool
        return tool

    monkeypatch.setattr(FakeComp, "AddTool", inserting)
    comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST, str(tmp_path / "ok" / "p.####.exr"))
    assert wiring(comp) == before
    with pytest.raises(job.PluginError):
        comp_io.render_plate(comp, plate, tools["Keyer"], "Alpha", FIRST, LAST + 2, str(tmp_path / "no" / "p.####.exr"))
    assert wiring(comp) == before and temporary_tools_gone(comp)
