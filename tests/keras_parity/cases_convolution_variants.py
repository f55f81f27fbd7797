"""Parity cases: convolution variants (Conv1D/Conv2D with dilation_rate, groups and causal
padding; Conv1DTranspose/Conv2DTranspose; DepthwiseConv1D/2D; SeparableConv1D/2D) on the same
weights: weight shapes in get_weights() order, parameter counts, output shapes, predictions and
one SGD epoch; configs and the errors Keras raises."""
from keras_parity.harness import case, data, observe_error, seed_weights


def _check(K, input_shape, layer, x):
    inp = K.Input(input_shape)
    out = layer(inp)
    head = K.layers.Dense(1)(K.layers.Flatten()(out))
    m = seed_weights(K.Model(inp, head))
    obs = {"params": [layer.count_params()], "shapes": [tuple(w.shape) for w in m.get_weights()],
           "out_shape": tuple(out.shape), "p": m.predict(x, verbose=0),
           "features": K.Model(inp, out).predict(x, verbose=0)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(x, data(len(x), 1, seed=9), batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    obs["trained"] = m.get_weights()
    return obs


# --- Conv1D / Conv2D: dilation_rate, groups, causal ------------------------------------------
@case()
def case_conv2d_dilated_same(K):
    return _check(K, (8, 7, 2), K.layers.Conv2D(3, 3, dilation_rate=(2, 3), padding="same", activation="tanh"),
                  data(3, 8, 7, 2))


@case()
def case_conv2d_dilated_valid(K):
    return _check(K, (9, 9, 2), K.layers.Conv2D(3, (2, 3), dilation_rate=2), data(3, 9, 9, 2))


@case()
def case_conv2d_groups_strided(K):
    return _check(K, (7, 8, 4), K.layers.Conv2D(6, 3, strides=2, padding="same", groups=2), data(3, 7, 8, 4))


@case()
def case_conv2d_groups_per_channel(K):
    return _check(K, (6, 6, 3), K.layers.Conv2D(6, 3, groups=3, use_bias=False), data(3, 6, 6, 3))


@case()
def case_conv1d_causal_dilated(K):
    return _check(K, (10, 3), K.layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
                  data(4, 10, 3))


@case()
def case_conv1d_groups_same(K):
    return _check(K, (9, 4), K.layers.Conv1D(6, 3, padding="same", groups=2), data(4, 9, 4))


@case()
def case_conv1d_causal_strided(K):
    return _check(K, (9, 2), K.layers.Conv1D(3, 4, strides=2, padding="causal"), data(3, 9, 2))


# --- transposed convolutions -----------------------------------------------------------------
@case()
def case_conv2d_transpose_valid_strided(K):
    return _check(K, (4, 5, 3), K.layers.Conv2DTranspose(4, 3, strides=2), data(3, 4, 5, 3))


@case()
def case_conv2d_transpose_same_k3_s2(K):
    return _check(K, (4, 5, 3), K.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
                  data(3, 4, 5, 3))


@case()
def case_conv2d_transpose_same_k4_s2(K):
    return _check(K, (3, 4, 2), K.layers.Conv2DTranspose(3, 4, strides=2, padding="same"), data(3, 3, 4, 2))


@case()
def case_conv2d_transpose_same_mixed(K):
    return _check(K, (3, 4, 2), K.layers.Conv2DTranspose(3, (5, 2), strides=(2, 3), padding="same"),
                  data(3, 3, 4, 2))


@case()
def case_conv2d_transpose_stride_over_kernel(K):
    return _check(K, (3, 4, 2), K.layers.Conv2DTranspose(3, 2, strides=3), data(3, 3, 4, 2))


@case()
def case_conv2d_transpose_output_padding(K):
    return _check(K, (3, 4, 2), K.layers.Conv2DTranspose(3, 3, strides=(2, 3), output_padding=(1, 2)),
                  data(3, 3, 4, 2))


@case()
def case_conv2d_transpose_same_output_padding(K):
    return _check(K, (3, 4, 2), K.layers.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=0),
                  data(3, 3, 4, 2))


@case()
def case_conv2d_transpose_dilated(K):
    return _check(K, (4, 5, 2), K.layers.Conv2DTranspose(3, 3, padding="same", dilation_rate=2, use_bias=False),
                  data(3, 4, 5, 2))


@case()
def case_conv1d_transpose_valid(K):
    return _check(K, (6, 3), K.layers.Conv1DTranspose(4, 3, strides=2), data(4, 6, 3))


@case()
def case_conv1d_transpose_same(K):
    return _check(K, (6, 3), K.layers.Conv1DTranspose(4, 4, strides=2, padding="same", activation="tanh"),
                  data(4, 6, 3))


@case()
def case_conv_transpose_unbuilt_output_shapes(K):
    out = []
    for layer, shape in [(K.layers.Conv2DTranspose(2, 3, strides=2), (None, 4, None, 3)),
                         (K.layers.Conv2DTranspose(2, (3, 4), strides=(2, 3), padding="same"), (None, 5, 6, 3)),
                         (K.layers.Conv2DTranspose(2, 3, strides=3, output_padding=2), (None, 2, 3, 1)),
                         (K.layers.Conv1DTranspose(2, 5, padding="same", dilation_rate=2), (None, 7, 1)),
                         (K.layers.Conv1DTranspose(2, 2, strides=4), (None, 3, 1))]:
        out.append(tuple(layer(K.Input(shape[1:])).shape))
    return out


# --- depthwise and separable -----------------------------------------------------------------
@case()
def case_depthwise_conv2d_multiplier(K):
    return _check(K, (6, 7, 3), K.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
                  data(3, 6, 7, 3))


@case()
def case_depthwise_conv2d_strided(K):
    return _check(K, (7, 8, 2), K.layers.DepthwiseConv2D((3, 2), strides=2, padding="same"), data(3, 7, 8, 2))


@case()
def case_depthwise_conv2d_dilated(K):
    return _check(K, (8, 8, 3), K.layers.DepthwiseConv2D(3, dilation_rate=2, use_bias=False), data(3, 8, 8, 3))


@case()
def case_depthwise_conv1d(K):
    return _check(K, (9, 3), K.layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same"), data(4, 9, 3))


@case()
def case_separable_conv2d(K):
    return _check(K, (7, 7, 3), K.layers.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2),
                  data(3, 7, 7, 3))


@case()
def case_separable_conv2d_dilated(K):
    return _check(K, (8, 8, 2), K.layers.SeparableConv2D(3, 3, dilation_rate=2, activation="tanh"),
                  data(3, 8, 8, 2))


@case()
def case_separable_conv1d(K):
    return _check(K, (9, 3), K.layers.SeparableConv1D(4, 3, padding="same", depth_multiplier=2, use_bias=False),
                  data(4, 9, 3))


# --- configs and errors ----------------------------------------------------------------------
def _config_view(cfg):
    keep = ("filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate",
            "groups", "depth_multiplier", "use_bias", "activation")
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items() if k in keep}


