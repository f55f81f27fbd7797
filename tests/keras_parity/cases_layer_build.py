"""Parity cases: layer mechanics (building by hand, the training flag of direct and nested calls)."""
import numpy as np

from keras_parity.harness import case, to_numpy


@case()
def case_dense_built_by_hand_then_called(K):
    d = K.layers.Dense(2)
    d.build((None, 3))
    built = bool(d.built)
    d.set_weights([np.full((3, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)])
    y = to_numpy(d(np.ones((1, 3), np.float32)))
    return {"built": built, "n_weights": len(d.weights), "y": y}


@case()
def case_sublayer_inherits_training_from_the_outer_call(K):
    class WithDropout(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(64, kernel_initializer="ones")
            self.drop = K.layers.Dropout(0.5)

        def call(self, x, training=None):
            return self.drop(self.dense(x))

    m = WithDropout()
    x = np.ones((4, 3), np.float32)
    trained = to_numpy(m(x, training=True))
    return {"inference": to_numpy(m(x, training=False)), "default": to_numpy(m(x)),
            "some_dropped": bool((trained == 0).mean() > 0.3), "kept_scaled": bool(np.allclose(trained[trained != 0], 6.0))}


@case()
def case_augmentation_called_directly_augments(K):
    x = np.full((2, 4, 4, 1), 100.0, np.float32)
    layer = K.layers.RandomBrightness(0.5)
    return {"direct_changes": bool(not np.allclose(to_numpy(layer(x)), x)),
            "inference_keeps": bool(np.allclose(to_numpy(layer(x, training=False)), x))}
