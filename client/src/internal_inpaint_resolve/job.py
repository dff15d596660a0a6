"""The plugin's host-independent side: settings, job folders, the server job, progress and error text.

Nothing here touches Fusion, so it runs (and is tested) anywhere, and nothing here starts a thread: the
dialog polls the server from its UI timer, one short call with a deadline per tick. The client
library (``internal_inpaint_client.client``: grpcio, protobuf, numpy) is imported
only when a job is started, so the dialog still opens, and says what to install,
in a Python where grpc is broken. The reuse key and ``plugin_support`` (shared with
the Nuke plugin) are standard library only.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from internal_inpaint_client.options import OPTIONS, SEEN_CHANNEL
from internal_inpaint_client.plugin_support import (
    CONNECT_TIMEOUT,
    DEFAULT_ADDRESS,
    DEFAULT_JOB_FOLDER,
    PRESETS,
    discard,  # noqa: F401 - the dialog's, with the rest from here
    environment_token,
    frame_runs,  # noqa: F401 - comp_io's, with the rest from here
    serve_command,
)
from internal_inpaint_client.plugin_support import parse_frame_list as shared_parse_frame_list
from internal_inpaint_client.reuse_key import reuse_key

PREFIX = "[InternalInpaint]"
DEFAULT_PRESET = "standard"
PLATE_NAME = "plate.####.exr"
CLEAN_NAME = "clean.####.exr"
REFERENCE_NAME = "reference.####.exr"  # the painted frames, rendered with the plate's Saver settings
PADDING = 4
FILL_MODES: Tuple[str, ...] = OPTIONS["fill"].choices  # guided, paper, propagation (the options schema's)
DEFAULT_FILL: str = OPTIONS["fill"].default
# What the dialog says of each fill mode and of the seen channel.
FILL_TIPS = {
    "guided": "The real pixels of the other frames, followed along optical flow, wherever one of them shows what is "
              "behind the object, then corrected by a network trained on the shot.",
    "paper": "The network trained on the shot alone, as in the paper (the results of earlier versions).",
    "propagation": "The other frames alone, no training: fast, for a first look; what no frame shows is smeared in "
                   "from the hole's edge.",
}
WARM_START_MODES: Tuple[str, ...] = OPTIONS["warm_start"].choices  # auto, off, force (the options schema's)
DEFAULT_WARM_START: str = OPTIONS["warm_start"].default
# The option's own help (the command line's) as a sentence, and what "off" is for in the dialog.
WARM_START_TIP = (OPTIONS["warm_start"].help[:1].upper() + OPTIONS["warm_start"].help[1:] + ". Pick off to train "
                  "once more from scratch: a change of Warm start is a new job, never the previous result reused.")
SEEN_TIP = (f"Add a channel {SEEN_CHANNEL} to the clean frames: 1 where the fill was taken from another frame, 0 "
            "where it was invented and outside the matte (the other channels are the same either way).")
REFERENCE_TIP = ("A tool showing clean frames painted by hand (clean plates) at the Reference frames below. Those "
                 "frames are rendered from it with the plate's Saver settings and sent with the job: their painted "
                 "pixels are kept exactly in the result and the fill of the other frames learns from them. They "
                 "must be at the plate's resolution.")
REFERENCE_FRAMES_TIP = ("The frames of the Reference tool that were painted, e.g. 1012 or 1012,1040 (1010-1012 for a "
                        "run), all within the frames rendered. Empty with Reference None.")
# Bump when what is rendered, or how it is keyed, changes: keys remembered in comps then stop matching.
KEY_VERSION = "internal-inpaint-resolve/1"

# Job states of internal_inpaint.v1 (the proto's JobState numbers), so this module needs no stubs.
UPLOADING, QUEUED, TRAINING, INFERRING, DONE, FAILED, CANCELLED = range(1, 8)
_STATE_WORDS = {UPLOADING: "Uploading", QUEUED: "Queued", TRAINING: "Training", INFERRING: "Writing frames",
                DONE: "Done", FAILED: "Failed", CANCELLED: "Cancelled"}



class PluginError(Exception):
    """A problem the user can act on; its text is shown as it is."""


def log(text: str) -> None:
    """One line on Fusion's console (never a traceback)."""
    print(f"{PREFIX} {text}")


