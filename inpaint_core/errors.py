"""Every error the library raises on purpose.

Each carries a message a compositor or pipeline TD can act on: it names the
file, frame or option at fault and, where there is one, the fix.
"""

from __future__ import annotations


class InpaintError(Exception):
    """Base class: anything the library refuses or cannot do."""


class InputError(InpaintError):
    """The plate, the matte or the settings are not usable as given."""


class SequenceError(InputError):
    """A frame pattern or range is malformed, or frames are missing."""


class ImageReadError(InputError):
    """A file cannot be opened or decoded as an image."""


class FrameMismatchError(InputError):
    """Frames of one shot disagree in size, channels or windows."""


class MaskError(InputError):
    """The matte is unusable: missing channel, full, or wrong size."""


class NonFiniteError(InputError):
    """The plate holds NaN or infinite pixel values."""


class OutputError(InpaintError):
    """Results cannot be written where asked (would overwrite, no permission)."""


class CheckpointError(InpaintError):
    """A checkpoint is missing, corrupt or belongs to another job."""


class OutdatedCheckpoint(CheckpointError):
    """A checkpoint written by an earlier version, in a format this one does not resume.

    Jobs start over when they meet one (with a warning) instead of failing: it is no fault of the
    user's, and refusing would leave a farm or a server stuck on a job it could simply run again.
    """

    def __init__(self, path: str, version: object, what: str | None = None):
        self.path, self.version = path, version
        self.what = what or f"checkpoint format {version}"  # what the earlier version wrote, for messages
        super().__init__(f"Checkpoint {path} was written by an earlier version of InternalInpaint ({self.what}), "
                         "which this version does not resume; delete it to start over.")


class SupersededCheckpoint(OutdatedCheckpoint):
    """A checkpoint of this format but of a trainer the job no longer uses (the guided fill's network before the
    propagation refiner): started over like an outdated one."""

    def __init__(self, path: str, kind: str, description: str):
        super().__init__(path, kind, f"a {kind!r} checkpoint of {description}")


class Cancelled(InpaintError):
    """Training was cancelled on request; a checkpoint was saved first."""


class WarmStartRefused(InpaintError):
    """A finished network cannot seed this job (another shot, network or plate); the job starts cold and says why.

    Never reaches a user as a failure: jobs catch it and report it as a warning. ``related``: the checkpoint was
    trained on some of this plate's very pixels (an unrelated shot's refusal is not worth a job's warning).
    """

    def __init__(self, message: str, related: bool = False):
        super().__init__(message)
        self.related = related
