"""server.service.child_process: waiting for a child server's port, and its failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from server.service.child_process import serve_command, wait_for_port
from server.service.errors import ServerConfigError


def test_the_command_serves_on_a_free_port_and_reports_it():
    command = serve_command("/spool", "/tmp/port", "--workers", "2", device="cuda")
    assert command[:3] == [sys.executable, "-m", "server"] and command[3] == "serve"
    assert command[command.index("--port") + 1] == "0" and command[command.index("--port-file") + 1] == "/tmp/port"
    assert command[command.index("--device") + 1] == "cuda" and command[-2:] == ["--workers", "2"]


def test_the_port_is_read_once_the_child_writes_it(tmp_path):
    port_file = tmp_path / "port"
    script = f"import time; time.sleep(0.3); open({str(port_file)!r}, 'w').write('4321')"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_for_port(child, str(port_file), timeout=30) == 4321
    finally:
        child.wait(30)


def test_a_child_that_exits_first_is_reported_with_its_code(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(ServerConfigError, match="exited with code 3"):
        wait_for_port(child, str(tmp_path / "port"), timeout=30)


def test_a_child_that_never_listens_times_out(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(ServerConfigError, match="not listening within 0.5 s"):
            wait_for_port(child, str(tmp_path / "port"), timeout=0.5)
    finally:
        child.kill()
        child.wait(30)