# -- settings ------------------------------------------------------------------------


def default_address() -> str:
    return os.environ.get("INTERNAL_INPAINT_ADDRESS") or DEFAULT_ADDRESS


def default_job_folder() -> str:
    return os.environ.get("INTERNAL_INPAINT_JOBS") or os.path.expanduser(DEFAULT_JOB_FOLDER)


def parse_range(text: str) -> Tuple[int, int]:
    """'1001-1050' (inclusive, as Fusion's render range) or '1001' -> (first, last)."""
    match = re.match(r"^\s*(\d+)\s*(?:(?:-|\.\.|to)\s*(\d+)\s*)?$", text or "")
    if not match:
        if re.match(r"^\s*-", text or ""):
            raise PluginError(f"Frame range {text!r}: negative frames are not supported; render from frame 0 or later.")
        raise PluginError(f"Frame range {text!r}: write it as first-last, e.g. 1001-1050.")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise PluginError(f"Frame range {text!r} ends before it starts.")
    return first, last


def check_range(first: float, last: float) -> Tuple[int, int]:
    """A comp range (Fusion gives floats) as whole frames, refused when it cannot name files."""
    first_i, last_i = int(round(first)), int(round(last))
    if first_i < 0:
        raise PluginError(f"The range {first_i}-{last_i} starts before frame 0; pick a custom range from 0 on.")
    if last_i < first_i:
        raise PluginError(f"The range {first_i}-{last_i} ends before it starts.")
    return first_i, last_i


def format_range(first: int, last: int) -> str:
    return f"{first}-{last}"


def parse_frame_list(text: str) -> Tuple[int, ...]:
    """'1012', '1012,1040', '1040 1012' or '1010-1012': the frames, sorted, each once ('' -> none); no negatives,
    as the frame range has none."""
    try:
        return shared_parse_frame_list(text, allow_negative=False)
    except ValueError as exc:
        raise PluginError(str(exc)) from None


def format_frames(frames: Iterable[int]) -> str:
    return ",".join(str(frame) for frame in frames)


