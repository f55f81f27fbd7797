"""Embedding: rows of a [num_embeddings, dim] table picked by 0-based integer tokens."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.nn import check_indices
from . import init
from .linear import positive_int
from .module import Module


class Embedding(Module):
    """Weight initialised uniform in [-0.05, 0.05] (Keras)."""

    def __init__(self, num_embeddings, embedding_dim, dtype=np.float32):
        super().__init__()
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", "Embedding")
        self.new_param("weight", init.uniform((self.num_embeddings, self.embedding_dim), 0.05, dtype))

    def forward(self, indices):
        # Checked here so that the error names this module, not the primitive.
        idx = check_indices(indices, self.num_embeddings, self._label())
        return ops.embedding(idx, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
