"""Generate the Python stubs of the gRPC contract: ``python proto/generate.py``.

The stubs (``*_pb2.py``, ``*_pb2.pyi``, ``*_pb2_grpc.py``) of each ``.proto``
under ``proto/`` are written into the client distribution, ``client/src/``, at
the same relative path (``internal_inpaint/v1/``, so they import as
``internal_inpaint.v1``), and checked in, so that a user needs no compiler;
``tests/test_proto_stubs.py`` fails when they differ from what this script
makes, i.e. when someone edited the contract without regenerating (or edited a
stub by hand). Uses ``grpcio-tools`` (a test dependency); the version is pinned
in pyproject.toml because the generated text depends on it.
"""

from __future__ import annotations

import os
import sys

PROTO_ROOT = os.path.dirname(os.path.abspath(__file__))
STUBS_ROOT = os.path.join(os.path.dirname(PROTO_ROOT), "client", "src")  # where the stubs are checked in


def proto_files(root: str = PROTO_ROOT) -> list[str]:
    """Every .proto under ``root``, relative to it (how protoc names them)."""
    found = []
    for folder, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(folder, n), root) for n in names if n.endswith(".proto")]
    return sorted(found)


def generate(out_dir: str, root: str = PROTO_ROOT) -> list[str]:
    """Compile every .proto under ``root`` into ``out_dir``; returns the generated files (relative)."""
    from grpc_tools import protoc  # imported here: only this script needs grpcio-tools

    files = proto_files(root)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")  # well-known types
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", *files]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(files)}")
    generated = []
    for name in files:
        stem = name[: -len(".proto")]
        generated += [f"{stem}_pb2.py", f"{stem}_pb2.pyi", f"{stem}_pb2_grpc.py"]
    return generated


if __name__ == "__main__":
    written = generate(STUBS_ROOT)
    print("\n".join(os.path.join(STUBS_ROOT, name) for name in written))
    sys.exit(0)
