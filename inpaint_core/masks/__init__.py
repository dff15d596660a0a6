"""A shot (its plate and mattes, checked) and the mattes' holes."""

from inpaint_core.masks.mattes import DEFAULT_THRESHOLD, choose_mask_channel, dilate_hole, hole_from_frame
from inpaint_core.masks.references import ReferenceSpec
from inpaint_core.masks.shot import NONFINITE_POLICIES, Shot, ShotSpec

__all__ = ["DEFAULT_THRESHOLD", "NONFINITE_POLICIES", "ReferenceSpec", "Shot", "ShotSpec", "choose_mask_channel",
           "dilate_hole", "hole_from_frame"]
