"""Which package may import which (ARCHITECTURE.md): read from every import in the tree, inside functions too.

A lower layer that imports a higher one makes a circle sooner or later, and the
client that hosts load must never pull the library (torch) in with it.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# inpaint_core's layers, bottom first; a module may import its own layer and those below.
# The package itself, errors and device sit under every layer.
CORE_LAYERS = ("", "errors", "device", "io", "masks", "flow", "model", "inference", "training", "jobs")
_BASE = {"", "errors", "device"}

# Top-level packages each part of the tree may import (besides the standard library and third-party packages).
CLIENT_PACKAGES = {"internal_inpaint_client", "internal_inpaint", "internal_inpaint_resolve"}
PROJECT_PACKAGES = {"inpaint_core", "inpaint_eval", "server", "benchmarks", "tests", "internal_inpaint_nuke",
                    *CLIENT_PACKAGES}
ALLOWED = {
    "inpaint_core": {"inpaint_core"},
    "inpaint_eval": {"inpaint_core", "inpaint_eval"},
    "server": {"inpaint_core", "inpaint_eval", "server", *CLIENT_PACKAGES},
    "client": set(CLIENT_PACKAGES),
    "internal_inpaint_nuke": {"internal_inpaint_nuke", *CLIENT_PACKAGES},
    "benchmarks": PROJECT_PACKAGES - {"tests"},
}
# Heavy libraries the client distribution (installed into Nuke's or Resolve's Python) must not need.
CLIENT_FORBIDDEN = {"torch", "cv2", "OpenImageIO", "tqdm"}


def module_name(path: pathlib.Path) -> str:
    """The dotted name a file imports as, from the folder that holds its top-level package."""
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, tuple[str, pathlib.Path]]:
    """Every project module: dotted name -> (the part of the tree it belongs to, its file)."""
    roots = {
        "inpaint_core": ROOT, "inpaint_eval": ROOT, "server": ROOT, "benchmarks": ROOT,
        "client": ROOT / "client" / "src", "internal_inpaint_nuke": ROOT / "plugin_nuke",
    }
    found = {}
    for part, base in roots.items():
        if part == "client":
            folders = [p for p in base.iterdir() if p.is_dir()] if base.is_dir() else []
        else:
            folders = [base / part]
        for folder in folders:
            for path in folder.rglob("*.py"):
                if "_pb2" in path.name:
                    continue
                found[module_name(path.relative_to(base))] = (part, path)
    return found


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """Every module a source imports, absolute and dotted, with its line: top level and inside functions alike."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from package import module` names a module too
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


def core_layer(module: str) -> str | None:
    """The layer of an inpaint_core module ('' for the package itself), None outside inpaint_core."""
    parts = module.split(".")
    if parts[0] != "inpaint_core":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in CORE_LAYERS else ""


def violations(module: str, part: str, source: str, is_package: bool = False) -> list[str]:
    """What ``module`` (of ``part`` of the tree) imports that ARCHITECTURE.md forbids."""
    problems = []
    own_layer = core_layer(module)
    for target, line in imports_of(source, module, is_package):
        top = target.split(".")[0]
        where = f"{module} line {line} imports {target}"
        if top in PROJECT_PACKAGES and top not in ALLOWED[part]:
            problems.append(f"{where}: {part} may import only {sorted(ALLOWED[part])}")
        if part == "client" and top in CLIENT_FORBIDDEN:
            problems.append(f"{where}: the client distribution must not need {top}")
        if part == "inpaint_core" and top == "grpc":
            problems.append(f"{where}: no gRPC in the library")
        target_layer = core_layer(target)
        if own_layer is not None and target_layer is not None and target_layer not in _BASE:
            if own_layer in _BASE or CORE_LAYERS.index(target_layer) > CORE_LAYERS.index(own_layer):
                problems.append(f"{where}: layer {own_layer or 'inpaint_core'} may not import the higher layer "
                                f"{target_layer}")
    return problems


MODULES = source_files()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_respect_the_layers(module):
    part, path = MODULES[module]
    assert violations(module, part, path.read_text(), path.name == "__init__.py") == []


def test_every_part_of_the_tree_is_read():
    parts = {part for part, _ in MODULES.values()}
    assert {"inpaint_core", "inpaint_eval", "server", "benchmarks", "internal_inpaint_nuke"} <= parts
    assert {core_layer(m) for m in MODULES if core_layer(m) is not None} == set(CORE_LAYERS)


@pytest.mark.parametrize("module, part, source, expected", [
    ("inpaint_core.io.colour", "inpaint_core", "def f():\n    from inpaint_core.jobs import run_job\n",
     "layer io may not import the higher layer jobs"),
    ("inpaint_core.training.trainer", "inpaint_core", "from ..jobs.single import JobSpec\n",
     "layer training may not import the higher layer jobs"),
    ("inpaint_core.errors", "inpaint_core", "from inpaint_core.io import sequence\n",
     "layer errors may not import the higher layer io"),
    ("inpaint_core.model.generator", "inpaint_core", "import server.cli\n", "inpaint_core may import only"),
    ("inpaint_core.model.generator", "inpaint_core", "import grpc\n", "no gRPC in the library"),
    ("internal_inpaint_client.client", "client", "import torch\n", "must not need torch"),
    ("internal_inpaint_client.client", "client", "from inpaint_core.io import read_frame\n", "client may import only"),
])
def test_the_check_catches_a_forbidden_import(module, part, source, expected):
    found = violations(module, part, source)
    assert found and expected in found[0]


def test_the_check_allows_imports_downwards():
    assert violations("inpaint_core.jobs.single", "inpaint_core",
                      "from inpaint_core.training import Trainer\nfrom ..io.sequence import SequencePattern\n"
                      "from inpaint_core.errors import InputError\n") == []
