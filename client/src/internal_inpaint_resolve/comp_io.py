"""Everything that touches the Fusion comp: finding tools, rendering the plate, adding and wiring the result's
Loader, remembering the last job of a plate.

Only documented FusionScript calls are used (Python spelling of the Lua API):
comp.GetToolList / GetAttrs / AddTool / Render / Lock / Unlock / StartUndo /
EndUndo / SetActiveTool / SetData / GetData, tool.GetAttrs / SetAttrs / SetInput /
GetInput / ConnectInput / FindMainInput / FindMainOutput / Delete, Input.GetConnectedOutput /
ConnectTo / GetAttrs, Output.GetTool,
comp.CurrentFrame.FlowView.GetPosTable / Select.
Lua tables come back as dicts keyed 1.0, 2.0, ...; frame times and other numbers are floats.

The user's comp is left as it was found: every input the plugin relies on is set
explicitly (a tool's defaults can be the wrong ones, e.g. Matte Control's
Post-Multiply Image is on) and read back, tools are added at explicit positions
(at -32768, -32768 Fusion would connect them to the selected tool), the user's
connections are restored after each change, and only the plugin's own Saver
renders, quietly (the others are passed through for the render).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from .job import (
    PluginError,
    Record,
    RunningJob,
    format_frames,
    frame_runs,
    fusion_saver_name,
    log,
    missing_frames,
    sequence_file,
)

PLATE_TOOL_TYPES = ("Loader", "MediaIn")
# Matte Control's "Combine" menu (None, Combine Red, Green, Blue, Alpha, Solid, Clear) and "Combine Op" Copy.
MATTE_CHANNELS = {"Alpha": 4, "Red": 1, "Green": 2, "Blue": 3}
COMBINE_COPY = 0
EXR_HALF = 1  # OpenEXRFormat.Depth 1: 16-bit float (as eoyilmaz/anima's Fusion Saver sets it)
# A tool added at (-32768, -32768) is placed "as if you had clicked on one of the toolbar icons ... a connection
# will automatically be made" to the selected tool (Fusion 8 Scripting Guide, Composition.AddTool): never used.
# Without a flow view to place tools beside the plate, they go to this explicit spot instead.
FALLBACK_POSITION = (0.0, 0.0)
# Composition.Render's documented Flags key, with REQF_Quiet (1 << 19): no "Render Completed/Failed" dialog.
# The value is the one ayon-fusion passes (ynput/ayon-fusion: client/ayon_fusion/plugins/publish/
# extract_render_local.py, REQF_Quiet = 524288, citing https://www.steakunderwater.com/wesuckless/viewtopic.php?p=53312);
# it passes it as "RenderFlags", a key the Render reference does not list, so here it goes as the documented Flags.
REQF_QUIET = 524288
RESULT_NAME = "InpaintClean"
PLUGIN_TOOL_PREFIX = "InternalInpaint"  # the temporary Saver and Matte Control are named so
SAVER_NAME = PLUGIN_TOOL_PREFIX + "PlateSaver"
REFERENCE_SAVER_NAME = PLUGIN_TOOL_PREFIX + "ReferenceSaver"
MATTE_COPY_NAME = PLUGIN_TOOL_PREFIX + "MatteCopy"
DATA_PREFIX = "InternalInpaint"  # comp data: InternalInpaint.<plate tool> = the plate's last finished job
RUNNING_DATA = "InternalInpaintRunning"  # comp data: the submitted job not yet seen to end (one per comp)
MAX_MAIN_INPUTS = 64  # FindMainInput(i) is asked up to here (it answers None after the last)


def _values(table: Any) -> List[Any]:
    """A Lua table (dict keyed 1.0, 2.0, ...) or a list as a Python list, in order."""
    if not table:
        return []
    if isinstance(table, dict):
        return [table[key] for key in sorted(table)]
    return list(table)


def tool_name(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_Name"])


def tool_type(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_RegID"])


def comp_name(comp: Any) -> str:
    attrs = comp.GetAttrs()
    return str(attrs.get("COMPS_Name") or os.path.basename(str(attrs.get("COMPS_FileName") or "")) or "comp")


def image_tools(comp: Any) -> List[Any]:
    """Every tool but Savers, in the comp's order (candidates for the matte)."""
    return [t for t in _values(comp.GetToolList(False)) if tool_type(t) != "Saver"]


