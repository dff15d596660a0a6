"""The stand-in nuke against what is known of the real one: the types-nuke stubs and the host table.

* every class, function and constant the fake defines exists in the types-nuke stubs (so the plugin cannot come
  to use a name Nuke does not have), and so does every method of those classes;
* tests/host_api/nuke.json (written from Foundry's documentation) is a valid host table; the fake's built-in knobs
  are the table's, with its defaults and values where the table has them, and the fake refuses any other;
* every node class and knob the plugin touches (logged by the fake while the plugin runs) is in the table;
* plugin_nuke/record_host.py, run against the fake, writes a valid table of the same format.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests import ROOT
from tests.host_api import nuke_table
from tests.plugin_nuke.test_plugin_nuke import RGBA, clip_frames, closed_port, inpaint_node, press, source

FAKE = ROOT / "tests" / "fake_nuke" / "nuke" / "__init__.py"
PLUGIN = ROOT / "plugin_nuke"


# -- the fake against the types-nuke stubs ------------------------------------------------------------------------

def stub_folder() -> Path:
    """The installed nuke-stubs package of types-nuke (PEP 561 stub-only package)."""
    spec = importlib.util.find_spec("mypy")  # the stubs live beside the other test tools in site-packages
    assert spec is not None and spec.origin
    folder = Path(spec.origin).parent.parent / "nuke-stubs"
    assert (folder / "__init__.pyi").is_file(), f"types-nuke is not installed (no {folder}): pip install -e '.[test]'"
    return folder


def stub_modules() -> list:
    """nuke-stubs/__init__.pyi and every module it star-imports (the names ``nuke`` exports)."""
    folder = stub_folder()
    init = ast.parse((folder / "__init__.pyi").read_text())
    trees = [init]
    for node in init.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            trees.append(ast.parse((folder / f"{node.module}.pyi").read_text()))
    return trees


def top_level_names(tree: ast.Module) -> dict:
    """{name: node} for classes, functions and assigned names at module level."""
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = node
        elif isinstance(node, ast.ImportFrom):
            names.update({alias.asname or alias.name: node for alias in node.names if alias.name != "*"})
    return names


def stub_names() -> dict:
    names: dict = {}
    for tree in stub_modules():
        names.update(top_level_names(tree))
    return names


def fake_public_names() -> dict:
    import nuke

    tree = ast.parse(FAKE.read_text())
    return {name: node for name, node in top_level_names(tree).items()
            if not name.startswith("_") and name not in nuke.TEST_HELPERS and not isinstance(node, ast.ImportFrom)}


def stub_methods(stubs: dict, cls: str) -> set:
    """The methods and attributes of stub class ``cls`` and of its stub bases."""
    node = stubs.get(cls)
    if not isinstance(node, ast.ClassDef):
        return set()
    found = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    found |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    for base in node.bases:
        if isinstance(base, ast.Name):
            found |= stub_methods(stubs, base.id)
    return found


def test_every_class_function_and_constant_of_the_fake_is_in_the_types_nuke_stubs():
    stubs = stub_names()
    fake = fake_public_names()
    assert {"Node", "Group", "executeInMainThread", "views", "createNode", "INVISIBLE"} <= set(fake)  # the scan works
    missing = sorted(name for name in fake if name not in stubs)
    assert missing == [], f"the fake defines names Nuke's API does not have: {missing}"


def test_every_method_of_the_fakes_classes_is_in_the_stubs_class():
    import nuke

    stubs = stub_names()
    missing = []
    for name, node in fake_public_names().items():
        if not isinstance(node, ast.ClassDef):
            continue
        methods = stub_methods(stubs, name)
        for item in node.body:
            if (isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
                    and f"{name}.{item.name}" not in nuke.TEST_HELPERS and item.name not in methods):
                missing.append(f"{name}.{item.name}")
    assert missing == [], f"fake methods Nuke's classes do not have: {missing}"


# -- the host table ------------------------------------------------------------------------------------------------

def test_the_documentation_table_is_a_valid_host_table_with_a_source_for_every_entry():
    table = nuke_table.load()
    assert nuke_table.problems(table) == []
    assert table["source"] == "documentation"
    for cls, entry in table["nodes"].items():
        for name, knob in entry["knobs"].items():
            assert "http" in knob["source"] or "/" in knob["source"], f"{cls}.{name} cites no page or file"


def made(nuke, cls: str):
    """A fresh node of ``cls`` as the fake makes it (Input/Output inside a Group, Root the script's)."""
    if cls == "Root":
        return nuke.root()
    scratch = nuke.nodes.Group()
    with scratch:
        return getattr(nuke.nodes, cls)()


def test_the_fakes_knobs_are_the_tables_with_its_defaults_and_values(nuke):
    table = nuke_table.load()
    for cls, entry in table["nodes"].items():
        node = made(nuke, cls)
        assert set(node.knobs()) <= set(entry["knobs"]), cls
        for name, knob in node.knobs().items():
            documented = entry["knobs"][name]
            if documented["default"] is not None and name != "name":
                assert knob.value() == documented["default"], f"{cls}.{name}"
            if documented["values"] is not None:
                assert knob.values() == documented["values"], f"{cls}.{name}"


def test_the_fake_refuses_knobs_the_table_does_not_list(nuke, monkeypatch):
    with pytest.raises(NameError, match="knob no_such_knob does not exist"):
        nuke.nodes.Write(no_such_knob=1)
    assert nuke.nodes.Write().knob("no_such_knob") is None
    switch = dict(nuke._TABLE["Switch"]["knobs"])
    del switch["which"]
    monkeypatch.setitem(nuke._TABLE, "Switch", {"knobs": switch})
    with pytest.raises(AssertionError, match="Switch knob 'which' is not in tests/host_api/nuke.json"):
        nuke.nodes.Switch()


def plugin_node_classes() -> set:
    """Node classes the plugin's sources create: nuke.nodes.X(...) and nuke.createNode("X")."""
    found = set()
    for path in PLUGIN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "nodes" and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "nuke"):
                found.add(node.attr)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "createNode"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def test_every_node_class_and_knob_the_plugin_uses_is_in_the_table(nuke, nuke_plugin, tmp_path, monkeypatch):
    """Drive the plugin's paths (create, every setting read, render, show a result) and check what the fake logged."""
    table = nuke_table.load()
    assert plugin_node_classes() <= set(table["nodes"]), plugin_node_classes()
    monkeypatch.setattr(nuke_plugin.job, "CONNECT_TIMEOUT", 0.5)
    ii = nuke_plugin.node
    nuke.root()["views"].fromScript("left #ff0000\nright #00ff00")
    nuke.root()["first_frame"].setValue(1001)
    nuke.root()["last_frame"].setValue(1002)
    plate, mask = clip_frames()
    group = inpaint_node(source(np.concatenate([plate, mask[..., None]], -1), RGBA), tmp_path,
                         f"127.0.0.1:{closed_port()}", **{ii.RANGE_MODE: "project", ii.REFERENCE_FRAMES: "1002"})
    group.setInput(ii.REFERENCE_INDEX, source(np.concatenate([plate, mask[..., None]], -1), RGBA))  # and its render
    assert press(group).startswith("Error: No InternalInpaint server answers")  # rendered, then no server
    ii.show_result(group, str(tmp_path / "clean.####.exr"), 1001, 1002, "right")
    nuke_plugin.commands.cancel(group)  # nothing to cancel: reads the job knobs

    used = {(cls, name) for cls, name, kind in nuke.knob_log if kind == "builtin"}
    assert {("Write", "views"), ("Read", "file"), ("Copy", "from0"), ("Switch", "which"), ("Root", "proxy")} <= used
    unlisted = sorted(f"{cls}.{name}" for cls, name in used if name not in nuke_table.knob_names(table, cls))
    assert unlisted == [], f"the plugin uses knobs the host table does not list: {unlisted}"
    classes = {group.Class()} | {n.Class() for n in group.nodes()}
    assert classes <= set(table["nodes"]), classes


