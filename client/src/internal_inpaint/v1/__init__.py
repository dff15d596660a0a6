"""Generated stubs of the internal_inpaint.v1 gRPC contract (see inpaint.proto); do not edit."""
