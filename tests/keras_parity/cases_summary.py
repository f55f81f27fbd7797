"""Parity cases: what model.summary() shows (each layer's name, type, output shape and parameter
count, the totals) and the default model names, for a model of the newer layer families."""
import re

import numpy as np

from keras_parity.harness import case


def _summary_rows(m):
    # names carry a global counter's suffix (input_layer_3): compare them without it
    def base(name):
        return re.sub(r"_\d+$", "", name)
    rows = [(base(layer.name), type(layer).__name__, tuple(layer.output.shape), int(layer.count_params()))
            for layer in m.layers]
    return {"rows": rows, "total": int(m.count_params()), "name": base(m.name)}


@case()
def case_summary_of_conv_recurrent_and_attention_layers(K):
    inp = K.Input((16, 16, 3))
    x = K.layers.Conv2D(8, 3, dilation_rate=2, padding="same")(inp)
    x = K.layers.DepthwiseConv2D(3)(x)
    x = K.layers.SeparableConv2D(4, 3, padding="same")(x)
    x = K.layers.Conv2DTranspose(4, 3, strides=2)(x)
    x = K.layers.Reshape((-1, 4))(x)
    x = K.layers.Bidirectional(K.layers.LSTM(5, return_sequences=True))(x)
    x = K.layers.MultiHeadAttention(2, 4)(x, x)
    x = K.layers.TimeDistributed(K.layers.Dense(3))(x)
    x = K.layers.GRU(4, return_sequences=True)(x)
    x = K.layers.SimpleRNN(6)(x)
    out = K.layers.Dense(2)(x)
    return _summary_rows(K.Model(inp, out))


@case()
def case_summary_of_preprocessing_and_masking_layers(K):
    inp = K.Input((10,), dtype="int32")
    x = K.layers.Embedding(20, 4, mask_zero=True)(inp)
    x = K.layers.Masking()(x)
    x = K.layers.Attention()([x, x])
    x = K.layers.GlobalAveragePooling1D()(x)
    x = K.layers.Normalization(mean=0.0, variance=1.0)(x)
    x = K.layers.Dense(3)(x)
    m = K.Model(inp, x)
    m.predict(np.ones((2, 10), np.int32), verbose=0)
    return _summary_rows(m)