@dataclass
class JobSettings:
    """What the dialog collected; ``validate`` turns it into something a job can run from."""

    address: str
    job_folder: str
    first: int
    last: int
    preset: str = DEFAULT_PRESET
    iterations: int = 0  # 0: the preset's
    dilate: int = 0
    seed: int = 0
    matte_channel: str = "Alpha"  # the channel of the matte tool copied into alpha; "Alpha" for the plate's own
    name: str = ""
    token: Optional[str] = None
    fill: str = DEFAULT_FILL  # one of FILL_MODES
    seen_channel: bool = False  # the clean frames get SEEN_CHANNEL
    warm_start: str = DEFAULT_WARM_START  # one of WARM_START_MODES: where the network starts
    reference: str = ""  # the tool showing the painted frames, "" for none
    reference_frames: Tuple[int, ...] = ()  # its frames that were painted, sorted

    def validate(self) -> "JobSettings":
        self.address = (self.address or "").strip()
        if not self.address:
            raise PluginError("Give the server address, e.g. 127.0.0.1:50051.")
        folder = os.path.expanduser((self.job_folder or "").strip())
        if not folder:
            raise PluginError("Give a job folder (the server's --allow-root must cover it).")
        self.job_folder = os.path.abspath(folder)
        if self.preset not in PRESETS:
            raise PluginError(f"Unknown preset {self.preset!r}: pick one of {', '.join(PRESETS)}.")
        if self.fill not in FILL_MODES:
            raise PluginError(f"Unknown fill {self.fill!r}: pick one of {', '.join(FILL_MODES)}.")
        if self.warm_start not in WARM_START_MODES:
            raise PluginError(f"Unknown warm start {self.warm_start!r}: pick one of {', '.join(WARM_START_MODES)}.")
        self.seen_channel = bool(self.seen_channel)
        if self.iterations < 0 or self.dilate < 0 or self.seed < 0:
            raise PluginError("Iterations, seed and matte growth cannot be negative.")
        check_range(self.first, self.last)
        self._check_references()
        return self

    def _check_references(self) -> None:
        self.reference_frames = tuple(sorted(set(int(f) for f in self.reference_frames)))
        frames, reference = self.reference_frames, self.reference
        if frames and not reference:
            raise PluginError(f"Reference frames lists {format_frames(frames)} but Reference is None: pick the tool "
                              "with the painted frames, or clear Reference frames.")
        if reference and not frames:
            raise PluginError(f"Reference is {reference} but Reference frames is empty: list the painted frames "
                              "(e.g. 1012 or 1012,1040), or set Reference to None.")
        outside = [frame for frame in frames if not self.first <= frame <= self.last]
        if outside:
            raise PluginError(f"Reference frame {format_frames(outside)} is outside the job's frames {self.frames}: "
                              "list only frames of the range, or change the range.")

    @property
    def frames(self) -> str:
        return format_range(self.first, self.last)

    def reuse_fields(self) -> Dict[str, object]:
        """The settings that change the result (the rendered pixels, the plate's and the references', are hashed
        besides). The fill and the seen channel joined them when the default fill became "guided": a comp's record
        of an earlier "paper" result must not match a press under the new default."""
        fields: Dict[str, object] = {"preset": self.preset, "iterations": self.iterations, "seed": self.seed,
                                     "matte_channel": self.matte_channel, "frames": self.frames,
                                     "dilate": self.dilate, "fill": self.fill, "seen_channel": self.seen_channel}
        # Only with references (their files are hashed besides): a press without them keys as before references
        # existed, so a comp's record of an earlier result is still reused. The tool's name is not a field: the
        # same pixels from a renamed tool are the same job.
        if self.reference_frames:
            fields["reference_frames"] = list(self.reference_frames)
        # Likewise only when not the default (auto): "off" (train from scratch) or "force" is a new job, never the
        # previous result reused, while a press at auto keys as before the choice existed.
        if self.warm_start != DEFAULT_WARM_START:
            fields["warm_start"] = self.warm_start
        return fields


# -- reuse ---------------------------------------------------------------------------


def job_key(files: Iterable[str], settings: JobSettings, references: Iterable[str] = ()) -> str:
    """The reuse key of a press: the rendered inputs' pixels (not their header stamps), the plate's ``files`` then
    the rendered ``references``, and the settings."""
    return reuse_key([*files, *references], settings.reuse_fields(), version=KEY_VERSION)


@dataclass
class Record:
    """What a comp remembers of the last finished job of a plate (Fusion comp data, saved with the comp)."""

    key: str = ""
    job_id: str = ""
    output: str = ""  # the clean '####' pattern
    first: int = 0
    last: int = -1
    loader: str = ""  # the name of the Loader that was added for it

    def to_data(self) -> Dict[str, Any]:
        # Frames as text: Fusion hands numbers back as floats.
        return {"Key": self.key, "JobID": self.job_id, "Output": self.output,
                "Frames": format_range(self.first, self.last), "Loader": self.loader}

    @classmethod
    def from_data(cls, data: Any) -> Optional["Record"]:
        """A record from comp data (a dict, as Fusion hands back a table); None for nothing usable."""
        frames = _stored_frames(data)
        if frames is None:
            return None
        first, last = frames
        record = cls(key=str(data.get("Key") or ""), job_id=str(data.get("JobID") or ""),
                     output=str(data.get("Output") or ""), first=first, last=last,
                     loader=str(data.get("Loader") or ""))
        return record if record.key and record.output else None

    def outputs_exist(self) -> bool:
        return bool(self.output) and self.first <= self.last and not missing_frames(self.output, self.first,
                                                                                      self.last)


# -- job folders ---------------------------------------------------------------------


