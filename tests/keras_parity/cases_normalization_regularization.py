"""Parity cases: LayerNormalization, GroupNormalization, UnitNormalization (same weights: shapes,
predictions, one SGD epoch) and the regularization layers (SpatialDropout1D/2D/3D, GaussianNoise,
GaussianDropout, AlphaDropout, ActivityRegularization): inference is the identity, training with a
zero rate trains identically, and the statistics a user would check of the random training output."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, shape_of, to_numpy


def _model(K, shape, layer, units=3):
    return seed_weights(K.Sequential([K.Input(shape), K.layers.Dense(shape[-1]), layer, K.layers.Flatten(),
                                      K.layers.Dense(units)]))


def _structure(m):
    return {"shape": tuple(m.output_shape), "params": m.count_params(),
            "weight_shapes": [tuple(w.shape) for w in m.get_weights()]}


def _sgd_fit(K, m, x, y, batch_size=4):
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


# LayerNormalization on Keras' torch backend only works on trailing axes or non-contiguous ones
# (contiguous non-trailing axes, e.g. axis=1 of a 3D input, crash in keras' own F.layer_norm path).
NORMS = {
    "layer_norm": ((4, 6), lambda K: K.layers.LayerNormalization()),
    "layer_norm_trailing_axes": ((3, 4, 5), lambda K: K.layers.LayerNormalization(axis=[2, 3], epsilon=0.01)),
    "layer_norm_gap_axes": ((3, 4, 5), lambda K: K.layers.LayerNormalization(axis=[1, 3], center=False)),
    "group_norm": ((3, 5, 8), lambda K: K.layers.GroupNormalization(groups=4)),
    "group_norm_instance": ((5, 6), lambda K: K.layers.GroupNormalization(groups=-1, scale=False)),
    "group_norm_axis1": ((6, 4), lambda K: K.layers.GroupNormalization(groups=3, axis=1)),
    "unit_norm": ((4, 6), lambda K: K.layers.UnitNormalization()),
    "unit_norm_axes": ((3, 4, 5), lambda K: K.layers.UnitNormalization(axis=[1, 2])),
}


def _norm_cases(name, shape, make):
    """Per normalization layer: structure + predictions on the same weights, weights after one SGD epoch."""
    def predict(K):
        m = _model(K, shape, make(K))
        return {**_structure(m), "p": m.predict(data(6, *shape) * 2 + 0.5, verbose=0)}

    def train(K):
        m = _model(K, shape, make(K))
        return _sgd_fit(K, m, data(8, *shape) * 2 + 0.5, data(8, 3, seed=2))

    for suffix, fn in (("predict", predict), ("sgd_weights", train)):
        fn.__name__ = f"case_{name}_{suffix}"
        case()(fn)


for _name, (_shape, _make) in NORMS.items():
    _norm_cases(_name, _shape, _make)


@case()
def case_normalization_eager_calls_and_defaults(K):
    x = data(3, 4, 8) * 3 + 1
    out = {}
    for name in ("LayerNormalization", "GroupNormalization", "UnitNormalization"):
        layer = getattr(K.layers, name)(**({"groups": 2} if name == "GroupNormalization" else {}))
        out[name] = {"y": to_numpy(layer(x)), "sym": shape_of(getattr(K.layers, name)(
            **({"groups": 2} if name == "GroupNormalization" else {}))(K.Input((4, 8)))),
            "weights": [w.shape for w in layer.get_weights()]}
    cfg = K.layers.LayerNormalization().get_config()
    out["ln_defaults"] = {k: cfg[k] for k in ("axis", "epsilon", "center", "scale", "rms_scaling")}
    cfg = K.layers.GroupNormalization().get_config()
    out["gn_defaults"] = {k: cfg[k] for k in ("groups", "axis", "epsilon", "center", "scale")}
    out["unit_zero"] = to_numpy(K.layers.UnitNormalization()(np.zeros((2, 3), np.float32)))
    return out


@case()
def case_normalization_errors(K):
    def call(layer, shape):
        return lambda: layer(K.Input(shape))
    return {"groups_not_a_divisor": observe_error(call(K.layers.GroupNormalization(groups=3), (4, 8))),
            "more_groups_than_channels": observe_error(call(K.layers.GroupNormalization(groups=16), (8,))),
            "bad_groups": observe_error(lambda: K.layers.GroupNormalization(groups=0)),
            "ln_axis_type": observe_error(lambda: K.layers.LayerNormalization(axis="last")),
            "unit_axis_type": observe_error(lambda: K.layers.UnitNormalization(axis=1.5)),
            "unit_axis_out_of_bounds": observe_error(call(K.layers.UnitNormalization(axis=3), (4,)))}


# --- regularization -------------------------------------------------------------------------------------
RANDOM = {
    "spatial_dropout1d": ((5, 4), lambda K, r: K.layers.SpatialDropout1D(r)),
    "spatial_dropout2d": ((3, 2, 4), lambda K, r: K.layers.SpatialDropout2D(r)),
    "spatial_dropout2d_first": ((4, 3, 2), lambda K, r: K.layers.SpatialDropout2D(r, data_format="channels_first")),
    "spatial_dropout3d": ((2, 3, 2, 4), lambda K, r: K.layers.SpatialDropout3D(r)),
    "gaussian_noise": ((5, 4), lambda K, r: K.layers.GaussianNoise(r)),
    "gaussian_dropout": ((5, 4), lambda K, r: K.layers.GaussianDropout(r)),
    "alpha_dropout": ((5, 4), lambda K, r: K.layers.AlphaDropout(r)),
}


def _random_cases(name, shape, make):
    """Per random layer: structure + inference predictions (the identity), and one SGD epoch with a
    zero rate (no randomness, so the weights must agree)."""
    def predict(K):
        m = _model(K, shape, make(K, 0.5))
        x = data(6, *shape)
        return {**_structure(m), "p": m.predict(x, verbose=0),
                "eager_inference": to_numpy(make(K, 0.5)(x)), "sym": shape_of(make(K, 0.5)(K.Input(shape)))}

    def train(K):
        m = _model(K, shape, make(K, 0.0))
        return _sgd_fit(K, m, data(8, *shape), data(8, 3, seed=2))

    for suffix, fn in (("predict", predict), ("zero_rate_sgd_weights", train)):
        fn.__name__ = f"case_{name}_{suffix}"
        case()(fn)


for _name, (_shape, _make) in RANDOM.items():
    _random_cases(_name, _shape, _make)


@case()
def case_spatial_dropout_training_drops_whole_channels(K):
    out = {}
    for name, shape, kw, ch in (("SpatialDropout1D", (200, 6, 16), {}, 2), ("SpatialDropout2D", (100, 3, 4, 16), {}, 3),
                                ("SpatialDropout2D", (100, 16, 3, 4), {"data_format": "channels_first"}, 1),
                                ("SpatialDropout3D", (100, 2, 3, 2, 16), {}, 4)):
        x = np.abs(data(*shape)) + 0.1
        y = to_numpy(getattr(K.layers, name)(0.4, **kw)(x, training=True))
        f = np.moveaxis(y / x, ch, 1).reshape(shape[0], shape[ch], -1)
        out[f"{name} {kw}"] = {"whole_channels": bool(np.allclose(f, f[..., :1], rtol=1e-5)),
                               "factors": sorted({round(float(v), 4) for v in np.unique(f.round(4))}),
                               "dropped_fraction": round(float((f[..., 0] == 0).mean()), 1)}
    out["rate_one"] = to_numpy(K.layers.SpatialDropout1D(1.0)(data(2, 3, 4), training=True))
    return out


@case()
def case_noise_layers_training_statistics(K):
    x = data(500, 200)
    n = to_numpy(K.layers.GaussianNoise(0.5)(np.zeros_like(x), training=True))
    g = to_numpy(K.layers.GaussianDropout(0.5)(np.ones_like(x), training=True))
    a = to_numpy(K.layers.AlphaDropout(0.3)(x, training=True))
    values, counts = np.unique(a.round(5).ravel(), return_counts=True)   # the dropped value repeats
    return {"noise_mean": round(float(n.mean()), 1), "noise_std": round(float(n.std()), 1),
            "gdrop_mean": round(float(g.mean()), 1), "gdrop_var": round(float(g.var()), 1),
            "alpha_mean": round(float(a.mean()), 1), "alpha_var": round(float(a.var()), 1),
            "alpha_dropped_value": float(values[counts.argmax()]),
            "alpha_dropped_fraction": round(float(counts.max() / a.size), 1)}


@case()
def case_activity_regularization_zero_is_the_identity(K):
    m = _model(K, (5, 4), K.layers.ActivityRegularization())
    x, y = data(8, 5, 4), data(8, 3, seed=2)
    return {**_structure(m), "p": m.predict(x, verbose=0), "w": _sgd_fit(K, m, x, y),
            "config": {k: K.layers.ActivityRegularization().get_config()[k] for k in ("l1", "l2")}}


@case()
def case_activity_regularization_penalty_in_training(K):
    m = _model(K, (5, 4), K.layers.ActivityRegularization(l1=0.01, l2=0.1))
    return _sgd_fit(K, m, data(8, 5, 4), data(8, 3, seed=2))


@case()
def case_regularization_errors(K):
    return {"sd1_rank": observe_error(lambda: K.layers.SpatialDropout1D(0.5)(K.Input((3, 4, 5)))),
            "sd2_rank": observe_error(lambda: K.layers.SpatialDropout2D(0.5)(K.Input((3, 4)))),
            "sd_rate": observe_error(lambda: K.layers.SpatialDropout2D(1.5)),
            "sd2_data_format": observe_error(lambda: K.layers.SpatialDropout2D(0.5, data_format="nhwc")),
            "noise_stddev": observe_error(lambda: K.layers.GaussianNoise(2.0)),
            "gdrop_rate": observe_error(lambda: K.layers.GaussianDropout(-0.1)),
            "alpha_rate": observe_error(lambda: K.layers.AlphaDropout(1.5)),
            "activity_l1": observe_error(lambda: K.layers.ActivityRegularization(l1=-1.0))}
