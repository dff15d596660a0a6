"""Every per-job training option, declared once: its type, range or choices, default, unit and help text, and the
surfaces that carry it (the command line's flag, the gRPC TrainingSettings field, the client's keyword argument, the
library's setting, the benchmarks' variant label).

An option used to be written out on each surface, and the copies drifted (a range checked on one surface only, a
default that differed). Now the surfaces derive what they can from ``OPTIONS``: the command line's training flags
(server/commands/shot_options.py), the server's checks of a request and its mapping to the library
(server/service/specs.py) and the benchmarks' variant labels (benchmarks/quality.py). The client's keyword arguments
stay written out, for IDEs and Python 3.9; tests/client/test_options.py fails when they, the gRPC contract or the
library's own validation drift from this table.

Standard library only, like ``plugin_support``: the client, both plugins, the server and the benchmarks import it,
and it must not pull grpc (let alone torch) into a host with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

# Where an option lands in the library: a field of inpaint_core.training.TrainSettings, or of
# inpaint_core.jobs.JobSpec (how the job runs rather than how it trains).
TRAIN_SETTINGS = "TrainSettings"
JOB_SPEC = "JobSpec"


@dataclass(frozen=True)
class Flag:
    """The option on the command line (`internal-inpaint run` and `plan`)."""

    name: str  # e.g. '--time-budget'; argparse's dest is the option's name
    metavar: Optional[str] = None  # None: argparse's own (the choices, or the name in capitals)


@dataclass(frozen=True)
class GrpcField:
    """The option as a field of the contract's TrainingSettings message."""

    name: str
    # A proto3 ``optional`` field: unset means "the preset's", and the client's keyword argument defaults to None.
    # A plain field has no "unset": its zero value means the default, and ``unset`` is that zero value in the
    # client's terms (the client's keyword argument defaults to it).
    optional: bool = True
    unset: object = None
    # An enum field: the choice 'on' travels as the enum value named enum_prefix + 'ON'.
    enum_prefix: str = ""
    # The most a request may ask (the server's resource limit), in the option's unit; tighter than the library's range.
    limit: Optional[float] = None


@dataclass(frozen=True)
class Option:
    """One training option of a job."""

    name: str  # the library's name for it, where it has one
    kind: type  # int, float, bool or str
    help: str  # what it does, as the command line's --help says it (plain text: no %-escapes)
    default: object = None  # what a job gets when no surface sets it; None: the preset's
    unit: str = ""  # the unit every surface gives it in ('' for weights, fractions and counts without one)
    # The valid range, in the library's unit (its own validation, TrainSettings.__post_init__, refuses the rest);
    # None: unbounded on that side. An open end is itself refused (learning_rate > 0, ema < 1).
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    choices: Tuple[str, ...] = ()
    library: Optional[str] = None  # its field in the library (of ``library_on``); None: no library setting
    library_on: str = TRAIN_SETTINGS
    scale: float = 1.0  # the library's value is the surfaces' value times this (minutes -> seconds: 60)
    library_unit: str = ""  # the library's unit, where scale makes it differ from ``unit``
    cli: Optional[Flag] = None
    grpc: Optional[GrpcField] = None
    client: Optional[str] = None  # the keyword argument of InpaintClient.submit_arrays/submit_paths
    variant: Optional[str] = None  # the benchmarks' label prefix: 'standard+stab0.2' sets stabilisation 0.2

    @property
    def client_default(self) -> object:
        """The default of the client's keyword argument: "not given", as the gRPC field expresses it."""
        if self.grpc is None or self.grpc.optional:
            return None
        return self.grpc.unset

    def to_library(self, value: object) -> object:
        """A surface's value in the library's unit (None stays None: the preset's)."""
        if value is None or self.scale == 1.0:
            return value
        return value * self.scale

    def problem(self, value: object, label: str, limit: Optional[float] = None) -> Optional[str]:
        """Why ``value`` (in the surfaces' unit) is refused, naming the option as ``label``; None when it is fine.

        ``limit`` is a surface's own ceiling (in the surfaces' unit), below the library's range.
        """
        if value is None:
            return None
        if self.choices:
            if value not in self.choices:
                return f"Unknown {label} {value!r}; choose one of {', '.join(self.choices)}."
            return None
        if self.kind is str:  # free text (a job id): checked where it is used
            return None if isinstance(value, str) else f"{label} must be text (got {value!r})."
        if self.kind is float and not math.isfinite(value):
            return f"{label} must be a finite number."
        number = float(value)
        library = number * self.scale  # compared in the library's unit, as the library's own validation does
        too_low = self.low is not None and (library <= self.low if self.low_open else library < self.low)
        too_high = self.high is not None and (library >= self.high if self.high_open else library > self.high)
        if not (too_low or too_high or (limit is not None and number > limit)):
            return None
        low = None if self.low is None else self.low / self.scale
        high = None if self.high is None else self.high / self.scale
        high_open = self.high_open
        if limit is not None and (high is None or limit < high):
            high, high_open = limit, False
        # The unit is named where the surfaces' differs from the library's: elsewhere the number speaks for itself.
        unit = self.unit if self.scale != 1.0 else ""
        message = f"{label} must be {_range_text(low, high, self.low_open, high_open, unit)} (got {_show(value)})"
        if self.scale != 1.0:
            in_library = _range_text(self.low, self.high, self.low_open, self.high_open, "")
            message += f": the library's {self.library} ({self.library_unit}) must be {in_library}"
        return message + "."