def safe_name(text: str, fallback: str = "shot") -> str:
    """A tool or comp name as a file-name part: letters, digits, '-' and '_' only."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.splitext(os.path.basename(text or ""))[0]).strip("_")
    return cleaned[:40] or fallback


def unique_job_dir(job_folder: str, comp_name: str, plate_name: str, now: Optional[float] = None) -> str:
    """Create and return ``<job folder>/<comp>_<plate>_<date-time>_<random>``; never an existing folder."""
    try:
        os.makedirs(job_folder, exist_ok=True)
    except OSError as exc:
        raise PluginError(f"Cannot create the job folder {job_folder}: {exc.strerror or exc}.") from None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = f"{safe_name(comp_name, 'comp')}_{safe_name(plate_name, 'plate')}_{stamp}"
    for _ in range(100):
        path = os.path.join(job_folder, f"{base}_{uuid.uuid4().hex[:6]}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise PluginError(f"Cannot create a folder in {job_folder}: {exc.strerror or exc}.") from None
    raise PluginError(f"Cannot find a free folder name in {job_folder}.")


def sequence_file(pattern_path: str, frame: int) -> str:
    """The file of ``frame`` in a '####' pattern (at least PADDING digits, like the server's)."""
    folder, name = os.path.split(pattern_path)
    return os.path.join(folder, name.replace("#" * PADDING, "%0*d" % (PADDING, frame)))


def fusion_saver_name(pattern_path: str) -> str:
    """The name a Fusion Saver takes for a '####' pattern: the digits set the padding, e.g. plate.0000.exr."""
    folder, name = os.path.split(pattern_path)
    return os.path.join(folder, name.replace("#" * PADDING, "0" * PADDING))


def missing_frames(pattern_path: str, first: int, last: int) -> List[int]:
    return [f for f in range(first, last + 1) if not os.path.isfile(sequence_file(pattern_path, f))]


def sequence_files(pattern_path: str, first: int, last: int) -> List[str]:
    return [sequence_file(pattern_path, f) for f in range(first, last + 1)]


# -- the client library --------------------------------------------------------------


def client_module() -> Any:
    """``internal_inpaint_client.client``, or a PluginError saying what to install in the host's Python."""
    try:
        from internal_inpaint_client import client
    except ImportError as exc:
        import sys

        raise PluginError(
            f"The InternalInpaint client cannot be imported in this Python ({sys.version.split()[0]}, "
            f"{sys.executable}): {exc}. Install it again, with its dependencies, into the Python Resolve/Fusion "
            "uses: python -m pip install /path/to/InternalInpaint/client."
        ) from None
    return client


def _status_code_name(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return getattr(code, "name", "") or ""


def describe_error(exc: BaseException, address: str = "", job_folder: str = "") -> str:
    """One line for the status label and the console, whatever went wrong; never a traceback."""
    if isinstance(exc, PluginError):
        return str(exc)
    kind = type(exc).__name__
    code = _status_code_name(exc)
    message = " ".join(str(exc).split()) or kind
    serve = serve_command(job_folder)
    if kind == "JobCancelled":
        return f"Cancelled: {message}"
    if kind == "JobFailed":
        return f"Failed: {message}"
    if code == "UNAVAILABLE":
        if message.startswith("No InternalInpaint server") or not address:
            where = f" at {address}" if address else ""
            return f"No InternalInpaint server{where}: start one with `{serve}`."
        return f"{message.rstrip('.')}. Is the server still running? Start it with `{serve}`."
    if code == "PERMISSION_DENIED":
        return (f"The server refused the job folder: {message} Start the server with an --allow-root that covers "
                f"the job folder: `{serve}`.")
    if code == "UNAUTHENTICATED":
        return f"{message} Set INTERNAL_INPAINT_TOKEN to the server's token before starting Resolve/Fusion."
    if code == "DEADLINE_EXCEEDED":
        return f"The server did not answer in time: {message}"
    if code:
        return message
    if isinstance(exc, (ValueError, OSError)):
        return message
    return f"Unexpected error ({kind}): {message}"


# -- progress ------------------------------------------------------------------------


def format_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def training_text(iteration: int, iterations: int, loss: float, eta_seconds: float) -> str:
    text = f"Iteration {iteration}/{iterations}, loss {loss:.4g}"
    if iteration < iterations and eta_seconds > 0:
        text += f", ETA {format_eta(eta_seconds)}"
    return text


@dataclass
class Progress:
    """What the dialog shows: a status line and a detail line; ``finished`` once the job has ended."""

    status: str = ""
    detail: str = ""
    state: int = 0
    finished: bool = False
    ok: bool = False
    error: str = ""
    lost: bool = False  # ended because the server stopped answering: the job itself may still run


def _with_state(word: str, message: str) -> str:
    """'Queued', 'Training: Reading 4 frames', 'Done: 4 frames, 4 filled' (no 'Done: Done')."""
    if not message:
        return word
    if message.lower().startswith(word.lower()):
        return message
    return f"{word}: {message}"


def apply_event(progress: Progress, event: Any) -> Progress:
    """Fold one JobEvent (internal_inpaint.v1) into the progress shown."""
    kind = event.WhichOneof("detail")
    progress.state = event.state
    word = _STATE_WORDS.get(event.state, "Working")
    if kind == "state_change":
        progress.status = _with_state(word, event.state_change.message)
    elif kind == "training":
        t = event.training
        progress.status = "Training"
        progress.detail = training_text(t.iteration, t.iterations, t.loss, t.eta_seconds)
    elif kind == "frame_written":
        f = event.frame_written
        progress.status = f"Writing frames {f.done}/{f.total}"
    elif kind == "notice":
        progress.detail = event.notice.text
    elif kind == "finished":
        f = event.finished
        progress.status = _with_state(word, f.message)
        if event.state == DONE:
            progress.detail = f"{f.iterations} iterations, final loss {f.final_loss:.4g}, {format_eta(f.total_seconds)}"
    return progress


# -- the job -------------------------------------------------------------------------

POLL_TIMEOUT = 2.0  # seconds one poll of the server may take: Fusion's UI waits for it
# Polls in a row without an answer (UNAVAILABLE or past their deadline) before the dialog stops following the job;
# the job keeps running on the server and reopening the dialog follows it again.
MAX_POLL_FAILURES = 40


@dataclass
class RunningJob:
    """A submitted job the comp remembers until it ends (comp data), so that a dialog opened again follows it."""

    job_id: str
    address: str
    job_folder: str
    plate: str  # the plate tool's name
    matte: str  # the matte tool's name, "" for the plate's alpha
    key: str  # the reuse key of its rendered inputs and settings
    output: str  # the clean '####' pattern
    first: int
    last: int

    def to_data(self) -> Dict[str, Any]:
        return {"JobID": self.job_id, "Address": self.address, "JobFolder": self.job_folder, "Plate": self.plate,
                "Matte": self.matte, "Key": self.key, "Output": self.output,
                "Frames": format_range(self.first, self.last)}

    @classmethod
    def from_data(cls, data: Any) -> Optional["RunningJob"]:
        """The job from comp data (a dict, as Fusion hands back a table); None for nothing usable."""
        frames = _stored_frames(data)
        if frames is None:
            return None
        first, last = frames
        fields = {name: str(data.get(key) or "") for name, key in (
            ("job_id", "JobID"), ("address", "Address"), ("job_folder", "JobFolder"), ("plate", "Plate"),
            ("matte", "Matte"), ("key", "Key"), ("output", "Output"))}
        job = cls(first=first, last=last, **fields)
        return job if job.job_id and job.address and job.job_folder and job.plate and job.output else None


class _Eta:
    """The time left to train, from the iterations the polls saw go by (a poll's Job has no ETA of its own)."""

    def __init__(self) -> None:
        self._start: Optional[Tuple[float, int]] = None

    def seconds(self, iteration: int, iterations: int, now: Optional[float] = None) -> float:
        now = time.monotonic() if now is None else now
        if self._start is None or iteration < self._start[1]:
            self._start = (now, iteration)
            return 0.0
        began, first = self._start
        done = iteration - first
        return (now - began) / done * (iterations - iteration) if done > 0 else 0.0


def progress_of(job: Any, eta: Optional[_Eta] = None) -> Progress:
    """What the dialog shows of a Job (internal_inpaint.v1), as one GetJob answers it."""
    state, message = int(job.state), " ".join(str(job.message or "").split())
    word = _STATE_WORDS.get(state, "Working")
    progress = Progress(status=_with_state(word, message), state=state)
    if state == QUEUED and job.queue_position:
        progress.status = f"Queued (position {job.queue_position})"
    elif state == TRAINING and job.iterations:
        left = eta.seconds(job.iteration, job.iterations) if eta is not None else 0.0
        progress.status = "Training"
        progress.detail = training_text(job.iteration, job.iterations, job.loss, left)
    elif state == INFERRING and job.frames_total:
        progress.status = f"Writing frames {job.frames_written}/{job.frames_total}"
    elif state == DONE:
        progress.finished = progress.ok = True
        took = format_eta(max(0.0, float(job.updated_unix) - float(job.created_unix)))
        progress.detail = f"{job.iterations} iterations, final loss {job.loss:.4g}, {took}"
    elif state in (FAILED, CANCELLED):
        progress.finished = True
        reason = message or ("the server gave no reason" if state == FAILED else f"job {job.id} was cancelled")
        progress.error = progress.status = f"{'Failed' if state == FAILED else 'Cancelled'}: {reason}"
    return progress


class JobRunner:
    """One path job on the server: check, submit, then one short poll per timer tick.

    No thread: Fusion runs the dialog's timer on its UI thread while ``disp.RunLoop()``
    blocks, so each poll is one GetJob with a deadline (POLL_TIMEOUT) and no retries;
    a server that does not answer costs the UI at most that long per tick.
    """

    def __init__(self, settings: JobSettings, client_factory: Optional[Callable[..., Any]] = None,
                 connect_timeout: float = CONNECT_TIMEOUT, poll_timeout: float = POLL_TIMEOUT):
        self.settings = settings
        self.connect_timeout = connect_timeout
        self.poll_timeout = poll_timeout
        self._factory = client_factory
        self._client: Any = None
        self._poll_client: Any = None
        self._progress = Progress(status="Not started")
        self._failures = 0
        self._eta = _Eta()
        self.job_id = ""
        self.plate_pattern = ""
        self.output_pattern = ""

    # clients

    def _new_client(self, timeout: float, retries: int) -> Any:
        if self._factory is not None:
            return self._factory(self.settings.address)
        module = client_module()
        token = self.settings.token or environment_token()
        return module.InpaintClient(self.settings.address, token=token, timeout=timeout, retries=retries,
                                    backoff=0.2)

    def client(self) -> Any:
        """The client for checking and submitting (longer deadline, a few retries)."""
        if self._client is None:
            self._client = self._new_client(30.0, 2)
        return self._client

    def poll_client(self) -> Any:
        """The client for polls and cancel: one try, POLL_TIMEOUT, so the UI never waits long."""
        if self._poll_client is None:
            self._poll_client = self._new_client(self.poll_timeout, 0)
        return self._poll_client

    def close(self) -> None:
        for held in {id(c): c for c in (self._client, self._poll_client) if c is not None}.values():
            try:
                held.close()
            except Exception:  # closing a dead channel must not raise into the UI
                pass
        self._client = self._poll_client = None

    def check_server(self) -> None:
        """Before rendering anything: is there a server, and will it accept the job folder?"""
        client = self.client()
        client.wait_until_ready(timeout=self.connect_timeout)
        info = client.server_info()
        folder = self.settings.job_folder
        serve = serve_command(folder)
        if not info.path_mode:
            raise PluginError(f"The server at {self.settings.address} does not accept file paths (path mode is off): "
                              f"restart it with `{serve}`.")
        real = os.path.realpath(folder)
        roots = list(info.allowed_roots)
        if roots and not any(real == r or real.startswith(r.rstrip("/\\") + os.sep) for r in roots):
            raise PluginError(f"The job folder {folder} is outside the server's allowed roots ({', '.join(roots)}): "
                              f"restart the server with `{serve}`, or pick a job folder under an allowed root.")

    # job

    def submit(self, plate_pattern: str, output_pattern: str, references: Optional[Dict[int, str]] = None) -> str:
        """Create the path job; ``references``: {frame: rendered reference file}, passed only when there are some
        (a press without references makes the call it always made)."""
        s = self.settings
        self.plate_pattern, self.output_pattern = plate_pattern, output_pattern
        extra: Dict[str, Any] = {"references": dict(references)} if references else {}
        self.job_id = self.client().submit_paths(
            plate_pattern, output_pattern, frames=s.frames, preset=s.preset,
            iterations=s.iterations or None, seed=s.seed, dilate=s.dilate, name=s.name, fill=s.fill,
            seen_channel=s.seen_channel, warm_start=s.warm_start, **extra)
        self._progress = Progress(status="Queued", detail=f"Job {self.job_id}")
        log(f"Job {self.job_id} submitted: {plate_pattern} -> {output_pattern}, frames {s.frames}, "
            f"preset {s.preset}, seed {s.seed}, fill {s.fill}" + (f", with {SEEN_CHANNEL}" if s.seen_channel else "")
            + (f", warm start {s.warm_start}" if s.warm_start != DEFAULT_WARM_START else "")
            + (f", reference frames {format_frames(sorted(references))}" if references else ""))
        return self.job_id

    def attach(self, job_id: str, output_pattern: str = "") -> None:
        """Follow a job submitted earlier (by a dialog since closed)."""
        self.job_id, self.output_pattern = job_id, output_pattern
        self._progress = Progress(status="Following", detail=f"Job {job_id}")

    @property
    def running(self) -> bool:
        """A job was submitted (or attached) and no poll has seen it end yet."""
        return bool(self.job_id) and not self._progress.finished

    def poll(self) -> Progress:
        """One GetJob, within POLL_TIMEOUT: the job's progress (``finished`` once it has ended)."""
        if not self.running:
            return self.snapshot()
        try:
            job = self.poll_client().get_job(self.job_id)
        except Exception as exc:  # noqa: BLE001 - an unanswered poll is text for the dialog, never a traceback
            return self._poll_failed(exc)
        self._failures = 0
        self._progress = progress_of(job, self._eta)
        if self._progress.finished:
            log(f"Job {self.job_id} done: {self.output_pattern}" if self._progress.ok else self._progress.error)
        return self.snapshot()

    def _poll_failed(self, exc: BaseException) -> Progress:
        text = describe_error(exc, self.settings.address, self.settings.job_folder)
        code = _status_code_name(exc)
        self._failures += 1
        if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") and self._failures < MAX_POLL_FAILURES:
            self._progress.detail = f"No answer from the server ({self._failures} polls): {text}"
            return self.snapshot()
        progress = Progress(finished=True, state=self._progress.state)
        if code == "NOT_FOUND":
            progress.error = (f"Job {self.job_id} is not on the server at {self.settings.address} any more (deleted, "
                              "or the server was started on another spool).")
        else:
            progress.lost = code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
            progress.error = (f"{text} Job {self.job_id} may still be running on the server: open the dialog again "
                              "to follow it once the server answers.")
        progress.status = progress.error
        self._progress = progress
        log(progress.error)
        return self.snapshot()

    def snapshot(self) -> Progress:
        return Progress(**vars(self._progress))

    def cancel(self) -> None:
        if not self.job_id:
            return
        self.poll_client().cancel(self.job_id)
        log(f"Cancel requested for job {self.job_id}")


def _stored_frames(data: Any) -> Optional[Tuple[int, int]]:
    """The frame range of a record kept in comp data (a dict, as Fusion hands back a table); None if unusable."""
    if not isinstance(data, dict):
        return None
    try:
        return parse_range(str(data.get("Frames") or ""))
    except PluginError:
        return None