@case()
def case_conv_variant_configs(K):
    layers = [K.layers.Conv2D(4, 3, dilation_rate=2, groups=2), K.layers.Conv1D(2, 3, padding="causal"),
              K.layers.Conv2DTranspose(3, 3, strides=2, output_padding=1), K.layers.Conv1DTranspose(3, 2),
              K.layers.DepthwiseConv2D(3, depth_multiplier=2), K.layers.DepthwiseConv1D(2),
              K.layers.SeparableConv2D(3, 3, padding="same"), K.layers.SeparableConv1D(3, 2)]
    out = []
    for layer in layers:
        cfg = layer.get_config()
        out.append((_config_view(cfg), sorted(k for k in cfg if k.endswith(("_initializer", "_regularizer",
                                                                                 "_constraint")))))
        again = type(layer).from_config(cfg)
        out.append(_config_view(again.get_config()))
    return out


@case()
def case_conv_variant_errors(K):
    L = K.layers
    return [observe_error(f) for f in (
        lambda: L.Conv2D(4, 3, groups=3),                                    # filters % groups
        lambda: L.Conv2D(4, 3, groups=2)(K.Input((5, 5, 3))),                # channels % groups
        lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2),
        lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=2),
        lambda: L.Conv2DTranspose(4, 3, strides=2, dilation_rate=2),
        lambda: L.Conv2DTranspose(4, 3, padding="causal"),
        lambda: L.DepthwiseConv2D(3, depth_multiplier=0),
        lambda: L.SeparableConv1D(3, 2, padding="causal"),
        lambda: L.Conv2D(2, 3, padding="causal"),
    )]
