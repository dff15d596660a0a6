"""The options schema (internal_inpaint_client/options.py) against every surface that keeps its own copy.

The command line, the server's checks and the benchmarks' labels are generated from the schema
(tests/server/test_options_surfaces.py checks them); what is written out elsewhere is compared here: the
contract's TrainingSettings (read from the stubs), the client's keyword arguments, the library's settings and
their validation, the presets the plugins offer. Each test fails when one of them drifts from the schema.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import math
import pathlib

import pytest
from google.protobuf.descriptor import FieldDescriptor

from inpaint_core.errors import InputError
from inpaint_core.jobs import JobSpec
from inpaint_core.jobs.progressive import MODES as PROGRESSIVE_MODES
from inpaint_core.jobs.types import FILL_MODES, WARM_START_MODES
from inpaint_core.jobs.types import SEEN_CHANNEL as LIBRARY_SEEN_CHANNEL
from inpaint_core.training import PRESETS as LIBRARY_PRESETS
from inpaint_core.training import TrainSettings
from inpaint_core.training.precision import PRECISION_CHOICES
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client import client as client_module
from internal_inpaint_client import options as schema
from internal_inpaint_client import plugin_support
from internal_inpaint_client.client import InpaintClient
from internal_inpaint_client.options import JOB_SPEC, OPTIONS, TRAIN_SETTINGS, Option

OPTIONS_FILE = pathlib.Path(schema.__file__)
GRPC_OPTIONS = [o for o in OPTIONS.values() if o.grpc is not None]
CLIENT_OPTIONS = [o for o in OPTIONS.values() if o.client is not None]
LIBRARY_OPTIONS = [o for o in OPTIONS.values() if o.library is not None]
RANGED_OPTIONS = [o for o in LIBRARY_OPTIONS
                  if o.library_on == TRAIN_SETTINGS and (o.low is not None or o.high is not None)]

# The client's keyword arguments that are not training options: the matte, the source, the job's name.
NOT_TRAINING = {"frames", "channels", "plate", "output", "matte", "overwrite", "name", "matte_channel", "threshold",
                "dilate", "inpaint_non_finite", "mask_frame", "references"}
CLIENT_FUNCTIONS = {
    "submit_arrays": InpaintClient.submit_arrays,
    "submit_paths": InpaintClient.submit_paths,
    "_job_spec": client_module._job_spec,
}

_INTEGER_TYPES = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
                  FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64}
_FLOAT_TYPES = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


def ids(options: list[Option]) -> list[str]:
    return [o.name for o in options]


def sample(option: Option) -> object:
    """A valid value that differs from the option's "unset": what a surface must carry through unchanged."""
    if option.choices:
        return next(c for c in reversed(option.choices) if c != option.default)
    if option.kind is bool:
        return True
    if option.kind is int:
        return 3
    if option.kind is str:
        return "a1b2c3"  # free text: a job id
    return 0.5


# -- the schema itself -------------------------------------------------------------------


