"""blockbench: benchmark block-wise fine-tuning of pretrained image backbones."""

__version__ = "0.1.0"

__all__ = ["__version__"]
