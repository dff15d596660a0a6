"""InternalInpaint core library: internal-learning video inpainting of EXR sequences.

No gRPC here; the server and the command line build on this package.
"""

__version__ = "0.1.0"