def test_the_schema_imports_only_the_standard_library():
    """Hosts import it before grpc, and the benchmarks and the server without the client's dependencies."""
    tree = ast.parse(OPTIONS_FILE.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    assert imported <= {"__future__", "math", "dataclasses", "typing"}, imported


@pytest.mark.parametrize("option", OPTIONS.values(), ids=ids(list(OPTIONS.values())))
def test_each_option_is_consistent_with_itself(option):
    assert option.kind in (int, float, bool, str)
    assert not option.choices or option.kind is str
    if option.default is not None:
        assert isinstance(option.default, option.kind)
        assert option.problem(option.default, option.name) is None, "the default is outside the option's own range"
    if option.scale != 1.0:
        assert option.unit and option.library_unit and option.unit != option.library_unit
    if option.cli is not None:
        # argparse's dest is the option's name: the command line reads args.<name>
        assert option.cli.name == "--" + option.name.replace("_", "-")


def test_names_flags_keywords_and_labels_are_unique():
    for surface in ("cli", "grpc", "client", "variant"):
        values = [getattr(o, surface) for o in OPTIONS.values() if getattr(o, surface) is not None]
        assert len(values) == len(set(values)), surface
    assert len(OPTIONS) == len(schema._OPTIONS)


def test_no_variant_label_is_the_start_of_another():
    """parse_variant takes the first prefix that matches: 'seed1' must not be read as another label's."""
    labels = list(schema.variants())
    for label in labels:
        assert not [other for other in labels if other != label and other.startswith(label)], label


def test_the_range_check_names_the_bound_and_the_value():
    assert OPTIONS["iterations"].problem(0, "training.iterations", limit=10_000_000) == \
        "training.iterations must be between 1 and 10000000 (got 0)."
    assert OPTIONS["iterations"].problem(10_000_001, "training.iterations", limit=10_000_000) is not None
    assert OPTIONS["preview_every"].problem(-1, "training.preview_every") == \
        "training.preview_every must be 0 or more (got -1)."
    assert OPTIONS["ema"].problem(1.0, "ema") == "ema must be at least 0 and below 1 (got 1)."
    assert OPTIONS["learning_rate"].problem(0.0, "lr") == "lr must be more than 0 (got 0)."
    assert OPTIONS["stabilisation"].problem(math.nan, "x") == "x must be a finite number."
    budget = OPTIONS["time_budget"].problem(-5.0, "training.time_budget_minutes")
    assert budget.startswith("training.time_budget_minutes must be between 0 and 166666.67 minutes (got -5)")
    assert "time_budget (seconds) must be between 0 and 10000000" in budget
    assert OPTIONS["preset"].problem("ultra", "training.preset") == \
        "Unknown training.preset 'ultra'; choose one of draft, standard, final, wide."


# -- the library ------------------------------------------------------------------------------


@pytest.mark.parametrize("option", LIBRARY_OPTIONS, ids=ids(LIBRARY_OPTIONS))
def test_each_library_name_is_a_setting_of_the_library(option):
    owner = {TRAIN_SETTINGS: TrainSettings, JOB_SPEC: JobSpec}[option.library_on]
    assert option.library in {f.name for f in dataclasses.fields(owner)}


def test_the_library_settings_the_surfaces_set_are_in_the_schema():
    """Every TrainSettings field is an option, but those no surface sets (two_stage: a preset's choice) and those
    the server or the command line set for every job of theirs (checkpoint_every)."""
    named = {o.library for o in LIBRARY_OPTIONS if o.library_on == TRAIN_SETTINGS}
    assert {f.name for f in dataclasses.fields(TrainSettings)} - named == {"two_stage", "checkpoint_every"}


@pytest.mark.parametrize("option", [o for o in LIBRARY_OPTIONS if o.default is not None],
                         ids=ids([o for o in LIBRARY_OPTIONS if o.default is not None]))
def test_a_default_is_what_every_preset_has(option):
    """The command line sends an option's default explicitly (--seed 0): a preset with another value would be
    overridden on the command line and not over gRPC, where the field stays unset."""
    if option.library_on == JOB_SPEC:
        assert getattr(JobSpec(shot=None, output=""), option.library) == option.default
        return
    for name, settings in LIBRARY_PRESETS.items():
        assert getattr(settings, option.library) == option.default, name


def _just(bound: float, kind: type, direction: int) -> float:
    step = 1 if kind is int else 1e-6 * max(1.0, abs(bound))
    return bound + direction * step


def _ends(option: Option) -> list[tuple[float, bool]]:
    """(library value, valid?) just inside and just outside each end of the option's range."""
    cases = []
    if option.low is not None:
        cases += [(_just(option.low, option.kind, +1) if option.low_open else option.low, True),
                  (option.low if option.low_open else _just(option.low, option.kind, -1), False)]
    else:
        cases.append((-1e6, True))
    if option.high is not None:
        cases += [(_just(option.high, option.kind, -1) if option.high_open else option.high, True),
                  (option.high if option.high_open else _just(option.high, option.kind, +1), False)]
    else:
        cases.append((10**6, True))
    return [(option.kind(value), valid) for value, valid in cases]


@pytest.mark.parametrize("option", RANGED_OPTIONS, ids=ids(RANGED_OPTIONS))
def test_the_range_is_the_library_validation(option):
    """Just inside each end the library takes the value, just outside it refuses it, and the schema agrees."""
    for value, valid in _ends(option):
        surface_value = value / option.scale if option.scale != 1.0 else value
        if valid:
            TrainSettings(**{option.library: value})
            assert option.problem(surface_value, option.name) is None, value
        else:
            with pytest.raises(InputError, match=option.library):
                TrainSettings(**{option.library: value})
            assert option.problem(surface_value, option.name) is not None, value


def test_the_choices_are_the_library_choices():
    assert OPTIONS["preset"].choices == tuple(LIBRARY_PRESETS)
    assert OPTIONS["precision"].choices == tuple(PRECISION_CHOICES)
    assert OPTIONS["progressive"].choices == tuple(PROGRESSIVE_MODES)
    assert OPTIONS["fill"].choices == tuple(FILL_MODES)
    assert OPTIONS["warm_start"].choices == tuple(WARM_START_MODES)
    with pytest.raises(InputError, match="precision"):
        TrainSettings(precision="float8")
    with pytest.raises(InputError, match="fill mode 'best'; choose one of guided, paper, propagation"):
        JobSpec(shot=None, output="", fill="best")


def test_the_seen_channel_is_the_library_channel():
    """The client names the extra channel of a download (result_channels) without importing the library."""
    assert schema.SEEN_CHANNEL == LIBRARY_SEEN_CHANNEL
    assert client_module.SEEN_CHANNEL == LIBRARY_SEEN_CHANNEL


def test_an_unknown_fill_names_the_option():
    assert OPTIONS["fill"].problem("best", "training.fill") == \
        "Unknown training.fill 'best'; choose one of guided, paper, propagation."
    assert OPTIONS["fill"].problem("propagation", "training.fill") is None
    assert OPTIONS["seen_channel"].problem(True, "training.seen_channel") is None


def test_the_plugins_offer_the_library_presets():
    from internal_inpaint_resolve import job as resolve_job

    assert tuple(plugin_support.PRESETS) == tuple(LIBRARY_PRESETS) == schema.PRESETS
    assert schema.DEFAULT_PRESET in LIBRARY_PRESETS
    assert resolve_job.DEFAULT_PRESET == schema.DEFAULT_PRESET


# -- the contract (gRPC) ----------------------------------------------------------------------


def test_every_training_field_of_the_contract_is_an_option_and_back():
    fields = {f.name for f in pb.TrainingSettings.DESCRIPTOR.fields}
    assert fields == {o.grpc.name for o in GRPC_OPTIONS}


@pytest.mark.parametrize("option", GRPC_OPTIONS, ids=ids(GRPC_OPTIONS))
def test_each_training_field_has_the_option_type_and_presence(option):
    field = pb.TrainingSettings.DESCRIPTOR.fields_by_name[option.grpc.name]
    assert field.has_presence == option.grpc.optional, "proto3 `optional` <-> GrpcField.optional"
    if option.grpc.enum_prefix:
        assert field.type == FieldDescriptor.TYPE_ENUM
        names = [v.name for v in field.enum_type.values]
        assert names == [option.grpc.enum_prefix + c.upper() for c in option.choices]
        assert field.enum_type.values_by_number[0].name == option.grpc.enum_prefix + str(option.grpc.unset).upper()
    elif option.kind is str:
        assert field.type == FieldDescriptor.TYPE_STRING
    elif option.kind is int:
        assert field.type in _INTEGER_TYPES
    elif option.kind is float:
        assert field.type in _FLOAT_TYPES
    else:
        assert field.type == FieldDescriptor.TYPE_BOOL
    if not option.grpc.optional and not option.grpc.enum_prefix:
        assert field.default_value == option.grpc.unset, "a plain field's 'unset' is its zero value"
    if option.grpc.limit is not None and field.type == FieldDescriptor.TYPE_INT32:
        assert option.grpc.limit < 2**31


# -- the client's keyword arguments ------------------------------------------------------------


@pytest.mark.parametrize("function", CLIENT_FUNCTIONS, ids=list(CLIENT_FUNCTIONS))
def test_the_client_keywords_are_the_schema_options(function):
    parameters = inspect.signature(CLIENT_FUNCTIONS[function]).parameters
    for option in CLIENT_OPTIONS:
        assert option.client in parameters, f"{function} has no keyword {option.client}"
        parameter = parameters[option.client]
        assert parameter.kind == inspect.Parameter.KEYWORD_ONLY, option.client
        assert parameter.default == option.client_default, option.client
        assert type(parameter.default) is type(option.client_default), option.client
    training = set(parameters) - NOT_TRAINING - {"self"}
    assert training == {o.client for o in CLIENT_OPTIONS}, "a keyword the schema does not declare (or lost)"


@pytest.mark.parametrize("option", CLIENT_OPTIONS, ids=ids(CLIENT_OPTIONS))
def test_each_client_keyword_reaches_its_field(option):
    value = sample(option)
    training = client_module._job_spec(**{option.client: value}).training
    field = option.grpc.name
    if option.grpc.enum_prefix:
        enum = pb.TrainingSettings.DESCRIPTOR.fields_by_name[field].enum_type
        assert getattr(training, field) == enum.values_by_name[option.grpc.enum_prefix + value.upper()].number
    elif option.kind is float:
        assert getattr(training, field) == pytest.approx(value)
    else:
        assert getattr(training, field) == value
    if option.grpc.optional:
        assert not client_module._job_spec().training.HasField(field), "unset by default: the server's default"
