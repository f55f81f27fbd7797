"""Parity cases: MultiHeadAttention, Attention and AdditiveAttention on the same weights: outputs,
attention scores, masks (value / key / attention / causal), the functional call `mha(x, x)`,
one SGD epoch, a small transformer block trained one epoch, configs and errors."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, to_numpy


def _seed_layer(layer, seed=1, scale=0.4):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * scale for w in layer.get_weights()])
    return layer


def _fit_one_epoch(K, m, x, y, batch_size):
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_mha_self_attention_functional_trains(K):
    inp = K.Input((5, 6))
    mha = K.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    h = mha(inp, inp)
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(K.layers.Flatten()(h))))
    x = data(4, 5, 6)
    obs = {"shape": tuple(h.shape), "params": mha.count_params(), "shapes": [tuple(w.shape) for w in m.get_weights()],
           "p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_one_epoch(K, m, x, data(4, 1, seed=9), 4)
    return obs


@case()
def case_mha_cross_attention_key_value_dim_output_shape_trains(K):
    q_in, v_in, k_in = K.Input((4, 3)), K.Input((6, 5)), K.Input((6, 2))
    h = K.layers.MultiHeadAttention(3, 2, value_dim=4, output_shape=7)(q_in, v_in, key=k_in)
    m = seed_weights(K.Model([q_in, v_in, k_in], K.layers.Dense(1)(K.layers.GlobalAveragePooling1D()(h))))
    xs = [data(6, 4, 3, seed=1), data(6, 6, 5, seed=2), data(6, 6, 2, seed=3)]
    obs = {"shape": tuple(h.shape), "shapes": [tuple(w.shape) for w in m.get_weights()],
           "p": m.predict(xs, verbose=0)}
    obs["trained"] = _fit_one_epoch(K, m, xs, data(6, 1, seed=9), 3)
    return obs


@case()
def case_mha_causal_mask_in_a_model_trains(K):
    inp = K.Input((5, 4))
    h = K.layers.MultiHeadAttention(2, 4, use_bias=False)(inp, inp, use_causal_mask=True)
    m = seed_weights(K.Model(inp, K.layers.Dense(2)(h)))
    x = data(4, 5, 4)
    obs = {"p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_one_epoch(K, m, x, data(4, 5, 2, seed=9), 2)
    return obs


@case()
def case_mha_eager_scores_and_masks(K):
    mha = K.layers.MultiHeadAttention(2, 3, value_dim=2)
    q, v, k = data(2, 4, 5, seed=1), data(2, 6, 3, seed=2), data(2, 6, 4, seed=3)
    mha(q, v, key=k)
    _seed_layer(mha)
    rng = np.random.default_rng(5)
    vm, km = rng.random((2, 6)) > 0.3, rng.random((2, 6)) > 0.3
    am = rng.random((2, 4, 6)) > 0.2
    vm[:, 0] = km[:, 0] = am[:, :, 0] = True
    out, scores = mha(q, v, key=k, return_attention_scores=True)
    obs = {"out": to_numpy(out), "scores": to_numpy(scores)}
    out, scores = mha(q, v, key=k, value_mask=vm, key_mask=km, attention_mask=am, return_attention_scores=True)
    obs.update(masked_out=to_numpy(out), masked_scores=to_numpy(scores))
    obs["causal_and_value_mask"] = to_numpy(mha(q, v, key=k, value_mask=vm, use_causal_mask=True))
    obs["causal_scores"] = to_numpy(mha(q, v, key=k, use_causal_mask=True, return_attention_scores=True)[1])
    self_att = K.layers.MultiHeadAttention(2, 3)
    self_att(v, v)
    _seed_layer(self_att)
    obs["key_mask_without_key"] = to_numpy(self_att(v, v, key_mask=km))
    obs["attention_mask_2d"] = to_numpy(mha(q, v, key=k, attention_mask=am[0]))
    # an explicit query_mask= is overridden by the query's own (Keras) mask: no effect
    obs["query_mask_ignored"] = to_numpy(mha(q, v, key=k, query_mask=np.array([[1, 0, 0, 0], [1, 1, 0, 0]], bool)))
    return obs


@case()
def case_mha_gate_and_no_bias_on_the_same_weights(K):
    mha = K.layers.MultiHeadAttention(2, 3, use_gate=True, use_bias=False, output_shape=(2, 3))
    q, v = data(2, 4, 5, seed=1), data(2, 3, 5, seed=2)
    mha(q, v)
    _seed_layer(mha)
    return {"names": [(getattr(w, "path", None) or w.name).split("/", 1)[1] for w in mha.weights], "out": to_numpy(mha(q, v)),
            "shape": mha.compute_output_shape((2, 4, 5), (2, 3, 5))}


@case()
def case_mha_dropout_is_the_identity_at_inference(K):
    inp = K.Input((4, 6))
    h = K.layers.MultiHeadAttention(2, 3, dropout=0.5, seed=3)(inp, inp)
    m = seed_weights(K.Model(inp, h))
    return m.predict(data(3, 4, 6), verbose=0)


@case()
def case_mha_transformer_block_trains_one_epoch(K):
    """The keras.io text-classification transformer block, without its (random) dropout."""
    L = K.layers
    inp = K.Input((6, 8))
    att = L.MultiHeadAttention(num_heads=2, key_dim=8)(inp, inp)
    h = L.LayerNormalization(epsilon=1e-6)(inp + att)
    ff = L.Dense(8)(L.Dense(16, activation="relu")(h))
    h = L.LayerNormalization(epsilon=1e-6)(h + ff)
    out = L.Dense(1, activation="sigmoid")(L.Dense(4, activation="relu")(L.GlobalAveragePooling1D()(h)))
    m = seed_weights(K.Model(inp, out))
    x = data(12, 6, 8)
    y = (data(12, 1, seed=4) > 0).astype(np.float32)
    m.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    hist = m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {"loss": hist.history["loss"], "weights": m.get_weights(), "p": m.predict(x, verbose=0),
            "n_weights": len(m.weights)}


@case()
def case_mha_config(K):
    mha = K.layers.MultiHeadAttention(4, 8, value_dim=2, dropout=0.1, use_bias=False, seed=5)
    cfg = mha.get_config()
    keys = ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "use_gate", "attention_axes",
            "sliding_window", "kernel_regularizer", "activity_regularizer", "seed")
    before = {k: cfg[k] for k in keys}
    mha(data(2, 3, 4), data(2, 3, 4))
    axes = mha.get_config()["attention_axes"]
    return {"before": before, "after_build_axes": list(axes), "class": type(mha).__name__,
            "props": [mha.num_heads, mha.key_dim, mha.value_dim, mha.dropout, mha.use_bias]}


@case()
def case_mha_errors(K):
    L = K.layers
    return {
        "num_heads": observe_error(lambda: L.MultiHeadAttention(0, 3)),
        "key_dim": observe_error(lambda: L.MultiHeadAttention(2, 0)),
        "value_key_lengths": observe_error(
            lambda: L.MultiHeadAttention(2, 3)(data(2, 3, 4), data(2, 5, 4), key=data(2, 6, 4))),
        "flash_dropout": observe_error(lambda: L.MultiHeadAttention(2, 3, dropout=0.1, flash_attention=True)),
        "sliding_window": observe_error(lambda: L.MultiHeadAttention(2, 3, sliding_window=0)),
    }


def _att_inputs():
    return data(2, 3, 4, seed=1), data(2, 5, 6, seed=2), data(2, 5, 4, seed=3)


@case()
def case_attention_dot_and_concat_scores_and_masks(K):
    q, v, k = _att_inputs()
    qm = np.array([[True, False, True], [True, True, False]])
    vm = np.array([[True, True, False, True, False], [True, False, False, True, True]])
    obs = {}
    for name, kw in (("dot", {}), ("dot_scaled", {"use_scale": True}), ("concat", {"score_mode": "concat"}),
                     ("concat_scaled", {"score_mode": "concat", "use_scale": True})):
        layer = K.layers.Attention(**kw)
        layer([q, v, k])
        if layer.weights:
            layer.set_weights([np.asarray(0.7 + 0.3 * i, np.float32) for i in range(len(layer.weights))])
        out, scores = layer([q, v, k], return_attention_scores=True)
        obs[name] = [to_numpy(out), to_numpy(scores)]
        obs[name + "_masked"] = to_numpy(layer([q, v, k], mask=[qm, vm]))
        obs[name + "_causal"] = [to_numpy(t) for t in layer([q, v, k], mask=[None, vm], use_causal_mask=True,
                                                             return_attention_scores=True)]
        obs[name + "_weights"] = [w.shape for w in layer.get_weights()]
    obs["two_inputs"] = to_numpy(K.layers.Attention()([q, k]))
    obs["shape"] = K.layers.Attention().compute_output_shape([(None, 3, 4), (None, 5, 6)])
    return obs


@case()
def case_additive_attention_scores_and_masks(K):
    q, v, k = _att_inputs()
    layer = K.layers.AdditiveAttention()
    layer([q, v, k])
    _seed_layer(layer)
    vm = np.array([[True, True, False, True, False], [True, False, False, True, True]])
    out, scores = layer([q, v, k], mask=[None, vm], return_attention_scores=True)
    plain = K.layers.AdditiveAttention(use_scale=False)
    cfg = layer.get_config()
    return {"out": to_numpy(out), "scores": to_numpy(scores), "plain": to_numpy(plain([q, v, k])),
            "causal": to_numpy(layer([q, v, k], use_causal_mask=True)),
            "weights": [w.shape for w in layer.get_weights()], "plain_weights": len(plain.weights),
            "cfg": {k: cfg[k] for k in ("use_scale", "dropout", "seed")}, "has_score_mode": "score_mode" in cfg}


@case()
def case_attention_layers_in_a_model_train(K):
    q_in, v_in = K.Input((3, 4)), K.Input((5, 4))
    a = K.layers.Attention(use_scale=True, score_mode="concat")([q_in, v_in])
    b = K.layers.AdditiveAttention()([q_in, v_in, v_in])
    h = K.layers.Concatenate()([a, b])
    m = seed_weights(K.Model([q_in, v_in], K.layers.Dense(1)(K.layers.Flatten()(h))))
    xs = [data(6, 3, 4, seed=1), data(6, 5, 4, seed=2)]
    obs = {"p": m.predict(xs, verbose=0), "shapes": [tuple(w.shape) for w in m.get_weights()]}
    obs["trained"] = _fit_one_epoch(K, m, xs, data(6, 1, seed=9), 3)
    return obs


@case()
def case_attention_errors(K):
    q, v, _ = _att_inputs()
    return {
        "score_mode": observe_error(lambda: K.layers.Attention(score_mode="add")),
        "not_a_list": observe_error(lambda: K.layers.Attention()(q)),
        "one_input": observe_error(lambda: K.layers.Attention()([q])),
        "four_inputs": observe_error(lambda: K.layers.Attention()([q, v, v, v])),
        "mask_not_a_list": observe_error(lambda: K.layers.Attention()([q, v], mask=np.ones((2, 5), bool))),
    }


@case()
def case_mha_fully_masked_queries_follow_keras_paths(K):
    """A query with every key masked: Keras' dot_product_attention path (no dropout, no scores)
    averages the values; its explicit softmax path (scores returned, or dropout) attends to nothing."""
    mha = K.layers.MultiHeadAttention(2, 3)
    q, v = data(2, 4, 5, seed=1), data(2, 6, 5, seed=2)
    mha(q, v)
    _seed_layer(mha)
    am = np.ones((2, 4, 6), bool)
    am[0, 1] = False
    am[1, 3] = False
    out, scores = mha(q, v, attention_mask=am, return_attention_scores=True)
    drop = K.layers.MultiHeadAttention(2, 3, dropout=0.5)
    drop(q, v)
    drop.set_weights(mha.get_weights())
    return {"fast": to_numpy(mha(q, v, attention_mask=am)), "explicit": to_numpy(out), "scores": to_numpy(scores),
            "dropout_inference": to_numpy(drop(q, v, attention_mask=am))}


@case()
def case_mha_keras_masks_from_embedding_mask_zero_train(K):
    """Embedding(mask_zero=True) masks reach MultiHeadAttention (query, value) and the pooling after it."""
    inp = K.Input((5,), dtype="int32")
    e = K.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = K.layers.MultiHeadAttention(2, 3)(e, e)
    out = K.layers.Dense(1)(K.layers.GlobalAveragePooling1D()(h))
    m = seed_weights(K.Model(inp, out))
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 1], [2, 0, 0, 0, 0]])
    obs = {"p": m.predict(x, verbose=0)}
    obs["trained"] = _fit_one_epoch(K, m, x, data(4, 1, seed=9), 2)
    return obs