def _range_text(low: Optional[float], high: Optional[float], low_open: bool, high_open: bool, unit: str) -> str:
    """'between 0 and 10', 'at least 0 and below 1', '0 or more', 'more than 0' (with the unit, if any)."""
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None:
        if not low_open and not high_open:
            return f"between {_show(low)} and {_show(high)}{unit}"
        return (f"{'more than' if low_open else 'at least'} {_show(low)} and "
                f"{'below' if high_open else 'at most'} {_show(high)}{unit}")
    if low is not None:
        return f"more than {_show(low)}{unit}" if low_open else f"{_show(low)}{unit} or more"
    if high is not None:
        return f"less than {_show(high)}{unit}" if high_open else f"{_show(high)}{unit} or less"
    return "a number"


def _show(value: object) -> str:
    """A number as a message shows it: 10000000 rather than 1e+07, 0.2 rather than 0.20000000298023224."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.8g}"


_OPTIONS = (
    Option(
        "preset", str, "quality/speed trade-off by training time (default standard)",
        default="standard", choices=("draft", "standard", "final", "wide"),
        cli=Flag("--preset"), grpc=GrpcField("preset", optional=False, unset=""), client="preset",
    ),
    Option(
        "iterations", int, "train exactly N iterations, without the preset's time budget: the same result from the "
        "same seed on any machine",
        unit="iterations", low=1, library="iterations",
        cli=Flag("--iterations", "N"), grpc=GrpcField("iterations", limit=10_000_000), client="iterations",
    ),
    Option(
        "time_budget", float, "minutes of training (default: the preset's); the run stops there or at --iterations",
        unit="minutes", low=0.0, high=1e7, library="time_budget", scale=60.0, library_unit="seconds",
        cli=Flag("--time-budget", "MIN"), grpc=GrpcField("time_budget_minutes"), client="time_budget_minutes",
    ),
    Option(
        "stabilisation", float, "weight of the stabilisation regulariser against flicker (the paper uses 0.2; "
        "default 0 = off; about doubles the cost of a step)",
        default=0.0, low=0.0, high=10.0, library="stabilisation",
        cli=Flag("--stabilisation", "W"), grpc=GrpcField("stabilisation"), client="stabilisation", variant="stab",
    ),
    Option(
        "anti_ambiguity", float, "weight of the anti-ambiguity regulariser for sharper fills (the paper uses 0.1; "
        "default 0 = off; see docs/benchmarks.md for its measured effect)",
        default=0.0, low=0.0, high=10.0, library="anti_ambiguity",
        cli=Flag("--anti-ambiguity", "W"), grpc=GrpcField("anti_ambiguity"), client="anti_ambiguity", variant="aa",
    ),
    Option(
        "precision", str, "arithmetic of training: auto = bfloat16 mixed precision on a CUDA GPU, float32 elsewhere",
        default="auto", choices=("auto", "float32", "bfloat16", "float16"), library="precision",
        cli=Flag("--precision"),
    ),
    Option(
        "compile", bool, "compile the network with torch.compile (off by default: slower on the CPUs measured, see "
        "docs/benchmarks.md; falls back to uncompiled with a warning when it cannot compile)",
        default=False, library="compile", cli=Flag("--compile"), variant="compile",
    ),
    Option(
        "ema", float, "decay of a moving average of the weights, which then fill the frames (0 = off: the last "
        "weights)",
        low=0.0, high=1.0, high_open=True, library="ema", variant="ema",
    ),
    Option(
        "lr_decay", float, "the last fraction of the run over which the learning rate falls linearly to zero "
        "(0 = a constant rate)",
        low=0.0, high=1.0, library="lr_decay", variant="decay",
    ),
    Option(
        "learning_rate", float, "the optimiser's (Adam's) learning rate",
        low=0.0, low_open=True, library="learning_rate", variant="lr",
    ),
    Option(
        "batch_size", int, "training crops per step",
        unit="crops", low=1, library="batch_size", variant="bs",
    ),
    Option(
        "crop_size", int, "side of a training crop",
        unit="pixels", low=8, library="crop_size", variant="crop",
    ),
    Option(
        "width", int, "network base width (default: the preset's)",
        unit="channels", low=2, library="width", cli=Flag("--width", "C"), variant="w",
    ),
    Option(
        "hole_focus", float, "the share of training crops placed over the area the holes pass through (0 = uniform "
        "over the frame)",
        low=0.0, high=1.0, library="hole_focus", variant="focus",
    ),
    Option(
        "seed", int, "random seed; the same seed and inputs give the same result (default 0)",
        default=0, library="seed", cli=Flag("--seed"), grpc=GrpcField("seed"), client="seed", variant="seed",
    ),
    Option(
        "progressive", str, "large frames (4K): train at a low resolution, then refine at x2 steps on patches near "
        "the holes, streaming frames from disk, so memory and the cost of an iteration stay bounded; auto (default) "
        "= on above 2048 px or when the shot would not fit in memory",
        default="auto", choices=("auto", "on", "off"), library="progressive", library_on=JOB_SPEC,
        cli=Flag("--progressive"), client="progressive",
        grpc=GrpcField("progressive", optional=False, unset="auto", enum_prefix="PROGRESSIVE_"),
    ),
    Option(
        "fill", str, "where the fill of a hole comes from: guided (default) = the other frames of the shot, followed "
        "along optical flow, wherever one of them shows the pixel, then corrected by a network trained on the "
        "shot (on progressive, large-frame jobs the network fills only what no frame shows); paper = the "
        "network alone, as in the paper (the results of earlier versions); propagation = "
        "the other frames alone, no training (fast: where no frame shows the pixel it is smeared in from the hole's "
        "edge)",
        default="guided", choices=("guided", "paper", "propagation"), library="fill", library_on=JOB_SPEC,
        cli=Flag("--fill"), client="fill",
        grpc=GrpcField("fill", optional=False, unset="guided", enum_prefix="FILL_"),
    ),
    Option(
        "seen_channel", bool, "add a channel inpaint.seen to every output frame: 1 where the fill was taken from "
        "another frame of the shot (real pixels), 0 where it was invented and outside the matte; a matte of what to "
        "check first. The other channels are unchanged",
        default=False, library="seen_channel", library_on=JOB_SPEC,
        cli=Flag("--seen-channel"), client="seen_channel",
        grpc=GrpcField("seen_channel", optional=False, unset=False),
    ),
    Option(
        "warm_start", str, "start the network from a finished job's network of the same shot (a re-press after the "
        "matte grew a little, with a few more frames or a longer budget): auto (default) = when the plate's pixels "
        "it was trained on are unchanged and the network fits; off = always from scratch; force = from the newest "
        "finished job whose network fits, even if the plate changed. The job's events say which it was",
        default="auto", choices=("auto", "off", "force"), library="warm_start", library_on=JOB_SPEC,
        client="warm_start", grpc=GrpcField("warm_start", optional=False, unset="auto", enum_prefix="WARM_START_"),
    ),
    Option(
        "warm_start_job", str, "the id of a finished job on the server whose network seeds this one, even if the "
        "plate changed (default: as warm_start says)",
        default="", client="warm_start_job", grpc=GrpcField("warm_start_job", optional=False, unset=""),
    ),
    Option(
        "preview_every", int, "iterations between preview images sent to watchers (0 = the server's default)",
        default=0, unit="iterations", low=0, grpc=GrpcField("preview_every", optional=False, unset=0),
        client="preview_every",
    ),
)

OPTIONS: Dict[str, Option] = {option.name: option for option in _OPTIONS}

# The output channel that ``seen_channel`` adds, after the plate's own (the library's SEEN_CHANNEL; written out here,
# standard library only, for the client and the plugins; tests/client/test_options.py holds it to the library's).
SEEN_CHANNEL = "inpaint.seen"

PRESETS: Tuple[str, ...] = OPTIONS["preset"].choices  # the server's presets: 3/10/30 min, wide = GPU
DEFAULT_PRESET: str = OPTIONS["preset"].default


def variants() -> Dict[str, Option]:
    """The benchmarks' variant label prefixes ('stab' in 'standard+stab0.2'), in the order they are tried."""
    return {option.variant: option for option in _OPTIONS if option.variant}
