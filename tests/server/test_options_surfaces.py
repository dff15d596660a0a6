"""The surfaces generated from the options schema (internal_inpaint_client/options.py): the command line's training
flags, the server's checks of TrainingSettings and its mapping to the library, the benchmarks' variant labels.

tests/client/test_options.py holds the schema against the surfaces that keep their own copy (the contract, the
client's keywords, the library's validation); these tests check that what is generated says what the schema says,
and that a job whose surfaces set nothing trains with the default preset as it is.
"""

from __future__ import annotations

import argparse

import pytest

from benchmarks.quality import parse_variant
from inpaint_core.jobs import JobSpec
from inpaint_core.training import PRESETS, preset_settings
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.options import DEFAULT_PRESET, JOB_SPEC, OPTIONS, TRAIN_SETTINGS, Option, variants
from server.commands.cli import build_parser
from server.commands.shot_options import SHOT_TRAINING_OPTIONS, training_overrides
from server.service import specs
from server.service.errors import InvalidRequest

CLI_OPTIONS = [o for o in OPTIONS.values() if o.cli is not None]
GRPC_LIBRARY = [o for o in OPTIONS.values() if o.grpc is not None and o.library]
GRPC_RANGED = [o for o in OPTIONS.values() if o.grpc is not None and (o.low is not None or o.high is not None)]


def ids(options: list[Option]) -> list[str]:
    return [o.name for o in options]


def command_parser(command: str) -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def flags(command: str) -> dict[str, argparse.Action]:
    return {flag: action for action in command_parser(command)._actions for flag in action.option_strings}


# -- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "plan"])
def test_the_training_flags_are_the_schema_options(command):
    found = flags(command)
    expected = CLI_OPTIONS if command == "run" else [o for o in CLI_OPTIONS if o.name in SHOT_TRAINING_OPTIONS]
    assert {o.name for o in expected} >= set(SHOT_TRAINING_OPTIONS)
    for option in expected:
        action = found[option.cli.name]
        assert action.dest == option.name
        assert action.default == option.default
        assert action.metavar == option.cli.metavar
        assert action.help.replace("%%", "%").startswith(option.help)
        if option.kind is bool:
            assert isinstance(action, argparse._StoreTrueAction)
        elif option.choices:
            assert list(action.choices) == list(option.choices)
        else:
            assert action.type is option.kind


def test_the_command_line_defaults_leave_the_default_preset_as_it_is():
    """The command line sends its defaults (--seed 0, --stabilisation 0): they must be the preset's."""
    args = build_parser().parse_args(["run"])
    assert args.preset == DEFAULT_PRESET
    assert preset_settings(args.preset, **training_overrides(args)) == PRESETS[DEFAULT_PRESET]
    assert args.progressive == JobSpec(shot=None, output="").progressive


def test_the_command_line_gives_the_library_its_names_and_units():
    args = build_parser().parse_args(["run", "--time-budget", "2.5", "--iterations", "7", "--width", "12",
                                      "--stabilisation", "0.2", "--anti-ambiguity", "0.1", "--precision", "float32",
                                      "--compile", "--seed", "3"])
    assert training_overrides(args) == dict(time_budget=150.0, iterations=7, width=12, stabilisation=0.2,
                                            anti_ambiguity=0.1, precision="float32", compile=True, seed=3)


# -- the server: TrainingSettings -> the library ----------------------------------------------------


def test_a_request_that_sets_nothing_trains_the_default_preset():
    assert specs.train_settings(pb.TrainingSettings()) == PRESETS[DEFAULT_PRESET]


@pytest.mark.parametrize("option", GRPC_LIBRARY, ids=ids(GRPC_LIBRARY))
def test_each_training_field_reaches_the_library(option):
    value = "draft" if option.name == "preset" else next(c for c in option.choices if c != option.default) \
        if option.choices else {int: 3, float: 0.5, bool: True}[option.kind]
    training = pb.TrainingSettings()
    field = option.grpc.name
    if option.grpc.enum_prefix:
        enum = pb.TrainingSettings.DESCRIPTOR.fields_by_name[field].enum_type
        setattr(training, field, enum.values_by_name[option.grpc.enum_prefix + value.upper()].number)
    else:
        setattr(training, field, value)
    if option.library_on == JOB_SPEC:
        spec = pb.JobSpec(paths=pb.PathSource(plate="/shots/plate.####.exr", output="/shots/clean.####.exr"),
                          training=training)
        job = specs.library_spec(spec, "/spool/job", "cpu", 0, overwrite_own_outputs=False)
        assert getattr(job, option.library) == value
        return
    assert option.library_on == TRAIN_SETTINGS
    settings = specs.train_settings(training)
    assert getattr(settings, option.library) == pytest.approx(option.to_library(value))


def test_the_preset_field_chooses_the_preset():
    assert specs.train_settings(pb.TrainingSettings(preset="final")) == PRESETS["final"]


def _outside(option: Option) -> list[object]:
    """Values of the request's field (the surfaces' unit) just past each end the server must refuse."""
    values = []
    if option.low is not None:
        low = option.low / option.scale
        values.append(option.kind(low - 1) if option.kind is int else low - 0.5)
    high = None if option.high is None else option.high / option.scale
    if option.grpc.limit is not None:
        high = option.grpc.limit if high is None else min(high, option.grpc.limit)
    if high is not None:
        values.append(option.kind(high + 1) if option.kind is int else high * 1.01 + 1)
    return values


@pytest.mark.parametrize("option", GRPC_RANGED, ids=ids(GRPC_RANGED))
def test_each_range_is_checked_naming_the_field(option):
    for value in _outside(option):
        training = pb.TrainingSettings()
        setattr(training, option.grpc.name, value)
        with pytest.raises(InvalidRequest, match=f"training.{option.grpc.name} must be"):
            specs.train_settings(training)


def test_an_unknown_choice_names_the_field():
    with pytest.raises(InvalidRequest, match="Unknown training.preset 'ultra'; choose one of draft, standard"):
        specs.train_settings(pb.TrainingSettings(preset="ultra"))
    with pytest.raises(InvalidRequest, match=r"training.progressive 9 is not a known mode \(PROGRESSIVE_AUTO, "
                                             r"PROGRESSIVE_ON or PROGRESSIVE_OFF\)"):
        specs.train_settings(pb.TrainingSettings(progressive=9))


# -- the benchmarks' variant labels -------------------------------------------------------------------


@pytest.mark.parametrize("label, option", list(variants().items()), ids=list(variants()))
def test_each_variant_label_sets_its_library_setting(label, option):
    value = {bool: "", int: "16", float: "0.25"}[option.kind]
    name, overrides = parse_variant(f"draft+{label}{value}")
    expected = {bool: True, int: 16, float: 0.25}[option.kind]
    assert name == "draft" and overrides == {option.library: expected}
    assert type(overrides[option.library]) is option.kind
    preset_settings(name, **overrides)  # the library takes every label's setting
