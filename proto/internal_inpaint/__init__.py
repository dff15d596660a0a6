"""Python packages generated from the gRPC contract (proto/internal_inpaint)."""
