"""The client distribution (client/) installs on its own, as a host's Python gets it: no torch, no checkout.

Builds and installs a copy of client/ into a fresh venv (pip takes grpcio, protobuf and numpy from PyPI, or
from its cache after the first time) and imports the client library, the stubs and the Resolve plugin there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT

CLIENT = ROOT / "client"

CHECK = """if True:
    import importlib.metadata, json, sys
    import internal_inpaint_client, internal_inpaint_client.client, internal_inpaint_client.reuse_key
    import internal_inpaint.v1.inpaint_pb2_grpc
    import internal_inpaint_resolve.dialog, internal_inpaint_resolve.job
    try:
        import torch  # noqa: F401
        torch_found = True
    except ImportError:
        torch_found = False
    distribution = importlib.metadata.distribution("internal-inpaint-client")
    print(json.dumps({
        "torch": torch_found,
        "files": [m.__file__ for m in (internal_inpaint_client, internal_inpaint.v1, internal_inpaint_resolve)],
        "version": distribution.version,
        "requires": distribution.requires,
        "heavy": sorted(m for m in ("torch", "cv2", "OpenImageIO", "inpaint_core", "server") if m in sys.modules),
    }))
"""


def test_the_client_declares_only_light_dependencies():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "internal-inpaint-client" and project["version"] == "0.1.0"
    assert project["requires-python"] == ">=3.9"
    names = {dep.split(">")[0].split("=")[0].split("<")[0].strip().lower() for dep in project["dependencies"]}
    assert names == {"grpcio", "protobuf", "numpy"}
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any("internal-inpaint-client" in dep for dep in root["dependencies"])  # not on PyPI: by path


@pytest.mark.slow
def test_the_client_installs_into_a_fresh_venv_without_torch(tmp_path):
    source = tmp_path / "client"  # a copy: the build leaves nothing in the checkout, and needs nothing beside it
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              str(source)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout + install.stderr
    check = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stderr
    found = json.loads(check.stdout)
    assert found["torch"] is False  # the host's Python needs no torch, and this venv has none
    assert found["heavy"] == []
    assert found["version"] == "0.1.0"
    assert sorted(r.split(">")[0].split(";")[0].strip().lower() for r in found["requires"]) == [
        "grpcio", "numpy", "protobuf"]
    for path in found["files"]:  # imported from the venv, not from the checkout or its copy
        assert Path(path).is_relative_to(venv), path
