"""The client side of InternalInpaint, for host plugins, farm tasks and scripts (Python 3.9+).

- ``client``: the gRPC client library (``InpaintClient``); needs grpcio, protobuf and numpy;
- ``options``: every per-job training option, declared once for the command line, the contract, the client and
  the benchmarks (standard library only);
- ``reuse_key``: the key under which a plugin reuses a finished result (standard library only);
- ``plugin_support``: what the Nuke and Resolve/Fusion plugins share (standard library only).

Nothing is imported here, so a plugin can use the standard-library modules before grpc is loaded.
"""

__version__ = "0.1.0"
