"""`keras.datasets` stand-ins: Keras downloads these data sets, and dptrain makes no network access.

Every `load_data()` (and `get_word_index()`, ...) raises NotImplementedError saying so and pointing
to data that needs no download: scikit-learn's bundled data sets (`sklearn.datasets.load_digits`
for 8x8 digit images, `load_iris`, `load_breast_cancer`, `load_diabetes`), or your own files
read with numpy.
"""
from __future__ import annotations

__all__ = ["boston_housing", "california_housing", "cifar10", "cifar100", "fashion_mnist", "imdb", "mnist",
           "reuters"]

_OFFLINE = {
    "mnist": "sklearn.datasets.load_digits() (8x8 digit images, 10 classes)",
    "fashion_mnist": "sklearn.datasets.load_digits() for a small image-classification set",
    "cifar10": "sklearn.datasets.load_digits() for a small image-classification set",
    "cifar100": "sklearn.datasets.load_digits() for a small image-classification set",
    "imdb": "synthetic token sequences (np.random.default_rng().integers) padded with dt.utils.pad_sequences",
    "reuters": "synthetic token sequences (np.random.default_rng().integers) padded with dt.utils.pad_sequences",
    "boston_housing": "sklearn.datasets.load_diabetes() for a small regression set",
    "california_housing": "sklearn.datasets.load_diabetes() for a small regression set",
}


class _Dataset:
    """One `keras.datasets.<name>` module: its functions raise, naming an offline alternative."""

    def __init__(self, name, functions):
        self.__name__ = f"dptrain.datasets.{name}"
        self._name = name
        for fn in functions:
            setattr(self, fn, self._unavailable(fn))

    def _unavailable(self, fn):
        def call(*args, **kwargs):
            raise NotImplementedError(
                f"keras.datasets.{self._name}.{fn}() downloads its data, and dptrain makes no network access, so "
                f"it is not available. Use data that ships with a package instead, e.g. {_OFFLINE[self._name]}, "
                f"or load your own copy of the files with numpy (np.load)")
        call.__name__ = fn
        return call

    def __repr__(self):
        return f"<dataset stand-in {self.__name__} (no network: load_data raises)>"


mnist = _Dataset("mnist", ["load_data"])
fashion_mnist = _Dataset("fashion_mnist", ["load_data"])
cifar10 = _Dataset("cifar10", ["load_data"])
cifar100 = _Dataset("cifar100", ["load_data"])
imdb = _Dataset("imdb", ["load_data", "get_word_index"])
reuters = _Dataset("reuters", ["load_data", "get_word_index", "get_label_names"])
boston_housing = _Dataset("boston_housing", ["load_data"])
california_housing = _Dataset("california_housing", ["load_data"])
