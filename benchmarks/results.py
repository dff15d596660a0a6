"""Everything one run measured, kept as JSON so the report can be redrawn without rerunning."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import cv2
import numpy as np
import OpenImageIO as oiio
import torch

from .features import FeatureResult
from .highres import HighresResult
from .load import LoadResult
from .propagation import PropagationResult
from .quality import ClipResult, MethodScore
from .references import ReferenceResult
from .speed import InferSpeed, IoSpeed, SpeedResult, TrainSpeed
from .transfer import TransferSpeed
from .warm import WarmResult
from .windows import WindowMemory


@dataclass
class RunResults:
    suite: str
    command: str
    environment: dict[str, str]
    clips: list[ClipResult] = field(default_factory=list)
    speed: SpeedResult | None = None
    seconds: float = 0.0  # wall-clock time of the whole run
    transfer: TransferSpeed | None = None
    windows: WindowMemory | None = None
    highres: HighresResult | None = None
    propagation: PropagationResult | None = None
    features: FeatureResult | None = None
    load: LoadResult | None = None
    references: ReferenceResult | None = None
    warm: WarmResult | None = None


def environment(device: torch.device) -> dict[str, str]:
    """What the numbers depend on: the machine, the libraries and the code."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cpu_count": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "openimageio": oiio.__version__,
        "platform": platform.platform(),
        "commit": _git_commit(),
    }


def save(results: RunResults, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temp = f"{path}.partial"
    with open(temp, "w") as handle:
        json.dump(asdict(results), handle, indent=1)
    os.replace(temp, path)


def merge_clip(run: RunResults, clip: ClipResult) -> None:
    """Add a clip's scores to the run, replacing earlier scores of the same method and budget."""
    earlier = next((c for c in run.clips if c.clip == clip.clip), None)
    if earlier is None:
        run.clips.append(clip)
        return
    new_keys = {(s.method, s.budget_s) for s in clip.scores}
    kept = [s for s in earlier.scores if (s.method, s.budget_s) not in new_keys]
    earlier.scores = kept + clip.scores
    order = {name: i for i, name in enumerate(("telea", "flow", "standard", "wide"))}
    earlier.scores.sort(key=lambda s: (order.get(s.method, len(order)), s.budget_s or 0.0))


def load(path: str) -> RunResults:
    with open(path) as handle:
        raw = json.load(handle)
    clips = [ClipResult(**{**c, "scores": [MethodScore(**s) for s in c["scores"]]}) for c in raw["clips"]]
    speed = None
    if raw.get("speed"):
        s = raw["speed"]
        speed = SpeedResult(s["threads"], s["matmul_gflops"], s["matmul_runs"], [TrainSpeed(**t) for t in s["train"]],
                            [InferSpeed(**i) for i in s["infer"]], [IoSpeed(**i) for i in s["io"]])
    transfer = TransferSpeed(**raw["transfer"]) if raw.get("transfer") else None
    window_memory = WindowMemory(**raw["windows"]) if raw.get("windows") else None
    highres = HighresResult.from_dict(raw["highres"]) if raw.get("highres") else None
    propagation = PropagationResult.from_dict(raw["propagation"]) if raw.get("propagation") else None
    features = FeatureResult.from_dict(raw["features"]) if raw.get("features") else None
    load = LoadResult.from_dict(raw["load"]) if raw.get("load") else None
    references = ReferenceResult.from_dict(raw["references"]) if raw.get("references") else None
    warm = WarmResult.from_dict(raw["warm"]) if raw.get("warm") else None
    return RunResults(raw["suite"], raw["command"], raw["environment"], clips, speed, raw["seconds"], transfer,
                      window_memory, highres, propagation, features, load, references, warm)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or "unknown"


def _git_commit() -> str:
    """The checked-out commit, and whether the working tree differs from it (read-only git calls)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes" if dirty else "")
