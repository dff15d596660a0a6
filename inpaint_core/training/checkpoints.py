"""The one checkpoint format of every trainer: written atomically, read back with its version and kind checked.

A checkpoint (format 2) is a dict saved with torch.save::

    version          2
    kind             the trainer's: 'plain' (Trainer), 'refine' (RefineTrainer), 'propagation' (MaskPropagator),
                     'refiner' (RefinerTrainer, the guided fill's)
    compatibility    what must be equal for a run to continue it (shot, shape settings, seed, ...)
    iteration, trained_seconds, loss
    model, average, optimizer, scaler    state dicts (average and scaler None when unused)
    torch_rng, batch_rng                 the random states, so a resumed run draws what an uninterrupted one would
    extra                                the trainer's own state (its other random generators, its pseudo-labels)

Checkpoints written before the one training loop are format 1: the plain
trainer's (no kind) and the progressive refine trainer's (kind 'refine'). They
are recognised and refused with OutdatedCheckpoint, not converted: jobs catch
it, warn that they start over, and replace the checkpoint with a new one. At
most one interrupted run's training is lost, and no conversion code has to
keep the old layout's meaning alive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from inpaint_core.errors import CheckpointError, OutdatedCheckpoint, SupersededCheckpoint
from inpaint_core.io.storage import disk_full_note

CHECKPOINT_VERSION = 2
# Keys every format-2 checkpoint has; one without them was damaged or made by something else.
_REQUIRED = ("kind", "compatibility", "iteration", "model", "optimizer", "torch_rng", "extra")


def save_atomically(state: dict, path: str) -> None:
    """torch.save to a temporary file, then rename: a reader never sees half a checkpoint.

    A failed write (a full disk, mostly) raises CheckpointError and leaves the previous checkpoint as it was.
    """
    temp = f"{path}.partial-{os.getpid()}"
    try:
        # Our own handle: closed as the error leaves this block, so removing the file frees its space even while
        # the error (and torch's writer in its traceback) is still alive.
        with open(temp, "wb") as handle:
            torch.save(state, handle)
        os.replace(temp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write as RuntimeError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
        raise CheckpointError(f"Cannot write checkpoint {path}: {reason}.{disk_full_note(temp, exc)}") from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def load_checkpoint(path: str, kind: str | None = None, supersedes: Mapping[str, str] | None = None) -> dict:
    """Read a checkpoint of this format (of ``kind``, when given), with a clear CheckpointError if it is not one.

    Raises OutdatedCheckpoint (a CheckpointError) for one of an earlier format, and SupersededCheckpoint (an
    OutdatedCheckpoint) for one of a kind in ``supersedes`` (kind -> what wrote it).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"Cannot read checkpoint {path}: {exc.strerror or exc}.") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types on a corrupt file (UnpicklingError, EOFError, ...)
        # torch's own messages run over many lines and suggest weights_only=False: not for a user.
        raise CheckpointError(
            f"Checkpoint {path} is corrupt or not a checkpoint ({type(exc).__name__}); delete it to start over."
        ) from exc
    if not isinstance(state, dict) or not isinstance(state.get("version"), int) or "model" not in state:
        raise CheckpointError(f"{path} is not an InternalInpaint checkpoint; delete it or drop --resume.")
    version = state["version"]
    if version < CHECKPOINT_VERSION:
        raise OutdatedCheckpoint(path, version)
    if version > CHECKPOINT_VERSION:
        raise CheckpointError(f"Checkpoint {path} was written by a newer version of InternalInpaint (checkpoint "
                              f"format {version}); resume it with that version, or delete it to start over.")
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"Checkpoint {path} is damaged (no {', '.join(missing)}); delete it to start over.")
    if supersedes and state["kind"] in supersedes:
        raise SupersededCheckpoint(path, state["kind"], supersedes[state["kind"]])
    if kind is not None and state["kind"] != kind:
        raise CheckpointError(f"Checkpoint {path} is a {state['kind']!r} checkpoint, not a {kind!r} one: another "
                              "job's or another stage's; delete it or drop --resume.")
    return state


def check_compatible(saved: Mapping, current: Mapping, path: str, explain: Mapping[str, str] | None = None) -> None:
    """Refuse to continue a checkpoint whose ``compatibility`` differs from this run's, naming the first difference.

    ``explain`` holds a message for a key whose values mean little to a user (a shot's fingerprint, an encoding);
    ``{path}`` in it is replaced. Keys are compared in ``current``'s order, so the most telling comes first. A key
    the checkpoint lacks altogether was added by a later version: OutdatedCheckpoint (the job starts over).
    """
    for name, value in current.items():
        if saved.get(name) == value:
            continue
        if name not in saved:  # this version records more about a run than the one that wrote the checkpoint
            raise OutdatedCheckpoint(path, None, f"a checkpoint without {name!r}")
        if explain and name in explain:
            raise CheckpointError(explain[name].format(path=path))
        raise CheckpointError(
            f"Checkpoint {path} was made with {name}={saved.get(name)!r}, this run has {value!r}; "
            "use the same settings, or delete the checkpoint to start over."
        )