def plate_tools(comp: Any) -> List[Any]:
    """Loaders and MediaIns, the selected ones first (the dialog preselects the first).

    The plugin's own result Loaders come last, and a selected one stands for the plate it was made
    from: after a run the result is selected, and running the script again should offer the plate.
    """
    selected = [t for t in _values(comp.GetToolList(True)) if tool_type(t) in PLATE_TOOL_TYPES]
    selected_names = {tool_name(t) for t in selected}
    others = [t for t in _values(comp.GetToolList(False, "Loader")) + _values(comp.GetToolList(False, "MediaIn"))
              if tool_name(t) not in selected_names]
    ordered = selected + sorted(others, key=tool_name)
    by_name = {tool_name(t): t for t in ordered}
    made_from = {}  # result Loader's name -> its plate's name
    for name in by_name:
        record = read_record(comp, name)
        if record is not None and record.loader in by_name and record.loader != name:
            made_from[record.loader] = name
    preferred = [by_name[made_from[tool_name(t)]] for t in selected if tool_name(t) in made_from]
    plates = [t for t in ordered if tool_name(t) not in made_from]
    results = [t for t in ordered if tool_name(t) in made_from]
    found: List[Any] = []
    seen: Set[str] = set()
    for tool in preferred + plates + results:
        if tool_name(tool) not in seen:
            seen.add(tool_name(tool))
            found.append(tool)
    return found


def tool_named(comp: Any, name: str) -> Optional[Any]:
    for tool in _values(comp.GetToolList(False)):
        if tool_name(tool) == name:
            return tool
    return None


def find_tool(comp: Any, name: str) -> Any:
    tool = tool_named(comp, name) if name else None
    if tool is None:
        raise PluginError(f"There is no tool named {name!r} in the comp (renamed or deleted?).")
    return tool


def render_range(comp: Any) -> Tuple[float, float]:
    attrs = comp.GetAttrs()
    return attrs["COMPN_RenderStart"], attrs["COMPN_RenderEnd"]


def _position(comp: Any, tool: Any) -> Optional[Tuple[float, float]]:
    try:
        pos = comp.CurrentFrame.FlowView.GetPosTable(tool)
        values = _values(pos)
        return float(values[0]), float(values[1])
    except Exception:  # no flow view (e.g. Resolve's Fusion page not shown): let Fusion place it
        return None


def _add_tool(comp: Any, reg_id: str, near: Optional[Tuple[float, float]], dx: float, dy: float) -> Any:
    """A new tool at an explicit position (beside ``near``), so that Fusion connects it to nothing."""
    base = near or FALLBACK_POSITION
    tool = comp.AddTool(reg_id, base[0] + dx, base[1] + dy)
    if tool is None:
        raise PluginError(f"Fusion did not add a {reg_id} tool.")
    return tool


def set_inputs(tool: Any, values: Sequence[Tuple[str, Any]]) -> None:
    """Set each input, in order, and read it back: Fusion ignores an input a tool does not have (GetInput then
    answers None), so a renamed input is an error here instead of a wrong plate later."""
    for name, value in values:
        tool.SetInput(name, value)
        if tool.GetInput(name) is None:
            raise PluginError(
                f"Fusion's {tool_type(tool)} has no input {name!r} (this Fusion version names it differently). "
                "Run plugin_resolve/record_host.py in Fusion's console and send the JSON it writes to the "
                "InternalInpaint developers.")


# -- the user's connections --------------------------------------------------------------------


def _source_name(inp: Any) -> str:
    output = inp.GetConnectedOutput()
    return tool_name(output.GetTool()) if output is not None else ""


