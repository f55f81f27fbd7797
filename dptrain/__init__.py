"""dptrain: neural networks in Python with a Keras-like API, an autograd engine,
Vulkan compute and multi-process data-parallel training."""
from . import ag

__version__ = "0.1.0"
