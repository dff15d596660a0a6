"""`internal-inpaint serve`: the long-lived gRPC server that owns the device.

Loopback only unless told otherwise; any other address needs a token (and
takes TLS certificates). SIGTERM or Ctrl-C drain: no new calls, the running
job is checkpointed and queued again, and the next start resumes it.
"""

from __future__ import annotations

import argparse
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
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint.v1 import inpaint_pb2_grpc as pb_grpc

from inpaint_core.device import select_device
from inpaint_core.errors import InpaintError

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


def add_parser(commands: argparse._SubParsersAction, exit_codes: str) -> None:
    parser = commands.add_parser(
        "serve", help="run the inpainting server (gRPC) for host plugins and farm clients",
        description=__doc__.split("\n\n")[0], epilog=exit_codes, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; others need a token)")
    parser.add_argument("--port", type=int, default=50051, help="port (default 50051; 0 picks a free one)")
    parser.add_argument("--spool", default=DEFAULT_SPOOL, help=f"jobs, frames and checkpoints (default {DEFAULT_SPOOL})")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--allow-root", action="append", default=[], metavar="DIR",
                        help="enable path mode for sequences under DIR (repeatable); without it, frames must be uploaded")
    parser.add_argument("--token-file", help=f"file whose first line is the token clients must send "
                                             f"(or set {security.TOKEN_ENV}); required off loopback")
    parser.add_argument("--tls-cert", help="PEM certificate chain, to serve TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                        help="save a job's checkpoint every N iterations (default 100)")
    parser.add_argument("--retention-hours", type=float, default=168.0,
                        help="delete finished jobs this long after they end (default 168 = a week)")
    parser.add_argument("--max-finished-jobs", type=int, default=200,
                        help="keep at most this many finished jobs, deleting the oldest (default 200)")
    parser.add_argument("--max-waiting-jobs", type=int, default=64, help="refuse new jobs beyond this many waiting")
    parser.add_argument("--rpc-threads", type=_at_least_8, default=64, metavar="N",
                        help="threads serving calls (default 64); each client watching a job holds one, and "
                             "watchers may take three quarters of them (more watch by polling, a little later)")
    parser.add_argument("--port-file", help="write the bound port to this file once listening (for scripts)")
    parser.set_defaults(handler=run)


def _at_least_8(text: str) -> int:
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"must be at least 8 (got {value})")
    return value


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = ServerSettings(
        spool=args.spool, device=args.device, checkpoint_every=args.checkpoint_every,
        retention_hours=args.retention_hours, max_finished_jobs=args.max_finished_jobs,
        max_waiting_jobs=args.max_waiting_jobs, allowed_roots=args.allow_root,
    )
    try:
        token = security.read_token(args.token_file)
        credentials = security.server_credentials(args.tls_cert, args.tls_key)
        running = start_server(settings, args.host, args.port, token, credentials, workers=args.rpc_threads)
    except (ServerConfigError, SpoolLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.port_file:
        _write_port_file(args.port_file, running.port)
    log.info("serving internal_inpaint.v1 on %s:%d (device %s, spool %s%s)", args.host, running.port,
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