def connections(comp: Any) -> Dict[str, Dict[str, str]]:
    """Every tool's main inputs and, for each, the name of the tool feeding it ("" for none)."""
    return {tool_name(tool): {_input_id(inp): _source_name(inp) for inp in main_inputs(tool)}
            for tool in _values(comp.GetToolList(False))}


def restore_connections(comp: Any, before: Dict[str, Dict[str, str]]) -> List[str]:
    """Put back every main input of the tools in ``before`` that now differs; 'Tool.Input' for each one."""
    tools = {tool_name(tool): tool for tool in _values(comp.GetToolList(False))}
    restored = []
    for name, inputs in before.items():
        tool = tools.get(name)
        for inp in main_inputs(tool) if tool is not None else []:
            input_id = _input_id(inp)
            wanted = inputs.get(input_id)
            if wanted is None or _source_name(inp) == wanted or (wanted and wanted not in tools):
                continue
            try:
                if wanted:
                    inp.ConnectTo(tools[wanted].FindMainOutput(1))
                else:
                    inp.ConnectTo()
            except Exception as exc:  # noqa: BLE001 - runs in a finally: report, never hide the first error
                log(f"Could not restore {name}.{input_id} (it was fed by {wanted or 'nothing'}): {exc}")
                continue
            restored.append(f"{name}.{input_id}")
    if restored:
        log(f"Restored the connections Fusion changed: {', '.join(restored)}")
    return restored


@contextmanager
def kept_connections(comp: Any) -> Iterator[None]:
    """The user's connections as they were before, whatever happens inside (an error included)."""
    before = connections(comp)
    try:
        yield
    finally:
        restore_connections(comp, before)


# -- rendering ------------------------------------------------------------------------------


@contextmanager
def only_saver(comp: Any, saver: Any) -> Iterator[None]:
    """Every other Saver passed through for the render (ayon-fusion's ``enabled_savers``), each put back after."""
    changed = []
    try:
        for other in _values(comp.GetToolList(False, "Saver")):
            if tool_name(other) != tool_name(saver) and not other.GetAttrs()["TOOLB_PassThrough"]:
                other.SetAttrs({"TOOLB_PassThrough": True})
                changed.append(other)
        yield
    finally:
        for other in changed:
            other.SetAttrs({"TOOLB_PassThrough": False})


def _render(comp: Any, first: int, last: int, what: str = "the plate") -> None:
    """Render first..last (the plugin's Saver only, see only_saver), quietly; a PluginError when it failed."""
    try:
        result = comp.Render({"Start": first, "End": last, "Wait": True, "Flags": REQF_QUIET})
    except Exception as exc:  # noqa: BLE001 - whatever Fusion raises, the user gets one line
        raise PluginError(f"Fusion stopped rendering {what}: {type(exc).__name__}: {exc}. See Fusion's "
                          "console for the tool that failed.") from None
    if not result:  # nil (None) or False: the render failed or was stopped
        raise PluginError(f"Fusion did not render {what} (comp.Render answered {result!r}): a tool failed on "
                          "some frame, or the render was stopped. See Fusion's console for the tool and frame.")


def render_plate(comp: Any, plate: Any, matte: Optional[Any], matte_channel: str, first: int, last: int,
                 plate_pattern: str) -> None:
    """Render ``plate`` (its alpha replaced by ``matte``'s channel, if a matte is given) to half EXRs.

    A Matte Control copies the matte into alpha (RGB untouched) and a Saver writes
    ``plate_pattern`` for every frame of first..last (inclusive); both are deleted afterwards,
    and the user's connections and Savers' pass-through are as before, whatever failed.
    """
    if matte is not None and matte_channel not in MATTE_CHANNELS:
        raise PluginError(f"Unknown matte channel {matte_channel!r}: pick one of {', '.join(MATTE_CHANNELS)}.")
    folder = os.path.dirname(plate_pattern)
    os.makedirs(folder, exist_ok=True)
    near = _position(comp, plate)
    with kept_connections(comp):
        temporary: List[Any] = []
        comp.StartUndo("InternalInpaint: render plate")
        try:
            comp.Lock()
            try:
                source = plate if matte is None else _matte_copy(comp, temporary, plate, matte, matte_channel, near)
                saver = _plate_saver(comp, temporary, source, plate_pattern, near)
            finally:
                comp.Unlock()
            log(f"Rendering {tool_name(plate)} frames {first}-{last} to {plate_pattern}")
            with only_saver(comp, saver):
                _render(comp, first, last)
        finally:
            _delete(temporary)
            comp.EndUndo(True)
    missing = missing_frames(plate_pattern, first, last)
    if missing:
        raise PluginError(f"Rendering the plate to {folder} failed (frames {missing[0]}-{missing[-1]} are missing); "
                          "see Fusion's console.")


