"""Frame patterns, frame ranges and sequence resolution (inpaint_core.io.sequence)."""

from __future__ import annotations

import os

import pytest

from inpaint_core.errors import InputError, SequenceError
from inpaint_core.io.sequence import (
    SequencePattern,
    format_frame_list,
    parse_frame_range,
    resolve_sequence,
)


def _touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b"x")


# --------------------------------------------------------------------------
# SequencePattern.parse / path
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, padding",
    [
        ("plate.####.exr", 4),
        ("plate.@@@@.exr", 4),
        ("plate.%04d.exr", 4),
        ("plate.%d.exr", 1),
        ("plate.#.exr", 1),
        ("plate.%06d.exr", 6),
    ],
)
def test_parse_splits_around_the_token(pattern, padding):
    seq = SequencePattern.parse(pattern)
    assert seq.prefix == "plate."
    assert seq.suffix == ".exr"
    assert seq.padding == padding
    assert seq.pattern == pattern


@pytest.mark.parametrize(
    "pattern, frame, expected",
    [
        ("plate.####.exr", 1001, "plate.1001.exr"),
        ("plate.####.exr", 7, "plate.0007.exr"),
        ("plate.####.exr", 12345, "plate.12345.exr"),  # longer than the padding: not cut
        ("plate.####.exr", 0, "plate.0000.exr"),
        ("plate.@@@@.exr", 1001, "plate.1001.exr"),
        ("plate.@@@@.exr", 7, "plate.0007.exr"),
        ("plate.%04d.exr", 1001, "plate.1001.exr"),
        ("plate.%04d.exr", 7, "plate.0007.exr"),
        ("plate.%d.exr", 1001, "plate.1001.exr"),
        ("plate.%d.exr", 7, "plate.7.exr"),
        # Negative frames keep their sign in front of the padded digits.
        ("plate.####.exr", -7, "plate.-0007.exr"),
        ("plate.%d.exr", -7, "plate.-7.exr"),
        ("plate.@@@@.exr", -1001, "plate.-1001.exr"),
    ],
)
def test_path_of_a_frame(pattern, frame, expected):
    assert SequencePattern.parse(pattern).path(frame) == expected


def test_path_keeps_folders_and_token_anywhere_in_the_name(tmp_path):
    seq = SequencePattern.parse(str(tmp_path / "shot010" / "####_plate.exr"))
    assert seq.path(42) == str(tmp_path / "shot010" / "0042_plate.exr")
    seq = SequencePattern.parse("renders/v003/plate_%05d")
    assert seq.path(3) == "renders/v003/plate_00003"


@pytest.mark.parametrize("pattern", ["plate.exr", "plate.1001.exr", "", "plate.%s.exr"])
def test_pattern_without_a_token_is_refused(pattern):
    with pytest.raises(SequenceError) as info:
        SequencePattern.parse(pattern)
    message = str(info.value)
    assert "no frame-number token" in message
    assert repr(pattern) in message
    assert "####" in message  # tells the user what to write instead


@pytest.mark.parametrize(
    "pattern",
    ["plate.####.####.exr", "plate.####.%04d.exr", "plate_v%02d.####.exr", "plate.##@@.exr", "a%d.%d.exr"],
)
def test_pattern_with_two_tokens_is_refused(pattern):
    with pytest.raises(SequenceError) as info:
        SequencePattern.parse(pattern)
    message = str(info.value)
    assert "more than one" in message
    assert repr(pattern) in message


@pytest.mark.parametrize("pattern", ["shot_####/plate.exr", "renders/v%03d/plate.exr", "a/@@/b/plate.exr"])
def test_token_in_a_folder_name_is_refused(pattern):
    with pytest.raises(SequenceError) as info:
        SequencePattern.parse(pattern)
    assert "folder" in str(info.value)
    assert repr(pattern) in str(info.value)


def test_sequence_error_is_an_input_error():
    # Callers catch InputError for everything a user got wrong.
    with pytest.raises(InputError):
        SequencePattern.parse("plate.exr")


# --------------------------------------------------------------------------
# find_frames
# --------------------------------------------------------------------------


