"""What every plugin_nuke test module shares: the stand-in nuke, reset for each test, the plugin's modules and a
recording client."""

from __future__ import annotations

import types

import pytest


@pytest.fixture(autouse=True)
def nuke(fake_nuke, nuke_plugin):
    """The stand-in nuke, reset for each test; the plugin is imported (and its sys.path set up) first."""
    fake_nuke.reset()
    yield fake_nuke
    assert fake_nuke.thread_violations == []  # the worker never touched a knob or a node


@pytest.fixture
def ii(nuke_plugin):
    return nuke_plugin.node


@pytest.fixture
def job(nuke_plugin):
    return nuke_plugin.job


@pytest.fixture
def render(nuke_plugin):
    return nuke_plugin.render


@pytest.fixture
def recording(monkeypatch, job):
    """The job module's client replaced by test_references' RecordingClient: its calls, not a server's."""
    from internal_inpaint_client import client as real_client
    from tests.plugin_nuke.test_references import RecordingClient

    RecordingClient.calls = []
    module = types.SimpleNamespace(InpaintClient=RecordingClient, InpaintServiceError=real_client.InpaintServiceError,
                                   is_finished=real_client.is_finished)
    monkeypatch.setattr(job, "load_client", lambda: module)
    return RecordingClient.calls
