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


class Cancelled(InpaintError):
    """Training was cancelled on request; a checkpoint was saved first."""
