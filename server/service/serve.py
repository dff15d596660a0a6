"""The long-lived gRPC server that owns the device (`internal-inpaint serve`, server/commands/serve.py).

Loopback only unless told otherwise; any other address needs a token (and
takes TLS certificates). SIGTERM or Ctrl-C drain: no new calls, the running
job is checkpointed and queued again, and the next start resumes it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from inpaint_core.device import select_device
from inpaint_core.errors import InpaintError
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc

from . import security
from .errors import ServerConfigError, SpoolLocked
from .jobs import JobManager, ServerSettings
from .service import InpaintService, RequestDecoding

log = logging.getLogger("internal_inpaint.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Inpaint"].full_name
DEFAULT_SPOOL = os.path.join(os.path.expanduser("~"), ".internal_inpaint", "spool")
_MAX_MESSAGE = 8 << 20  # chunks are at most 1 MiB by default; headroom for the envelope
_DRAIN_SECONDS = 5.0


@dataclass
class RunningServer:
    """A started server; ``stop()`` drains it."""

    server: grpc.Server
    manager: JobManager
    health: health.HealthServicer
    port: int

    def stop(self, grace: float = _DRAIN_SECONDS) -> None:
        self.health.enter_graceful_shutdown()
        self.manager.stop()
        self.server.stop(grace).wait()


def start_server(settings: ServerSettings, host: str = "127.0.0.1", port: int = 50051, token: str | None = None,
                 credentials: grpc.ServerCredentials | None = None, workers: int = 64) -> RunningServer:
    """Start serving on host:port (0: any free port); raises ServerConfigError/SpoolLocked on bad settings."""
    security.check_exposure(host, token)
    try:
        device = select_device(settings.device)
    except InpaintError as exc:
        raise ServerConfigError(str(exc)) from exc
    manager = JobManager(settings, str(device))
    interceptors = [security.TokenInterceptor(token)] if token else []
    interceptors.append(RequestDecoding(f"/{SERVICE_NAME}/"))  # malformed bytes: INVALID_ARGUMENT, not INTERNAL
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)],
        maximum_concurrent_rpcs=workers * 4,
    )
    # Watchers may take all but a quarter of the threads: the rest stay free for short calls and uploads.
    pb_grpc.add_InpaintServicer_to_server(InpaintService(manager, max_watchers=workers - workers // 4), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    except RuntimeError as exc:
        manager.stop()
        raise ServerConfigError(f"Cannot listen on {address}: {exc}") from exc
    server.start()
    manager.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, manager, health_servicer, bound)


def serve(settings: ServerSettings, host: str = "127.0.0.1", port: int = 50051, token_file: str | None = None,
          tls_cert: str | None = None, tls_key: str | None = None, workers: int = 64,
          port_file: str | None = None) -> int:
    """Serve until SIGTERM or Ctrl-C, then drain; the exit code (2 when the settings are refused)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        token = security.read_token(token_file)
        credentials = security.server_credentials(tls_cert, tls_key)
        running = start_server(settings, host, port, token, credentials, workers=workers)
    except (ServerConfigError, SpoolLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if port_file:
        _write_port_file(port_file, running.port)
    log.info("serving internal_inpaint.v1 on %s:%d (device %s, spool %s%s)", host, running.port,
             running.manager.device_name, running.manager.spool.root,
             ", path mode under " + ", ".join(running.manager.roots.roots) if running.manager.roots.enabled else "")
    while not stop.wait(1.0):
        pass
    log.info("stopping: draining calls and checkpointing the running job")
    running.stop()
    log.info("stopped")
    return 0


def _write_port_file(path: str, port: int) -> None:
    temp = f"{path}.partial"
    with open(temp, "w") as handle:
        handle.write(str(port))
    os.replace(temp, path)
