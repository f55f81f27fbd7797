"""keras.io guide "The Functional API": the multi-input, multi-output ticket model, on generated
tickets (offline), plus the guide's shared-layer and model-as-layer pieces.

Inputs: a title and a body (token ids) and binary tags; outputs: a priority score (sigmoid)
and a department (softmax over 4). Losses and loss weights given per output by name, as the
guide does. The generated department depends on the title's tokens, the priority on the tags.
Run: python examples/keras_io/functional_api.py [--keras] [--epochs N]
"""
import os
import sys
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers
else:
    import dptrain as keras
    from dptrain import layers

num_tags = 12
num_words = 200
num_departments = 4


def make_tickets(n, seed=0):
    rng = np.random.default_rng(seed)
    department = rng.integers(0, num_departments, n)
    # each department has its own block of 40 words; a title is mostly words of its block
    own = rng.integers(0, 40, (n, 10)) + 1 + 40 * department[:, None]
    noise = rng.integers(1, num_words, (n, 10))
    title = np.where(rng.random((n, 10)) < 0.6, own, noise)
    body = rng.integers(1, num_words, (n, 20))
    tags = rng.integers(0, 2, (n, num_tags)).astype("float32")
    priority = (tags[:, :4].sum(axis=1, keepdims=True) >= 2).astype("float32")
    return (title, body, tags), (priority, keras.utils.to_categorical(department, num_departments))


def make_model():
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")

    title_features = layers.Embedding(num_words, 32)(title_input)
    body_features = layers.Embedding(num_words, 32)(body_input)
    title_features = layers.LSTM(32)(title_features)
    body_features = layers.LSTM(16)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])

    priority_pred = layers.Dense(1, activation="sigmoid", name="priority")(x)
    department_pred = layers.Dense(num_departments, activation="softmax", name="department")(x)
    return keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])


def shared_and_nested():
    """The guide's shared embedding and its encoder / autoencoder built from models used as layers."""
    shared_embedding = layers.Embedding(1000, 16)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_input_a = shared_embedding(text_input_a)
    encoded_input_b = shared_embedding(text_input_b)
    pair = keras.Model([text_input_a, text_input_b], [encoded_input_a, encoded_input_b])

    encoder_input = keras.Input(shape=(8,), name="original")
    encoder_output = layers.Dense(3, activation="relu")(encoder_input)
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    decoder_input = keras.Input(shape=(3,), name="encoded")
    decoder = keras.Model(decoder_input, layers.Dense(8)(decoder_input), name="decoder")
    autoencoder_input = keras.Input(shape=(8,), name="img")
    autoencoder = keras.Model(autoencoder_input, decoder(encoder(autoencoder_input)), name="autoencoder")
    return len(pair.trainable_weights), autoencoder.output_shape


def main(epochs=8, verbose=0):
    keras.utils.set_random_seed(0)
    (title, body, tags), (priority, department) = make_tickets(1280, seed=0)
    (t_title, t_body, t_tags), (t_priority, t_department) = make_tickets(400, seed=1)
    model = make_model()
    if verbose:
        model.summary()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-2),
        loss={"priority": keras.losses.BinaryCrossentropy(from_logits=False),
              "department": keras.losses.CategoricalCrossentropy(from_logits=False)},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"priority": ["accuracy"], "department": ["accuracy"]},
    )
    start = time.perf_counter()
    model.fit({"title": title, "body": body, "tags": tags},
              {"priority": priority, "department": department}, epochs=epochs, batch_size=32, verbose=verbose)
    seconds = time.perf_counter() - start
    result = model.evaluate({"title": t_title, "body": t_body, "tags": t_tags},
                            {"priority": t_priority, "department": t_department}, verbose=0, return_dict=True)
    shared, ae_shape = shared_and_nested()
    print(f"shared embedding weights: {shared}, autoencoder output {ae_shape}")
    print(f"priority accuracy: {result['priority_accuracy']:.4f}")
    print(f"accuracy: {result['department_accuracy']:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(result["department_accuracy"]), "priority_accuracy": float(result["priority_accuracy"]),
            "loss": float(result["loss"]), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 8, verbose=2)
