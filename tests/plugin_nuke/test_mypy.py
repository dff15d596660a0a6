"""plugin_nuke type-checks against the types-nuke stubs (Nuke's API as typed by its users), with no blanket ignores.

mypy runs with the [tool.mypy] settings of pyproject.toml; mypy and types-nuke are pinned in the test extras.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from importlib.metadata import version

import pytest

from tests import ROOT

PLUGIN = ROOT / "plugin_nuke"


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def run_mypy(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(tmp_path / "mypy_cache"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_plugin_nuke_has_no_type_errors(tmp_path):
    done = run_mypy(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    checked = int(re.search(r"no issues found in (\d+) source files", done.stdout).group(1))
    assert checked == len(list(PLUGIN.rglob("*.py")))  # every plugin file, menu.py, init.py and record_host.py too


def test_mypy_checks_against_the_pinned_types_nuke_stubs_not_the_stand_in(tmp_path):
    pins = dict(p.split("==") for p in pyproject()["project"]["optional-dependencies"]["test"] if "==" in p)
    assert version("types-nuke") == pins["types-nuke"] and version("mypy") == pins["mypy"]
    probe = tmp_path / "probe.py"
    probe.write_text("import nuke\nnuke.root().set_frames()\nnuke.pump()\n")
    done = run_mypy(tmp_path, str(probe))  # files named here replace the configuration's ``files``
    # The stand-in has pump(); Nuke (and its stubs) do not: mypy must be reading the stubs.
    assert 'Module has no attribute "pump"' in done.stdout, done.stdout
    assert '"Root" has no attribute "set_frames"' in done.stdout, done.stdout


def test_no_error_is_ignored_wholesale():
    settings = pyproject()["tool"]["mypy"]
    overrides = settings.get("overrides", [])
    for section in [settings, *overrides]:
        assert not section.get("ignore_errors") and not section.get("ignore_missing_imports"), section
    for path in PLUGIN.rglob("*.py"):
        comments = [t.string for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
                    if t.type == tokenize.COMMENT]
        for comment in comments:
            if "type:" in comment and "ignore" in comment:
                # Allowed only as "# type: ignore[code] - reason"; there are none today.
                assert re.search(r"type:\s*ignore\[[a-z-]+(, ?[a-z-]+)*\]\s*[-#].{10,}", comment), (path, comment)
        assert "mypy:" not in " ".join(comments), f"{path} changes mypy's settings inline"
        ast.parse(path.read_text())  # (and every file still parses)
