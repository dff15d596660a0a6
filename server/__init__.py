"""InternalInpaint's server side, by program: ``commands`` (the `internal-inpaint` command line) and
``service`` (the gRPC server it starts with `serve`). The client library is the distribution in client/."""

__version__ = "0.1.0"