# -- the recorder ----------------------------------------------------------------------------------------------------

def test_the_recorder_writes_a_valid_table_of_the_fake(nuke, tmp_path):
    import record_host  # plugin_nuke/ is on sys.path, as Nuke puts a NUKE_PATH folder there

    before = nuke.root().nodes()
    thread = record_host.record(str(tmp_path / "nuke.json"), timeout=10.0)
    assert nuke.root().nodes() == before  # its scratch Group is gone again
    nuke.run_until(lambda: not thread.is_alive(), 20)  # the probe of executeInMainThread needs the event loop
    recorded = json.loads((tmp_path / "nuke.json").read_text())
    assert nuke_table.problems(recorded) == []
    assert recorded["source"] == "recording" and recorded["host_version"] == nuke.NUKE_VERSION_STRING
    documented = nuke_table.load()
    assert set(recorded["nodes"]) == set(documented["nodes"])
    for cls, entry in recorded["nodes"].items():
        assert set(entry["knobs"]) <= nuke_table.knob_names(documented, cls), cls
    assert recorded["nodes"]["Write"]["knobs"]["file_type"]["default"] == "exr"  # recorded after setting exr
    assert recorded["nodes"]["Switch"]["knobs"]["which"] == {
        "type": "Int_Knob", "default": 0, "values": None, "source": f"recorded in Nuke {nuke.NUKE_VERSION_STRING}"}
    # The fake hands a list over as Nuke's executeInMain.py does: the recording says what the documentation says.
    assert recorded["events"]["execute_in_main_thread_args"] == documented["events"]["execute_in_main_thread_args"]
