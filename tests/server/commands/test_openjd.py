"""The Open Job Description job template (server/openjd): it validates, and it runs.

The end-to-end test runs the template's steps with the `openjd` CLI (Plan, every
Windows task, Assemble) on a tiny clip, and checks the frames are bit-identical to
the same windowed job run by hand with `plan`, `run --window` and `assemble`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from server.openjd import template_path

pytest.importorskip("openjd.model", reason="openjd-model (a test dependency) validates the job template")
import yaml  # noqa: E402  (openjd-model's dependency)

from tests import ROOT as REPO

FIRST, LAST = 1001, 1010
FRAMES = f"{FIRST}-{LAST}"
STEPS = ("Plan", "Windows", "Assemble")


def _template() -> dict:
    with open(template_path(), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _values(**overrides: str) -> dict[str, str]:
    values = {
        "ShotName": "sh010",
        "Plate": "/shots/sh010/plate.####.exr",
        "Output": "/shots/sh010/clean.####.exr",
        "Frames": FRAMES,
        "JobDir": "/farm/jobs/sh010",
        "WindowRange": "0-2",
    }
    values.update(overrides)
    return values


def _create_job(values: dict[str, str]):
    from openjd.model import create_job, decode_job_template, preprocess_job_parameters

    template = decode_job_template(template=_template())
    parameters = preprocess_job_parameters(
        job_template=template,
        job_parameter_values=values,
        job_template_dir=Path(template_path()).parent,
        current_working_dir=Path.cwd(),
    )
    return create_job(job_template=template, job_parameter_values=parameters)


def _tasks(step) -> list[dict]:
    from openjd.model import StepParameterSpaceIterator

    return [dict(task) for task in StepParameterSpaceIterator(space=step.parameterSpace)]


# --- the template -------------------------------------------------------------------------------------


def test_template_ships_with_the_package():
    path = Path(template_path())
    assert path.is_file() and path.parent == REPO / "server" / "openjd"
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "openjd/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["server"]


def test_template_validates_and_makes_one_task_per_window():
    job = _create_job(_values())
    assert job.name == "InternalInpaint sh010"
    steps = {step.name: step for step in job.steps}
    assert list(steps) == list(STEPS)
    assert [d.dependsOn for d in steps["Windows"].dependencies] == ["Plan"]
    assert [d.dependsOn for d in steps["Assemble"].dependencies] == ["Windows"]
    assert steps["Plan"].parameterSpace is None and steps["Assemble"].parameterSpace is None
    tasks = _tasks(steps["Windows"])
    assert [task["Window"].value for task in tasks] == ["0", "1", "2"]


def test_template_defaults():
    job = _create_job(_values(WindowRange="0-7"))
    params = {name: value.value for name, value in job.parameters.items()}
    assert params["Matte"] == "" and params["MatteChannel"] == "A"
    assert (params["WindowSize"], params["Overlap"], params["Iterations"]) == ("40", "8", "0")
    assert params["Preset"] == "standard" and params["InternalInpaint"] == "internal-inpaint"
    assert params["Overwrite"] == "false"
    windows = next(step for step in job.steps if step.name == "Windows")
    assert len(_tasks(windows)) == 8


# Not {"Iterations": "-1"}: openjd-model 0.13.0 skips a minValue of 0 (`if self.minValue and ...`);
# `plan` refuses it instead.
@pytest.mark.parametrize("bad", [{"Preset": "ultra"}, {"WindowSize": "1"}, {"Plate": ""}, {"WindowRange": ""}])
def test_template_refuses_bad_values(bad):
    from openjd.model import DecodeValidationError

    with pytest.raises((DecodeValidationError, ValueError)):
        _create_job(_values(**bad))


# --- end to end with the openjd CLI ---------------------------------------------------------------


def _openjd() -> str | None:
    beside = Path(sys.executable).parent / ("openjd.exe" if os.name == "nt" else "openjd")
    return str(beside) if beside.is_file() else shutil.which("openjd")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _openjd_run(openjd: str, params: dict[str, str], *options: str) -> list[str]:
    cmd = [openjd, "run", template_path(), *options]
    for name, value in params.items():
        cmd += ["-p", f"{name}={value}"]
    return cmd


def _check(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{shlex.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _read(path: Path):
    import OpenImageIO as oiio

    inp = oiio.ImageInput.open(str(path))
    assert inp, f"cannot open {path}: {oiio.geterror()}"
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, spec.format)
        return tuple(spec.channelnames), str(spec.format), np.asarray(pixels)
    finally:
        inp.close()


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    from inpaint_eval.synthetic import make_clip, write_exr_sequence

    folder = tmp_path_factory.mktemp("openjd_plate")
    clip = make_clip(frames=LAST - FIRST + 1, width=48, height=32)
    assert write_exr_sequence(clip, str(folder / "plate.####.exr"), first_frame=FIRST) == list(range(FIRST, LAST + 1))
    return folder / "plate.####.exr"


@pytest.mark.slow
def test_openjd_run_matches_local_commands(plate, tmp_path):
    openjd = _openjd()
    if openjd is None:
        pytest.skip("the openjd CLI is not installed (pip install openjd-cli)")
    cli = [sys.executable, "-m", "server"]
    shot = ["--input", str(plate), "--mask-channel", "A", "--frames", FRAMES, "--window-size", "6", "--overlap", "2",
            "--preset", "draft", "--iterations", "3"]

    # What a submitter runs first.
    local_out, local_job = tmp_path / "local" / "clean.####.exr", tmp_path / "local_job"
    shot_out = shot + ["--output", str(local_out), "--job-dir", str(local_job)]
    window_range = _check(cli + ["plan", *shot_out, "--print-window-range"], tmp_path).strip().splitlines()[-1]
    assert window_range == "0-1"
    assert not local_job.exists(), "--print-window-range must write nothing"

    # The job through the template: `openjd run` without --step runs every step's tasks in
    # dependency order (Plan, Windows 0 and 1, Assemble) in one local session. It runs in the
    # background while the same job is run by hand below, to keep the test short.
    farm_out, farm_job = tmp_path / "farm" / "clean.####.exr", tmp_path / "farm_job"
    params = {
        "ShotName": "test", "Plate": str(plate), "MatteChannel": "A", "Frames": FRAMES, "Output": str(farm_out),
        "JobDir": str(farm_job), "WindowSize": "6", "Overlap": "2", "Preset": "draft", "Iterations": "3",
        "WindowRange": window_range, "InternalInpaint": shlex.join(cli),
    }
    farm_cmd = _openjd_run(openjd, params)
    farm_log = tmp_path / "openjd.log"  # a file, not a pipe: nobody reads it until the job ends
    with open(farm_log, "w", encoding="utf-8") as log_file:
        farm = subprocess.Popen(farm_cmd, cwd=tmp_path, env=_env(), stdout=log_file, stderr=subprocess.STDOUT)
    try:
        # By hand: the commands a farm's tasks would run.
        last_line = _check(cli + ["plan", *shot_out], tmp_path).strip().splitlines()[-1]
        assert last_line == f"window range: {window_range}"
        for window in (0, 1):
            _check(cli + ["run", "--job-dir", str(local_job), "--window", str(window)], tmp_path)
        _check(cli + ["assemble", "--job-dir", str(local_job)], tmp_path)
        farm.wait(timeout=300)
    finally:
        if farm.poll() is None:
            farm.kill()
            farm.wait()
    log = farm_log.read_text(encoding="utf-8")
    assert farm.returncode == 0, f"{shlex.join(farm_cmd)} exited {farm.returncode}:\n{log}"
    started = [log.find(f"Running step '{step}'") for step in STEPS]
    assert -1 not in started and started == sorted(started), log
    assert "Window(INT) = 0" in log and "Window(INT) = 1" in log
    assert '"window_range": "0-1"' in log, "the Plan step's JSON log is missing"
    for window in (0, 1):
        assert (farm_job / "windows" / f"{window:03d}" / "done.json").is_file()

    for frame in range(FIRST, LAST + 1):
        local = local_out.parent / f"clean.{frame}.exr"
        farm = farm_out.parent / f"clean.{frame}.exr"
        assert local.is_file() and farm.is_file(), f"frame {frame} missing"
        local_channels, local_type, local_pixels = _read(local)
        farm_channels, farm_type, farm_pixels = _read(farm)
        assert (farm_channels, farm_type) == (local_channels, local_type)
        assert np.array_equal(farm_pixels, local_pixels), f"frame {frame} differs"
    assert sorted(os.listdir(farm_out.parent)) == [f"clean.{f}.exr" for f in range(FIRST, LAST + 1)]


@pytest.mark.slow
def test_plan_step_refuses_a_wrong_window_range(plate, tmp_path):
    openjd = _openjd()
    if openjd is None:
        pytest.skip("the openjd CLI is not installed (pip install openjd-cli)")
    params = {
        "Plate": str(plate), "Frames": FRAMES, "Output": str(tmp_path / "out" / "clean.####.exr"),
        "JobDir": str(tmp_path / "job"), "WindowSize": "6", "Overlap": "2", "Preset": "draft",
        "WindowRange": "0-2", "InternalInpaint": shlex.join([sys.executable, "-m", "server"]),
    }
    cmd = _openjd_run(openjd, params, "--step", "Plan")
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "WindowRange=0-1" in done.stdout + done.stderr


# A stand-in for internal-inpaint that prints the arguments it was given, and a plan's last line.
_FAKE_CLI = (
    "import json, sys; print('ARGV ' + json.dumps(sys.argv[1:]));"
    " print(json.dumps({'event': 'plan', 'windows': 3, 'window_range': '0-2'}))"
)


@pytest.mark.parametrize(
    "given, wanted, unwanted",
    [
        ({}, ["--mask-channel", "A"], ["--mask", "--iterations", "--overwrite"]),
        ({"Matte": "/shots/it's here/matte.####.exr", "MatteChannel": "", "Iterations": "7"},
         ["--mask", "/shots/it's here/matte.####.exr", "--iterations", "7"], ["--mask-channel"]),
        ({"Matte": "/shots/m.####.exr", "MatteChannel": "Y", "Overwrite": "true"},
         ["--mask", "/shots/m.####.exr", "--mask-channel", "Y"], ["--iterations"]),
    ],
)
def test_plan_step_arguments(tmp_path, given, wanted, unwanted):
    openjd = _openjd()
    if openjd is None:
        pytest.skip("the openjd CLI is not installed (pip install openjd-cli)")
    plate = "/shots/my shot/plate \"A\".####.exr"
    params = _values(Plate=plate, Frames="1001-1100", WindowRange="0-2", Preset="final",
                     InternalInpaint=shlex.join([sys.executable, "-c", _FAKE_CLI]), **given)
    log = _check(_openjd_run(openjd, params, "--step", "Plan"), tmp_path)
    argv = json.loads(log.split("ARGV ", 1)[1].splitlines()[0])
    overwrite = "--overwrite" in argv
    assert overwrite == (given.get("Overwrite") == "true")
    if overwrite:
        argv.remove("--overwrite")
    options = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "plan"
    assert options["--input"] == plate and options["--frames"] == "1001-1100"
    assert options["--output"] == params["Output"] and options["--job-dir"] == params["JobDir"]
    assert (options["--window-size"], options["--overlap"], options["--preset"]) == ("40", "8", "final")
    assert options["--log-format"] == "json"
    assert all(argv[argv.index(a) + 1] == b for a, b in zip(wanted[::2], wanted[1::2]))
    assert not set(unwanted) & set(argv)