def test_find_frames_sees_only_this_padding_and_name(tmp_path):
    _touch(
        tmp_path,
        "plate.1001.exr",
        "plate.1003.exr",
        "plate.1002.exr",
        "plate.0007.exr",
        "plate.12345.exr",  # longer than the padding is still this sequence
        "plate.-0002.exr",  # negative frame, written by path()
        # --- to be ignored ---
        "plate.7.exr",  # unpadded
        "plate.01004.exr",  # five digits with a leading zero: another padding
        "plate.104.exr",  # too short
        "plate.1005.exr.bak",
        "plate.1006.tif",
        "plate.abcd.exr",
        "plate.1007_v2.exr",
        "other.1008.exr",
        "xplate.1009.exr",
        "plate..exr",
        "plate.1010.EXR",
        "notes.txt",
    )
    (tmp_path / "plate.2000.exr.d").mkdir()
    seq = SequencePattern.parse(str(tmp_path / "plate.####.exr"))
    assert seq.find_frames() == [-2, 7, 1001, 1002, 1003, 12345]


def test_find_frames_unpadded_ignores_padded_files(tmp_path):
    _touch(tmp_path, "plate.7.exr", "plate.10.exr", "plate.1001.exr", "plate.0042.exr", "plate.007.exr", "plate.0.exr")
    seq = SequencePattern.parse(str(tmp_path / "plate.%d.exr"))
    assert seq.find_frames() == [0, 7, 10, 1001]


def test_find_frames_three_digit_padding(tmp_path):
    _touch(tmp_path, "plate.001.exr", "plate.010.exr", "plate.0001.exr", "plate.1.exr", "plate.1000.exr")
    seq = SequencePattern.parse(str(tmp_path / "plate.@@@.exr"))
    assert seq.find_frames() == [1, 10, 1000]


def test_find_frames_treats_dots_in_the_prefix_literally(tmp_path):
    # A '.' in the pattern must not match any character.
    _touch(tmp_path, "plateX1001.exr", "plate.1002.exr", "plate.1003Xexr")
    seq = SequencePattern.parse(str(tmp_path / "plate.####.exr"))
    assert seq.find_frames() == [1002]


def test_find_frames_in_the_current_folder(tmp_path, monkeypatch):
    _touch(tmp_path, "plate.1001.exr", "plate.1002.exr")
    monkeypatch.chdir(tmp_path)
    assert SequencePattern.parse("plate.####.exr").find_frames() == [1001, 1002]


def test_find_frames_empty_folder(tmp_path):
    assert SequencePattern.parse(str(tmp_path / "plate.####.exr")).find_frames() == []


def test_find_frames_missing_folder_raises(tmp_path):
    missing = tmp_path / "nowhere"
    seq = SequencePattern.parse(str(missing / "plate.####.exr"))
    with pytest.raises(SequenceError) as info:
        seq.find_frames()
    assert str(missing) in str(info.value)


# --------------------------------------------------------------------------
# parse_frame_range
# --------------------------------------------------------------------------


def test_range_inclusive():
    frames = parse_frame_range("1001-1100")
    assert len(frames) == 100
    assert frames[0] == 1001 and frames[-1] == 1100
    assert frames == list(range(1001, 1101))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1001-1100x2", list(range(1001, 1101, 2))),
        ("1001-1010x3", [1001, 1004, 1007, 1010]),
        ("1001-1009X4", [1001, 1005, 1009]),
        ("1001-1010:5", [1001, 1006]),
        ("1001", [1001]),
        ("1001-1001", [1001]),
        ("1,5-7", [1, 5, 6, 7]),
        (" 1001 - 1003 ", [1001, 1002, 1003]),
        ("1001-1003x 2", [1001, 1003]),
        (" 1 , 5 - 7 x 2 ,\t9 ", [1, 5, 7, 9]),
        ("5-7,1", [5, 6, 7, 1]),  # order as given
        ("1-3,2-4", [1, 2, 3, 4]),  # duplicates removed
        ("-3--1", [-3, -2, -1]),
        ("-2-1", [-2, -1, 0, 1]),
        ("0", [0]),
    ],
)
def test_range_forms(text, expected):
    assert parse_frame_range(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("abc", "'abc'"),
        ("", "cannot read"),
        ("1001-", "cannot read"),
        ("1,,3", "cannot read"),
        ("1-10y2", "cannot read"),
        ("1.5", "cannot read"),
        ("1001 1002", "cannot read"),
        ("10-5", "ends before it starts"),
        ("1-10x0", "step must be at least 1"),
        ("1,10-5", "'10-5'"),
    ],
)
def test_bad_range_raises(text, fragment):
    with pytest.raises(SequenceError) as info:
        parse_frame_range(text)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------
