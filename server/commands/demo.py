"""`internal-inpaint demo`: generate a shot, remove its occluder, show before/after.

Needs no download and no footage: the clip is procedural (a camera pan over an
HDR scene with a moving pole), written as scene-linear half-float EXRs with
the matte in alpha, exactly what a compositor would hand over.
"""

from __future__ import annotations

import argparse
import os
import shutil

import numpy as np

from inpaint_core.errors import InputError, OutputError
from inpaint_core.io import read_frame
from inpaint_core.io.display import contact_sheet, mask_overlay, to_display_uint8, write_png_rgb
from inpaint_core.jobs import JobSpec
from inpaint_core.masks import ShotSpec
from inpaint_core.training import preset_settings
from inpaint_eval.baselines import telea_fill
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip, write_exr_sequence

from .console import EXIT_OK, run_job_with_console, run_reporting_errors, say

MARKER = ".internal-inpaint-demo"  # marks a folder as the demo's own, safe to replace
FIRST_FRAME = 1001
DEMO_ITERATIONS = 500  # draft preset: ~0.35 s an iteration on 2 CPU cores at 256x144


def add_parser(commands: argparse._SubParsersAction, epilog: str) -> None:
    p = commands.add_parser(
        "demo",
        help="run a self-contained demo on a generated clip",
        description="Generate a 24-frame HDR clip with a moving pole, remove the pole, write EXRs and a before/after "
                    "contact sheet.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", "-o", default="demo_output", metavar="DIR",
                   help="folder for the demo's files (default ./demo_output)")
    p.add_argument("--frames", type=int, default=24, help="clip length (default 24)")
    p.add_argument("--size", default="256x144", metavar="WxH", help="frame size (default 256x144)")
    p.add_argument("--preset", default="draft", help="preset (default draft: a few minutes on a laptop CPU)")
    p.add_argument("--iterations", type=int, default=DEMO_ITERATIONS,
                   help=f"training iterations (default {DEMO_ITERATIONS}: about 3 minutes on 2 CPU cores)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: _demo(args), args.debug)


def _demo(args: argparse.Namespace) -> int:
    width, height = _parse_size(args.size)
    folder = _fresh_folder(args.output)
    say(f"Generating a {args.frames}-frame {width}x{height} clip in {folder}")
    clip = make_clip(frames=args.frames, width=width, height=height, seed=0)
    plate_pattern = os.path.join(folder, "plate", "plate.####.exr")
    output_pattern = os.path.join(folder, "clean", "clean.####.exr")
    os.makedirs(os.path.dirname(plate_pattern))
    frames = write_exr_sequence(clip, plate_pattern, FIRST_FRAME)

    spec = JobSpec(
        shot=ShotSpec(plate=plate_pattern, mask_channel="A"),
        output=output_pattern,
        train=preset_settings(args.preset, iterations=args.iterations),
        device=args.device,
    )
    result = run_job_with_console(spec)

    cleaned = np.stack([read_frame(p).pixels[..., :3].astype(np.float32) for p in result.outputs])
    telea = np.stack([telea_fill(clip.plate[t], clip.mask[t]) for t in range(len(frames))])
    ours_db = psnr_in_mask(cleaned, clip.background, clip.mask)
    telea_db = psnr_in_mask(telea, clip.background, clip.mask)
    say(f"PSNR inside the hole against the true background: InternalInpaint {ours_db:.2f} dB, "
        f"per-frame OpenCV Telea {telea_db:.2f} dB")
    sheet_path = os.path.join(folder, "contact_sheet.png")
    write_png_rgb(sheet_path, _sheet(clip, cleaned, telea))
    say(f"Plate:  {plate_pattern}  (matte in alpha)")
    say(f"Result: {output_pattern}")
    say(f"Before/after contact sheet: {sheet_path}  "
        "(rows: plate with matte, per-frame Telea, InternalInpaint, true background)")
    return EXIT_OK


def _sheet(clip, cleaned: np.ndarray, telea: np.ndarray) -> np.ndarray:
    picks = np.linspace(0, len(cleaned) - 1, 4).round().astype(int)
    rows = [
        [mask_overlay(to_display_uint8(clip.plate[t]), clip.mask[t]) for t in picks],
        [to_display_uint8(telea[t]) for t in picks],
        [to_display_uint8(cleaned[t]) for t in picks],
        [to_display_uint8(clip.background[t]) for t in picks],
    ]
    labels = [f"frame {FIRST_FRAME + t}" for t in picks]
    return contact_sheet(rows, labels=labels)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size {text!r}: write width x height, e.g. 256x144.") from None
    return width, height


def _fresh_folder(path: str) -> str:
    """The demo's folder, emptied if it is an earlier demo's; any other existing folder is refused."""
    folder = os.path.abspath(path)
    if os.path.exists(folder):
        if not os.path.exists(os.path.join(folder, MARKER)):
            raise OutputError(f"{folder} exists and is not an earlier demo's folder; choose another --output.")
        shutil.rmtree(folder)
    os.makedirs(folder)
    open(os.path.join(folder, MARKER), "w").close()
    return folder
