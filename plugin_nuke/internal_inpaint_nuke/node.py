"""The InternalInpaint node: a Group with its knobs and internal nodes (main thread).

Inside the Group::

    plate (Input 0) ──┬──────────────────────────────► Copy "MatteToAlpha" (B) ─► Write "RenderInputs"
                      │   matte (Input 1, or the plate) ► Copy "MatteToAlpha" (A)
                      ├──────────────────────────────► Switch "Result" (0: pass-through)
                      └──────────────► JoinViews "PerView" (the other views' inputs)
    reference (Input 2) ─────────────► Copy "ReferenceMatteToAlpha" (B) ─► Write "RenderReference"
                          matte (Input 1, or the plate) ► Copy "ReferenceMatteToAlpha" (A)
    Read "CleanPlate" ─► Copy "RestoreAlpha" (B; A = plate) ─► JoinViews "PerView" (the chosen view's input)
                                                   JoinViews "PerView" ─► Switch "Result" (1) ─► Output

The Writes stay disabled except while the plugin renders through them, so "Render all" and farm
submissions of the script never run them. The reference input carries clean frames an artist painted (clean
plates) for the frames listed in the "reference frames" knob: they are rendered with the plate's Write settings and
the same matte in alpha, so they have the plate's channels and pixel type, as the server requires.
In a multi-view script only the view picked in the ``view`` knob is rendered, trained and read back; JoinViews
(one input per view of the script) shows the clean plate in that view and passes the plate through in the others.
"""

from __future__ import annotations

from typing import List, Optional, Type, TypeVar

import nuke

from internal_inpaint_client.options import OPTIONS, SEEN_CHANNEL
from internal_inpaint_client.plugin_support import DEFAULT_ADDRESS, DEFAULT_JOB_FOLDER, PRESETS

from .install import NODE_NAME

RANGE_MODES = ("input", "project", "custom")

# Internal nodes.
PLATE_INPUT, MATTE_INPUT, REFERENCE_INPUT = "plate", "matte", "reference"
REFERENCE_INDEX = 2  # the reference input's number (Nuke numbers a Group's Inputs in creation order)
MATTE_COPY, WRITE, READ, RESTORE_ALPHA, SWITCH = "MatteToAlpha", "RenderInputs", "CleanPlate", "RestoreAlpha", "Result"
REFERENCE_COPY, REFERENCE_WRITE = "ReferenceMatteToAlpha", "RenderReference"  # absent from nodes saved before them
PER_VIEW = "PerView"  # absent from nodes saved before views were supported: made on the first result

# Knobs.
SERVER, MASK_CHANNEL, RANGE_MODE, FIRST, LAST = "server", "mask_channel", "frame_range", "first", "last"
PRESET, ITERATIONS, SEED, JOB_FOLDER = "preset", "iterations", "seed", "job_folder"
FILL, SEEN, VIEW = "fill", "seen_channel", "view"  # absent from nodes saved before they existed: their defaults
WARM_START = "warm_start"  # absent from nodes saved before it existed: its default (auto)
REFERENCE_FRAMES = "reference_frames"  # absent from nodes saved before it existed: no references
FILL_MODES: tuple = OPTIONS["fill"].choices
DEFAULT_FILL = str(OPTIONS["fill"].default)
WARM_START_MODES: tuple = OPTIONS["warm_start"].choices
DEFAULT_WARM_START = str(OPTIONS["warm_start"].default)
# The option's own help (the command line's), as a sentence, and what "off" is for on a node.
WARM_START_TIP = (OPTIONS["warm_start"].help[:1].upper() + OPTIONS["warm_start"].help[1:] + ".\n"
                  "Pick off to train once more from scratch: a change of this knob is a new job, never the "
                  "previous result reused.")
INPAINT_BUTTON, CANCEL_BUTTON, STATUS, JOB_ID = "inpaint", "cancel", "status", "job_id"
# Hidden: the last job's reuse key, output pattern and frames ("first-last").
JOB_KEY, JOB_OUTPUT, JOB_FRAMES = "job_key", "job_output", "job_frames"

_INPAINT_SCRIPT = "import internal_inpaint_nuke\ninternal_inpaint_nuke.inpaint(nuke.thisNode())"
_CANCEL_SCRIPT = "import internal_inpaint_nuke\ninternal_inpaint_nuke.cancel(nuke.thisNode())"


KnobT = TypeVar("KnobT", bound=nuke.Knob)


def create_node() -> nuke.Group:
    """The menu command: a new InternalInpaint node beside the selected node, fed by it, selected and open.

    ``nuke.createNode`` places, selects and connects the new node as the toolbar's own nodes are; the Group has no
    input until ``build`` gives it its Input nodes, so the selected node is connected afterwards.
    """
    try:
        selected: Optional[nuke.Node] = nuke.selectedNode()
    except ValueError:  # nothing selected
        selected = None
    group = nuke.createNode("Group", inpanel=False)  # the panel opens once the knobs exist
    if not isinstance(group, nuke.Group):
        raise TypeError(f"nuke.createNode('Group') made a {group.Class()}, not a Group")
    group.setName(_free_name())
    build(group)
    if selected is not None:
        group.setInput(0, selected)
    if nuke.GUI:
        group.showControlPanel()
    return group