def render_reference(comp: Any, reference: Any, frames: Sequence[int], reference_pattern: str) -> List[str]:
    """Render ``reference`` (the painted frames) at exactly ``frames`` to ``reference_pattern``, through a Saver with
    the plate's settings (OpenEXR half, RGBA: the plate's channels and pixel type, as the server requires).

    Each run of consecutive frames is one quiet render of the plugin's Saver alone; the Saver is deleted afterwards,
    and the user's connections and Savers' pass-through are as before, whatever failed. Returns the files, in frame
    order.
    """
    frames = sorted(set(int(f) for f in frames))
    if not frames:
        return []
    folder = os.path.dirname(reference_pattern)
    os.makedirs(folder, exist_ok=True)
    near = _position(comp, reference)
    what = f"the reference {tool_name(reference)}"
    with kept_connections(comp):
        temporary: List[Any] = []
        comp.StartUndo("InternalInpaint: render reference")
        try:
            comp.Lock()
            try:
                saver = _plate_saver(comp, temporary, reference, reference_pattern, near, REFERENCE_SAVER_NAME)
            finally:
                comp.Unlock()
            log(f"Rendering {tool_name(reference)} frames {format_frames(frames)} to {reference_pattern}")
            with only_saver(comp, saver):
                for first, last in frame_runs(frames):
                    _render(comp, first, last, what)
        finally:
            _delete(temporary)
            comp.EndUndo(True)
    files = [sequence_file(reference_pattern, frame) for frame in frames]
    missing = [frame for frame, path in zip(frames, files) if not os.path.isfile(path)]
    if missing:
        raise PluginError(f"Rendering {what} to {folder} failed (frames {format_frames(missing)} are missing); see "
                          "Fusion's console.")
    return files


def _matte_copy(comp: Any, temporary: List[Any], plate: Any, matte: Any, channel: str,
                near: Optional[Tuple[float, float]]) -> Any:
    """A Matte Control putting ``matte``'s channel in the plate's alpha, RGB untouched."""
    control = _add_tool(comp, "MatteControl", near, 1, 1)
    temporary.append(control)
    control.SetAttrs({"TOOLS_Name": MATTE_COPY_NAME})
    control.ConnectInput("Background", plate)
    control.ConnectInput("Foreground", matte)
    # Post-Multiply Image is on by default (Resolve manual, Matte Nodes): it would multiply the plate's RGB by the
    # new alpha, black outside the matte. Invert and blur would change the matte.
    set_inputs(control, [("MatteCombine", MATTE_CHANNELS[channel]), ("CombineOp", COMBINE_COPY),
                         ("InvertMatte", 0), ("MatteBlur", 0), ("PostMultiplyImage", 0)])
    return control


