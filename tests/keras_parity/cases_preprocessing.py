"""Parity cases: preprocessing layers (Normalization with adapt, CategoryEncoding, Discretization,
Resizing, CenterCrop), ops.image.affine_transform / crop_images, and the augmentation layers at
inference inside a model (their random draws in training cannot match Keras')."""
import numpy as np

from keras_parity.harness import case, data, seed_weights, to_numpy


def _seed_trainable(model, seed=1):
    """Seed the weights of the layers with trainable weights only (an adapted Normalization keeps
    its statistics, and its int32 `count` is left alone)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.trainable_weights:
            layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in layer.get_weights()])
    return model


def _fit_once(K, m, x, y):
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_normalization_adapt_predict_and_fit(K):
    x = data(16, 3) * np.array([1.0, 4.0, 0.5], np.float32) + np.array([2.0, -1.0, 10.0], np.float32)
    norm = K.layers.Normalization()
    norm.adapt(x)
    m = _seed_trainable(K.Sequential([K.Input((3,)), norm, K.layers.Dense(2)]))
    obs = {"stats": norm.get_weights(), "params": m.count_params(), "n_trainable": len(m.trainable_weights),
           "p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_once(K, m, x, data(16, 2, seed=5))
    return obs


@case()
def case_normalization_axes_invert_and_batches(K):
    x = data(6, 4, 5, seed=2) * 3.0 + 1.0
    per_cell = K.layers.Normalization(axis=(1, 2))
    per_cell.adapt(x)
    scalar = K.layers.Normalization(axis=None)
    scalar.adapt(x)
    last = K.layers.Normalization(axis=-1)
    last.adapt(x)
    inv = K.layers.Normalization(mean=[1.0, 2.0, 3.0, 4.0, 5.0], variance=[1.0, 4.0, 9.0, 0.25, 2.0], invert=True)
    given = K.layers.Normalization(mean=2.0, variance=9.0)
    return {"per_cell": [per_cell.get_weights()[:2], to_numpy(per_cell(x))],
            "scalar": [scalar.get_weights()[:2], to_numpy(scalar(x))],
            "last": [last.get_weights()[:2], to_numpy(last(x))],
            "invert": to_numpy(inv(x)), "given": to_numpy(given(x)), "unadapted": to_numpy(K.layers.Normalization()(x)),
            "cfg": {k: given.get_config()[k] for k in ("axis", "invert", "mean", "variance")}}


@case()
def case_category_encoding_modes(K):
    ids = np.array([[0, 3, 3], [1, 2, 5], [5, 5, 5]])
    out = {}
    for mode in ("one_hot", "multi_hot", "count"):
        layer = K.layers.CategoryEncoding(6, output_mode=mode)
        out[mode] = [to_numpy(layer(ids)), to_numpy(layer(ids[:, :1])), to_numpy(layer(ids[0]))]
    out["weighted"] = to_numpy(K.layers.CategoryEncoding(6, output_mode="count")(
        ids, count_weights=np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0], [0.1, 0.2, 0.3]], np.float32)))
    out["cfg"] = {k: K.layers.CategoryEncoding(6, output_mode="count").get_config()[k]
                  for k in ("num_tokens", "output_mode")}
    return out


@case()
def case_category_encoding_in_a_trained_model(K):
    inp = K.Input((4,), dtype="int32")
    enc = K.layers.CategoryEncoding(7, output_mode="count")
    m = seed_weights(K.Model(inp, K.layers.Dense(2)(enc(inp))))
    x = data(8, 4, low=0, high=7)
    obs = {"shape": tuple(enc.output.shape), "p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_once(K, m, x, data(8, 2, seed=3))
    return obs


@case()
def case_discretization_adapt_and_modes(K):
    x = data(500, seed=4)
    # Keras' adapt() needs tensorflow (it tests for a tf.data.Dataset first); its update_state /
    # finalize_state are what adapt runs on each batch and at the end
    layer = K.layers.Discretization(num_bins=5, epsilon=0.01)
    layer.update_state(x)
    layer.finalize_state()
    batched = K.layers.Discretization(num_bins=4, epsilon=0.05)
    for b in (x[:200], x[200:350], x[350:]):
        batched.update_state(b)
    batched.finalize_state()
    probe = np.array([[-2.0, -0.3, 0.0, 0.4, 3.0], [0.1, 0.2, -0.1, 1.0, -1.0]], np.float32)
    out = {"bins": layer.bin_boundaries, "batched": batched.bin_boundaries,
           "int": to_numpy(layer(probe)).astype(np.int64)}
    for mode in ("one_hot", "multi_hot", "count"):
        out[mode] = to_numpy(K.layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], output_mode=mode)(probe))
    cfg = layer.get_config()
    out["cfg"] = {k: cfg[k] for k in ("num_bins", "epsilon", "output_mode", "sparse")}
    return out


@case()
def case_resizing_bilinear_and_nearest_up_and_down(K):
    x = data(2, 6, 7, 3, seed=6)
    out = {}
    for interp in ("bilinear", "nearest"):
        for size in ((3, 4), (10, 13), (4, 11), (6, 7)):
            out[f"{interp}{size}"] = to_numpy(K.layers.Resizing(*size, interpolation=interp)(x))
    out["crop"] = to_numpy(K.layers.Resizing(4, 4, crop_to_aspect_ratio=True)(x))
    out["pad"] = to_numpy(K.layers.Resizing(4, 8, pad_to_aspect_ratio=True, fill_value=0.5)(x))
    out["channels_first"] = to_numpy(K.layers.Resizing(4, 9, data_format="channels_first")(
        np.transpose(x, (0, 3, 1, 2))))
    out["single"] = to_numpy(K.layers.Resizing(3, 3)(x[0]))
    u8 = data(1, 5, 5, 2, low=0, high=256).astype(np.uint8)
    r = K.layers.Resizing(3, 4)(u8)
    out["uint8"] = [str(to_numpy(r).dtype), to_numpy(r).astype(np.int64)]
    cfg = K.layers.Resizing(3, 4, interpolation="nearest").get_config()
    out["cfg"] = {k: cfg[k] for k in ("height", "width", "interpolation", "crop_to_aspect_ratio",
                                      "pad_to_aspect_ratio", "fill_mode", "fill_value", "antialias", "data_format")}
    return out


@case()
def case_resizing_inside_a_trained_model(K):
    """The gradient flows back through the bilinear resize to the convolution before it."""
    inp = K.Input((5, 6, 2))
    h = K.layers.Conv2D(3, 2, activation="tanh")(inp)
    h = K.layers.Resizing(7, 3)(h)
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(K.layers.Flatten()(h))))
    x = data(4, 5, 6, 2, seed=7)
    obs = {"shape": m.output_shape, "p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_once(K, m, x, data(4, 1, seed=8))
    return obs


@case()
def case_center_crop(K):
    x = data(2, 6, 7, 3, seed=9)
    return {"crop": to_numpy(K.layers.CenterCrop(3, 4)(x)), "odd": to_numpy(K.layers.CenterCrop(5, 2)(x)),
            "bigger": to_numpy(K.layers.CenterCrop(9, 4)(x)), "wider": to_numpy(K.layers.CenterCrop(3, 10)(x)),
            "single": to_numpy(K.layers.CenterCrop(2, 2)(x[1])),
            "symbolic": tuple(K.layers.CenterCrop(3, 4)(K.Input((6, 7, 3))).shape)}


@case()
def case_center_crop_inside_a_trained_model(K):
    inp = K.Input((6, 6, 2))
    h = K.layers.CenterCrop(4, 3)(K.layers.Conv2D(2, 1)(inp))
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(K.layers.Flatten()(h))))
    x = data(3, 6, 6, 2, seed=10)
    obs = {"p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_once(K, m, x, data(3, 1, seed=11))
    return obs


@case()
def case_affine_transform_rotation_and_fill_modes(K):
    x = data(2, 5, 6, 2, seed=12)
    th = np.deg2rad(25.0)
    t = np.array([[np.cos(th), -np.sin(th), 1.3, np.sin(th), np.cos(th), -0.7, 0, 0],
                  [1.2, 0.1, -0.5, 0.05, 0.9, 0.4, 0, 0]], np.float32)
    out = {}
    for interp in ("bilinear", "nearest"):
        for mode in ("constant", "nearest", "wrap", "mirror", "reflect"):
            out[f"{interp}-{mode}"] = to_numpy(K.ops.image.affine_transform(
                x, t, interpolation=interp, fill_mode=mode, fill_value=0.5))
    out["crop"] = to_numpy(K.ops.image.crop_images(x, 1, 2, None, None, 3, 3))
    return out


@case()
def case_augmentations_are_the_identity_at_inference(K):
    inp = K.Input((6, 6, 2))
    h = K.layers.RandomFlip(seed=1)(inp)
    h = K.layers.RandomRotation(0.2, seed=2)(h)
    h = K.layers.RandomTranslation(0.1, 0.2, seed=3)(h)
    h = K.layers.RandomZoom(0.2, seed=4)(h)
    h = K.layers.RandomContrast(0.2, seed=5)(h)
    h = K.layers.RandomBrightness(0.1, value_range=(-10, 10), seed=6)(h)
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(K.layers.Flatten()(K.layers.Conv2D(2, 3)(h)))))
    x = data(4, 6, 6, 2, seed=13)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    return {"shapes": [tuple(layer.output.shape) for layer in m.layers[1:7]], "p": m.predict(x, verbose=0),
            "eval": m.evaluate(x, data(4, 1, seed=14), verbose=0),
            "direct": [to_numpy(layer(x, training=False)) for layer in m.layers[1:7]]}


@case()
def case_augmentation_configs(K):
    def pick(layer, keys):
        cfg = layer.get_config()
        return {k: (list(cfg[k]) if isinstance(cfg[k], (tuple, list)) else cfg[k]) for k in keys}
    return {"flip": pick(K.layers.RandomFlip("vertical", seed=3), ("mode", "seed", "data_format")),
            "rotation": pick(K.layers.RandomRotation((-0.1, 0.3), fill_mode="constant"),
                             ("factor", "fill_mode", "fill_value", "interpolation", "seed")),
            "translation": pick(K.layers.RandomTranslation(0.1, (-0.2, 0.3)),
                                ("height_factor", "width_factor", "fill_mode", "interpolation", "fill_value")),
            "zoom": pick(K.layers.RandomZoom(0.2), ("height_factor", "width_factor", "fill_mode", "interpolation")),
            "contrast": pick(K.layers.RandomContrast(0.3), ("factor", "value_range")),
            "brightness": pick(K.layers.RandomBrightness(0.2, value_range=(0, 1)), ("factor", "value_range")),
            "crop": pick(K.layers.RandomCrop(3, 4, seed=1), ("height", "width", "seed"))}



@case(atol=5e-5)
def case_augmentations_in_training_with_fixed_parameters(K):
    """A factor pair (a, a) fixes the random draw, so the training transform is deterministic and
    must be Keras' own: rotation direction and centre, translation sign, zoom centre, fill modes."""
    x = data(2, 5, 6, 2, seed=15)
    out = {}
    for mode in ("reflect", "wrap", "constant", "nearest"):
        out[f"rot-{mode}"] = to_numpy(K.layers.RandomRotation((0.1, 0.1), fill_mode=mode, fill_value=-1.0)(
            x, training=True))
        out[f"shift-{mode}"] = to_numpy(K.layers.RandomTranslation((0.2, 0.2), (-0.25, -0.25), fill_mode=mode)(
            x, training=True))
        out[f"zoom-{mode}"] = to_numpy(K.layers.RandomZoom((0.5, 0.5), (-0.2, -0.2), fill_mode=mode)(
            x, training=True))
    out["rot-nearest-interp"] = to_numpy(K.layers.RandomRotation((-0.3, -0.3), interpolation="nearest")(
        x, training=True))
    out["rot-single"] = to_numpy(K.layers.RandomRotation((0.05, 0.05))(x[0], training=True))
    out["rot-channels-first"] = to_numpy(K.layers.RandomRotation((0.1, 0.1), data_format="channels_first")(
        np.transpose(x, (0, 3, 1, 2)), training=True))
    out["brightness"] = to_numpy(K.layers.RandomBrightness((0.1, 0.1), value_range=(-1, 1))(x, training=True))
    out["contrast"] = to_numpy(K.layers.RandomContrast((0.0, 0.0), value_range=(-1, 1))(x, training=True))
    out["crop-small"] = to_numpy(K.layers.RandomCrop(5, 4)(x, training=True))     # not larger: centred + resized
    return out
