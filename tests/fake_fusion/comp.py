"""A small stand-in for a Fusion composition, faithful where the plugin depends on it.

Modelled on FusionScript as documented (Python spelling of the Lua API): tables
come back as dicts keyed 1.0, 2.0, ...; times are floats; render ranges and a
Loader's GlobalIn/GlobalOut are inclusive comp frames, its ClipTimeStart/End
0-based indices into the clip. Every rule below names the public page or file
it follows.

Inputs: the tools the plugin uses (Saver, Loader, MediaIn, MatteControl) have
exactly the inputs of the host table, tests/host_api/fusion.json (recorded in a
real Fusion by plugin_resolve/record_host.py, or taken from documentation), and
its defaults. An input the table does not list is not stored and reads back as
None, as Fusion ignores an unknown input; the fake records it
(``tool.ignored``) so a test can catch a misspelt input. Every SetInput,
GetInput and ConnectInput is logged in ``comp.access_log`` so a test can check
that all of them are in the table. Where the table has no default the fake
picks the *unsafe* value (the one a plugin that forgets to set the input gets
wrong), so a forgotten input shows in the pixels.

Pixels: "media" tools (MediaIn, or a Loader fed from memory) hold RGBA arrays
per frame; a Loader with a Clip reads EXRs; a Saver writes EXRs on Render
(OpenImageIO: the fake may use it, the plugin may not); a Matte Control copies a
channel of its Foreground into its Background's alpha. A tool of another kind
given frames with ``add_media`` (a keyer, say) shows those frames whatever feeds it.

Connections: ``tool.FindMainInput(i)`` (1-based, None after the last) and
``tool.FindMainOutput(1)`` / ``tool.Output`` give Input and Output objects;
``Input.GetConnectedOutput()`` / ``ConnectTo(output or None)`` / ``GetTool()``,
``Output.GetConnectedInputs()`` (a table of Inputs) / ``GetTool()``, as in
FusionScript. Comp data (``SetData`` / ``GetData``): dotted names are subtables,
values come back converted as from Lua (numbers as floats, lists as tables keyed
1.0, 2.0, ...), a nil value removes the entry.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Set

import numpy as np
import OpenImageIO as oiio

from tests.host_api.fusion_table import inputs_of, load_table

TIME_UNDEFINED = -1000000000.0
# Composition.AddTool: "You can use the number -32768 ... for both x and y position. This will cause Fusion to add
# the tool as if you had clicked on one of the toolbar icons. The tool will be positioned next to the currently
# selected one and a connection will automatically be made if possible." (Fusion 8 Scripting Guide,
# https://www.steakunderwater.com/VFXPedia/__man/FusionScript8/Fusion8_Scripting_Guide_files/part82.htm)
AUTO_POSITION = -32768
# Composition.Render(table): the keys the reference lists (Start, End, HiQ, RenderAll, MotionBlur, SizeType, Width,
# Height, KeepAspect, StepRender, Steps, UseNetwork, Groups, Flags, Tool, FrameRange, Wait), VFXPedia
# Eyeon:Script/Reference/Applications/Fusion/Classes/Composition/Render,
# https://www.steakunderwater.com/VFXPedia/96.0.243.189/index38d8-3.html?printable=yes&title=Eyeon%3AScript%2FReference%2FApplications%2FFusion%2FClasses%2FComposition%2FRender
# Any other key (ayon-fusion passes "RenderFlags", which the reference does not list) raises here: a key Fusion
# does not know is silently dropped there, so a plugin relying on one would get neither an error nor its effect.
RENDER_KEYS = frozenset({"Start", "End", "HiQ", "RenderAll", "MotionBlur", "SizeType", "Width", "Height", "KeepAspect",
                         "StepRender", "Steps", "UseNetwork", "Groups", "Flags", "Tool", "FrameRange", "Wait"})

TABLE = load_table()
TABLE_TOOLS = frozenset(TABLE["nodes"])
_IMAGE_INPUTS = {
    "Saver": ("Input",),
    "MatteControl": ("Background", "Foreground", "GarbageMatte", "SolidMatte", "EffectMask"),
    "Merge": ("Background", "Foreground", "EffectMask"),
    "Transform": ("Input", "EffectMask"),
    "DeltaKeyer": ("Input", "EffectMask", "GarbageMatte", "SolidMatte", "CleanPlate"),
}
# Where the table gives no default, the unsafe value (see the module's docstring); Process* are only stored.
_UNSAFE_DEFAULTS = {
    # Create Folder can be off: ayon-fusion validates it (ynput/ayon-fusion:
    # client/ayon_fusion/plugins/publish/validate_create_folder_checked.py).
    "Saver": {"OutputFormat": "", "OpenEXRFormat.Depth": 0, "CreateDir": 0, "OpenEXRFormat.RedEnable": 1,
              "OpenEXRFormat.GreenEnable": 1, "OpenEXRFormat.BlueEnable": 1, "OpenEXRFormat.AlphaEnable": 0,
              "ProcessRed": 1, "ProcessGreen": 1, "ProcessBlue": 1, "ProcessAlpha": 1},
    # Post-Multiply by Alpha on: the clean plate's RGB would come out multiplied by its alpha (the matte).
    "Loader": {"PostMultiplyByAlpha": 1, "Loop": 0, "Reverse": 0},
    # The table's default for PostMultiplyImage is 1 (the manual: "on by default"); Invert Matte off.
    "MatteControl": {"CombineOp": 0, "InvertMatte": 0, "MatteBlur": 0},
}


def _defaults(reg_id: str) -> Dict[str, Any]:
    values = dict(_UNSAFE_DEFAULTS.get(reg_id, {}))
    values.update({name: entry["default"] for name, entry in inputs_of(TABLE, reg_id).items()
                   if entry["default"] is not None})
    return values


def _known_inputs(reg_id: str) -> Optional[Set[str]]:
    """The table's inputs of a tool the plugin uses; None (anything goes) for the user's other tools."""
    return set(inputs_of(TABLE, reg_id)) if reg_id in TABLE_TOOLS else None


for _tool, _names in _IMAGE_INPUTS.items():  # the fake's main inputs must be the table's too
    assert _tool not in TABLE_TOOLS or set(_names) <= set(inputs_of(TABLE, _tool)), _tool

_SAVER_DEPTHS = {1: "half", 2: "float"}


class RenderFailed(Exception):
    pass


def _post_multiplied(image: np.ndarray, on: Any) -> np.ndarray:
    """RGB times alpha when ``on`` (Post-Multiply: "multiplies the color channels of the image against the alpha
    channel", manual page-2165, tests/host_api/fusion.json)."""
    if not on:
        return image
    out = image.copy()
    out[..., :3] = out[..., :3] * out[..., 3:4]
    return out


def _table(items: List[Any]) -> Dict[float, Any]:
    return {float(i + 1): item for i, item in enumerate(items)}


def split_sequence_name(path: str):
    """Fusion's file-sequence rule: the digits before the extension are the frame number and set the padding."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    match = re.match(r"^(.*?)(\d+)$", stem)
    if match:
        return folder, match.group(1), len(match.group(2)), ext
    return folder, stem, 4, ext


def read_rgba(path: str) -> np.ndarray:
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise RenderFailed(f"Loader cannot open {path}: {oiio.geterror()}")
    try:
        spec = inp.spec()
        kind = "half" if spec.format == oiio.TypeDesc("half") else "float"
        pixels = inp.read_image(0, 0, 0, spec.nchannels, kind).reshape(spec.height, spec.width, spec.nchannels)
        names = list(spec.channelnames)
    finally:
        inp.close()
    out = np.ones((spec.height, spec.width, 4), pixels.dtype)
    for i, channel in enumerate("RGBA"):
        if channel in names:
            out[..., i] = pixels[..., names.index(channel)]
    return out


def _to_lua(value: Any) -> Any:
    """A Python value as Fusion stores it: numbers become floats, lists become tables keyed 1.0, 2.0, ..."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {(float(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else str(k)): _to_lua(v)
                for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return _table([_to_lua(v) for v in value])
    raise TypeError(f"Fusion cannot store a {type(value).__name__} as data")


def _copy_lua(value: Any) -> Any:
    return {k: _copy_lua(v) for k, v in value.items()} if isinstance(value, dict) else value


class FakeOutput:
    def __init__(self, tool: "FakeTool", name: str = "Output"):
        self.tool, self.name = tool, name

    @property
    def Name(self) -> str:
        return self.name

    @property
    def ID(self) -> str:
        return self.name

    def GetTool(self) -> "FakeTool":
        return self.tool

    def GetConnectedInputs(self) -> Dict[float, "FakeInput"]:
        """Every Input fed by this Output, as a table of Input objects."""
        found = []
        for tool in self.tool.comp.tools:
            for input_name in _IMAGE_INPUTS.get(tool.reg_id, ()):
                if tool.connections.get(input_name) is self.tool:
                    found.append(FakeInput(tool, input_name))
        return _table(found)


class FakeInput:
    """One input of a tool; Fusion hands out a fresh proxy each time, so does the fake."""

    def __init__(self, tool: "FakeTool", name: str):
        self.tool, self.name = tool, name

    @property
    def Name(self) -> str:
        return self.name

    @property
    def ID(self) -> str:
        return self.name

    def GetAttrs(self, name: Optional[str] = None) -> Any:
        entry = inputs_of(TABLE, self.tool.reg_id).get(self.name, {})
        kind = entry.get("type") or ("Image" if self.name in _IMAGE_INPUTS.get(self.tool.reg_id, ()) else None)
        attrs = {"INPS_ID": self.name, "INPS_Name": self.name, "INPS_DataType": kind,
                 "INPB_Connected": self.tool.connections.get(self.name) is not None}
        if entry.get("values"):  # a menu's entries, as a Lua table (the attribute's name is the fake's)
            attrs["INPIDT_ComboControl_ID"] = _table(list(entry["values"]))
        return attrs[name] if name else attrs

    def GetTool(self) -> "FakeTool":
        return self.tool

    def GetConnectedOutput(self) -> Optional[FakeOutput]:
        self.tool._alive()
        source = self.tool.connections.get(self.name)
        return None if source is None else source.Output

    def ConnectTo(self, output: Optional[FakeOutput] = None) -> bool:
        """Connect to an Output, or disconnect with no argument (Fusion: Input:ConnectTo(nil))."""
        self.tool._alive()
        assert output is None or isinstance(output, FakeOutput), "ConnectTo takes an Output (tool.Output), not a tool"
        if output is not None:
            output.tool._alive()
        self.tool.connections[self.name] = None if output is None else output.tool
        return True


class FakeTool:
    def __init__(self, comp: "FakeComp", reg_id: str, name: str, x: float, y: float):
        self.comp, self.reg_id, self.name = comp, reg_id, name
        self.pos = [float(x), float(y)]
        self.inputs: Dict[str, Any] = _defaults(reg_id)
        self.connections: Dict[str, Optional[FakeTool]] = {}
        self.frames: Optional[Dict[int, np.ndarray]] = None  # media fed from memory
        self.clip_files: List[str] = []
        self.ignored: List[str] = []
        self.deleted = False
        self.pass_through = False
        self.Output = FakeOutput(self)

    # identity

    @property
    def ID(self) -> str:
        return self.reg_id

    @property
    def Name(self) -> str:
        return self.name

    def GetAttrs(self, name: Optional[str] = None) -> Any:
        attrs = {"TOOLS_Name": self.name, "TOOLS_RegID": self.reg_id, "TOOLB_PassThrough": self.pass_through,
                 "TOOLB_Selected": self in self.comp.selected}
        if self.reg_id == "Loader":
            attrs["TOOLIT_Clip_Length"] = {1.0: float(len(self.clip_files))}
        return attrs[name] if name else attrs

    def SetAttrs(self, attrs: Dict[str, Any]) -> None:
        if "TOOLS_Name" in attrs:
            wanted = str(attrs["TOOLS_Name"])
            taken = {t.name for t in self.comp.tools if t is not self}
            name, n = wanted, 1
            while name in taken:  # Fusion keeps names unique
                name, n = f"{wanted}_{n}", n + 1
            self.name = name
        if "TOOLB_PassThrough" in attrs:
            self.pass_through = bool(attrs["TOOLB_PassThrough"])

    # inputs

    def _known(self, name: str) -> bool:
        known = _known_inputs(self.reg_id)
        return known is None or name in known

    def SetInput(self, name: str, value: Any, time: Optional[float] = None) -> Optional[bool]:
        self._alive()
        self.comp.access_log.append((self.reg_id, name))
        if not self._known(name):
            self.ignored.append(name)
            return None
        if name in _IMAGE_INPUTS.get(self.reg_id, ()):  # an image input takes a connection, not a value
            self.ignored.append(name)
            return None
        if self.reg_id == "Loader" and name == "Clip":
            self._set_clip(str(value))
        elif self.reg_id in ("Loader", "MediaIn") and name == "GlobalIn":
            self._shift_in(float(value))
        elif self.reg_id in ("Loader", "MediaIn") and name == "GlobalOut":
            self.inputs["GlobalOut"] = max(float(value), float(self.inputs.get("GlobalIn", value)))
        else:
            self.inputs[name] = value
        return True

    def GetInput(self, name: str, time: Optional[float] = None) -> Any:
        """The input's value; None for an input the tool does not have (as Fusion answers nil)."""
        self._alive()
        self.comp.access_log.append((self.reg_id, name))
        return self.inputs.get(name) if self._known(name) else None

    def GetInputList(self, kind: Optional[str] = None) -> Dict[float, "FakeInput"]:
        """Every input of the tool as a table of Input objects (the table's, for the plugin's tools)."""
        self._alive()
        names = sorted(_known_inputs(self.reg_id) or set(self.inputs) | set(_IMAGE_INPUTS.get(self.reg_id, ())))
        found = [FakeInput(self, name) for name in names]
        if kind:
            found = [inp for inp in found if inp.GetAttrs("INPS_DataType") == kind]
        return _table(found)

    def ConnectInput(self, name: str, target: Any) -> bool:
        self._alive()
        self.comp.access_log.append((self.reg_id, name))
        if name not in _IMAGE_INPUTS.get(self.reg_id, ()):
            self.ignored.append(name)
            return False
        if isinstance(target, FakeOutput):
            target = target.tool
        self.connections[name] = target
        return True

    def FindMainInput(self, index: int) -> Optional[FakeInput]:
        """The index-th (1-based) main input, None past the last."""
        self._alive()
        names = _IMAGE_INPUTS.get(self.reg_id, ())
        return FakeInput(self, names[int(index) - 1]) if 1 <= int(index) <= len(names) else None

    def FindMainOutput(self, index: int) -> Optional[FakeOutput]:
        self._alive()
        return self.Output if int(index) == 1 else None

    def Delete(self) -> None:
        self._alive()
        self.deleted = True
        self.comp.tools.remove(self)
        self.comp.selected.discard(self)
        for tool in self.comp.tools:
            for name, source in list(tool.connections.items()):
                if source is self:
                    tool.connections[name] = None

    def _alive(self) -> None:
        if self.deleted:
            raise RuntimeError(f"{self.name} was deleted")

    # Loader behaviour

    def _set_clip(self, path: str) -> None:
        """As Fusion: the clip is the sequence around the named file, placed at the comp's global start, untrimmed."""
        self.inputs["Clip"] = path
        folder, prefix, padding, ext = split_sequence_name(path)
        pattern = re.compile(re.escape(prefix) + r"(\d{%d,})" % padding + re.escape(ext) + "$")
        numbered = []
        if os.path.isdir(folder or "."):
            for name in os.listdir(folder or "."):
                match = pattern.match(name)
                if match:
                    numbered.append((int(match.group(1)), os.path.join(folder, name)))
        self.clip_files = [p for _, p in sorted(numbered)]
        length = len(self.clip_files)
        start = self.comp.global_start
        self.inputs.update(GlobalIn=start, GlobalOut=start + max(length, 1) - 1, ClipTimeStart=0,
                           ClipTimeEnd=max(length - 1, 0), HoldFirstFrame=0, HoldLastFrame=0)

    def _shift_in(self, value: float) -> None:
        """GlobalIn cannot pass GlobalOut; moving it trims the clip's head by as much (Fusion compensates)."""
        old = float(self.inputs.get("GlobalIn", value))
        out = float(self.inputs.get("GlobalOut", value))
        new = min(value, out)
        self.inputs["GlobalIn"] = new
        if "ClipTimeStart" in self.inputs:
            end = float(self.inputs.get("ClipTimeEnd", 0))
            self.inputs["ClipTimeStart"] = min(max(float(self.inputs["ClipTimeStart"]) + new - old, 0.0), end)

    def clip_file_at(self, frame: float) -> str:
        g_in, g_out = float(self.inputs["GlobalIn"]), float(self.inputs["GlobalOut"])
        if not g_in <= frame <= g_out:
            raise RenderFailed(f"{self.name}: frame {frame:g} is outside its global range {g_in:g}-{g_out:g}")
        index = int(self.inputs["ClipTimeStart"]) + int(frame - g_in)
        if index > int(self.inputs["ClipTimeEnd"]) or index >= len(self.clip_files):
            raise RenderFailed(f"{self.name}: frame {frame:g} is past the clip's end")
        return self.clip_files[index]


class FakeFlowView:
    def __init__(self, comp: "FakeComp"):
        self.comp = comp

    def GetPosTable(self, tool: FakeTool) -> Dict[float, float]:
        return {1.0: tool.pos[0], 2.0: tool.pos[1]}

    def SetPos(self, tool: FakeTool, x: float, y: float) -> None:
        tool.pos = [float(x), float(y)]

    def Select(self, tool: Optional[FakeTool] = None, select: bool = True) -> None:
        if tool is None:
            self.comp.selected.clear()
        elif select:
            self.comp.selected.add(tool)
        else:
            self.comp.selected.discard(tool)


class FakeFrame:
    def __init__(self, comp: "FakeComp"):
        self.FlowView = FakeFlowView(comp)


class FakeComp:
    TIME_UNDEFINED = TIME_UNDEFINED

    def __init__(self, render_start: int, render_end: int, global_start: int = 0, global_end: int = 10000,
                 name: str = "Composition1", flow_view: bool = True):
        self.render_start, self.render_end = render_start, render_end
        self.global_start, self.global_end = global_start, global_end
        self.name = name
        self.tools: List[FakeTool] = []
        self.ever: List[FakeTool] = []  # every tool added, deleted ones too (for their ``ignored``)
        self.selected: set = set()
        self.active: Optional[FakeTool] = None
        self.locks = 0
        self.undo_depth = 0
        self.renders: List[Dict[str, Any]] = []
        self.data: Dict[str, Any] = {}  # SetData / GetData, saved with the comp in Fusion
        # No flow view: Resolve's Fusion page not shown (a script then gets no positions from it).
        self.CurrentFrame: Optional[FakeFrame] = FakeFrame(self) if flow_view else None
        self.access_log: List[tuple] = []  # (tool ID, input ID) of every SetInput/GetInput/ConnectInput
        self.added: List[str] = []  # the tool IDs of every AddTool
        self.auto_connections: List[tuple] = []  # (new tool, its input, the tool it was connected to)
        self.saved: List[tuple] = []  # (Saver name, frame) of every frame a Render wrote

    # FusionScript

    def GetAttrs(self, name: Optional[str] = None) -> Any:
        attrs = {"COMPS_Name": self.name, "COMPS_FileName": "", "COMPN_RenderStart": float(self.render_start),
                 "COMPN_RenderEnd": float(self.render_end), "COMPN_GlobalStart": float(self.global_start),
                 "COMPN_GlobalEnd": float(self.global_end), "COMPB_Locked": self.locks > 0}
        return attrs[name] if name else attrs

    def GetToolList(self, selected: bool = False, reg_id: Optional[str] = None) -> Dict[float, FakeTool]:
        tools = [t for t in self.tools
                 if (not selected or t in self.selected) and (reg_id is None or t.reg_id == reg_id)]
        return _table(tools)

    def AddTool(self, reg_id: str, x: float = AUTO_POSITION, y: float = AUTO_POSITION) -> FakeTool:
        """A new tool at (x, y); at (-32768, -32768) placed and connected to the selected tool, as the guide says
        (AUTO_POSITION above): its first main input takes the active tool's output, else the first selected one's."""
        taken = {t.name for t in self.tools}
        n = 1
        while f"{reg_id}{n}" in taken:
            n += 1
        auto = x == AUTO_POSITION and y == AUTO_POSITION
        near = self._selected_tool() if auto else None
        if auto:
            x, y = (near.pos[0] + 1, near.pos[1]) if near is not None else (float(len(self.tools)), 5.0)
        tool = FakeTool(self, reg_id, f"{reg_id}{n}", x, y)
        self.tools.append(tool)
        self.ever.append(tool)
        self.added.append(reg_id)
        main = _IMAGE_INPUTS.get(reg_id, ())
        if near is not None and main:
            tool.connections[main[0]] = near
            self.auto_connections.append((tool.name, main[0], near.name))
        return tool

    def _selected_tool(self) -> Optional[FakeTool]:
        if self.active is not None and self.active in self.tools:
            return self.active
        return next((t for t in self.tools if t in self.selected), None)

    def Lock(self) -> None:
        self.locks += 1

    def Unlock(self) -> None:
        assert self.locks > 0, "Unlock without Lock"
        self.locks -= 1

    def StartUndo(self, name: str) -> None:
        self.undo_depth += 1

    def EndUndo(self, keep: bool = True) -> None:
        assert self.undo_depth > 0, "EndUndo without StartUndo"
        self.undo_depth -= 1

    def SetActiveTool(self, tool: Optional[FakeTool]) -> None:
        self.active = tool

    def SetData(self, name: str, value: Any = None) -> None:
        """Store ``value`` under ``name``; dots name subtables ("A.B" is B in table A); nil removes it."""
        *path, last = str(name).split(".")
        table = self.data
        for part in path:
            if not isinstance(table.get(part), dict):
                if value is None:
                    return
                table[part] = {}
            table = table[part]
        if value is None:
            table.pop(last, None)
        else:
            table[last] = _to_lua(value)

    def GetData(self, name: Optional[str] = None) -> Any:
        """The value stored under ``name`` (a copy, as Lua hands tables to Python), or None."""
        if not name:
            return _copy_lua(self.data) or None
        value: Any = self.data
        for part in str(name).split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return _copy_lua(value)

    @property
    def ActiveTool(self) -> Optional[FakeTool]:
        return self.active

    def Render(self, args: Dict[str, Any]) -> Optional[bool]:
        """Render Start..End inclusive (the comp's render range by default); True, or nil (None) when it failed.

        Every Saver that is not passed through renders, whatever ``Tool`` says: ayon-fusion renders one Saver by
        passing every other one through for the render (ynput/ayon-fusion:
        client/ayon_fusion/plugins/publish/extract_render_local.py, ``enabled_savers``). Only the documented keys
        (RENDER_KEYS above) are accepted; the fake renders synchronously, so Wait=True is required.
        """
        unknown = set(args) - RENDER_KEYS
        if unknown:
            raise ValueError(f"Composition.Render: keys the reference does not list: {sorted(unknown)}")
        assert args.get("Wait") is True, "the fake renders synchronously: pass Wait=True"
        self.renders.append(dict(args))
        start = int(args.get("Start", self.render_start))
        end = int(args.get("End", self.render_end))
        savers = [t for t in self.tools if t.reg_id == "Saver" and not t.pass_through]
        try:
            for saver in savers:
                for frame in range(start, end + 1, int(args.get("Steps", 1))):
                    self._save(saver, frame)
        except RenderFailed as exc:
            print(f"Render failed: {exc}")
            return None
        return True

    # the image side (not FusionScript: what the fake computes)

    def add_media(self, reg_id: str, name: str, frames: Dict[int, np.ndarray], x: float = 0, y: float = 0) -> FakeTool:
        """A MediaIn (or Loader) whose images come from memory: {comp frame: (H, W, 4) array}."""
        tool = self.AddTool(reg_id, x, y)
        tool.SetAttrs({"TOOLS_Name": name})
        tool.frames = dict(frames)
        return tool

    def evaluate(self, tool: FakeTool, frame: float) -> np.ndarray:
        if tool is None:
            raise RenderFailed("an input is not connected")
        if tool.frames is not None:
            if int(frame) not in tool.frames:
                raise RenderFailed(f"{tool.name} has no frame {frame:g}")
            return tool.frames[int(frame)]
        if tool.reg_id == "Loader":
            return _post_multiplied(read_rgba(tool.clip_file_at(frame)), tool.inputs["PostMultiplyByAlpha"])
        if tool.reg_id == "MatteControl":
            return self._matte_control(tool, frame)
        raise RenderFailed(f"the fake cannot evaluate a {tool.reg_id}")

    def _matte_control(self, tool: FakeTool, frame: float) -> np.ndarray:
        background = self.evaluate(tool.connections.get("Background"), frame)
        combine = int(tool.inputs["MatteCombine"])
        post_multiply = tool.inputs["PostMultiplyImage"]
        if combine == 0 or tool.connections.get("Foreground") is None:
            return _post_multiplied(background, post_multiply)
        foreground = self.evaluate(tool.connections["Foreground"], frame)
        if foreground.shape != background.shape:
            raise RenderFailed(f"{tool.name}: foreground {foreground.shape} and background {background.shape} differ")
        if combine not in (1, 2, 3, 4) or int(tool.inputs["CombineOp"]) != 0:
            raise NotImplementedError("the fake Matte Control copies R, G, B or A only")
        out = background.copy()
        matte = foreground[..., combine - 1]
        out[..., 3] = (1 - matte) if int(tool.inputs["InvertMatte"]) else matte
        return _post_multiplied(out, post_multiply)

    def _save(self, saver: FakeTool, frame: int) -> None:
        if saver.inputs.get("OutputFormat") != "OpenEXRFormat":
            raise RenderFailed(f"{saver.name}: the fake writes OpenEXRFormat only")
        image = self.evaluate(saver.connections.get("Input"), frame)
        folder, prefix, padding, ext = split_sequence_name(str(saver.inputs["Clip"]))
        if not os.path.isdir(folder):
            if not saver.inputs.get("CreateDir"):
                raise RenderFailed(f"{saver.name}: folder {folder} does not exist")
            os.makedirs(folder)
        path = os.path.join(folder, f"{prefix}{frame:0{padding}d}{ext}")
        depth = int(saver.inputs["OpenEXRFormat.Depth"])
        kind = _SAVER_DEPTHS.get(depth, "half" if image.dtype == np.float16 else "float")
        keep = [i for i, c in enumerate(("Red", "Green", "Blue", "Alpha")) if saver.inputs[f"OpenEXRFormat.{c}Enable"]]
        pixels = np.ascontiguousarray(image[..., keep].astype(np.float16 if kind == "half" else np.float32))
        spec = oiio.ImageSpec(image.shape[1], image.shape[0], len(keep), kind)
        spec.channelnames = tuple("RGBA"[i] for i in keep)
        spec.attribute("compression", "zip")
        out = oiio.ImageOutput.create(path)
        if out is None or not out.open(path, spec) or not out.write_image(pixels):
            raise RenderFailed(f"{saver.name}: cannot write {path}: {oiio.geterror()}")
        out.close()
        self.saved.append((saver.name, frame))
