"""Parity cases: `keras.ops` (K.ops): custom layers written with ops (predictions on the same
weights, one SGD epoch's weights, i.e. the gradients), ops on symbolic tensors in functional
models, op values and dtypes on numpy inputs, and the errors users see."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, shape_of, to_numpy


def _ops_layer(K, body, units=4):
    """A custom layer holding a [features, units] kernel; call = body(ops, x, kernel)."""
    class OpsLayer(K.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], units), initializer="glorot_uniform",
                                          name="kernel")
            self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")

        def call(self, x):
            return body(K.ops, x, self.kernel, self.bias)
    return OpsLayer()


def _model(K, body, n_in=5, units=4):
    m = K.Sequential([K.Input((n_in,)), _ops_layer(K, body, units), K.layers.Dense(2)])
    return seed_weights(m)


def _observe(K, body, n_in=5, units=4, n=8):
    """Predictions, then the weights after one SGD epoch of two batches on an MSE loss."""
    m = _model(K, body, n_in, units)
    x, y = data(n, n_in), data(n, 2, seed=3)
    pred = m.predict(x, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=n // 2, epochs=1, shuffle=False, verbose=0)
    return {"shape": tuple(m.output_shape), "params": m.count_params(), "p": pred, "weights": m.get_weights()}


def _h(ops, x, w, b):
    return ops.add(ops.matmul(x, w), b)


BODIES = {
    "matmul_relu": lambda ops, x, w, b: ops.relu(ops.add(ops.matmul(x, w), b)),
    "dot_tanh": lambda ops, x, w, b: ops.tanh(ops.dot(x, w) + b),
    "einsum": lambda ops, x, w, b: ops.einsum("bi,ij->bj", x, w) * ops.einsum("ij,ij->j", w, w) + b,
    "softmax_logsumexp": lambda ops, x, w, b: ops.softmax(_h(ops, x, w, b)) * ops.logsumexp(_h(ops, x, w, b), axis=-1,
                                                                                          keepdims=True),
    "log_softmax_sigmoid": lambda ops, x, w, b: ops.log_softmax(_h(ops, x, w, b), axis=-1) + ops.sigmoid(x[:, :4]),
    "norm_normalize": lambda ops, x, w, b: ops.normalize(_h(ops, x, w, b)) + ops.norm(_h(ops, x, w, b), axis=-1,
                                                                                    keepdims=True),
    "erf_gelu_silu": lambda ops, x, w, b: ops.erf(_h(ops, x, w, b)) + ops.gelu(_h(ops, x, w, b))
    + ops.gelu(_h(ops, x, w, b), approximate=False) + ops.silu(_h(ops, x, w, b)),
    "elu_selu_softplus_leaky": lambda ops, x, w, b: ops.nn.elu(_h(ops, x, w, b)) + ops.nn.selu(_h(ops, x, w, b))
    + ops.nn.softplus(_h(ops, x, w, b)) + ops.nn.leaky_relu(_h(ops, x, w, b)) + ops.nn.relu6(3 * _h(ops, x, w, b)),
    "sort_top_k": lambda ops, x, w, b: ops.concatenate([ops.sort(_h(ops, x, w, b)), ops.top_k(_h(ops, x, w, b), 2)[0]],
                                                       axis=-1),
    "cumsum_cumprod": lambda ops, x, w, b: ops.cumsum(_h(ops, x, w, b), axis=-1)
    + ops.cumprod(ops.sigmoid(_h(ops, x, w, b)), axis=-1),
    "where_maximum_clip": lambda ops, x, w, b: ops.where(ops.greater(_h(ops, x, w, b), 0), _h(ops, x, w, b),
                                                         0.1 * _h(ops, x, w, b))
    + ops.maximum(_h(ops, x, w, b), 0.2) + ops.clip(_h(ops, x, w, b), -0.5, 0.5)
    + ops.minimum(_h(ops, x, w, b), x[:, 1:]),
    "reshape_tril_flip_roll_pad": lambda ops, x, w, b: ops.reshape(ops.pad(ops.roll(ops.flip(ops.tril(
        ops.reshape(_h(ops, x, w, b), (-1, 2, 2))), axis=1), 1, axis=2), ((0, 0), (1, 0), (0, 1))), (-1, 9)),
    "take_and_gathers": lambda ops, x, w, b: ops.take(_h(ops, x, w, b), np.array([2, 0, 3]), axis=1)
    * ops.take_along_axis(_h(ops, x, w, b), ops.argsort(x[:, :3], axis=-1), axis=1),
    "mean_std_var": lambda ops, x, w, b: (_h(ops, x, w, b) - ops.mean(_h(ops, x, w, b), axis=-1, keepdims=True))
    / ops.std(_h(ops, x, w, b), axis=-1, keepdims=True) + ops.var(x[:, :4], axis=0),
    "stack_split_tile_repeat": lambda ops, x, w, b: ops.concatenate(
        [ops.reshape(ops.stack(ops.split(_h(ops, x, w, b), 2, axis=-1), axis=1), (-1, 4)),
         ops.tile(_h(ops, x, w, b)[:, :1], (1, 2)), ops.repeat(_h(ops, x, w, b)[:, 1:3], 2, axis=1)], axis=-1),
    "power_exp_log_sqrt": lambda ops, x, w, b: ops.power(ops.abs(_h(ops, x, w, b)) + 1, 1.5)
    + ops.log(ops.exp(_h(ops, x, w, b)) + 1) + ops.sqrt(ops.square(_h(ops, x, w, b)) + 1),
    "expand_squeeze_transpose": lambda ops, x, w, b: ops.squeeze(ops.transpose(ops.expand_dims(_h(ops, x, w, b), -1),
                                                                               (0, 2, 1)), axis=1),
    "max_min_sum_prod": lambda ops, x, w, b: ops.stack([ops.max(_h(ops, x, w, b), axis=-1), ops.min(
        _h(ops, x, w, b), axis=-1), ops.sum(_h(ops, x, w, b), axis=-1), ops.prod(_h(ops, x, w, b), axis=-1)], axis=-1),
    "one_hot_mask": lambda ops, x, w, b: _h(ops, x, w, b) * ops.one_hot(ops.argmax(x[:, :4], axis=-1), 4)
    + ops.stop_gradient(_h(ops, x, w, b)),
    "triu_eye_arange": lambda ops, x, w, b: ops.matmul(_h(ops, x, w, b), ops.triu(ops.ones((4, 4))) + ops.eye(4))
    + ops.cast(ops.arange(4), "float32"),
    "moments_batch_normalization": lambda ops, x, w, b: ops.nn.batch_normalization(
        _h(ops, x, w, b), *ops.nn.moments(_h(ops, x, w, b), axes=[0]), axis=-1, offset=b, scale=ops.ones((4,)),
        epsilon=1e-3),
}


def _body_case(name, body):
    def fn(K):
        return _observe(K, body)
    fn.__name__ = f"case_ops_layer_{name}"
    case()(fn)


for _name, _body in BODIES.items():
    _body_case(_name, _body)


@case()
def case_ops_layer_conv_and_pooling(K):
    class ConvBlock(K.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], 4), initializer="glorot_uniform", name="k")
            self.dw = self.add_weight(shape=(2, 2, 4, 1), initializer="glorot_uniform", name="dw")

        def call(self, x):
            ops = K.ops
            h = ops.relu(ops.conv(x, self.kernel, strides=1, padding="same"))
            h = ops.max_pool(h, 2, strides=2, padding="valid")
            h = ops.depthwise_conv(h, self.dw, padding="same")
            h = ops.average_pool(h, 2, strides=1, padding="same")
            return ops.reshape(h, (-1, 3 * 3 * 4))
    m = seed_weights(K.Sequential([K.Input((6, 6, 2)), ConvBlock(), K.layers.Dense(2)]))
    x, y = data(4, 6, 6, 2), data(4, 2, seed=3)
    pred = m.predict(x, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return {"p": pred, "weights": m.get_weights()}


@case()
def case_ops_layer_dilated_conv1d(K):
    class Conv1DOps(K.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, input_shape[-1], 3), initializer="glorot_uniform", name="k")

        def call(self, x):
            h = K.ops.conv(x, self.kernel, strides=1, padding="same", dilation_rate=2)
            return K.ops.mean(K.ops.tanh(h), axis=1)
    m = seed_weights(K.Sequential([K.Input((7, 2)), Conv1DOps(), K.layers.Dense(2)]))
    x, y = data(4, 7, 2), data(4, 2, seed=3)
    pred = m.predict(x, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return {"p": pred, "weights": m.get_weights()}


@case()
def case_ops_layer_dot_product_attention(K):
    class SelfAttention(K.layers.Layer):
        def build(self, input_shape):
            d = input_shape[-1]
            self.wq = self.add_weight(shape=(d, 4), initializer="glorot_uniform", name="wq")
            self.wk = self.add_weight(shape=(d, 4), initializer="glorot_uniform", name="wk")
            self.wv = self.add_weight(shape=(d, 4), initializer="glorot_uniform", name="wv")

        def call(self, x):
            ops = K.ops
            split = lambda t: ops.reshape(t, (-1, x.shape[1], 2, 2))  # noqa: E731
            q, k, v = (split(ops.matmul(x, w)) for w in (self.wq, self.wk, self.wv))
            out = ops.nn.dot_product_attention(q, k, v, is_causal=True)
            return ops.reshape(out, (-1, x.shape[1] * 4))
    m = seed_weights(K.Sequential([K.Input((3, 5)), SelfAttention(), K.layers.Dense(2)]))
    x, y = data(4, 3, 5), data(4, 2, seed=3)
    pred = m.predict(x, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return {"p": pred, "weights": m.get_weights()}


@case()
def case_ops_in_a_subclassed_model_with_crossentropy_loss(K):
    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(3)

        def call(self, x):
            h = self.dense(x)
            return K.ops.softmax(h - K.ops.max(h, axis=-1, keepdims=True))
    m = Net()
    m(data(2, 4))
    seed_weights(m)
    x, y = data(8, 4), data(8, low=0, high=3)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "p": m.predict(x, verbose=0)}


@case()
def case_ops_on_symbolic_tensors_in_a_functional_model(K):
    ops = K.ops
    inp = K.Input((5,))
    h = K.layers.Dense(4)(inp)
    h = ops.relu(h)
    h = ops.concatenate([h, ops.square(h)], axis=-1)
    out = K.layers.Dense(2)(ops.multiply(ops.expand_dims(ops.mean(h, axis=-1), -1), h))
    m = seed_weights(K.Model(inp, out))
    x, y = data(8, 5), data(8, 2, seed=3)
    pred = m.predict(x, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {"shape": shape_of(out), "p": pred, "weights": m.get_weights()}


def _values(K, fns):
    return {name: to_numpy(K.ops.convert_to_numpy(fn(K.ops))) for name, fn in fns.items()}


A, B = data(3, 4), data(3, 4, seed=1)
A3, B3 = data(2, 3, 4, seed=2), data(2, 4, 5, seed=3)


@case()
def case_ops_values_einsum(K):
    return _values(K, {
        "matmul": lambda o: o.einsum("ij,kj->ik", A, B), "batched": lambda o: o.einsum("bij,bjk->bik", A3, B3),
        "ellipsis": lambda o: o.einsum("...j,jk->...k", A3, B3[0]), "trace": lambda o: o.einsum("ii", A[:, :3]),
        "diag": lambda o: o.einsum("ii->i", A[:, :3]), "outer": lambda o: o.einsum("i,j->ij", A[0], B[1]),
        "sum": lambda o: o.einsum("ijk->j", A3), "implicit": lambda o: o.einsum("ij,jk", A, B.T),
        "three": lambda o: o.einsum("ij,jk,kl->il", A, B.T, A),
        "attention": lambda o: o.einsum("bqhd,bkhd->bhqk", A3.reshape(2, 3, 2, 2), A3.reshape(2, 3, 2, 2)),
    })


@case()
def case_ops_values_numpy_like(K):
    return _values(K, {
        "dot": lambda o: o.dot(A, B.T), "dot_nd_1d": lambda o: o.dot(A3, B[0]),
        "tensordot": lambda o: o.tensordot(A3, B3[0], axes=1),
        "cross": lambda o: o.cross(A[:2, :3], B[:2, :3]), "outer": lambda o: o.outer(A[0], B[0]),
        "norm": lambda o: o.norm(A), "norm_1": lambda o: o.norm(A, ord=1, axis=0),
        "norm_inf": lambda o: o.norm(A, ord=np.inf), "norm_fro": lambda o: o.norm(A3, "fro", axis=(1, 2)),
        "std": lambda o: o.std(A, axis=1), "var": lambda o: o.var(A, axis=0, keepdims=True),
        "logsumexp": lambda o: o.logsumexp(A, axis=0), "median": lambda o: o.median(A, axis=1),
        "cumsum": lambda o: o.cumsum(A, axis=1), "cumprod": lambda o: o.cumprod(A), "prod": lambda o: o.prod(A, 0),
        "pad_constant": lambda o: o.pad(A, ((1, 0), (0, 2)), constant_values=3.0),
        "pad_reflect": lambda o: o.pad(A, ((1, 1), (2, 1)), mode="reflect"),
        "flip": lambda o: o.flip(A3, axis=(0, 2)), "roll": lambda o: o.roll(A, -1, axis=0),
        "roll_flat": lambda o: o.roll(A, 5), "tril": lambda o: o.tril(A, 1), "triu": lambda o: o.triu(A3, -1),
        "tile": lambda o: o.tile(A, (2, 1, 2)), "repeat": lambda o: o.repeat(A, 2), "sort": lambda o: o.sort(A, 0),
        "take": lambda o: o.take(A, np.array([[1, -1]]), axis=1), "take_flat": lambda o: o.take(A, np.array([11, 0])),
        "take_along_axis": lambda o: o.take_along_axis(A, np.argsort(B, axis=0), axis=0),
        "where": lambda o: o.where(A > 0, A, B), "maximum": lambda o: o.maximum(A, 0.0),
        "clip": lambda o: o.clip(A, -0.3, 0.4), "erf": lambda o: o.erf(A), "split": lambda o: o.split(A, [1, 3], 1)[1],
        "stack": lambda o: o.stack([A, B], axis=1), "diag": lambda o: o.diag(A[0]), "trace": lambda o: o.trace(A),
        "swapaxes": lambda o: o.swapaxes(A3, 0, 2), "moveaxis": lambda o: o.moveaxis(A3, 0, -1),
        "broadcast_to": lambda o: o.broadcast_to(A[0], (2, 4)), "arange": lambda o: o.arange(1, 3, 0.5),
        "linspace": lambda o: o.linspace(0.0, 1.0, 5), "eye": lambda o: o.eye(3, 4, k=1),
        "full": lambda o: o.full((2,), 3),
        "mod": lambda o: o.mod(A, 0.7), "logaddexp": lambda o: o.logaddexp(A, B), "log1p": lambda o: o.log1p(A * A),
        "average": lambda o: o.average(A, axis=1, weights=np.array([1.0, 2.0, 3.0, 4.0], np.float32)),
        "slice_update": lambda o: o.slice_update(A, (1, 1), np.zeros((2, 2), np.float32)),
        "slice": lambda o: o.slice(A, (1, 0), (2, 3)), "nan_to_num": lambda o: o.nan_to_num(o.log(A)),
    })


@case()
def case_ops_values_nn(K):
    t = data(3, 4, seed=4) ** 2
    t = t / t.sum(-1, keepdims=True)
    labels = np.array([1, 0, 3])
    x4 = data(2, 5, 5, 2, seed=5)
    k = data(3, 3, 2, 3, seed=6)
    return _values(K, {
        "softmax_axes": lambda o: o.softmax(A3, axis=(1, 2)), "log_softmax0": lambda o: o.log_softmax(A, axis=0),
        "cce_logits": lambda o: o.categorical_crossentropy(t, A, from_logits=True),
        "cce_probs": lambda o: o.categorical_crossentropy(t, o.softmax(A)),
        "scce_logits": lambda o: o.sparse_categorical_crossentropy(labels, A, from_logits=True),
        "scce_probs": lambda o: o.sparse_categorical_crossentropy(labels, o.softmax(A)),
        "bce": lambda o: o.binary_crossentropy(t, o.sigmoid(B)),
        "bce_logits": lambda o: o.binary_crossentropy(t, B, from_logits=True),
        "moments_var": lambda o: o.moments(A3, axes=[0, 1])[1], "normalize": lambda o: o.normalize(A, axis=0),
        "normalize_l1": lambda o: o.normalize(A, order=1), "one_hot": lambda o: o.one_hot(np.array([0, 2, -1]), 3),
        "multi_hot": lambda o: o.multi_hot(np.array([[0, 2], [1, 1]]), 3),
        "hard_sigmoid": lambda o: o.hard_sigmoid(A * 4),
        "hard_silu": lambda o: o.hard_silu(A * 4), "celu": lambda o: o.celu(A), "glu": lambda o: o.glu(A),
        "log_sigmoid": lambda o: o.log_sigmoid(A * 5), "softsign": lambda o: o.softsign(A),
        "squareplus": lambda o: o.squareplus(A),
        "conv_same_stride2": lambda o: o.conv(x4, k, strides=2, padding="same"),
        "conv_dilated": lambda o: o.conv(x4, k, padding="valid", dilation_rate=(2, 1)),
        "conv_groups": lambda o: o.conv(x4, k[:, :, :1, :2], padding="same"),
        "conv_channels_first": lambda o: o.conv(x4.transpose(0, 3, 1, 2), k, data_format="channels_first"),
        "separable": lambda o: o.separable_conv(x4, k[..., :1], data(1, 1, 2, 3, seed=7), padding="same"),
        "max_pool_same": lambda o: o.max_pool(x4, 2, strides=2, padding="same"),
        "avg_pool_same": lambda o: o.average_pool(x4, 2, strides=2, padding="same"),
        "avg_pool_same_3": lambda o: o.average_pool(x4, 3, strides=1, padding="same"),
        "avg_pool1d": lambda o: o.average_pool(A3, 2, strides=1, padding="same"),
        "depth_to_space": lambda o: o.depth_to_space(data(1, 2, 2, 8, seed=8), 2),
        "space_to_depth": lambda o: o.space_to_depth(x4[:, :4, :4], 2),
        "attention_mask": lambda o: o.dot_product_attention(A3.reshape(2, 3, 2, 2), B3[:, :3, :4].reshape(2, 3, 2, 2),
                                                            B3[:, :3, 1:].reshape(2, 3, 2, 2),
                                                            mask=np.tril(np.ones((3, 3), bool))),
    })


@case()
def case_ops_values_image(K):
    img = data(2, 4, 5, 3, seed=9)
    return _values(K, {
        "bilinear_up": lambda o: o.image.resize(img, (7, 9)), "bilinear_down": lambda o: o.image.resize(img, (2, 3)),
        "nearest": lambda o: o.image.resize(img, (6, 4), interpolation="nearest"),
        "crop": lambda o: o.image.resize(img, (3, 3), crop_to_aspect_ratio=True),
        "pad": lambda o: o.image.resize(img, (3, 3), pad_to_aspect_ratio=True, fill_value=0.5),
        "grayscale": lambda o: o.image.rgb_to_grayscale(img),
    })


@case()
def case_ops_gradients_through_a_custom_train_loss(K):
    """The gradient of an ops-only loss reaches the weights: a model trained with a loss
    function written with ops (one SGD epoch)."""
    def loss(y_true, y_pred):
        ops = K.ops
        d = y_pred - y_true
        return ops.mean(ops.where(ops.less(ops.abs(d), 0.5), 0.5 * ops.square(d), ops.abs(d) - 0.125), axis=-1) \
            + 0.01 * ops.logsumexp(y_pred, axis=-1)
    m = seed_weights(K.Sequential([K.Input((4,)), K.layers.Dense(3, activation="tanh"), K.layers.Dense(2)]))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss=loss)
    m.fit(data(8, 4), data(8, 2, seed=3), batch_size=4, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_ops_dtypes(K):
    o = K.ops
    i32, i64, f32 = np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(6).reshape(2, 3), np.ones((2, 3), np.float32)

    def dt(t):
        return str(o.convert_to_numpy(t).dtype)
    return {
        "add_ints": dt(o.add(i32, i32)), "add_wide": dt(o.add(i64, i32)), "add_mixed": dt(o.add(i32, f32)),
        "int_plus_float": dt(o.add(i32, 1.5)), "int_plus_int": dt(o.add(i32, 2)), "divide": dt(o.divide(i32, i32 + 1)),
        "mean_int": dt(o.mean(i32)), "sum_bool": dt(o.sum(i32 > 2)), "exp_int": dt(o.exp(i64)),
        "relu_int": dt(o.relu(i32)), "argmax": dt(o.argmax(f32)), "argsort": dt(o.argsort(f32)),
        "one_hot": dt(o.one_hot(np.array([0, 1]), 2)), "arange_int": dt(o.arange(5)),
        "arange_float": dt(o.arange(0, 1, 0.5)), "zeros": dt(o.zeros((2,))),
        "list_int": dt(o.convert_to_tensor([1, 2])),
        "list_float": dt(o.convert_to_tensor([1.0, 2.0])), "np_int64": dt(o.convert_to_tensor(i64)),
        "greater": dt(o.greater(f32, 0)), "where_mixed": dt(o.where(i32 > 2, i32, 0.5)),
        "clip_int": dt(o.clip(i32, 1, 3)),
        "cumsum_bool": dt(o.cumsum(i32 > 1)), "full": dt(o.full((2,), 3)), "cast": dt(o.cast(f32, "int32")),
        "square_int": dt(o.square(i32)), "max_int": dt(o.max(i32)), "matmul_int": dt(o.matmul(i32, i32.T)),
        "shape": o.shape(f32), "sort_int": dt(o.sort(i32)), "erf_int": dt(o.erf(i32)),
        "sigmoid_int": dt(o.sigmoid(i32)),
    }


@case()
def case_ops_integer_values(K):
    i = np.arange(12).reshape(3, 4)
    return _values(K, {
        "matmul": lambda o: o.matmul(i, i.T), "cumsum": lambda o: o.cumsum(i, axis=1),
        "take": lambda o: o.take(i, [2, -1], 1),
        "argmax": lambda o: o.argmax(A, axis=1), "argmin": lambda o: o.argmin(A),
        "top_k_idx": lambda o: o.top_k(A, 2)[1],
        "argsort": lambda o: o.argsort(A, axis=0), "where_idx": lambda o: o.where(A > 0.5),
        "count_nonzero": lambda o: o.count_nonzero(A > 0, axis=0), "floor_divide": lambda o: o.floor_divide(i, 5),
        "logical": lambda o: o.logical_and(i > 2, i < 8), "equal": lambda o: o.equal(i % 3, 0),
        "sum_bool": lambda o: o.sum(i > 4, axis=1), "max_int": lambda o: o.max(i, axis=0),
    })


@case()
def case_ops_errors(K):
    o = K.ops
    return {
        "split_uneven": observe_error(lambda: o.split(A, 3, axis=1)),
        "cce_shapes": observe_error(lambda: o.categorical_crossentropy(A, B[:, :3])),
        "bce_shapes": observe_error(lambda: o.binary_crossentropy(A, B[:, :3])),
        "top_k_ok": observe_error(lambda: o.top_k(A, 2)),
        "normalize_order": observe_error(lambda: o.normalize(A, order=0)),
        "max_empty": observe_error(lambda: o.max(np.zeros((0,), np.float32))),
        "attention_rank": observe_error(lambda: o.dot_product_attention(A, A, A)),
        "pad_constant_mode": observe_error(lambda: o.pad(A, 1, mode="reflect", constant_values=1.0)),
    }


@case()
def case_ops_values_more(K):
    seq = data(2, 10, seed=10)
    return _values(K, {
        "segment_sum": lambda o: o.segment_sum(A, np.array([1, 0, 1]), num_segments=3),
        "extract_sequences": lambda o: o.extract_sequences(seq, 4, 3),
        "in_top_k": lambda o: o.in_top_k(np.array([1, 0, 3]), A, 2), "rsqrt": lambda o: o.rsqrt(A * A + 0.1),
        "erfinv": lambda o: o.erfinv(A * 0.3), "psnr": lambda o: o.nn.psnr(A, B, 2.0),
        "meshgrid_ij": lambda o: o.meshgrid(A[0], B[:, 0], indexing="ij")[1], "vdot": lambda o: o.vdot(A[0], B[1]),
        "inner": lambda o: o.inner(A, B), "hstack": lambda o: o.hstack([A, B]), "vstack": lambda o: o.vstack([A, B]),
        "isclose": lambda o: o.isclose(A, A + 1e-9), "tri": lambda o: o.tri(3, 4, -1),
        "threshold": lambda o: o.nn.threshold(A, 0.1, -2.0), "hard_shrink": lambda o: o.nn.hard_shrink(A),
        "soft_shrink": lambda o: o.nn.soft_shrink(A), "sparse_plus": lambda o: o.nn.sparse_plus(A * 2),
        "sparse_sigmoid": lambda o: o.nn.sparse_sigmoid(A * 2), "tanh_shrink": lambda o: o.nn.tanh_shrink(A),
        "hard_tanh": lambda o: o.nn.hard_tanh(A * 2), "unstack": lambda o: o.unstack(o.convert_to_tensor(A), axis=1)[2],
        "arctan2": lambda o: o.arctan2(A, B), "median_all": lambda o: o.median(A),
        "diagonal": lambda o: o.diagonal(A3, 1, 1, 2),
        "sinh_cosh": lambda o: o.sinh(A) * o.cosh(B), "tan": lambda o: o.tan(A), "expm1": lambda o: o.expm1(A),
        "log2_10": lambda o: o.log2(A * A) + o.log10(B * B), "exp2": lambda o: o.exp2(A), "sign": lambda o: o.sign(A),
        "round": lambda o: o.round(A * 3), "floor_ceil": lambda o: o.floor(A * 3) + o.ceil(B * 3),
        "fori_loop": lambda o: o.fori_loop(0, 3, lambda i, v: v * 2 + i, o.convert_to_tensor(A)),
        "vectorized_map": lambda o: o.vectorized_map(lambda r: o.sum(r * r), o.convert_to_tensor(A)),
        "amax_amin": lambda o: o.amax(A, axis=0) - o.amin(A, axis=1, keepdims=True),
        "reciprocal": lambda o: o.reciprocal(A), "silu": lambda o: o.nn.swish(A), "relu6": lambda o: o.relu6(A * 5),
        "ones_like": lambda o: o.ones_like(A, dtype="int32"), "full_like": lambda o: o.full_like(A, 2.5),
        "identity": lambda o: o.identity(3), "ravel": lambda o: o.ravel(A3), "copy": lambda o: o.copy(A),
    })


@case()
def case_ops_values_rest_of_numpy(K):
    with_nan = np.where(A > 0.8, np.nan, A).astype(np.float32)
    return _values(K, {
        "fmax": lambda o: o.fmax(with_nan, B), "fmod": lambda o: o.fmod(A * 3, 0.7), "hypot": lambda o: o.hypot(A, B),
        "cbrt": lambda o: o.cbrt(A), "sinc": lambda o: o.sinc(A), "deg2rad": lambda o: o.deg2rad(A),
        "logaddexp2": lambda o: o.logaddexp2(A, B), "kron": lambda o: o.kron(A[:2, :2], B[:2, :3]),
        "divide_no_nan": lambda o: o.divide_no_nan(A, np.where(B > 0, B, 0).astype(np.float32)),
        "nansum": lambda o: o.nansum(with_nan, axis=1), "nanmean": lambda o: o.nanmean(with_nan, axis=0),
        "nanmax": lambda o: o.nanmax(with_nan), "nanstd": lambda o: o.nanstd(with_nan, axis=1),
        "ptp": lambda o: o.ptp(A, axis=1), "rot90": lambda o: o.rot90(A3, 1, (1, 2)), "diff": lambda o: o.diff(A, 2),
        "select": lambda o: o.select([A > 0.5, A < -0.5], [A, B], 7.0), "trapezoid": lambda o: o.trapezoid(A, dx=0.5),
        "vander": lambda o: o.vander(A[0], 3), "array_split": lambda o: o.array_split(A, 3, axis=1)[0],
        "dstack": lambda o: o.dstack([A, B]), "erfc": lambda o: o.erfc(A * 3),
        "layer_normalization": lambda o: o.layer_normalization(A, B[0], B[1], epsilon=1e-3),
        "rms_normalization": lambda o: o.rms_normalization(A, B[0], epsilon=1e-3),
        "adaptive_average_pool": lambda o: o.adaptive_average_pool(data(1, 5, 7, 2, seed=11), (2, 3)),
        "saturate_cast": lambda o: o.saturate_cast(A * 1000, "int8"), "isin": lambda o: o.isin(np.arange(5), [1, 3]),
        "heaviside": lambda o: o.heaviside(np.round(A), 0.5), "nanargmax": lambda o: o.nanargmax(with_nan, axis=1),
        "logspace": lambda o: o.logspace(0.0, 2.0, 3), "geomspace": lambda o: o.geomspace(1.0, 8.0, 4),
        "signbit": lambda o: o.signbit(A), "allclose": lambda o: o.allclose(A, A + 1e-9),
        "quantile": lambda o: o.quantile(A, np.array([0.2, 0.5]), axis=1),
        "percentile": lambda o: o.percentile(A, 75.0, axis=0, keepdims=True),
        "quantile_lower": lambda o: o.quantile(A, 0.4, method="lower"),
        "searchsorted": lambda o: o.searchsorted(np.sort(A[0]), B[0]),
        "digitize": lambda o: o.digitize(A, np.array([-0.5, 0.0, 0.5], np.float32)),
        "bincount": lambda o: o.bincount(np.array([0, 3, 3, 1]), minlength=5),
        "bincount_weights": lambda o: o.bincount(np.array([0, 3, 3, 1]), weights=A[0]),
        "bitwise": lambda o: o.bitwise_xor(o.bitwise_and(np.arange(6, dtype=np.int32), 3), 1),
        "shifts": lambda o: o.left_shift(np.arange(4, dtype=np.int32), 2),
        "unique": lambda o: o.unique(np.array([3, 1, 1, 2, 3])), "hamming": lambda o: o.hamming(6),
        "kaiser": lambda o: o.kaiser(5, 2.0),
    })
