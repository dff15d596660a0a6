"""What each of the library's errors means to the server's two programs: one gRPC status, one exit code.

The library raises inpaint_core.errors classes; the service answers a request that caused one with a status, the
command line ends with an exit code. Both read them here, so a new error class (or a changed meaning) is one line of
``TABLE`` and cannot answer one way on the command line and another over gRPC. A class not in ``TABLE`` takes the
entry of its nearest ancestor that is (by its MRO); ``INHERITING`` lists the classes that do so on purpose, and
tests/server/test_error_table.py fails for a class in neither.

The server's own errors (server/service/errors.py) carry their status themselves: they are not the library's.
"""

from __future__ import annotations

import grpc

from inpaint_core.errors import (
    Cancelled,
    CheckpointError,
    FrameMismatchError,
    ImageReadError,
    InpaintError,
    InputError,
    MaskError,
    NonFiniteError,
    OutdatedCheckpoint,
    OutputError,
    SequenceError,
    SupersededCheckpoint,
    WarmStartRefused,
)

# The command line's exit codes, with what `internal-inpaint --help` says of each.
EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_OUTPUT, EXIT_CHECKPOINT, EXIT_CANCELLED = 0, 1, 2, 3, 4, 130
EXIT_CODE_MEANINGS: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_INTERNAL: "unexpected internal error (please report it, with --debug output)",
    EXIT_INPUT: "bad input or usage: the message names the file, frame or option",
    EXIT_OUTPUT: "outputs cannot be written (would overwrite, no permission)",
    EXIT_CHECKPOINT: "checkpoint unusable (corrupt, or made for another shot or settings)",
    EXIT_CANCELLED: "cancelled (Ctrl-C); a checkpoint was saved, continue with --resume",
}

Code = grpc.StatusCode

TABLE: dict[type[InpaintError], tuple[grpc.StatusCode, int]] = {
    # An error the library raises without saying what kind it is: a gap in the library's classes, so the
    # command line calls it internal (please report it) and the service does too.
    InpaintError: (Code.INTERNAL, EXIT_INTERNAL),
    # The plate, the matte or the settings as given: the request (or the command line) has to change.
    InputError: (Code.INVALID_ARGUMENT, EXIT_INPUT),
    # The outputs cannot be written where asked; the service's path jobs meet this as outputs that exist already.
    OutputError: (Code.ALREADY_EXISTS, EXIT_OUTPUT),
    # A checkpoint of another shot or settings, or a damaged one: the job cannot go on from where it stood.
    CheckpointError: (Code.FAILED_PRECONDITION, EXIT_CHECKPOINT),
    # Stopped on request, a checkpoint saved first.
    Cancelled: (Code.CANCELLED, EXIT_CANCELLED),
}

# Subclasses that mean what their base means: each is a finer message of its base's kind of failure.
INHERITING: tuple[type[InpaintError], ...] = (
    SequenceError, ImageReadError, FrameMismatchError, MaskError, NonFiniteError,  # InputError
    OutdatedCheckpoint,  # CheckpointError (jobs meeting one start over instead; resuming from it still fails)
    SupersededCheckpoint,  # the same: another trainer's checkpoint this one replaces
    WarmStartRefused,  # InpaintError: jobs turn it into a warning and start cold; escaping one is a bug
)


def entry(exc: InpaintError | type[InpaintError]) -> tuple[grpc.StatusCode, int]:
    """The (status, exit code) of an error or error class: its own entry, else its nearest listed ancestor's."""
    cls = exc if isinstance(exc, type) else type(exc)
    for klass in cls.__mro__:
        if klass in TABLE:
            return TABLE[klass]
    raise TypeError(f"{cls.__name__} is not an InpaintError")


def grpc_status(exc: InpaintError | type[InpaintError]) -> grpc.StatusCode:
    """The status the service answers a request with when the library refused it with ``exc``."""
    return entry(exc)[0]


def exit_code(exc: InpaintError | type[InpaintError]) -> int:
    """The exit code the command line ends with when the library refused the job with ``exc``."""
    return entry(exc)[1]
