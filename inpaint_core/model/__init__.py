"""The networks (inpainting generator, segmentation U-Net) and the losses they are trained with."""

from inpaint_core.model.generator import InpaintGenerator
from inpaint_core.model.losses import masked_l1
from inpaint_core.model.segmenter import SegmentUNet

__all__ = ["InpaintGenerator", "SegmentUNet", "masked_l1"]
