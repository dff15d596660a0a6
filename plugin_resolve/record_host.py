"""Record what this Fusion has, for InternalInpaint's tests: run it once in Resolve's or Fusion's console.

The plugin was written against a stand-in Fusion (tests/fake_fusion) whose tools, inputs and events follow public
documentation (tests/host_api/fusion.json). This script asks a real Fusion instead and writes the same table from
what it answers, so the stand-in can be checked against it:

    Workspace > Console, Py3 tab:  exec(open("/path/to/InternalInpaint/plugin_resolve/record_host.py").read())

(or copy it to the Scripts/Comp folder and pick it from Workspace > Scripts > Comp). Have a comp open; it is left as
it was found. It writes ~/internal_inpaint_fusion_table.json (or $INTERNAL_INPAINT_RECORD) and prints the path:
send that file to the InternalInpaint developers. What it does:

1. Adds a Saver (OutputFormat set to OpenEXRFormat, so the EXR options exist), a Loader, a Matte Control and a
   MediaIn (Resolve's Fusion page only) at explicit positions, far from the tree (so Fusion connects them to
   nothing), writes down every input's ID, name, data type, menu values and default, and deletes them.
2. Shows two small windows for a couple of seconds each, to see which timer hookup delivers a timer's events:
   ``disp.On.Timeout`` (one handler for every timer, told apart by ev["who"]) or ``disp.On.<TimerID>.Timeout``.
   If a window stays open, press its Stop button: that hookup does not fire.
3. Renders a Loader of a file that does not exist into a Saver writing a temporary folder (every other Saver passed
   through, restored after), to see what ``comp.Render`` answers when a render fails.

Python 3.6+, standard library only; it needs neither the plugin nor the client installed.
"""

import datetime
import json
import os
import shutil
import tempfile
import time

TOOLS = ("Saver", "Loader", "MatteControl", "MediaIn")
PLACE_X, PLACE_Y = -1000.0, -1000.0  # explicit positions: at (-32768, -32768) Fusion would connect the new tool
TICK_MS = 100
TIMER_SECONDS = 2.5  # how long each timer hookup is watched
QUIET = 524288  # Composition.Render Flags, REQF_Quiet (1 << 19): no "Render Failed" dialog
OUTPUT = os.path.join(os.path.expanduser("~"), "internal_inpaint_fusion_table.json")
PREFIX = "[InternalInpaint record]"


def _values(table):
    """A Lua table (dict keyed 1.0, 2.0, ...) or a list as a Python list, in order."""
    if not table:
        return []
    if isinstance(table, dict):
        return [table[key] for key in sorted(table, key=str)]
    return list(table)


def _jsonable(value):
    """A value Fusion handed back, as JSON can hold it (tables as lists or objects, anything else as text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        keys = list(value)
        if keys and all(isinstance(k, (int, float)) for k in keys):
            return [_jsonable(v) for v in _values(value)]
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def host_version(fusion):
    """Fusion's version as text, or None when it does not say."""
    getters = (lambda: fusion.GetAttrs("FUSIONS_Version"), lambda: fusion.Version, lambda: fusion.GetVersion())
    for getter in getters:
        try:
            value = getter()
        except Exception:  # noqa: BLE001 - not every host has every one of these
            continue
        if isinstance(value, dict):
            value = ".".join(str(v) for v in _values(value))
        if value:
            return str(value)
    return None


def _menu_values(attrs):
    """A menu's entries: the attributes that hold a table of them (their names vary by control)."""
    for key in sorted(attrs):
        value = attrs[key]
        if isinstance(value, dict) and any(word in key for word in ("Combo", "MultiButton", "Menu")):
            return [_jsonable(v) for v in _values(value)]
    return None


def dump_inputs(tool, source):
    """Every input of ``tool``: {ID: {type, default, values, source}}; prints ID, name and type of each."""
    inputs = {}
    for inp in _values(tool.GetInputList()):
        attrs = inp.GetAttrs() or {}
        input_id = attrs.get("INPS_ID")
        if not input_id:
            continue
        kind = attrs.get("INPS_DataType")
        inputs[str(input_id)] = {"type": str(kind) if kind is not None else None,
                                 "default": _jsonable(tool.GetInput(input_id)),  # a new tool's value is its default
                                 "values": _menu_values(attrs),
                                 "source": "{} (name: {})".format(source, attrs.get("INPS_Name", ""))}
        print("{}   {}: {!r} ({})".format(PREFIX, input_id, attrs.get("INPS_Name", ""), kind))
    return inputs


