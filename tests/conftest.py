"""Fixtures shared by the tests: a real server on loopback and a client of it; the Nuke stand-in and plugin."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.server_support import client_for, local_server

ROOT = Path(__file__).resolve().parents[1]
FAKE_NUKE = ROOT / "tests" / "fake_nuke"  # holds the stand-in module `nuke`
PLUGIN_NUKE = ROOT / "plugin_nuke"  # the folder a user puts on NUKE_PATH


@pytest.fixture
def start_server(tmp_path):
    """Starts servers on loopback with a test's own settings (``local_server``'s), each on a spool of its own
    under tmp_path unless one is given; every server started is stopped when the test ends, passed or failed."""
    started = []

    def start(spool: str | None = None, **settings: object):
        running = local_server(spool or str(tmp_path / ("spool" if not started else f"spool{len(started)}")),
                               **settings)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(grace=0)


@pytest.fixture
def server(start_server):
    """A server with the default settings (of tests/server_support.py)."""
    return start_server()


@pytest.fixture(scope="module")
def job_root(tmp_path_factory):
    """A module's job folder, as a host's: the folder ``path_server`` may read and write."""
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def path_server(job_root, tmp_path_factory):
    """One server for a test module, allowed to read and write under ``job_root`` (path-mode jobs, as the plugins
    submit them); module-scoped because starting a server per test would dominate the plugins' tests."""
    running = local_server(str(tmp_path_factory.mktemp("spool")), allowed_roots=[str(job_root)])
    yield running
    running.stop(grace=0)


@pytest.fixture
def client(server):
    """The client of ``server``; on the way out it checks that the server still answers."""
    with client_for(server) as connected:
        yield connected
        assert connected.server_info().api == "internal_inpaint.v1"


@pytest.fixture(scope="session")
def fake_nuke():
    """The stand-in ``nuke`` module (tests/fake_nuke), with plugin_nuke/ on sys.path as Nuke puts a NUKE_PATH
    folder there. The folders stay on sys.path until the session ends: the plugin's modules import each other."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(PLUGIN_NUKE))
        patch.syspath_prepend(str(FAKE_NUKE))
        nuke = importlib.import_module("nuke")
        assert Path(nuke.__file__).parent.parent == FAKE_NUKE, f"not the stand-in: {nuke.__file__}"
        yield nuke


@pytest.fixture(scope="session")
def nuke_plugin(fake_nuke):
    """The Nuke plugin's package, ``internal_inpaint_nuke``, imported as Nuke imports it (with the client)."""
    plugin = importlib.import_module("internal_inpaint_nuke")
    assert Path(plugin.__file__).parent.parent == PLUGIN_NUKE
    for name in ("commands", "install", "job", "node", "render"):
        importlib.import_module(f"internal_inpaint_nuke.{name}")
    return plugin
