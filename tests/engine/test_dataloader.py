"""DataLoader: batching, partial batches, drop_last, shuffling with seeds, map-style datasets."""
import numpy as np
import pytest

from dptrain import ag

X = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
Y = np.arange(10)


def _rows(batches):
    return np.concatenate([xb.numpy()[:, 0] // 3 for xb, _ in batches]).astype(int)


def test_batches_in_order_with_partial_last_batch():
    dl = ag.DataLoader(X, Y, batch_size=4, shuffle=False)
    batches = list(dl)
    assert len(dl) == 3 and [len(xb) for xb, _ in batches] == [4, 4, 2]
    xb, yb = batches[2]
    assert isinstance(xb, ag.Tensor) and not xb.requires_grad and xb.dtype == np.float32
    np.testing.assert_array_equal(xb.numpy(), X[8:])
    np.testing.assert_array_equal(yb.numpy(), Y[8:])
    assert yb.dtype == Y.dtype


def test_drop_last():
    dl = ag.DataLoader(X, Y, batch_size=4, shuffle=False, drop_last=True)
    assert len(dl) == 2 and [len(x) for x, _ in dl.epoch()] == [4, 4]
    assert len(ag.DataLoader(X, Y, batch_size=5, drop_last=True)) == 2


def test_shuffle_covers_every_sample_once_and_pairs_stay_aligned():
    dl = ag.DataLoader(X, Y, batch_size=3, seed=0)
    batches = list(dl)
    rows = _rows(batches)
    assert sorted(rows) == list(range(10)) and list(rows) != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 0] // 3, yb.numpy())


def test_seed_reproducible_and_new_order_each_epoch():
    a = ag.DataLoader(X, Y, batch_size=4, seed=7)
    b = ag.DataLoader(X, Y, batch_size=4, seed=7)
    ea1, ea2 = _rows(a.epoch()), _rows(a.epoch())
    np.testing.assert_array_equal(ea1, _rows(b.epoch()))
    np.testing.assert_array_equal(ea2, _rows(b.epoch()))
    assert not np.array_equal(ea1, ea2)
    assert not np.array_equal(ea1, _rows(ag.DataLoader(X, Y, batch_size=4, seed=8)))


def test_without_seed_follows_manual_seed():
    ag.manual_seed(3)
    a = _rows(ag.DataLoader(X, Y, batch_size=4))
    ag.manual_seed(3)
    np.testing.assert_array_equal(a, _rows(ag.DataLoader(X, Y, batch_size=4)))


def test_y_none_and_tensor_inputs():
    batches = list(ag.DataLoader(ag.tensor(X), None, batch_size=6, shuffle=False))
    assert [b[1] for b in batches] == [None, None]
    np.testing.assert_array_equal(batches[0][0].numpy(), X[:6])


class Squares:
    """A map-style dataset: item i is (features [i, i*i], label i % 2)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        if not 0 <= i < 7:
            raise IndexError(i)
        return np.array([i, i * i], np.float32), i % 2


def test_map_style_dataset_is_collated():
    dl = ag.DataLoader(Squares(), batch_size=3, shuffle=False)
    batches = list(dl)
    assert len(dl) == 3 and [len(x) for x, _ in batches] == [3, 3, 1]
    np.testing.assert_array_equal(batches[1][0].numpy(), [[3, 9], [4, 16], [5, 25]])
    np.testing.assert_array_equal(batches[1][1].numpy(), [1, 0, 1])
    shuffled = list(ag.DataLoader(Squares(), batch_size=7, seed=1))[0]
    np.testing.assert_array_equal(shuffled[0].numpy()[:, 0] % 2, shuffled[1].numpy())


def test_list_of_pairs_with_nested_inputs():
    data = [((np.full(2, i, np.float32), np.float32(i)), i) for i in range(4)]
    (xa, xb), y = next(iter(ag.DataLoader(data, batch_size=4, shuffle=False)))
    assert xa.shape == (4, 2) and xb.shape == (4,)
    np.testing.assert_array_equal(y.numpy(), [0, 1, 2, 3])


def test_errors():
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        ag.DataLoader(X, Y[:9], batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ag.DataLoader(X, Y, batch_size=0)
    with pytest.raises(ValueError, match="y must be None"):
        ag.DataLoader(Squares(), Y)
    with pytest.raises(TypeError, match="map-style dataset"):
        ag.DataLoader(42, None)
    bad = [(np.zeros(2), 0), (np.zeros(3), 1)]
    with pytest.raises(ValueError, match="different shapes"):
        list(ag.DataLoader(bad, batch_size=2, shuffle=False))
    with pytest.raises(ValueError, match=r"dataset\[0\] must be an \(x, y\) pair"):
        list(ag.DataLoader([np.zeros(2)], batch_size=1))
