"""InternalInpaint's server side: the command line, the gRPC server and the client library."""

__version__ = "0.1.0"