def _plate_saver(comp: Any, temporary: List[Any], source: Any, plate_pattern: str,
                 near: Optional[Tuple[float, float]], name: str = SAVER_NAME) -> Any:
    """A Saver writing ``source`` to half-float RGBA EXRs; OutputFormat first: the format's inputs come with it.
    The plate and the references are written by such a Saver alike, so their files match."""
    saver = _add_tool(comp, "Saver", near, 2, 1)
    temporary.append(saver)
    saver.SetAttrs({"TOOLS_Name": name})
    saver.ConnectInput("Input", source)
    channels = ("Red", "Green", "Blue", "Alpha")
    set_inputs(saver, [("Clip", fusion_saver_name(plate_pattern)), ("OutputFormat", "OpenEXRFormat"),
                       ("OpenEXRFormat.Depth", EXR_HALF), ("CreateDir", 1)]
               + [(f"OpenEXRFormat.{c}Enable", 1) for c in channels] + [(f"Process{c}", 1) for c in channels])
    return saver


def _delete(tools: List[Any]) -> None:
    for tool in reversed(tools):
        try:
            tool.Delete()
        except Exception:  # best effort: a leftover tool is harmless, a traceback is not
            pass


def _set(tool: Any, name: str, value: Any) -> None:
    set_inputs(tool, [(name, value)])


def add_result_loader(comp: Any, plate: Any, output_pattern: str, first: int, last: int) -> Any:
    """A Loader of the cleaned frames, placed beside the plate, at the plate's frames, and selected.

    Nothing is rewired here; ``wire_downstream`` does that when the dialog asks for it.
    """
    first_file = sequence_file(output_pattern, first)
    if not os.path.isfile(first_file):
        raise PluginError(f"The job finished but {first_file} is not there.")
    near = _position(comp, plate)
    with kept_connections(comp):
        comp.StartUndo("InternalInpaint: add clean plate")
        try:
            comp.Lock()
            try:
                loader = _add_tool(comp, "Loader", near, 1, 0)
                set_inputs(loader, [("Clip", first_file)])
                _place_clip(loader, first, last)
                # The frames as written: no post-multiply (the plate's RGB outside the matte, bit for bit).
                set_inputs(loader, [("PostMultiplyByAlpha", 0), ("Loop", 0), ("Reverse", 0)])
                loader.SetAttrs({"TOOLS_Name": RESULT_NAME})
            finally:
                comp.Unlock()
        finally:
            comp.EndUndo(True)
    _select(comp, loader)
    log(f"Added Loader {tool_name(loader)} for {output_pattern} (frames {first}-{last})")
    return loader


def _place_clip(loader: Any, first: int, last: int) -> None:
    """Put the clip's first frame at comp frame ``first``, untrimmed.

    Setting Clip puts the clip at the comp's global start; GlobalIn cannot pass
    GlobalOut (nor the other way), so the two move in the order of the shift;
    moving them may change the trims, which are set again afterwards.
    """
    length = last - first + 1
    old_in = int(round(float(loader.GetInput("GlobalIn"))))
    shift = first - old_in
    if shift > 0:
        _set(loader, "GlobalOut", first + length - 1)
        _set(loader, "GlobalIn", first)
    elif shift < 0:
        _set(loader, "GlobalIn", first)
        _set(loader, "GlobalOut", first + length - 1)
    set_inputs(loader, [("ClipTimeStart", 0), ("ClipTimeEnd", length - 1), ("HoldFirstFrame", 0),
                        ("HoldLastFrame", 0)])


def existing_result_loader(comp: Any, name: str, output_pattern: str, first: int) -> Optional[Any]:
    """The Loader called ``name`` if it is still in the comp and still reads ``output_pattern``."""
    tool = tool_named(comp, name) if name else None
    if tool is None or tool_type(tool) != "Loader":
        return None
    clip = tool.GetInput("Clip")
    if not clip or os.path.normpath(str(clip)) != os.path.normpath(sequence_file(output_pattern, first)):
        return None
    return tool


# -- wiring ---------------------------------------------------------------------------------


def main_inputs(tool: Any) -> List[Any]:
    """The tool's main (flow) inputs: FindMainInput(1), (2), ... until it answers None."""
    found = []
    for index in range(1, MAX_MAIN_INPUTS + 1):
        inp = tool.FindMainInput(index)
        if inp is None:
            break
        found.append(inp)
    return found


