"""The Fusion host table (tests/host_api/fusion.json), the fake built from it, and the recorder that writes it from a
real Fusion (plugin_resolve/record_host.py), run here against the fakes.

The point: every tool and input the plugin touches is one the table names (so a recording from a real Fusion can
prove or refute it), and the fake accepts nothing else.
"""

from __future__ import annotations

import ast
import copy
import json
import runpy
import time

import pytest

from inpaint_eval.synthetic import make_clip
from internal_inpaint_resolve import comp_io
from tests.client.test_plugin_resolve import (
    FIRST,
    FRAMES,
    HEIGHT,
    LAST,
    PACKAGE,
    RECORDER,
    WIDTH,
    make_comp,
)
from tests.fake_fusion import FakeBMD, FakeComp, FakeFusion
from tests.host_api.fusion_table import TABLE_PATH, inputs_of, load_table, validate_table

DOCUMENTED = load_table()


@pytest.fixture(scope="module")
def clip():
    return make_clip(frames=FRAMES, width=WIDTH, height=HEIGHT)


def _values(table):
    return [table[key] for key in sorted(table)]


# -- the table -------------------------------------------------------------------------------


def test_the_documented_table_is_valid_and_every_entry_says_where_it_comes_from():
    assert validate_table(json.loads(TABLE_PATH.read_text())) == []
    assert (DOCUMENTED["host"], DOCUMENTED["source"]) == ("fusion", "documentation")
    assert set(DOCUMENTED["nodes"]) == {"Saver", "Loader", "MatteControl", "MediaIn"}
    for tool_id, node in DOCUMENTED["nodes"].items():
        for input_id, entry in node["inputs"].items():
            # a page (URL) or a public file (owner/repo:path)
            assert "http" in entry["source"] or ":" in entry["source"].split()[0], (tool_id, input_id)
    assert DOCUMENTED["events"]["timer_hookup"] == "disp.On.Timeout"
    # The unsafe default the plugin must override: Post-Multiply Image is on.
    assert inputs_of(DOCUMENTED, "MatteControl")["PostMultiplyImage"]["default"] == 1


@pytest.mark.parametrize("break_it, words", [
    (lambda t: t.pop("events"), "top level"),
    (lambda t: t.update(source="guess"), "source"),
    (lambda t: t["nodes"]["Saver"]["inputs"]["Clip"].pop("source"), "nodes.Saver.inputs.Clip"),
    (lambda t: t["nodes"]["Saver"]["inputs"]["Clip"].update(source=" "), "Clip.source"),
    (lambda t: t["nodes"]["Loader"]["inputs"]["Loop"].update(values="0,1"), "Loop.values"),
    (lambda t: t["events"].update(timer_hookup=3), "events.timer_hookup"),
])
def test_validate_table_says_what_is_wrong(break_it, words):
    broken = copy.deepcopy(DOCUMENTED)
    break_it(broken)
    problems = validate_table(broken)
    assert problems and any(words in p for p in problems), problems


# -- the fake follows the table ----------------------------------------------------------------


def test_the_fakes_tools_have_exactly_the_tables_inputs_and_defaults():
    comp = FakeComp(1, 2)
    for index, tool_id in enumerate(DOCUMENTED["nodes"]):
        tool = comp.AddTool(tool_id, index, 0)
        listed = {inp.GetAttrs("INPS_ID") for inp in _values(tool.GetInputList())}
        assert listed == set(inputs_of(DOCUMENTED, tool_id)), tool_id
        for input_id, entry in inputs_of(DOCUMENTED, tool_id).items():
            if entry["default"] is not None:
                assert tool.GetInput(input_id) == entry["default"], (tool_id, input_id)
    saver = comp_io.find_tool(comp, "Saver1")
    assert saver.SetInput("OpenEXRFormat.Depht", 1) is None  # misspelt: ignored, as Fusion does...
    assert saver.GetInput("OpenEXRFormat.Depht") is None and saver.ignored == ["OpenEXRFormat.Depht"]  # ...and seen
    assert comp_io.find_tool(comp, "MediaIn1").SetInput("GlobalIn", 3) is None  # not in the table: not accepted


# -- the plugin uses nothing the table does not name ---------------------------------------------


def test_every_tool_and_input_the_plugin_touches_is_in_the_table(tmp_path, clip):
    comp, plate = make_comp(clip, separate_matte=True)
    comp.access_log.clear()
    already = len(comp.added)
    matte = comp_io.find_tool(comp, "RotoMatte")
    pattern = str(tmp_path / "plate.####.exr")
    comp_io.render_plate(comp, plate, matte, "Red", FIRST, LAST, pattern)
    comp_io.render_reference(comp, matte, [FIRST, LAST], str(tmp_path / "reference.####.exr"))  # its own Saver
    loader = comp_io.add_result_loader(comp, plate, pattern, FIRST, LAST)
    assert comp_io.existing_result_loader(comp, loader.Name, pattern, FIRST) is loader
    assert comp.added[already:] == ["MatteControl", "Saver", "Saver", "Loader"]
    touched = set(comp.access_log)
    assert {tool for tool, _ in touched} == {"MatteControl", "Saver", "Loader"}
    unknown = sorted((tool, name) for tool, name in touched if name not in inputs_of(DOCUMENTED, tool))
    assert unknown == []
    assert ("MatteControl", "PostMultiplyImage") in touched and ("Loader", "PostMultiplyByAlpha") in touched


