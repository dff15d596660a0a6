"""Python packages generated from the gRPC contract (proto/internal_inpaint/v1/inpaint.proto, by proto/generate.py)."""
