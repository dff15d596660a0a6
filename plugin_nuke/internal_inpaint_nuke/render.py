"""Reading the node's settings and rendering its inputs to EXR (main thread only)."""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import nuke

from internal_inpaint_client.plugin_support import discard, frame_runs
from internal_inpaint_client.plugin_support import parse_frame_list as shared_parse_frame_list

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
    warm_start: str = ii.DEFAULT_WARM_START  # where the network starts: auto, off (from scratch) or force
    view: str = "main"  # the one view rendered, trained and read back
    reference_frames: Tuple[int, ...] = ()  # frames of the reference input painted by hand, sorted

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
    references: Dict[int, str] = field(default_factory=dict)  # frame -> <folder>/reference.####.exr of that frame

    @property
    def reference_files(self) -> List[str]:
        """The rendered reference files, in frame order."""
        return [self.references[frame] for frame in sorted(self.references)]

    @property
    def all_files(self) -> List[str]:
        """Every file rendered for this press (what to remove when no job reads them)."""
        return self.files + self.reference_files


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
    warm_knob = group.knob(ii.WARM_START)  # None on a node saved before it existed: auto
    warm_start = warm_knob.value() if warm_knob is not None else ii.DEFAULT_WARM_START
    if warm_start not in ii.WARM_START_MODES:
        raise InputProblem(f"Unknown warm start {warm_start!r}: pick one of {', '.join(ii.WARM_START_MODES)}.")
    return Settings(address=address, mask_channel=mask_channel, first=first, last=last,
                    preset=group[ii.PRESET].value(), iterations=iterations, seed=int(group[ii.SEED].value()),
                    job_folder=os.path.abspath(os.path.expanduser(folder)), fill=fill,
                    seen_channel=bool(seen_knob.value()) if seen_knob is not None else False, warm_start=warm_start,
                    view=selected_view(group), reference_frames=reference_frames(group, first, last))


def parse_frame_list(text: str) -> Tuple[int, ...]:
    """``"1012"``, ``"1012,1040"``, ``"1040 1012"`` or ``"1010-1012"``: the frames, sorted, each once (``""``: none)."""
    try:
        return shared_parse_frame_list(text)
    except ValueError as exc:
        raise InputProblem(str(exc)) from None


def reference_frames(group: nuke.Group, first: int, last: int) -> Tuple[int, ...]:
    """The frames of the reference knob, checked against the reference input and the job's frame range."""
    found = group.knob(ii.REFERENCE_FRAMES)  # None on a node saved before references: none
    frames = parse_frame_list(str(found.value())) if found is not None else ()
    reference = group.input(ii.REFERENCE_INDEX) if found is not None else None
    if frames and reference is None:
        raise InputProblem(f"reference frames lists {format_frames(frames)}, but nothing is connected to the "
                           "reference input (input 2): connect the painted frames, or clear reference frames.")
    if reference is not None and not frames:
        raise InputProblem("The reference input is connected but reference frames is empty: list the painted "
                           "frames (e.g. 1012 or 1012,1040), or disconnect the reference input.")
    plate = group.input(0)  # Nuke hands out a new Python object per call: compare the nodes by name
    if reference is not None and plate is not None and reference.fullName() == plate.fullName():
        raise InputProblem("The reference input is the plate itself: connect the painted frames (e.g. a RotoPaint "
                           "over the plate, or a Read of the painted files).")
    outside = [frame for frame in frames if not first <= frame <= last]
    if outside:
        raise InputProblem(f"Reference frame {format_frames(outside)} is outside the job's frames {first}-{last}: "
                           "list only frames of the frame range, or change the range.")
    return frames


