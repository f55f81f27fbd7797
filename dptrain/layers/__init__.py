"""Keras-style layers (`dt.layers`)."""
from .base import Layer, register
from .conv import Conv1D, Conv2D, GlobalAveragePooling2D, MaxPooling2D
from .core import Activation, Dense, Dropout, Flatten
from .embedding import Embedding
from .getitem import GetItem  # noqa: F401  (registered: graphs slicing a KerasTensor load)
from .input import Input, InputLayer, KerasTensor
from .merge import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from . import recurrent

__all__ = ["Activation", "Add", "BatchNormalization", "Concatenate", "Conv1D", "Conv2D", "Dense", "Dropout",
           "Embedding", "Flatten", "GRU", "GlobalAveragePooling2D", "Input", "InputLayer", "KerasTensor", "LSTM",
           "Layer", "MaxPooling2D", "register"]

# Families added one file each (every module lists its layers in __all__).
from . import (activation_layers, attention, augmentation, conv_variants, lambda_rescaling, masking, merge,  # noqa: E402
               normalization, pooling, preprocessing, regularization, reshaping, rnn_wrappers)
from .activation_layers import *  # noqa: E402,F401,F403
from .attention import *  # noqa: E402,F401,F403
from .augmentation import *  # noqa: E402,F401,F403
from .conv_variants import *  # noqa: E402,F401,F403
from .lambda_rescaling import *  # noqa: E402,F401,F403
from .masking import *  # noqa: E402,F401,F403
from .pooling import *  # noqa: E402,F401,F403
from .preprocessing import *  # noqa: E402,F401,F403
from .regularization import *  # noqa: E402,F401,F403
from .reshaping import *  # noqa: E402,F401,F403
from .rnn_wrappers import *  # noqa: E402,F401,F403

for _family in (activation_layers, attention, augmentation, conv_variants, lambda_rescaling, masking, merge, normalization,
                pooling, preprocessing, recurrent, regularization, reshaping, rnn_wrappers):
    __all__ += [n for n in getattr(_family, "__all__", []) if n not in __all__]