def record_tools(comp):
    """The inputs of a new tool of each kind in TOOLS; a kind this host does not have is left out."""
    nodes = {}
    for index, tool_id in enumerate(TOOLS):
        try:
            tool = comp.AddTool(tool_id, PLACE_X - index, PLACE_Y)
        except Exception as exc:  # noqa: BLE001 - e.g. MediaIn outside Resolve
            print("{} {}: cannot be added here ({})".format(PREFIX, tool_id, exc))
            continue
        if tool is None:
            print("{} {}: this host has no such tool".format(PREFIX, tool_id))
            continue
        try:
            source = "record_host.py: GetInputList() of a new " + tool_id
            if tool_id == "Saver":
                tool.SetInput("OutputFormat", "OpenEXRFormat")
                source += " after SetInput('OutputFormat', 'OpenEXRFormat')"
            print("{} {}:".format(PREFIX, tool_id))
            nodes[tool_id] = {"inputs": dump_inputs(tool, source)}
        finally:
            tool.Delete()
    return nodes


def _who(event):
    if isinstance(event, dict):
        return event.get("who")
    return getattr(event, "who", None)


def _watch_timer(fusion, bmd, named, seconds):
    """How many Timeout events a timer delivered through one hookup in ``seconds`` (Stop ends it early)."""
    ui = fusion.UIManager
    disp = bmd.UIDispatcher(ui)
    hookup = "disp.On.<TimerID>.Timeout" if named else "disp.On.Timeout"
    win_id, tick_id, stop_id = "IIRecord" + ("Named" if named else "Generic"), "IIRecordTick", "IIRecordStop"
    win = disp.AddWindow({"ID": win_id, "WindowTitle": "InternalInpaint: recording " + hookup,
                          "Geometry": [200, 200, 460, 120]},
                         ui.VGroup([ui.Label({"ID": "Text", "WordWrap": True,
                                              "Text": "Watching {} for {:g} s. Still open after that? Press Stop: "
                                                      "this hookup does not fire.".format(hookup, seconds)}),
                                    ui.Button({"ID": "Stop", "Text": "Stop"})]))
    tick = ui.Timer({"ID": tick_id, "Interval": TICK_MS})
    stop = ui.Timer({"ID": stop_id, "Interval": int(seconds * 1000), "SingleShot": True})
    seen = {"ticks": 0, "who": set()}

    def on_event(event, who):
        seen["who"].add(str(who))
        if who == tick_id:
            seen["ticks"] += 1
        elif who == stop_id:
            disp.ExitLoop()

    if named:
        getattr(disp.On, tick_id).Timeout = lambda event=None: on_event(event, tick_id)
        getattr(disp.On, stop_id).Timeout = lambda event=None: on_event(event, stop_id)
    else:
        disp.On.Timeout = lambda event=None: on_event(event, _who(event))
    win.On.Stop.Clicked = lambda event=None: disp.ExitLoop()
    getattr(win.On, win_id).Close = lambda event=None: disp.ExitLoop()
    win.Show()
    tick.Start()
    stop.Start()
    try:
        disp.RunLoop()
    finally:
        tick.Stop()
        stop.Stop()
        win.Hide()
    print("{} {}: {} ticks, ev['who'] seen: {}".format(PREFIX, hookup, seen["ticks"], sorted(seen["who"])))
    return seen["ticks"]


def record_timer(fusion, bmd, seconds=TIMER_SECONDS):
    """Which hookup delivers a UI timer's Timeout: 'disp.On.Timeout', 'disp.On.<ID>.Timeout', 'both' or 'none'."""
    generic = _watch_timer(fusion, bmd, named=False, seconds=seconds) > 0
    named = _watch_timer(fusion, bmd, named=True, seconds=seconds) > 0
    if generic and named:
        return "both"
    return "disp.On.Timeout" if generic else "disp.On.<ID>.Timeout" if named else "none"