def format_frames(frames: Sequence[int]) -> str:
    return ",".join(str(frame) for frame in frames)


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
    """Render plate + matte (in alpha) of the chosen view for the range into a new subfolder of the job folder, and
    the reference input (the same matte in alpha, the same Write settings) at exactly the reference frames."""
    plate = plate_input(group)
    matte = group.input(1)
    source = matte if matte is not None else plate
    channels = list(source.channels())
    if settings.mask_channel not in channels:
        which = "matte input" if matte is not None else "plate (the matte input is unconnected)"
        raise InputProblem(f"The {which} has no channel {settings.mask_channel}; it has: {', '.join(channels)}.")
    matte_source = ii.MATTE_INPUT if matte is not None else ii.PLATE_INPUT
    copy, write = ii.internal(group, ii.MATTE_COPY), ii.internal(group, ii.WRITE)
    _matte_into_alpha(group, copy, matte_source, settings.mask_channel)
    reference_write = None
    if settings.reference_frames:
        check_reference_channels(plate, group.input(ii.REFERENCE_INDEX))
        reference_write = ii.internal(group, ii.REFERENCE_WRITE)
        _matte_into_alpha(group, ii.internal(group, ii.REFERENCE_COPY), matte_source, settings.mask_channel)

    stamp = time.strftime("%Y%m%d_%H%M%S")
    folder = os.path.join(settings.job_folder, f"{group.name()}_{stamp}_{uuid.uuid4().hex[:8]}")
    os.makedirs(folder)
    pattern = os.path.join(folder, "plate.####.exr")
    setup_write(write, pattern, settings.view)
    files = [frame_path(pattern, frame) for frame in range(settings.first, settings.last + 1)]
    reference_pattern = os.path.join(folder, "reference.####.exr")
    references = {frame: frame_path(reference_pattern, frame) for frame in settings.reference_frames}
    writes = [write]
    if reference_write is not None:
        setup_write(reference_write, reference_pattern, settings.view)  # the plate's settings: the server's rule
        writes.append(reference_write)
    proxy = nuke.root()["proxy"]
    was_proxy = proxy.value()
    for enabled in writes:
        enabled["disable"].setValue(False)
    try:
        proxy.setValue(False)  # the server needs full-resolution frames
        nuke.execute(write, settings.first, settings.last, views=[settings.view])
        _check_written("the inputs", files)
        if reference_write is not None:
            for first, last in frame_runs(settings.reference_frames):  # exactly the listed frames
                nuke.execute(reference_write, first, last, views=[settings.view])
            _check_written("the reference input", list(references.values()))
    except (RuntimeError, InputProblem) as error:  # Nuke reports render errors and cancelled renders as RuntimeError
        discard(folder, files + list(references.values()))
        raise InputProblem(
            str(error) if isinstance(error, InputProblem) else f"Rendering the inputs failed: {error}"
        ) from None
    finally:
        for enabled in writes:
            enabled["disable"].setValue(True)
        proxy.setValue(was_proxy)
    return Rendered(folder=folder, plate=pattern, output=os.path.join(folder, "clean.####.exr"), files=files,
                    references=references)


def _matte_into_alpha(group: nuke.Group, copy: nuke.Node, matte_source: str, mask_channel: str) -> None:
    """Point ``copy`` (A) at the matte input, or the plate when it is unconnected, copying its mask channel to alpha."""
    copy.setInput(1, ii.internal(group, matte_source))
    copy["from0"].setValue(mask_channel)
    copy["to0"].setValue("rgba.alpha")


def setup_write(write: nuke.Node, pattern: str, view: str) -> None:
    """The settings every render of the plugin uses: half-float EXR, every channel, one view (one single-part EXR
    per frame: what the server reads). The plate and the reference get the same, so their files match."""
    write["file"].setValue(pattern.replace(os.sep, "/"))
    write["file_type"].setValue("exr")
    write["datatype"].setValue("16 bit half")
    write["channels"].setValue("all")
    write["views"].setValue(view)


def check_reference_channels(plate: nuke.Node, reference: Optional[nuke.Node]) -> None:
    """Before rendering: the reference, with the matte copied into its alpha as into the plate's, must have the
    rendered plate's channels (the server refuses a reference in other channels)."""
    if reference is None:  # read_settings refuses listed frames without a reference input
        raise InputProblem("Connect the painted frames to the reference input (input 2).")
    wanted = sorted(set(plate.channels()) | {"rgba.alpha"})
    found = sorted(set(reference.channels()) | {"rgba.alpha"})
    if found != wanted:
        extra = [c for c in found if c not in wanted]
        lacking = [c for c in wanted if c not in found]
        detail = "; ".join(part for part in (f"it lacks {', '.join(lacking)}" if lacking else "",
                                             f"it has {', '.join(extra)} besides" if extra else "") if part)
        raise InputProblem(f"The reference input's channels differ from the plate's ({detail}): the painted frames "
                           "must have the plate's channels (add or remove channels before the reference input).")


def _check_written(what: str, paths: List[str]) -> None:
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise InputProblem(f"Rendering {what} did not write {missing[0]} ({len(missing)} frames missing).")