# format_frame_list
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frames, expected",
    [
        ([], ""),
        ([1003], "1003"),
        ([1003, 1007, 1008, 1009], "1003, 1007-1009"),
        ([1009, 1003, 1008, 1007], "1003, 1007-1009"),  # sorted first
        ([1, 2, 3, 4, 5], "1-5"),
        ([1, 3, 5], "1, 3, 5"),
        ([-2, -1, 0, 2], "-2-0, 2"),
    ],
)
def test_format_frame_list_compresses_runs(frames, expected):
    assert format_frame_list(frames) == expected


def test_format_frame_list_limits_the_runs():
    frames = list(range(1, 40, 2))  # 20 single frames
    assert format_frame_list(frames, limit=3) == "1, 3, 5 (+17 more)"
    assert format_frame_list(frames) == "1, 3, 5, 7, 9, 11, 13, 15 (+12 more)"
    assert format_frame_list([1, 2, 3, 5, 6], limit=2) == "1-3, 5-6"


# --------------------------------------------------------------------------
# resolve_sequence
# --------------------------------------------------------------------------


def test_resolve_maps_frames_to_existing_files(tmp_path):
    _touch(tmp_path, "plate.1001.exr", "plate.1002.exr", "plate.1003.exr")
    pattern = str(tmp_path / "plate.####.exr")
    paths = resolve_sequence(pattern, [1001, 1003])
    assert paths == {1001: str(tmp_path / "plate.1001.exr"), 1003: str(tmp_path / "plate.1003.exr")}
    assert all(os.path.isfile(p) for p in paths.values())


def test_resolve_reports_missing_frames_by_number(tmp_path):
    _touch(tmp_path, "plate.1001.exr", "plate.1002.exr", "plate.1004.exr")
    pattern = str(tmp_path / "plate.####.exr")
    with pytest.raises(SequenceError) as info:
        resolve_sequence(pattern, parse_frame_range("1001-1008"))
    message = str(info.value)
    assert "1003" in message
    assert "1005-1008" in message
    assert "5 of 8" in message
    assert str(tmp_path / "plate.1003.exr") in message  # first missing file, in full
    assert "1001" not in message.split("missing:")[1].split("(")[0]


def test_resolve_single_missing_frame(tmp_path):
    _touch(tmp_path, "plate.1001.exr")
    with pytest.raises(SequenceError, match=r"1 of 2 frames .* missing: 1003 "):
        resolve_sequence(str(tmp_path / "plate.####.exr"), [1001, 1003])


def test_resolve_does_not_count_a_folder_as_a_frame(tmp_path):
    _touch(tmp_path, "plate.1001.exr")
    (tmp_path / "plate.1002.exr").mkdir()
    with pytest.raises(SequenceError, match="1002"):
        resolve_sequence(str(tmp_path / "plate.####.exr"), [1001, 1002])


def test_resolve_scans_the_disk_when_no_frames_are_given(tmp_path):
    _touch(tmp_path, "plate.1002.exr", "plate.1001.exr", "plate.1005.exr", "plate.7.exr", "matte.1003.exr")
    pattern = str(tmp_path / "plate.####.exr")
    paths = resolve_sequence(pattern, None)
    assert list(paths) == [1001, 1002, 1005]
    assert paths[1005] == str(tmp_path / "plate.1005.exr")


def test_resolve_scan_with_no_files_raises(tmp_path):
    _touch(tmp_path, "plate.7.exr")
    pattern = str(tmp_path / "plate.####.exr")
    with pytest.raises(SequenceError) as info:
        resolve_sequence(pattern, None)
    assert "No files match" in str(info.value)
    assert repr(pattern) in str(info.value)


def test_resolve_rejects_a_bad_pattern_first(tmp_path):
    with pytest.raises(SequenceError, match="no frame-number token"):
        resolve_sequence(str(tmp_path / "plate.exr"), [1])