def _pass_through_others(comp, saver):
    """Every other Saver that renders, passed through; the ones changed, to be restored."""
    changed = []
    for other in _values(comp.GetToolList(False, "Saver")):
        if other.GetAttrs()["TOOLS_Name"] != saver.GetAttrs()["TOOLS_Name"] and \
                not other.GetAttrs()["TOOLB_PassThrough"]:
            other.SetAttrs({"TOOLB_PassThrough": True})
            changed.append(other)
    return changed


def record_render_failure(comp):
    """What comp.Render answers when the render fails (repr), or what it raises."""
    folder = tempfile.mkdtemp(prefix="internal_inpaint_record_")
    added, changed = [], []
    try:
        comp.Lock()  # no "missing file" dialog while the Loader is pointed at nothing
        try:
            loader = comp.AddTool("Loader", PLACE_X, PLACE_Y - 1)
            saver = comp.AddTool("Saver", PLACE_X + 1, PLACE_Y - 1)
            added = [tool for tool in (loader, saver) if tool is not None]
            if len(added) < 2:
                return "not recorded: Fusion did not add a Loader and a Saver"
            loader.SetInput("Clip", os.path.join(folder, "missing.0000.exr"))
            saver.ConnectInput("Input", loader)
            saver.SetInput("Clip", os.path.join(folder, "out.0000.exr"))
            saver.SetInput("OutputFormat", "OpenEXRFormat")
        finally:
            comp.Unlock()
        frame = loader.GetInput("GlobalIn")
        changed = _pass_through_others(comp, saver)
        try:
            result = comp.Render({"Start": frame, "End": frame, "Wait": True, "Flags": QUIET})
        except Exception as exc:  # noqa: BLE001 - what it raises is the answer
            return "raises {}: {}".format(type(exc).__name__, exc)
        return repr(result)
    finally:
        for other in changed:
            other.SetAttrs({"TOOLB_PassThrough": False})
        for tool in reversed(added):
            tool.Delete()
        shutil.rmtree(folder, ignore_errors=True)


def record(fusion, comp, bmd, path=OUTPUT, seconds=TIMER_SECONDS):
    """Record tools, timer and render failure; write the table to ``path`` and return it."""
    version = host_version(fusion)
    nodes = record_tools(comp)
    hookup = record_timer(fusion, bmd, seconds)
    failure = record_render_failure(comp)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    table = {"host": "fusion", "source": "recording", "host_version": version, "nodes": nodes,
             "events": {"timer_hookup": hookup, "render_failure_returns": failure,
                        "source": "record_host.py in Fusion {} on {}".format(version or "(version unknown)", when)}}
    with open(path, "w") as out:
        json.dump(table, out, indent=2, sort_keys=True)
    return table


def _host():
    """Fusion's globals for console and comp scripts: fu/fusion, comp, bmd."""
    scope = globals()
    fusion = scope.get("fu") or scope.get("fusion")
    bmd = scope.get("bmd")
    if bmd is None:
        try:
            import BlackmagicFusion as bmd  # noqa: F401 - Fusion's own module, present inside the host
        except ImportError:
            bmd = None
    comp = scope.get("comp") or (fusion.GetCurrentComp() if fusion is not None else None)
    return fusion, comp, bmd


def main():
    fusion, comp, bmd = _host()
    if fusion is None or bmd is None or comp is None:
        print("{} Run this in Resolve's or Fusion's console (Py3) with a comp open.".format(PREFIX))
        return None
    path = os.environ.get("INTERNAL_INPAINT_RECORD") or OUTPUT
    seconds = float(os.environ.get("INTERNAL_INPAINT_RECORD_SECONDS") or TIMER_SECONDS)
    started = time.time()
    table = record(fusion, comp, bmd, path, seconds)
    print("{} Done in {:.0f} s: {} (timer: {}, a failed render answers {}). Send this file to the InternalInpaint "
          "developers.".format(PREFIX, time.time() - started, path, table["events"]["timer_hookup"],
                               table["events"]["render_failure_returns"]))
    return table


if not globals().get("RECORD_HOST_IMPORT_ONLY"):  # the tests import it without running it
    main()
