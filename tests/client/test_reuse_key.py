"""internal_inpaint_client/reuse_key.py (client/src): the key both plugins reuse a finished result under."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from internal_inpaint_client import reuse_key as module
from internal_inpaint_client.reuse_key import exr_pixel_parts, reuse_key

SOURCE = Path(module.__file__)
SETTINGS = {"preset": "draft", "iterations": 0, "seed": 0, "frames": "1-2"}


def write_exr(path: Path, pixels: np.ndarray, stamp: str, software: str = "test 1.0") -> str:
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "half")
    spec.channelnames = ("R", "G", "B", "A")[:pixels.shape[2]]
    spec.attribute("DateTime", stamp)
    spec.attribute("Software", software)
    spec.attribute("compression", "zip")
    out = oiio.ImageOutput.create(str(path))
    assert out is not None and out.open(str(path), spec) and out.write_image(pixels), oiio.geterror()
    out.close()
    return str(path)


def pixels(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((8, 12, 4)).astype(np.float16)


def test_stdlib_only_and_python_3_9():
    tree = ast.parse(SOURCE.read_text(), filename=str(SOURCE), feature_version=(3, 9))
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {"__future__"}


def test_header_stamps_are_ignored(tmp_path):
    image = pixels()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_exr(tmp_path / "a" / "plate.0001.exr", image, "2024:01:01 00:00:00")
    b = write_exr(tmp_path / "b" / "plate.0001.exr", image, "2025:06:30 12:34:56 and longer",
                  software="another writer 2.5")
    assert Path(a).read_bytes() != Path(b).read_bytes()  # the files differ, their pixels do not
    assert reuse_key([a], SETTINGS) == reuse_key([b], SETTINGS)  # the folder is not part of the key


def test_pixels_settings_and_frames_change_the_key(tmp_path):
    image = pixels()
    path = tmp_path / "plate.0001.exr"
    key = reuse_key([write_exr(path, image, "2024:01:01 00:00:00")], SETTINGS)
    changed = image.copy()
    changed[3, 3, 0] += np.float16(0.5)
    assert reuse_key([write_exr(path, changed, "2024:01:01 00:00:00")], SETTINGS) != key
    files = [write_exr(path, image, "2024:01:01 00:00:00")]
    assert reuse_key(files, SETTINGS) == key
    assert reuse_key(files, dict(reversed(list(SETTINGS.items())))) == key  # order of the settings: irrelevant
    assert reuse_key(files, {**SETTINGS, "seed": 1}) != key
    assert reuse_key(files, {**SETTINGS, "dilate": 0}) != key  # a new setting is a new key
    assert reuse_key(files, SETTINGS, version="other/1") != key
    renamed = tmp_path / "plate.0002.exr"
    renamed.write_bytes(path.read_bytes())
    assert reuse_key([str(renamed)], SETTINGS) != key  # the frame number counts
    second = write_exr(tmp_path / "plate.0003.exr", pixels(1), "2024:01:01 00:00:00")
    assert reuse_key(files + [second], SETTINGS) != key


def test_an_exr_is_taken_apart_into_pixel_attributes_offsets_and_chunks(tmp_path):
    path = write_exr(tmp_path / "p.exr", pixels(), "2024:01:01 00:00:00")
    parts = exr_pixel_parts(Path(path).read_bytes())
    assert len(parts) > 3
    assert any(p.startswith(b"channels\0") for p in parts) and any(p.startswith(b"dataWindow\0") for p in parts)
    assert not any(b"DateTime" in p or b"Software" in p for p in parts)


def test_other_files_are_hashed_whole(tmp_path):
    text = tmp_path / "plate.0001.dpx"
    text.write_bytes(b"not an exr" * 100)
    assert exr_pixel_parts(text.read_bytes()) == [text.read_bytes()]
    key = reuse_key([str(text)], SETTINGS)
    text.write_bytes(b"not an exr" * 99 + b"not an exR")
    assert reuse_key([str(text)], SETTINGS) != key
    damaged = b"\x76\x2f\x31\x01" + b"\x02\x00\x00\x00" + b"broken"  # an EXR's start, no valid header
    assert exr_pixel_parts(damaged) == [damaged]
    multipart = b"\x76\x2f\x31\x01" + (2 | 0x1000).to_bytes(4, "little") + b"anything"
    assert exr_pixel_parts(multipart) == [multipart]