def _free_name() -> str:
    number = 1
    while nuke.toNode(f"{NODE_NAME}{number}") is not None:
        number += 1
    return f"{NODE_NAME}{number}"


def build(group: nuke.Group) -> None:
    """Give an empty Group the internal nodes and knobs of an InternalInpaint node."""
    with group:
        for existing in group.nodes():
            nuke.delete(existing)
        plate = nuke.nodes.Input(name=PLATE_INPUT)
        matte = nuke.nodes.Input(name=MATTE_INPUT)
        reference = nuke.nodes.Input(name=REFERENCE_INPUT)
        copy = _copy_alpha(MATTE_COPY, plate, matte)
        write = _render_write(WRITE, copy)
        reference_copy = _copy_alpha(REFERENCE_COPY, reference, matte)
        reference_write = _render_write(REFERENCE_WRITE, reference_copy)
        read = nuke.nodes.Read(name=READ)
        read["on_error"].setValue("black")
        restore = _copy_alpha(RESTORE_ALPHA, read, plate)
        switch = nuke.nodes.Switch(name=SWITCH)
        switch["which"].setValue(0)
        switch.setInput(0, plate)
        switch.setInput(1, _per_view(plate))
        output = nuke.nodes.Output()
        output.setInput(0, switch)
        for node in (plate, matte, reference, copy, write, reference_copy, reference_write, read, restore, switch,
                     output):
            node.autoplace()  # laid out for whoever opens the Group
    _add_knobs(group)


def _render_write(name: str, source: nuke.Node) -> nuke.Node:
    """A disabled Write of ``source`` with the settings every render of the plugin uses (render.setup_write)."""
    write = nuke.nodes.Write(name=name)
    write["file_type"].setValue("exr")
    write["datatype"].setValue("16 bit half")
    write["channels"].setValue("all")
    write["metadata"].setValue("default metadata")  # no per-render fields: same inputs, same bytes
    write["create_directories"].setValue(True)
    write["disable"].setValue(True)
    write.setInput(0, source)
    return write


def _copy_alpha(name: str, b: nuke.Node, a: nuke.Node) -> nuke.Node:
    """A Copy of A's alpha into B's alpha."""
    copy = nuke.nodes.Copy(name=name)
    copy["from0"].setValue("rgba.alpha")
    copy["to0"].setValue("rgba.alpha")
    copy.setInput(0, b)
    copy.setInput(1, a)
    return copy


def _per_view(plate: nuke.Node) -> nuke.Node:
    """The JoinViews that shows the clean plate in one view only: every view passes the plate through for now."""
    join = nuke.nodes.JoinViews(name=PER_VIEW)
    for index in range(len(nuke.views())):
        join.setInput(index, plate)
    return join


