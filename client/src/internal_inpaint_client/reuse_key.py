"""The key under which a plugin reuses a finished result: same rendered inputs and settings, same key.

Shared by the Nuke and the Resolve/Fusion plugins, so it needs only the standard
library and runs in the hosts' Python 3.9. A plugin renders its inputs to EXR on
every press; two renders of the same pixels differ in header stamps (DateTime,
software, ...), so an EXR is hashed as the header attributes that describe its
pixels plus its pixel chunks, not as raw bytes. Any other file (or an EXR this
reader does not take apart: multi-part, deep, damaged) is hashed whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Iterable, List, Mapping

KEY_VERSION = "internal-inpaint/1"

# EXR header attributes that describe the pixels; the others (DateTime, software, ...) may
# differ between two renders of the same pixels and would defeat the reuse of results.
_EXR_PIXEL_ATTRIBUTES = {b"channels", b"compression", b"dataWindow", b"displayWindow", b"lineOrder",
                         b"pixelAspectRatio", b"tiles"}
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_NON_IMAGE_OR_MULTIPART = 0x1800  # version flags: deep data (bit 11), multi-part (bit 12)


def reuse_key(files: Iterable[str], settings: Mapping[str, object], version: str = KEY_VERSION) -> str:
    """SHA-256 (hex) over ``version``, the settings that change the result and the files' pixels.

    ``settings`` must be JSON-serialisable; its key order does not matter. Each file
    counts with its base name, so the frame numbers are part of the key; the folder
    (a new one per press) is not. A plugin that changes what it renders or how it
    keys bumps ``version`` so that old keys no longer match.
    """
    digest = hashlib.sha256(version.encode())
    digest.update(json.dumps(dict(settings), sort_keys=True).encode())
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        digest.update(b"\0" + os.path.basename(path).encode() + b"\0")
        for part in exr_pixel_parts(data):
            digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def exr_pixel_parts(data: bytes) -> List[bytes]:
    """A single-part EXR as its pixel-describing attributes, chunk offsets (relative) and chunks.

    Anything else (multi-part, deep, another format, a damaged file) is taken whole.
    """
    try:
        if data[:4] != _EXR_MAGIC or int.from_bytes(data[4:8], "little") & _EXR_NON_IMAGE_OR_MULTIPART:
            return [data]
        parts, pos = [], 8
        while data[pos] != 0:  # attributes: name\0 type\0 size(4) value; an empty name ends the header
            name_end = data.index(b"\0", pos)
            type_end = data.index(b"\0", name_end + 1)
            size = int.from_bytes(data[type_end + 1:type_end + 5], "little")
            end = type_end + 5 + size
            if data[pos:name_end] in _EXR_PIXEL_ATTRIBUTES:
                parts.append(data[pos:end])
            pos = end
        table = pos = pos + 1
        first_chunk = len(data)
        while pos < first_chunk:  # the offset table ends where the first chunk begins
            offset = int.from_bytes(data[pos:pos + 8], "little")
            if not table < offset <= len(data):
                return [data]
            parts.append((offset - table).to_bytes(8, "little"))
            first_chunk = min(first_chunk, offset)
            pos += 8
        parts.append(data[pos:])
        return parts
    except (IndexError, ValueError):
        return [data]
