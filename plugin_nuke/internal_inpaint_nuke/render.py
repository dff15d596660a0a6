"""Reading the node's settings and rendering its inputs to EXR (main thread only)."""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import List, Tuple

import nuke

from internal_inpaint_client.plugin_support import discard

from . import node as ii


class InputProblem(Exception):
    """Something the artist can fix on the node: its message goes to the status line as it is."""


@dataclass(frozen=True)
class Settings:
    """A snapshot of the node's knobs, safe to hand to the worker thread."""

    address: str
    mask_channel: str
    first: int
    last: int
    preset: str
    iterations: int  # 0: the preset's
    seed: int
    job_folder: str
    fill: str = ii.DEFAULT_FILL
    seen_channel: bool = False
    view: str = "main"  # the one view rendered, trained and read back

    @property
    def frames(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Previous:
    """What the node remembers of its last job, for reuse."""

    job_id: str
    key: str
    output: str
    frames: str


@dataclass(frozen=True)
class Rendered:
    folder: str        # the unique subfolder made for this press
    plate: str         # <folder>/plate.####.exr
    output: str        # <folder>/clean.####.exr (written by the server)
    files: List[str]   # the rendered plate files, in frame order


def frame_path(pattern: str, frame: int) -> str:
    """``plate.####.exr`` -> ``plate.1001.exr``, as Nuke numbers frames."""
    return re.sub(r"#+", lambda m: f"{frame:0{len(m.group())}d}", pattern)


def read_settings(group: nuke.Group) -> Settings:
    address = group[ii.SERVER].value().strip()
    if not address:
        raise InputProblem("Set the server address (host:port), e.g. 127.0.0.1:50051.")
    mask_channel = group[ii.MASK_CHANNEL].value().strip()
    if not mask_channel:
        raise InputProblem("Set the mask channel, e.g. rgba.alpha.")
    folder = group[ii.JOB_FOLDER].value().strip()
    if not folder:
        raise InputProblem("Set the job folder (a folder the server was started with --allow-root for).")
    first, last = frame_range(group)
    iterations = int(group[ii.ITERATIONS].value())
    if iterations < 0:
        raise InputProblem(f"iterations must be 0 (the preset's) or more, not {iterations}.")
    fill_knob, seen_knob = group.knob(ii.FILL), group.knob(ii.SEEN)  # None on a node saved before they existed
    fill = fill_knob.value() if fill_knob is not None else ii.DEFAULT_FILL
    if fill not in ii.FILL_MODES:
        raise InputProblem(f"Unknown fill {fill!r}: pick one of {', '.join(ii.FILL_MODES)}.")
    return Settings(address=address, mask_channel=mask_channel, first=first, last=last,
                    preset=group[ii.PRESET].value(), iterations=iterations, seed=int(group[ii.SEED].value()),
                    job_folder=os.path.abspath(os.path.expanduser(folder)), fill=fill,
                    seen_channel=bool(seen_knob.value()) if seen_knob is not None else False,
                    view=selected_view(group))


def selected_view(group: nuke.Group) -> str:
    """The view knob's pick, or the first view for a node saved before the knob existed."""
    views = ii.script_views()
    found = group.knob(ii.VIEW)
    picked = str(found.value()) if found is not None else views[0]
    if picked not in views:
        raise InputProblem(f"The view {picked!r} is not one of this script's views ({', '.join(views)}): pick one "
                           "in the node's view knob.")
    return picked


def frame_range(group: nuke.Group) -> Tuple[int, int]:
    mode = group[ii.RANGE_MODE].value()
    if mode == "custom":
        first, last = int(group[ii.FIRST].value()), int(group[ii.LAST].value())
    elif mode == "project":
        first, last = int(nuke.root()["first_frame"].value()), int(nuke.root()["last_frame"].value())
    else:
        plate = plate_input(group)
        first, last = int(plate.firstFrame()), int(plate.lastFrame())
    if first > last:
        raise InputProblem(f"The frame range {first}-{last} is empty: first must not be after last.")
    return first, last


def plate_input(group: nuke.Group) -> nuke.Node:
    plate = group.input(0)
    if plate is None:
        raise InputProblem("Connect the plate to input 0 (plate).")
    return plate


def read_previous(group: nuke.Group) -> Previous:
    return Previous(job_id=group[ii.JOB_ID].value(), key=group[ii.JOB_KEY].value(),
                    output=group[ii.JOB_OUTPUT].value(), frames=group[ii.JOB_FRAMES].value())


def render_inputs(group: nuke.Group, settings: Settings) -> Rendered:
    """Render plate + matte (in alpha) of the chosen view for the range into a new subfolder of the job folder."""
    plate = plate_input(group)
    matte = group.input(1)
    source = matte if matte is not None else plate
    channels = list(source.channels())
    if settings.mask_channel not in channels:
        which = "matte input" if matte is not None else "plate (the matte input is unconnected)"
        raise InputProblem(f"The {which} has no channel {settings.mask_channel}; it has: {', '.join(channels)}.")
    copy, write = ii.internal(group, ii.MATTE_COPY), ii.internal(group, ii.WRITE)
    copy.setInput(1, ii.internal(group, ii.MATTE_INPUT if matte is not None else ii.PLATE_INPUT))
    copy["from0"].setValue(settings.mask_channel)
    copy["to0"].setValue("rgba.alpha")

    stamp = time.strftime("%Y%m%d_%H%M%S")
    folder = os.path.join(settings.job_folder, f"{group.name()}_{stamp}_{uuid.uuid4().hex[:8]}")
    os.makedirs(folder)
    pattern = os.path.join(folder, "plate.####.exr")
    write["file"].setValue(pattern.replace(os.sep, "/"))
    write["file_type"].setValue("exr")
    write["datatype"].setValue("16 bit half")
    write["channels"].setValue("all")
    write["views"].setValue(settings.view)  # one view, one single-part EXR per frame: what the server reads
    proxy = nuke.root()["proxy"]
    was_proxy = proxy.value()
    write["disable"].setValue(False)
    files = [frame_path(pattern, frame) for frame in range(settings.first, settings.last + 1)]
    try:
        proxy.setValue(False)  # the server needs full-resolution frames
        nuke.execute(write, settings.first, settings.last, views=[settings.view])
        missing = [path for path in files if not os.path.isfile(path)]
        if missing:
            raise InputProblem(f"Rendering the inputs did not write {missing[0]} ({len(missing)} frames missing).")
    except (RuntimeError, InputProblem) as error:  # Nuke reports render errors and cancelled renders as RuntimeError
        discard(folder, files)
        raise InputProblem(
            str(error) if isinstance(error, InputProblem) else f"Rendering the inputs failed: {error}"
        ) from None
    finally:
        write["disable"].setValue(True)
        proxy.setValue(was_proxy)
    return Rendered(folder=folder, plate=pattern, output=os.path.join(folder, "clean.####.exr"), files=files)