def _literal_calls(tree, names):
    """The string first arguments of calls to any of ``names`` (methods or functions)."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        args = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if called in names and args:
            found.add(args[0].value)
    return found


def test_every_tool_id_in_the_plugins_source_is_in_the_table():
    """A tool the plugin adds on a path no test takes would still show here."""
    added = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        added |= _literal_calls(ast.parse(path.read_text()), {"AddTool", "_add_tool"})
    assert added == {"MatteControl", "Saver", "Loader"}
    assert added <= set(DOCUMENTED["nodes"])
    assert set(comp_io.PLATE_TOOL_TYPES) <= set(DOCUMENTED["nodes"])  # the tools it reads plates from


# -- the recorder --------------------------------------------------------------------------------


def _stop_unanswered_windows(monkeypatch, after=0.6):
    """Play the user who presses Stop on a recorder window still open ``after`` seconds in (the named hookup's:
    the fake never delivers a timer there)."""
    original = FakeBMD.UIDispatcher

    def dispatcher(self, ui):
        made = original(self, ui)
        opened = time.monotonic()

        def driver(disp):
            if time.monotonic() - opened > after:
                disp.windows[0].click("Stop")

        made.driver = driver
        return made

    monkeypatch.setattr(FakeBMD, "UIDispatcher", dispatcher)


def _user_comp(clip, tmp_path):
    """A plate, and a user's Saver of it, active and rendering (the recorder must not run it)."""
    comp, plate = make_comp(clip)
    saver = comp.AddTool("Saver", 1, 0)
    saver.SetAttrs({"TOOLS_Name": "UserSaver"})
    saver.ConnectInput("Input", plate)
    saver.SetInput("Clip", str(tmp_path / "user" / "out.0000.exr"))
    saver.SetInput("OutputFormat", "OpenEXRFormat")
    comp.SetActiveTool(saver)
    return comp, saver


def _recorder():
    return runpy.run_path(str(RECORDER), init_globals={"RECORD_HOST_IMPORT_ONLY": True})


def test_the_recorder_writes_a_valid_table_from_the_fake_and_leaves_the_comp_alone(tmp_path, clip, monkeypatch):
    comp, user_saver = _user_comp(clip, tmp_path)
    names = [t.name for t in comp.tools]
    wiring = {t.name: dict(t.connections) for t in comp.tools}
    _stop_unanswered_windows(monkeypatch)
    out = tmp_path / "fusion_recording.json"
    table = _recorder()["record"](FakeFusion(comp), comp, FakeBMD(), str(out), seconds=0.3)
    written = json.loads(out.read_text())
    assert validate_table(written) == [] and written == json.loads(json.dumps(table, sort_keys=True))
    assert (table["source"], table["host_version"]) == ("recording", None)
    assert table["events"]["timer_hookup"] == "disp.On.Timeout"  # the fake delivers timers only there
    assert table["events"]["render_failure_returns"] == "None"  # the fake's Render answers nil
    assert set(table["nodes"]) == set(DOCUMENTED["nodes"])
    for tool_id, node in table["nodes"].items():  # the fake recorded agrees with the table it was built from
        assert set(node["inputs"]) == set(inputs_of(DOCUMENTED, tool_id)), tool_id
    post = table["nodes"]["MatteControl"]["inputs"]["PostMultiplyImage"]
    assert post["default"] == 1 and post["source"].startswith("record_host.py")
    assert table["nodes"]["MatteControl"]["inputs"]["MatteCombine"]["values"] == [0, 1, 2, 3, 4, 5, 6]
    # The comp as it was: the same tools, connections, the user's Saver rendering again and never run.
    assert [t.name for t in comp.tools] == names and {t.name: dict(t.connections) for t in comp.tools} == wiring
    assert not user_saver.pass_through and comp.saved == [] and comp.auto_connections == []


def test_the_recorder_runs_as_a_console_script(tmp_path, clip, monkeypatch, capsys):
    comp, _ = _user_comp(clip, tmp_path)
    out = tmp_path / "recorded.json"
    monkeypatch.setenv("INTERNAL_INPAINT_RECORD", str(out))
    monkeypatch.setenv("INTERNAL_INPAINT_RECORD_SECONDS", "0.3")
    _stop_unanswered_windows(monkeypatch)
    runpy.run_path(str(RECORDER), init_globals={"fu": FakeFusion(comp), "comp": comp, "bmd": FakeBMD()})
    assert str(out) in capsys.readouterr().out
    assert validate_table(json.loads(out.read_text())) == []
    runpy.run_path(str(RECORDER), init_globals={"fu": None, "comp": None, "bmd": None})
    assert "Run this in Resolve's or Fusion's console" in capsys.readouterr().out


def test_the_recorder_reports_a_hookup_that_never_fires(monkeypatch):
    """Neither hookup delivering (the user presses Stop twice) is recorded as 'none', not as a hang."""
    comp = FakeComp(1, 2)
    _stop_unanswered_windows(monkeypatch, after=0.1)
    monkeypatch.setattr("tests.fake_fusion.ui.FakeEvents.fire_generic", lambda self, item_id, event: False)
    assert _recorder()["record_timer"](FakeFusion(comp), FakeBMD(), seconds=5) == "none"
