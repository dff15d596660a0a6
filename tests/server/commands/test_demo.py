"""The demo command: self-contained, writes EXRs and a contact sheet, never clobbers a foreign folder."""

from __future__ import annotations

import os

import pytest

from inpaint_core.io.image_files import read_frame
from server.commands.cli import main

SMALL = ["--frames", "4", "--size", "64x48", "--iterations", "3", "--device", "cpu"]


@pytest.mark.slow
def test_demo_writes_plate_result_and_contact_sheet(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo", "--output", str(folder), *SMALL]) == 0
    err = capsys.readouterr().err
    assert "contact_sheet.png" in err and "PSNR inside the hole" in err
    written = sorted(n for n in os.listdir(folder / "clean") if n.endswith(".exr"))
    assert written == [f"clean.{f}.exr" for f in range(1001, 1005)]
    result = read_frame(str(folder / "clean" / "clean.1001.exr"))
    plate = read_frame(str(folder / "plate" / "plate.1001.exr"))
    assert result.pixels.dtype == plate.pixels.dtype and result.channel_names == ("R", "G", "B", "A")
    assert os.path.getsize(folder / "contact_sheet.png") > 1000

    # Running it again replaces the demo's own folder.
    assert main(["demo", "--output", str(folder), *SMALL]) == 0


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path, capsys):
    precious = tmp_path / "shots"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    assert main(["demo", "--output", str(precious), *SMALL]) == 3
    assert (precious / "keep.txt").read_text() == "mine"
    assert "not an earlier demo's folder" in capsys.readouterr().err


def test_demo_rejects_a_bad_size(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path / "d"), "--size", "big"]) == 2
    assert "--size" in capsys.readouterr().err
