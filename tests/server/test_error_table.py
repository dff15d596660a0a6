"""The one table of what the library's errors mean (server/error_table.py): a gRPC status and an exit code each.

Every InpaintError subclass must have an entry or be listed as taking its base's; the command line's exit codes
and the service's statuses must both come from the table (patching one entry changes both).
"""

from __future__ import annotations

import json

import grpc
import pytest

from inpaint_core import errors
from inpaint_core.errors import Cancelled, InpaintError, InputError, MaskError, OutdatedCheckpoint
from internal_inpaint_client.client import InpaintServiceError
from server import error_table
from server.commands.cli import EXIT_CODES, main
from server.commands.console import run_reporting_errors
from server.error_table import EXIT_CODE_MEANINGS, INHERITING, TABLE, entry, exit_code, grpc_status
from tests.server_support import client_for

Code = grpc.StatusCode


def all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *all_subclasses(sub)]
    return found


# The library's own classes (tests may define subclasses of their own).
LIBRARY_ERRORS = [InpaintError] + [c for c in all_subclasses(InpaintError) if c.__module__ == errors.__name__]


def test_the_walk_finds_the_library_classes():
    assert {c.__name__ for c in LIBRARY_ERRORS} >= {"InputError", "SequenceError", "ImageReadError",
                                                   "FrameMismatchError", "MaskError", "NonFiniteError",
                                                   "OutputError", "CheckpointError", "OutdatedCheckpoint", "Cancelled"}


@pytest.mark.parametrize("cls", LIBRARY_ERRORS, ids=[c.__name__ for c in LIBRARY_ERRORS])
def test_every_library_error_has_an_entry_or_inherits_one_on_purpose(cls):
    assert (cls in TABLE) != (cls in INHERITING), f"{cls.__name__}: add it to TABLE or to INHERITING"
    if cls in INHERITING:
        base = next(k for k in cls.__mro__[1:] if k in TABLE)
        assert entry(cls) == TABLE[base]


def test_the_entries_are_the_documented_codes():
    assert {cls.__name__: value for cls, value in TABLE.items()} == {
        "InpaintError": (Code.INTERNAL, 1),
        "InputError": (Code.INVALID_ARGUMENT, 2),
        "OutputError": (Code.ALREADY_EXISTS, 3),
        "CheckpointError": (Code.FAILED_PRECONDITION, 4),
        "Cancelled": (Code.CANCELLED, 130),
    }
    assert {code for _, code in TABLE.values()} <= set(EXIT_CODE_MEANINGS)
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f"  {code:<2} {meaning}" in EXIT_CODES.splitlines()


def test_the_most_specific_entry_wins():
    class FinerMaskError(MaskError):
        pass

    assert grpc_status(FinerMaskError("x")) == Code.INVALID_ARGUMENT and exit_code(FinerMaskError) == 2
    assert exit_code(OutdatedCheckpoint("c.pt", 1)) == 4
    with pytest.raises(TypeError):
        entry(ValueError("not the library's"))


# -- both programs read the table ------------------------------------------------------------------


def test_the_command_line_exit_code_comes_from_the_table(tmp_path, capsys, monkeypatch):
    run = ["run", "--input", str(tmp_path / "missing.####.exr"), "--output", str(tmp_path / "out.####.exr"),
           "--quiet", "--log-format", "json"]
    assert main(run) == 2  # a SequenceError: InputError's entry
    monkeypatch.setitem(TABLE, InputError, (Code.INVALID_ARGUMENT, 42))
    capsys.readouterr()
    assert main(run) == 42
    error = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert error["event"] == "error" and error["exit_code"] == 42


def test_the_command_line_cancel_code_comes_from_the_table(monkeypatch, capsys):
    def cancelled() -> int:
        raise Cancelled("Training cancelled at iteration 3.")

    assert run_reporting_errors(cancelled) == 130
    monkeypatch.setitem(TABLE, Cancelled, (Code.CANCELLED, 77))
    assert run_reporting_errors(cancelled) == 77
    assert "cancelled: Training cancelled at iteration 3. Continue with --resume." in capsys.readouterr().err


def test_the_service_status_comes_from_the_table(server, monkeypatch):
    with client_for(server) as client:
        def bad_range() -> str:
            return client.submit_paths("/shots/plate.####.exr", "/shots/clean.####.exr", frames="1001-banana",
                                       preset="draft", iterations=2)

        with pytest.raises(InpaintServiceError) as refused:
            bad_range()
        assert refused.value.code == Code.INVALID_ARGUMENT and "1001-banana" in refused.value.message
        monkeypatch.setitem(TABLE, InputError, (Code.FAILED_PRECONDITION, 2))
        with pytest.raises(InpaintServiceError) as refused:
            bad_range()
        assert refused.value.code == Code.FAILED_PRECONDITION
        assert client.server_info().api == "internal_inpaint.v1"


def test_the_table_module_is_what_both_programs_import():
    from server.commands import console
    from server.service import service

    assert console.exit_code is error_table.exit_code
    assert service.grpc_status is error_table.grpc_status
