"""What every plugin_nuke test module shares: the stand-in nuke, reset for each test, and the node module."""

from __future__ import annotations

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
