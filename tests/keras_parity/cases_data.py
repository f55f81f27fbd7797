"""Parity cases: the data fit/evaluate/predict take (lists of batches, generators, a torch
DataLoader, dicts keyed by input name)."""
import numpy as np

from keras_parity.harness import case, data, seed_weights


def _model(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(6, activation="relu"), K.layers.Dense(3, activation="softmax")])
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def _batches(n=4, bs=5):
    x, y = data(n * bs, 4), data(n * bs, low=0, high=3)
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n * bs, bs)]


def _gen(batches):
    yield from batches


@case()
def case_fit_on_a_generator_one_epoch(K):
    m = _model(K)
    h = m.fit(_gen(_batches()), epochs=1, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_fit_on_a_generator_with_steps_per_epoch(K):
    m = _model(K)
    batches = _batches()

    def forever():
        while True:
            yield from batches
    h = m.fit(forever(), steps_per_epoch=3, epochs=2, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_fit_batches_with_sample_weights_and_validation(K):
    m = _model(K)
    batches = [(x, y, np.linspace(0.5, 1.5, len(x)).astype(np.float32)) for x, y in _batches()]
    h = m.fit(_gen(batches), validation_data=_gen(_batches(2)), epochs=1, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_evaluate_and_predict_on_batches(K):
    m = _model(K)
    batches = _batches()
    loss, acc = m.evaluate(_gen(batches), verbose=0)
    p = m.predict(_gen([(x,) for x, _ in batches]), verbose=0)
    return {"loss": loss, "acc": acc, "p": p}


@case()
def case_fit_on_a_torch_dataloader(K):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    x, y = data(20, 4), data(20, low=0, high=3)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=5, shuffle=False)
    m = _model(K)
    h = m.fit(loader, epochs=2, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_named_inputs_fed_as_a_dict(K):
    a, b = K.Input((3,), name="left"), K.Input((2,), name="right")
    out = K.layers.Dense(1)(K.layers.Concatenate()([a, b]))
    m = seed_weights(K.Model([a, b], out))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    xa, xb, y = data(8, 3), data(8, 2, seed=1), data(8, 1, seed=2)
    m.fit({"right": xb, "left": xa}, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "p": m.predict({"left": xa, "right": xb}, verbose=0)}
