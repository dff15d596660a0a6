"""The InternalInpaint node: a Group with its knobs and internal nodes (main thread).

Inside the Group::

    plate (Input 0) ──┬──────────────────────────────► Copy "MatteToAlpha" (B) ─► Write "RenderInputs"
                      │   matte (Input 1, or the plate) ► Copy "MatteToAlpha" (A)
                      ├──────────────────────────────► Switch "Result" (0: pass-through)
    Read "CleanPlate" ─► Copy "RestoreAlpha" (B; A = plate) ─► Switch "Result" (1) ─► Output

The Write stays disabled except while the plugin renders through it, so "Render all" and farm
submissions of the script never run it.
"""

from __future__ import annotations

import nuke

from internal_inpaint_client.options import OPTIONS, SEEN_CHANNEL
from internal_inpaint_client.plugin_support import DEFAULT_ADDRESS, DEFAULT_JOB_FOLDER, PRESETS

from .install import NODE_NAME

RANGE_MODES = ("input", "project", "custom")

# Internal nodes.
PLATE_INPUT, MATTE_INPUT = "plate", "matte"
MATTE_COPY, WRITE, READ, RESTORE_ALPHA, SWITCH = "MatteToAlpha", "RenderInputs", "CleanPlate", "RestoreAlpha", "Result"

# Knobs.
SERVER, MASK_CHANNEL, RANGE_MODE, FIRST, LAST = "server", "mask_channel", "frame_range", "first", "last"
PRESET, ITERATIONS, SEED, JOB_FOLDER = "preset", "iterations", "seed", "job_folder"
FILL, SEEN = "fill", "seen_channel"  # absent from nodes saved before they existed: read as their defaults
FILL_MODES: tuple = OPTIONS["fill"].choices
DEFAULT_FILL: str = OPTIONS["fill"].default
INPAINT_BUTTON, CANCEL_BUTTON, STATUS, JOB_ID = "inpaint", "cancel", "status", "job_id"
# Hidden: the last job's reuse key, output pattern and frames ("first-last").
JOB_KEY, JOB_OUTPUT, JOB_FRAMES = "job_key", "job_output", "job_frames"

_INPAINT_SCRIPT = "import internal_inpaint_nuke\ninternal_inpaint_nuke.inpaint(nuke.thisNode())"
_CANCEL_SCRIPT = "import internal_inpaint_nuke\ninternal_inpaint_nuke.cancel(nuke.thisNode())"


def create_node() -> "nuke.Group":
    """The menu command: a new InternalInpaint node, fed by the selected node if there is one."""
    try:
        selected = nuke.selectedNode()
    except ValueError:
        selected = None
    group = nuke.nodes.Group()
    number = 1
    while nuke.toNode(f"{NODE_NAME}{number}") is not None:
        number += 1
    group.setName(f"{NODE_NAME}{number}")
    build(group)
    if selected is not None:
        group.setInput(0, selected)
    return group


def build(group: "nuke.Group") -> None:
    """Give an empty Group the internal nodes and knobs of an InternalInpaint node."""
    with group:
        for existing in group.nodes():
            nuke.delete(existing)
        plate = nuke.nodes.Input(name=PLATE_INPUT)
        matte = nuke.nodes.Input(name=MATTE_INPUT)
        copy = nuke.nodes.Copy(name=MATTE_COPY)
        copy["from0"].setValue("rgba.alpha")
        copy["to0"].setValue("rgba.alpha")
        copy.setInput(0, plate)
        copy.setInput(1, matte)
        write = nuke.nodes.Write(name=WRITE)
        write["file_type"].setValue("exr")
        write["datatype"].setValue("16 bit half")
        write["channels"].setValue("all")
        write["metadata"].setValue("default metadata")  # no per-render fields: same inputs, same bytes
        write["create_directories"].setValue(True)
        write["disable"].setValue(True)
        write.setInput(0, copy)
        read = nuke.nodes.Read(name=READ)
        read["on_error"].setValue("black")
        restore = nuke.nodes.Copy(name=RESTORE_ALPHA)
        restore["from0"].setValue("rgba.alpha")
        restore["to0"].setValue("rgba.alpha")
        restore.setInput(0, read)
        restore.setInput(1, plate)
        switch = nuke.nodes.Switch(name=SWITCH)
        switch["which"].setValue(0)
        switch.setInput(0, plate)
        switch.setInput(1, restore)
        output = nuke.nodes.Output()
        output.setInput(0, switch)
    _add_knobs(group)


def _add_knobs(group: "nuke.Group") -> None:
    def add(knob, value=None, tooltip="", flags=0):
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
        "is behind the object; a network trained on the shot invents only the rest (no training when every pixel "
        "is seen somewhere).\n"
        "paper: the network alone, as in the paper (the results of earlier versions of this node).\n"
        "propagation: the other frames alone, no training: fast, for a first look; what no frame shows is smeared "
        "in from the hole's edge.")
    add(nuke.Boolean_Knob(SEEN, "seen channel"), False,
        f"Add a channel {SEEN_CHANNEL} to the result: 1 where the fill was taken from another frame (real pixels), "
        "0 where it was invented, and 0 outside the matte. View it to see which parts of the fill to check first. "
        "The other channels are the same either way.")
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


def internal(group: "nuke.Group", name: str):
    """An internal node of the Group, or a clear error when someone deleted it."""
    node = group.node(name)
    if node is None:
        raise LookupError(f"{group.name()} lost its internal node {name}: create a new InternalInpaint node.")
    return node


def show_result(group: "nuke.Group", output: str, first: int, last: int) -> None:
    """Point the internal Read at the clean plate and send it to the Output."""
    read = internal(group, READ)
    # fromUserText also opens the file to set the Read's format, as picking it in the file browser does.
    read["file"].fromUserText(f"{output} {first}-{last}")
    for knob, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[knob].setValue(value)
    internal(group, SWITCH)["which"].setValue(1)


def set_status(group: "nuke.Group", text: str) -> None:
    group[STATUS].setValue(text)
