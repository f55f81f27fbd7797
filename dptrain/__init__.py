"""dptrain: neural networks in Python with a Keras-like API, an autograd engine,
Vulkan compute and multi-process data-parallel training."""
from . import ag

__version__ = "0.1.0"

# Keras-like API
from . import layers, losses, metrics, optimizers  # noqa: E402
from .layers import Input, activations  # noqa: E402
from .models import Model, Sequential, load_model  # noqa: E402
from . import callbacks, config, constraints, datasets, initializers, ops, random, regularizers, saving, utils  # noqa: E402

# Devices and data-parallel training
from engine import vulkan_available, vulkan_status  # noqa: E402
from . import distributed  # noqa: E402
from . import applications  # noqa: E402,F401  (out of scope: raises, naming why)
from .distributed import dp_train  # noqa: E402
