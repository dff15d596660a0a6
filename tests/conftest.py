"""Fixtures shared by the server tests: a real server on loopback and a client of it."""

from __future__ import annotations

import pytest

from server_support import client_for, local_server


@pytest.fixture
def server(tmp_path):
    running = local_server(str(tmp_path / "spool"))
    yield running
    running.stop(grace=0)


@pytest.fixture
def client(server):
    """The client of ``server``; on the way out it checks that the server still answers."""
    with client_for(server) as connected:
        yield connected
        assert connected.server_info().api == "internal_inpaint.v1"
