"""Errors of the server, each with the gRPC status code it answers with.

Handlers raise these; the service turns them into the status and its message
(one line naming the problem), so a request can never take the server down.
"""

from __future__ import annotations

import errno
import sqlite3

import grpc


class ServiceError(Exception):
    code = grpc.StatusCode.INTERNAL


class InvalidRequest(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class JobNotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


class OutputExists(ServiceError):
    code = grpc.StatusCode.ALREADY_EXISTS


class WrongJobState(ServiceError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class JobWasCancelled(ServiceError):
    code = grpc.StatusCode.CANCELLED


class LimitExceeded(ServiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class PathRefused(ServiceError):
    code = grpc.StatusCode.PERMISSION_DENIED


class SpoolLocked(Exception):
    """Another server holds the spool (raised at start-up, not to clients)."""


class ServerConfigError(Exception):
    """The server's options cannot work together (e.g. a public address without a token)."""


def is_disk_full(exc: BaseException) -> bool:
    """The error is the spool's disk being full: a write's ENOSPC, or SQLite unable to grow its database."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


def spool_full_message(spool: str) -> str:
    return (f"The server's spool {spool} is full (no space left on its disk). Delete finished jobs "
            "(or free space on that disk) and submit again.")
