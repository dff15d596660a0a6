"""The plugin's host-independent side: settings, job folders, the server job, progress and error text.

Nothing here touches Fusion, so it runs (and is tested) anywhere. The client
library (``internal_inpaint_client.client``: grpcio, protobuf, numpy) is imported
only when a job is started, so the dialog still opens, and says what to install,
in a Python where grpc is broken. The reuse key and ``plugin_support`` (shared with
the Nuke plugin) are standard library only.
"""

from __future__ import annotations

import os
import re
import threading
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
    serve_command,
)
from internal_inpaint_client.reuse_key import reuse_key

PREFIX = "[InternalInpaint]"
DEFAULT_PRESET = "standard"
PLATE_NAME = "plate.####.exr"
CLEAN_NAME = "clean.####.exr"
PADDING = 4
FILL_MODES: Tuple[str, ...] = OPTIONS["fill"].choices  # guided, paper, propagation (the options schema's)
DEFAULT_FILL: str = OPTIONS["fill"].default
# What the dialog says of each fill mode and of the seen channel.
FILL_TIPS = {
    "guided": "The real pixels of the other frames, followed along optical flow, wherever one of them shows what is "
              "behind the object; a network trained on the shot invents only the rest.",
    "paper": "The network trained on the shot alone, as in the paper (the results of earlier versions).",
    "propagation": "The other frames alone, no training: fast, for a first look; what no frame shows is smeared in "
                   "from the hole's edge.",
}
SEEN_TIP = (f"Add a channel {SEEN_CHANNEL} to the clean frames: 1 where the fill was taken from another frame, 0 "
            "where it was invented and outside the matte (the other channels are the same either way).")
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
        self.seen_channel = bool(self.seen_channel)
        if self.iterations < 0 or self.dilate < 0 or self.seed < 0:
            raise PluginError("Iterations, seed and matte growth cannot be negative.")
        check_range(self.first, self.last)
        return self

    @property
    def frames(self) -> str:
        return format_range(self.first, self.last)

    def reuse_fields(self) -> Dict[str, object]:
        """The settings that change the result (the rendered pixels are hashed besides). The fill and the seen
        channel joined them when the default fill became "guided": a comp's record of an earlier "paper" result
        must not match a press under the new default."""
        return {"preset": self.preset, "iterations": self.iterations, "seed": self.seed,
                "matte_channel": self.matte_channel, "frames": self.frames, "dilate": self.dilate,
                "fill": self.fill, "seen_channel": self.seen_channel}


# -- reuse ---------------------------------------------------------------------------


def job_key(files: Iterable[str], settings: JobSettings) -> str:
    """The reuse key of a press: the rendered inputs' pixels (not their header stamps) and the settings."""
    return reuse_key(files, settings.reuse_fields(), version=KEY_VERSION)


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
        if not isinstance(data, dict):
            return None
        try:
            first, last = parse_range(str(data.get("Frames") or ""))
        except PluginError:
            return None
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


class JobRunner:
    """One path job on the server: check, submit, watch on a thread, cancel.

    The watcher thread only writes ``progress`` (under a lock); the dialog reads
    a copy of it from its timer, on the UI thread, and does all Fusion work there.
    """

    def __init__(self, settings: JobSettings, client_factory: Optional[Callable[..., Any]] = None,
                 connect_timeout: float = CONNECT_TIMEOUT):
        self.settings = settings
        self.connect_timeout = connect_timeout
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self._progress = Progress(status="Not started")
        self._thread: Optional[threading.Thread] = None
        self.job_id = ""
        self.plate_pattern = ""
        self.output_pattern = ""

    # client

    def client(self) -> Any:
        if self._client is None:
            if self._factory is not None:
                self._client = self._factory(self.settings.address)
            else:
                module = client_module()
                token = self.settings.token or environment_token()
                self._client = module.InpaintClient(self.settings.address, token=token, timeout=30.0, retries=2,
                                                    backoff=0.2)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a dead channel must not raise into the UI
                pass
            self._client = None

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

    def submit(self, plate_pattern: str, output_pattern: str) -> str:
        s = self.settings
        self.plate_pattern, self.output_pattern = plate_pattern, output_pattern
        self.job_id = self.client().submit_paths(
            plate_pattern, output_pattern, frames=s.frames, preset=s.preset,
            iterations=s.iterations or None, seed=s.seed, dilate=s.dilate, name=s.name, fill=s.fill,
            seen_channel=s.seen_channel)
        self._set(Progress(status="Queued", detail=f"Job {self.job_id}"))
        log(f"Job {self.job_id} submitted: {plate_pattern} -> {output_pattern}, frames {s.frames}, "
            f"preset {s.preset}, seed {s.seed}, fill {s.fill}" + (f", with {SEEN_CHANNEL}" if s.seen_channel else ""))
        return self.job_id

    def start_watching(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="InternalInpaint watcher", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        def on_event(event: Any) -> None:
            with self._lock:
                apply_event(self._progress, event)

        try:
            self.client().wait(self.job_id, on_event=on_event)
        except BaseException as exc:  # every failure becomes text for the dialog
            text = describe_error(exc, self.settings.address, self.settings.job_folder)
            with self._lock:
                self._progress.finished, self._progress.ok = True, False
                self._progress.error = self._progress.status = text
                self._progress.state = CANCELLED if type(exc).__name__ == "JobCancelled" else FAILED
            log(text)
            return
        with self._lock:
            self._progress.finished, self._progress.ok, self._progress.state = True, True, DONE
        log(f"Job {self.job_id} done: {self.output_pattern}")

    def snapshot(self) -> Progress:
        with self._lock:
            return Progress(**vars(self._progress))

    def _set(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def cancel(self) -> None:
        if not self.job_id:
            return
        self.client().cancel(self.job_id)
        log(f"Cancel requested for job {self.job_id}")

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
