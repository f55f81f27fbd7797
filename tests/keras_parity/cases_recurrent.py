"""Parity cases: recurrent layers (SimpleRNN, LSTM, GRU) with return_state, go_backwards,
initial_state, masks, dropout and GRU reset_after=False, and the Bidirectional / TimeDistributed
wrappers, on the same weights: shapes, parameter counts, predictions and one SGD epoch.

Dropout at training=True is compared on the same dropout masks: Keras' cells cache their masks
(`cell._dropout_mask`, `cell._recurrent_dropout_mask`) and use a preset one; dptrain's layers
draw theirs through `layer._dropout_masks`, replaced here by one returning the same arrays."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, to_numpy

RTOL, ATOL = 5e-4, 5e-5
MASK = np.array([[1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], bool)


def _fit_and_predict(K, m, x, y_seed=9):
    obs = {"params": m.count_params(), "shapes": [tuple(w.shape) for w in m.get_weights()],
           "p": m.predict(x, verbose=0)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    out_shape = m.output_shape
    y = data(len(x), *out_shape[1:], seed=y_seed)
    m.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    obs["trained"] = m.get_weights()
    obs["p_trained"] = m.predict(x, verbose=0)
    return obs


def _single(K, layer, input_shape, x):
    inp = K.Input(input_shape)
    out = layer(inp)
    if isinstance(out, (list, tuple)):
        out = K.layers.Concatenate()([K.layers.Flatten()(o) if len(o.shape) > 2 else o for o in out])
    elif len(out.shape) > 2:
        out = K.layers.Flatten()(out)
    m = seed_weights(K.Model(inp, K.layers.Dense(2)(out)))
    return _fit_and_predict(K, m, x)


def _eager(K, layer, x, **call):
    """Output(s) of a layer called on data, its weights seeded (Keras order) first."""
    layer(x)
    rng = np.random.default_rng(3)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.4 for w in layer.get_weights()])
    out = layer(x, **call)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return {"kind": type(out).__name__ if isinstance(out, (list, tuple)) else "tensor",
            "out": [to_numpy(o) for o in outs]}


# --- SimpleRNN -----------------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_simple_rnn_last_state(K):
    return _single(K, K.layers.SimpleRNN(5), (6, 3), data(4, 6, 3))


@case(rtol=RTOL, atol=ATOL)
def case_simple_rnn_sequences_relu_backwards(K):
    return _single(K, K.layers.SimpleRNN(4, activation="relu", return_sequences=True, go_backwards=True),
                   (6, 3), data(4, 6, 3))


@case(rtol=RTOL, atol=ATOL)
def case_simple_rnn_config_and_weights(K):
    layer = K.layers.SimpleRNN(3, use_bias=False, dropout=0.25, recurrent_dropout=0.5, return_state=True)
    layer(data(2, 4, 5))
    cfg = layer.get_config()
    keys = ("units", "activation", "use_bias", "dropout", "recurrent_dropout", "return_sequences",
            "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask")
    return {"cfg": {k: cfg[k] for k in keys}, "weights": [w.shape for w in layer.get_weights()],
            "names": [w.name.split("/")[-1] for w in layer.weights]}


# --- return_state, go_backwards, initial_state --------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_lstm_return_state_functional(K):
    return _single(K, K.layers.LSTM(4, return_state=True), (6, 3), data(4, 6, 3))


@case(rtol=RTOL, atol=ATOL)
def case_gru_return_state_sequences_backwards(K):
    return _single(K, K.layers.GRU(4, return_state=True, return_sequences=True, go_backwards=True),
                   (6, 3), data(4, 6, 3))


@case(rtol=RTOL, atol=ATOL)
def case_lstm_go_backwards_sequences(K):
    return _single(K, K.layers.LSTM(3, go_backwards=True, return_sequences=True), (5, 2), data(3, 5, 2))


@case(rtol=RTOL, atol=ATOL)
def case_rnn_return_state_eager_types(K):
    x = data(3, 6, 2)
    return {"lstm": _eager(K, K.layers.LSTM(3, return_state=True), x),
            "gru": _eager(K, K.layers.GRU(3, return_state=True, return_sequences=True), x),
            "simple": _eager(K, K.layers.SimpleRNN(3, return_state=True), x)}


@case(rtol=RTOL, atol=ATOL)
def case_rnn_initial_state_eager(K):
    x = data(3, 6, 2)
    h, c = data(3, 4, seed=5), data(3, 4, seed=6)
    return {"lstm": _eager(K, K.layers.LSTM(4, return_sequences=True), x, initial_state=[h, c]),
            "gru": _eager(K, K.layers.GRU(4, go_backwards=True), x, initial_state=[h]),
            "simple": _eager(K, K.layers.SimpleRNN(4, return_state=True), x, initial_state=h)}


@case(rtol=RTOL, atol=ATOL)
def case_lstm_encoder_decoder_initial_state(K):
    enc, dec = K.Input((6, 3)), K.Input((4, 2))
    _, h, c = K.layers.LSTM(5, return_state=True)(enc)
    seq = K.layers.LSTM(5, return_sequences=True)(dec, initial_state=[h, c])
    m = seed_weights(K.Model([enc, dec], K.layers.TimeDistributed(K.layers.Dense(2))(seq)))
    xe, xd = data(4, 6, 3), data(4, 4, 2, seed=2)
    obs = {"p": m.predict([xe, xd], verbose=0), "shape": tuple(m.output_shape)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit([xe, xd], data(4, 4, 2, seed=8), batch_size=4, epochs=1, shuffle=False, verbose=0)
    obs["trained"] = m.get_weights()
    return obs


# --- GRU reset_after=False -------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_gru_reset_after_false(K):
    return _single(K, K.layers.GRU(4, reset_after=False, return_sequences=True), (5, 3), data(4, 5, 3))


@case(rtol=RTOL, atol=ATOL)
def case_gru_reset_after_false_no_bias_state(K):
    return _single(K, K.layers.GRU(3, reset_after=False, use_bias=False, return_state=True), (5, 3),
                   data(4, 5, 3))


# --- masks -------------------------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_rnn_mask_eager(K):
    x = data(3, 6, 2)
    h = data(3, 3, seed=4)
    return {
        "lstm_seq": _eager(K, K.layers.LSTM(3, return_sequences=True, return_state=True), x, mask=MASK),
        "lstm_last": _eager(K, K.layers.LSTM(3), x, mask=MASK),
        "gru_back": _eager(K, K.layers.GRU(3, return_sequences=True, go_backwards=True), x, mask=MASK),
        "gru_h0": _eager(K, K.layers.GRU(3, return_sequences=True), x, mask=MASK, initial_state=[h]),
        "simple_zero": _eager(K, K.layers.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True), x,
                              mask=MASK, initial_state=h),
        "gru_classic": _eager(K, K.layers.GRU(3, reset_after=False, return_state=True), x, mask=MASK),
    }


@case(rtol=RTOL, atol=ATOL)
def case_rnn_compute_mask(K):
    mask = K.ops.convert_to_tensor(MASK) if K.__name__ == "keras" else MASK
    seq = K.layers.LSTM(2, return_sequences=True)
    last = K.layers.GRU(2)
    both = K.layers.SimpleRNN(2, return_sequences=True, return_state=True)
    x = data(3, 6, 2)
    for layer in (seq, last, both):
        layer(x)
    m_both = both.compute_mask(x, mask)
    return {"seq": to_numpy(seq.compute_mask(x, mask)), "last": last.compute_mask(x, mask),
            "both": [to_numpy(m_both[0]), m_both[1]]}


# --- dropout -----------------------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_rnn_dropout_is_the_identity_at_inference(K):
    x = data(4, 6, 3)
    outs = {}
    for name, make in (("lstm", K.layers.LSTM), ("gru", K.layers.GRU), ("simple", K.layers.SimpleRNN)):
        m = seed_weights(K.Sequential([K.Input((6, 3)), make(4, dropout=0.4, recurrent_dropout=0.3),
                                       K.layers.Dense(1)]))
        outs[name] = m.predict(x, verbose=0)
    return outs


def _masks(shape, rate, count, seed):
    rng = np.random.default_rng(seed)
    return [((rng.random(shape) >= rate) / (1.0 - rate)).astype(np.float32) for _ in range(count)]


def _with_masks(K, layer, x, in_masks, rec_masks):
    """layer(x, training=True) with the given dropout masks (lists of arrays; one, or one per gate)."""
    layer(x)
    rng = np.random.default_rng(3)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.4 for w in layer.get_weights()])
    if K.__name__ == "keras":
        t = K.ops.convert_to_tensor
        pick = (lambda ms: None if ms is None else (t(ms[0]) if len(ms) == 1 else [t(m) for m in ms]))
        layer.cell._dropout_mask = pick(in_masks)
        layer.cell._recurrent_dropout_mask = pick(rec_masks)
    else:
        from engine.tensor import as_tensor

        def given(rate, shape, count, like):
            ms = in_masks if tuple(shape) == x.shape[::2] else rec_masks
            assert len(ms) == count, (len(ms), count)
            return [as_tensor(m) for m in ms]
        layer._dropout_masks = given
    return to_numpy(layer(x, training=True))


@case(rtol=RTOL, atol=ATOL)
def case_rnn_dropout_masks_at_training(K):
    x = data(3, 5, 4)
    return {
        # input dropout only: one mask for every gate (the fused path on dptrain)
        "lstm_in": _with_masks(K, K.layers.LSTM(3, dropout=0.5, return_sequences=True), x,
                               _masks((3, 4), 0.5, 1, 1), None),
        "gru_in": _with_masks(K, K.layers.GRU(3, dropout=0.5), x, _masks((3, 4), 0.5, 1, 2), None),
        # recurrent dropout: one mask per gate, on the inputs and on the state (Keras' implementation 1)
        "lstm_rec": _with_masks(K, K.layers.LSTM(3, dropout=0.3, recurrent_dropout=0.4, return_sequences=True), x,
                                _masks((3, 4), 0.3, 4, 3), _masks((3, 3), 0.4, 4, 4)),
        "gru_rec": _with_masks(K, K.layers.GRU(3, dropout=0.3, recurrent_dropout=0.4), x,
                               _masks((3, 4), 0.3, 3, 5), _masks((3, 3), 0.4, 3, 6)),
        "gru_classic_rec": _with_masks(K, K.layers.GRU(3, reset_after=False, recurrent_dropout=0.4,
                                                       return_sequences=True), x, None, _masks((3, 3), 0.4, 3, 7)),
        "simple": _with_masks(K, K.layers.SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True),
                              x, _masks((3, 4), 0.5, 1, 8), _masks((3, 3), 0.5, 1, 9)),
    }


# --- Bidirectional -------------------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_bidirectional_lstm_concat_sequences(K):
    return _single(K, K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True)), (5, 2), data(4, 5, 2))


@case(rtol=RTOL, atol=ATOL)
def case_bidirectional_gru_merge_modes(K):
    x = data(3, 5, 2)
    return {mode or "none": _eager(K, K.layers.Bidirectional(K.layers.GRU(3), merge_mode=mode), x)
            for mode in ("sum", "mul", "ave", None)}


@case(rtol=RTOL, atol=ATOL)
def case_bidirectional_return_state(K):
    x = data(3, 6, 2)
    h = [data(3, 3, seed=s) for s in range(4)]
    return {"lstm": _eager(K, K.layers.Bidirectional(K.layers.LSTM(3, return_state=True)), x),
            "gru_none": _eager(K, K.layers.Bidirectional(K.layers.GRU(3, return_state=True, return_sequences=True),
                                                         merge_mode=None), x),
            "lstm_h0": _eager(K, K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True)), x,
                              initial_state=h)}


@case(rtol=RTOL, atol=ATOL)
def case_bidirectional_mask_and_backward_layer(K):
    x = data(3, 6, 2)
    back = K.layers.SimpleRNN(3, go_backwards=True, return_sequences=True)
    return {"mask_seq": _eager(K, K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True)), x, mask=MASK),
            "mask_last": _eager(K, K.layers.Bidirectional(K.layers.GRU(3), merge_mode="sum"), x, mask=MASK),
            "backward_layer": _eager(K, K.layers.Bidirectional(K.layers.GRU(3, return_sequences=True),
                                                               backward_layer=back), x)}


@case(rtol=RTOL, atol=ATOL)
def case_bidirectional_stacked_trained(K):
    m = K.Sequential([K.Input((5, 3)), K.layers.Bidirectional(K.layers.GRU(3, return_sequences=True)),
                      K.layers.Bidirectional(K.layers.SimpleRNN(2), merge_mode="ave"), K.layers.Dense(1)])
    return _fit_and_predict(K, seed_weights(m), data(4, 5, 3))


@case()
def case_bidirectional_config_and_errors(K):
    b = K.layers.Bidirectional(K.layers.LSTM(3, name="enc"), merge_mode="mul")
    b(data(2, 4, 3))
    cfg = b.get_config()
    return {"merge_mode": cfg["merge_mode"], "layer": cfg["layer"]["class_name"],
            "names": [cfg["layer"]["config"]["name"], cfg["backward_layer"]["config"]["name"]],
            "go_backwards": [cfg["layer"]["config"]["go_backwards"], cfg["backward_layer"]["config"]["go_backwards"]],
            "weights": [w.shape for w in b.get_weights()],
            "bad_merge": observe_error(lambda: K.layers.Bidirectional(K.layers.LSTM(2), merge_mode="max")),
            "same_direction": observe_error(lambda: K.layers.Bidirectional(
                K.layers.LSTM(2), backward_layer=K.layers.LSTM(2))),
            "not_a_layer": observe_error(lambda: K.layers.Bidirectional("lstm"))}


# --- TimeDistributed -------------------------------------------------------------------------------------
@case(rtol=RTOL, atol=ATOL)
def case_time_distributed_dense_trained(K):
    m = K.Sequential([K.Input((5, 3)), K.layers.TimeDistributed(K.layers.Dense(4, activation="tanh")),
                      K.layers.LSTM(2)])
    return _fit_and_predict(K, seed_weights(m), data(4, 5, 3))


@case(rtol=RTOL, atol=ATOL)
def case_time_distributed_over_a_sequence_layer(K):
    td = K.layers.TimeDistributed(K.layers.GRU(3))
    x = data(2, 3, 4, 5)
    obs = _eager(K, td, x)
    obs["shape"] = tuple(td.compute_output_shape((None, 3, 4, 5)))
    obs["cfg"] = td.get_config()["layer"]["class_name"]
    obs["too_small"] = observe_error(lambda: K.layers.TimeDistributed(K.layers.Dense(2))(data(2, 3)))
    return obs


# --- gaps ----------------------------------------------------------------------------------------------
@case(missing="RNN stateful=True")
def case_rnn_stateful(K):
    layer = K.layers.LSTM(2, stateful=True)
    return to_numpy(layer(data(2, 3, 4)))


@case(rtol=RTOL, atol=ATOL)
def case_rnn_activity_regularizer_with_return_state(K):
    """Keras adds one activity penalty per output: the sequence and each state."""
    x = data(3, 4, 2)
    out = {}
    for name, layer in (("gru", K.layers.GRU(3, return_state=True, return_sequences=True,
                                             activity_regularizer=K.regularizers.L2(0.1))),
                        ("lstm", K.layers.LSTM(2, return_state=True, activity_regularizer=K.regularizers.L1(0.05)))):
        layer(x)
        layer.set_weights([np.full(w.shape, 0.3, np.float32) for w in layer.get_weights()])
        layer(x)
        out[name] = [float(to_numpy(v)) for v in layer.losses]
    return out


@case(rtol=RTOL, atol=ATOL)
def case_rnn_mask_from_embedding_mask_zero(K):
    """A padded token batch: Embedding(mask_zero=True)'s mask flows through Bidirectional,
    TimeDistributed and a GRU (needs the layers' mask plumbing)."""
    tokens = np.array([[3, 4, 0, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0], [0, 2, 0, 6, 0]])
    inp = K.Input((5,), dtype="int32")
    emb = K.layers.Embedding(10, 3, mask_zero=True)(inp)
    seq = K.layers.Bidirectional(K.layers.LSTM(2, return_sequences=True))(emb)
    out = K.layers.GRU(2)(K.layers.TimeDistributed(K.layers.Dense(2))(seq))
    m = seed_weights(K.Model(inp, out))
    obs = {"p": m.predict(tokens, verbose=0)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(tokens, data(4, 2, seed=3), batch_size=4, epochs=1, shuffle=False, verbose=0)
    obs["trained"] = m.get_weights()
    return obs
