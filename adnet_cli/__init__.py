"""adnet: multi-frame HDR merging with ADNet (attention-guided deformable convolution, CVPRW 2021)."""

__version__ = "0.1.0"