def upstream_names(tool: Any) -> Set[str]:
    """The names of ``tool`` and of every tool feeding it, through main inputs, however far up."""
    seen: Set[str] = set()
    stack = [tool]
    while stack:
        current = stack.pop()
        name = tool_name(current)
        if name in seen:
            continue
        seen.add(name)
        for inp in main_inputs(current):
            output = inp.GetConnectedOutput()
            if output is not None:
                stack.append(output.GetTool())
    return seen


def _input_id(inp: Any) -> str:
    try:
        return str(inp.GetAttrs()["INPS_ID"])
    except Exception:  # only for the message
        return "input"


def wire_downstream(comp: Any, sources: Iterable[Any], loader: Any, keep: Iterable[str] = ()) -> List[str]:
    """Reconnect the main inputs fed by ``sources`` (the plate, a previous result) to ``loader``'s output.

    Inputs of tools named in ``keep`` (the matte and what feeds it: they must see the
    plate, object and all), of the plugin's own temporary tools and of ``loader`` itself
    stay as they are. Returns 'Tool.Input' for every input moved; one undo step.
    """
    kept = set(keep) | {tool_name(loader)}
    source_names = {tool_name(source) for source in sources}
    output = loader.FindMainOutput(1)
    moved: List[str] = []
    comp.StartUndo("InternalInpaint: wire the clean plate")
    try:
        comp.Lock()
        try:
            for tool in _values(comp.GetToolList(False)):
                name = tool_name(tool)
                if name in kept or name in source_names or name.startswith(PLUGIN_TOOL_PREFIX):
                    continue
                for inp in main_inputs(tool):
                    connected = inp.GetConnectedOutput()
                    if connected is None or tool_name(connected.GetTool()) not in source_names:
                        continue
                    if inp.ConnectTo(output) is not False:
                        moved.append(f"{name}.{_input_id(inp)}")
        finally:
            comp.Unlock()
    finally:
        comp.EndUndo(True)
    if moved:
        log(f"Connected {tool_name(loader)} to {', '.join(moved)}")
    return moved


# -- what the comp remembers ----------------------------------------------------------------


def _data_name(plate_name: str) -> str:
    return f"{DATA_PREFIX}.{re.sub(r'[^A-Za-z0-9_]', '_', plate_name) or 'plate'}"


def read_record(comp: Any, plate_name: str) -> Optional[Record]:
    """The last finished job of this plate, as remembered in the comp (saved with it), or None."""
    try:
        data = comp.GetData(_data_name(plate_name))
    except Exception:  # a host without comp data: nothing to reuse
        return None
    return Record.from_data(data)


def write_record(comp: Any, plate_name: str, record: Record) -> None:
    comp.SetData(_data_name(plate_name), record.to_data())


# Comp data is the documented place for a script's state that must outlive it: "Calling SetData() on any object
# associated with a Composition will cause the data to be saved in the .comp file" (VFXPedia, Object:SetData;
# Fusion 8 Scripting Guide, Object Data). A job keeps running when the dialog closes; this lets the next dialog
# follow it instead of offering to start a second one.


def read_running(comp: Any) -> Optional[RunningJob]:
    """The job submitted from this comp and not yet seen to end, or None."""
    try:
        return RunningJob.from_data(comp.GetData(RUNNING_DATA))
    except Exception:  # a host without comp data: nothing to follow
        return None


def write_running(comp: Any, job: RunningJob) -> None:
    comp.SetData(RUNNING_DATA, job.to_data())


def clear_running(comp: Any) -> None:
    comp.SetData(RUNNING_DATA, None)  # a nil value removes the entry


def select(comp: Any, tool: Any) -> None:
    _select(comp, tool)


def _select(comp: Any, tool: Any) -> None:
    try:
        comp.SetActiveTool(tool)
        flow = comp.CurrentFrame.FlowView
        flow.Select()  # clear
        flow.Select(tool, True)
    except Exception:  # selection is a convenience; no flow view is not an error
        pass