def _add_knobs(group: nuke.Group) -> None:
    def add(knob: KnobT, value: object = None, tooltip: str = "", flags: int = 0) -> KnobT:
        group.addKnob(knob)
        if value is not None:
            knob.setValue(value)
        if tooltip:
            knob.setTooltip(tooltip)
        if flags:
            knob.setFlag(flags)
        return knob

    add(nuke.Tab_Knob("internal_inpaint", NODE_NAME))
    add(nuke.String_Knob(SERVER, "server"), DEFAULT_ADDRESS,
        "host:port of `internal-inpaint serve`. It must share this machine's files and be started with "
        "--allow-root covering the job folder.")
    add(nuke.String_Knob(MASK_CHANNEL, "mask channel"), "rgba.alpha",
        "The channel of the matte input (or of the plate, when the matte input is unconnected) whose "
        "values above 0.5 are removed.")
    add(nuke.Enumeration_Knob(VIEW, "view", script_views()), None,
        "The view to inpaint in a multi-view script: only it is rendered, trained and read back; the other views "
        "pass the plate through. The list follows the script's views at each press of Inpaint.")
    add(nuke.Enumeration_Knob(RANGE_MODE, "frame range", list(RANGE_MODES)), "input",
        "input: the plate's frames; project: the script's frame range; custom: first..last below.")
    add(nuke.Int_Knob(FIRST, "custom first"), 1001)
    add(nuke.Int_Knob(LAST, "custom last"), 1100)
    add(nuke.Enumeration_Knob(PRESET, "preset", list(PRESETS)), "standard",
        "draft: a quick look; standard; final: wider and longer (meant for a GPU server).")
    add(nuke.Int_Knob(ITERATIONS, "iterations"), 0,
        "Training iterations; 0 keeps the preset's time budget (draft 3, standard 10, final 30 minutes).")
    add(nuke.Int_Knob(SEED, "seed"), 0, "The same seed and inputs give the same result.")
    add(nuke.Enumeration_Knob(FILL, "fill", list(FILL_MODES)), DEFAULT_FILL,
        "Where the fill of the hole comes from.\n"
        "guided: the real pixels of the other frames, followed along optical flow, wherever one of them shows what "
        "is behind the object, then corrected by a network trained on the shot.\n"
        "paper: the network alone, as in the paper (the results of earlier versions of this node).\n"
        "propagation: the other frames alone, no training: fast, for a first look; what no frame shows is smeared "
        "in from the hole's edge.")
    add(nuke.Enumeration_Knob(WARM_START, "warm start", list(WARM_START_MODES)), DEFAULT_WARM_START, WARM_START_TIP)
    add(nuke.Boolean_Knob(SEEN, "seen channel"), False,
        f"Add a channel {SEEN_CHANNEL} to the result: 1 where the fill was taken from another frame (real pixels), "
        "0 where it was invented, and 0 outside the matte. View it to see which parts of the fill to check first. "
        "The other channels are the same either way.")
    add(nuke.String_Knob(REFERENCE_FRAMES, "reference frames"), "",
        "Frames of the reference input (input 2) that hold a clean frame painted by hand, e.g. 1012 or 1012,1040 "
        "(1010-1012 for a run), all within the frame range. Each listed frame is rendered from the reference input "
        "with the plate's Write settings (its channels and pixel type) and sent with the job: its painted pixels are "
        "kept exactly in the result and the fill of the other frames learns from them. The reference must be in the "
        "plate's format (size) and channels. Empty: no references.")
    add(nuke.File_Knob(JOB_FOLDER, "job folder"), DEFAULT_JOB_FOLDER,
        "Each press renders the inputs into a new subfolder here and the server writes the clean plate "
        "beside them. The server must be started with --allow-root covering this folder.")
    add(nuke.PyScript_Knob(INPAINT_BUTTON, "Inpaint", _INPAINT_SCRIPT), None,
        "Render the inputs, train on the server and read back the clean plate (reused when nothing changed).")
    add(nuke.PyScript_Knob(CANCEL_BUTTON, "Cancel", _CANCEL_SCRIPT), None, "Cancel this node's running job.")
    add(nuke.Text_Knob(STATUS, "status", "Press Inpaint to start."), None, "", nuke.STARTLINE)
    add(nuke.String_Knob(JOB_ID, "job id"), "", "The server's id of this node's last job.", nuke.READ_ONLY)
    for name in (JOB_KEY, JOB_OUTPUT, JOB_FRAMES):
        add(nuke.String_Knob(name, name), "", "", nuke.INVISIBLE)


def internal(group: nuke.Group, name: str) -> nuke.Node:
    """An internal node of the Group, or a clear error when someone deleted it."""
    node = group.node(name)
    if node is None:
        raise LookupError(f"{group.name()} lost its internal node {name}: create a new InternalInpaint node.")
    return node


def knob(node: nuke.Node, name: str, kind: Type[KnobT]) -> KnobT:
    """``node[name]`` as the knob class the plugin calls methods of, or an error naming what it is instead."""
    found = node[name]
    if not isinstance(found, kind):
        raise TypeError(f"{node.name()}.{name} is a {found.Class()}, not a {kind.__name__}")
    return found


def script_views() -> List[str]:
    """The script's views in order (["main"] in a mono script)."""
    return list(nuke.views())


def refresh_views(group: nuke.Group) -> None:
    """Make the view knob list the script's views now, keeping the pick. A pick that is no longer a view stays
    listed, for ``render.read_settings`` to report: a renamed view must not silently become another one."""
    found = group.knob(VIEW)
    if not isinstance(found, nuke.Enumeration_Knob):
        return  # a node saved before the knob existed: the first view is inpainted
    views, picked = script_views(), found.value()
    items = views if picked in views else views + [picked]
    if list(found.values()) != items:
        found.setValues(items)
        found.setValue(picked)


def show_result(group: nuke.Group, output: str, first: int, last: int, view: str) -> None:
    """Point the internal Read at the clean plate and show it in ``view``; the other views pass the plate through."""
    read = internal(group, READ)
    # fromUserText also opens the file to set the Read's format, as picking it in the file browser does.
    knob(read, "file", nuke.File_Knob).fromUserText(f"{output} {first}-{last}")
    for name, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[name].setValue(value)
    plate, restore, join = internal(group, PLATE_INPUT), internal(group, RESTORE_ALPHA), _join(group)
    for index, name in enumerate(script_views()):
        join.setInput(index, restore if name == view else plate)
    internal(group, SWITCH)["which"].setValue(1)


def _join(group: nuke.Group) -> nuke.Node:
    """The JoinViews, made (and fed to the Switch) in a node saved before it existed."""
    join = group.node(PER_VIEW)
    if join is None:
        with group:
            join = _per_view(internal(group, PLATE_INPUT))
        internal(group, SWITCH).setInput(1, join)
    return join


def set_status(group: nuke.Node, text: str) -> None:
    group[STATUS].setValue(text)
