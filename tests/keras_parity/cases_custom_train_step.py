"""Parity cases: Keras 3's "customizing what happens in fit" programs (torch backend spelling).

The only line that differs between the two sides is the no-grad context around
`optimizer.apply`: `torch.no_grad()` on Keras' side, `dptrain.ag.no_grad()` on dptrain's.
"""
import numpy as np

from keras_parity.harness import case, data, seed_weights


def _no_grad(K):
    if K.__name__ == "keras":
        import torch
        return torch.no_grad()
    return K.ag.no_grad()


def _guide_model(K, d=5):
    class CustomModel(K.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with _no_grad(K):
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = K.Input(shape=(d,))
    h = K.layers.Dense(6, activation="tanh")(inputs)
    return CustomModel(inputs, K.layers.Dense(1)(h))


@case()
def case_custom_train_step_guide_program(K):
    m = _guide_model(K)
    seed_weights(m)
    m.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    x, y = data(24, 5), data(24, 1, seed=1)
    h = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights(), "evaluate": m.evaluate(x, y, verbose=0),
            "metrics": [mt.name for mt in m.metrics]}


@case()
def case_custom_train_step_own_trackers_no_compiled_loss(K):
    class CustomModel(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = K.metrics.Mean(name="loss")
            self.mae_metric = K.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = K.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with _no_grad(K):
                self.optimizer.apply(gradients, trainable_weights)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    inputs = K.Input(shape=(4,))
    m = CustomModel(inputs, K.layers.Dense(1)(inputs))
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05))
    x, y = data(20, 4), data(20, 1, seed=2)
    h = m.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_custom_test_step_and_predict_step(K):
    class CustomModel(K.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def predict_step(self, data):
            return self(data, training=False) * 3.0

    inputs = K.Input(shape=(3,))
    m = CustomModel(inputs, K.layers.Dense(2)(inputs))
    seed_weights(m)
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = data(12, 3), data(12, 2, seed=3)
    return {"evaluate": m.evaluate(x, y, batch_size=4, verbose=0),
            "evaluate_dict": m.evaluate(x, y, batch_size=4, verbose=0, return_dict=True),
            "predict": np.asarray(m.predict(x, batch_size=5, verbose=0))}


@case()
def case_custom_train_step_gan_two_optimizers(K):
    class GAN(K.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.d_loss_tracker = K.metrics.Mean(name="d_loss")
            self.g_loss_tracker = K.metrics.Mean(name="g_loss")
            self.steps = 0
            self.built = True

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        def train_step(self, real_images):
            if isinstance(real_images, (tuple, list)):
                real_images = real_images[0]
            batch_size = real_images.shape[0]
            self.steps += 1
            noise = np.random.default_rng(self.steps).standard_normal((2, batch_size, self.latent_dim))
            generated_images = self.generator(noise[0].astype("float32"))
            combined_images = K.ops.concatenate([generated_images, real_images], axis=0)
            labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))]).astype("float32")
            self.zero_grad()
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
            d_loss.backward()
            grads = [v.value.grad for v in self.discriminator.trainable_weights]
            with _no_grad(K):
                self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

            misleading_labels = np.zeros((batch_size, 1), "float32")
            self.zero_grad()
            predictions = self.discriminator(self.generator(noise[1].astype("float32")))
            g_loss = self.loss_fn(misleading_labels, predictions)
            g_loss.backward()
            grads = [v.value.grad for v in self.generator.trainable_weights]
            with _no_grad(K):
                self.g_optimizer.apply(grads, self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    discriminator = K.Sequential([K.Input((2,)), K.layers.Dense(4, activation="relu"),
                                  K.layers.Dense(1, activation="sigmoid")])
    generator = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(2)])
    seed_weights(discriminator, seed=1)
    seed_weights(generator, seed=2)
    gan = GAN(discriminator, generator, latent_dim=3)
    gan.compile(K.optimizers.Adam(learning_rate=0.01), K.optimizers.SGD(learning_rate=0.05),
                K.losses.BinaryCrossentropy())
    h = gan.fit(data(16, 2), batch_size=8, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "discriminator": discriminator.get_weights(), "generator": generator.get_weights()}


@case()
def case_utils_pack_and_unpack_x_y_sample_weight(K):
    u = K.utils
    x, y, w = np.ones(2), np.zeros(2), np.full(2, 0.5)
    return {"unpack_pair": u.unpack_x_y_sample_weight((x, y)), "unpack_x": u.unpack_x_y_sample_weight(x),
            "unpack_triple": u.unpack_x_y_sample_weight((x, y, w)), "pack_x": u.pack_x_y_sample_weight(x),
            "pack_list": u.pack_x_y_sample_weight([x, y]), "pack_xy": u.pack_x_y_sample_weight(x, y)}
