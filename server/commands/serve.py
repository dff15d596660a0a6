"""`internal-inpaint serve`: the long-lived gRPC server that owns the device.

Loopback only unless told otherwise; any other address needs a token (and
takes TLS certificates). SIGTERM or Ctrl-C drain: no new calls, the running
job is checkpointed and queued again, and the next start resumes it. This
module reads the command line; the server is server/service/serve.py.
"""

from __future__ import annotations

import argparse

from server.service import security
from server.service.jobs import ServerSettings
from server.service.serve import DEFAULT_SPOOL, serve


def add_parser(commands: argparse._SubParsersAction, exit_codes: str) -> None:
    parser = commands.add_parser(
        "serve", help="run the inpainting server (gRPC) for host plugins and farm clients",
        description=__doc__.split("\n\n")[0], epilog=exit_codes, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; others need a token)")
    parser.add_argument("--port", type=int, default=50051, help="port (default 50051; 0 picks a free one)")
    parser.add_argument("--spool", default=DEFAULT_SPOOL,
                        help=f"jobs, frames and checkpoints (default {DEFAULT_SPOOL})")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    parser.add_argument("--allow-root", action="append", default=[], metavar="DIR",
                        help="enable path mode for sequences under DIR (repeatable); without it, frames must be "
                             "uploaded")
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
    parser.set_defaults(handler=handle)


def _at_least_8(text: str) -> int:
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"must be at least 8 (got {value})")
    return value


def handle(args: argparse.Namespace) -> int:
    settings = ServerSettings(
        spool=args.spool, device=args.device, checkpoint_every=args.checkpoint_every,
        retention_hours=args.retention_hours, max_finished_jobs=args.max_finished_jobs,
        max_waiting_jobs=args.max_waiting_jobs, allowed_roots=args.allow_root,
    )
    return serve(settings, args.host, args.port, args.token_file, args.tls_cert, args.tls_key,
                 workers=args.rpc_threads, port_file=args.port_file)
