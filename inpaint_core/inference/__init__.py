"""Filling frames with a trained network, and compositing the fill into the plate."""

from inpaint_core.inference.fill import composite, fill_encoded, inpaint_frame

__all__ = ["composite", "fill_encoded", "inpaint_frame"]
