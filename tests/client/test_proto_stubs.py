"""The checked-in gRPC stubs (client/src/internal_inpaint) are exactly what proto/generate.py makes from the .proto
files."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests import ROOT as CHECKOUT_ROOT

ROOT = str(CHECKOUT_ROOT)


def _generator():
    spec = importlib.util.spec_from_file_location("proto_generate", os.path.join(ROOT, "proto", "generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_stubs_match_the_contract(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a test dependency) generates the stubs")
    generator = _generator()
    generated = generator.generate(str(tmp_path))
    assert generated, "no .proto files found under proto/"
    for name in generated:
        with open(tmp_path / name, "rb") as fresh, open(os.path.join(generator.STUBS_ROOT, name), "rb") as checked_in:
            assert fresh.read() == checked_in.read(), (
                f"client/src/{name} is stale or was edited by hand: run `python proto/generate.py` and commit the "
                "result."
            )


def test_stubs_are_written_into_the_client_distribution():
    generator = _generator()
    assert generator.STUBS_ROOT == os.path.join(ROOT, "client", "src")
    assert generator.proto_files() == [os.path.join("internal_inpaint", "v1", "inpaint.proto")]


def test_the_client_library_imports_without_torch_or_image_libraries():
    """Host plugins run it inside Nuke/Resolve, where there is no torch, OpenImageIO or OpenCV."""
    code = (
        "import sys\n"
        "for name in ('torch', 'OpenImageIO', 'cv2', 'inpaint_core'):\n"
        "    sys.modules[name] = None  # any import of these now fails\n"
        "import internal_inpaint_client.client as c\n"
        "print(c.DEFAULT_ADDRESS)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
