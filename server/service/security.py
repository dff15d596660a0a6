"""Who may talk to the server: loopback by default; elsewhere only with a token, optionally over TLS.

The token travels as call metadata (``authorization: Bearer <token>``) and is
compared in constant time. Health checks stay open so that a load balancer or
a farm's monitor can probe the server without the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket

import grpc

from .errors import ServerConfigError

TOKEN_ENV = "INTERNAL_INPAINT_TOKEN"
_OPEN_METHODS = ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False


def read_token(token_file: str | None) -> str | None:
    """The token from a file (first line) or the environment; None when neither is set."""
    if token_file:
        try:
            with open(token_file) as handle:
                token = handle.readline().strip()
        except OSError as exc:
            raise ServerConfigError(f"Cannot read the token file {token_file}: {exc.strerror}.") from exc
        if not token:
            raise ServerConfigError(f"The token file {token_file} is empty.")
        return token
    return os.environ.get(TOKEN_ENV) or None


def check_exposure(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ServerConfigError(
            f"Listening on {host} lets other machines connect: give a token with --token-file FILE or the "
            f"{TOKEN_ENV} environment variable (and preferably --tls-cert/--tls-key), or listen on 127.0.0.1."
        )


def server_credentials(cert_file: str | None, key_file: str | None) -> grpc.ServerCredentials | None:
    if not cert_file and not key_file:
        return None
    if not (cert_file and key_file):
        raise ServerConfigError("TLS needs both --tls-cert and --tls-key.")
    try:
        with open(cert_file, "rb") as cert, open(key_file, "rb") as key:
            return grpc.ssl_server_credentials([(key.read(), cert.read())])
    except OSError as exc:
        raise ServerConfigError(f"Cannot read the TLS files: {exc.filename}: {exc.strerror}.") from exc


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses every call without the right bearer token (health checks excepted)."""

    def __init__(self, token: str):
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method in _OPEN_METHODS:
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        given = given.encode() if isinstance(given, str) else given
        if hmac.compare_digest(given, self._expected):
            return handler
        reason = "missing" if not given else "wrong"
        return _refusal(handler, f"The server needs a token and the one given is {reason}: "
                                 "pass the server's token to the client.")


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that fails with UNAUTHENTICATED."""

    def refuse(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)
