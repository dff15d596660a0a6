"""InternalInpaint's server side: the command line now; the gRPC server and client later."""
