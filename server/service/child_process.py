"""``internal-inpaint serve`` in a child process, on a free port.

For callers that need the server in a process of its own: tests that kill it
mid-job, benchmarks that measure its memory apart from the clients'. The
child writes the port it bound to a file (``serve --port-file``); the parent
waits for that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .errors import ServerConfigError


def serve_command(spool: str, port_file: str, *extra: str, device: str = "cpu") -> list[str]:
    """The command line of a server on a free port that writes that port to ``port_file``."""
    return [sys.executable, "-m", "server", "serve", "--port", "0", "--spool", spool, "--device", device,
            "--port-file", port_file, *extra]


def wait_for_port(process: subprocess.Popen, port_file: str, timeout: float) -> int:
    """The port the child wrote to ``port_file``; ServerConfigError when it exits or is not up within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(port_file):
        code = process.poll()
        if code is not None:
            raise ServerConfigError(f"The server exited with code {code} before it was listening.")
        if time.monotonic() > deadline:
            raise ServerConfigError(f"The server was not listening within {timeout:g} s.")
        time.sleep(0.1)
    with open(port_file) as handle:
        return int(handle.read())
