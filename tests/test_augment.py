"""Seeded crop-and-flip augmentation and the epoch-by-epoch training pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from tfbnn import data


def _crops(image, padding):
    """Every crop and flipped crop of ``image`` after zero padding (numpy reference)."""
    h, w = image.shape[:2]
    padded = np.pad(image, [(padding, padding), (padding, padding), (0, 0)])
    out = []
    for i in range(2 * padding + 1):
        for j in range(2 * padding + 1):
            crop = padded[i:i + h, j:j + w]
            out += [(i, j, False, crop), (i, j, True, crop[:, ::-1])]
    return out


def test_crop_flip_matches_a_numpy_crop_of_the_padded_image():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.1, 1.0, size=(64, 8, 8, 3)).astype(np.float32)
    out = data.crop_flip(images, tf.constant([5, 7]), padding=2).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    seen_offsets, seen_flips = set(), set()
    for image, result in zip(images, out):
        matches = [(i, j, f) for i, j, f, crop in _crops(image, 2) if np.array_equal(crop, result)]
        assert matches, "an output is not a crop of the padded input"
        seen_offsets.update((i, j) for i, j, _ in matches)
        seen_flips.update(f for _, _, f in matches)
    assert len(seen_offsets) > 10 and seen_flips == {False, True}  # random, both ways
    # zero padding shows as zeros at the border of shifted crops
    assert (out == 0).any()


def test_crop_flip_is_a_function_of_the_seed():
    images = np.random.default_rng(1).uniform(size=(16, 32, 32, 3)).astype(np.float32)
    a = data.crop_flip(images, [1, 2]).numpy()
    assert np.array_equal(a, data.crop_flip(images, [1, 2]).numpy())
    assert not np.array_equal(a, data.crop_flip(images, [1, 3]).numpy())
    identity = data.crop_flip(images, [1, 2], padding=0, flip=False).numpy()
    assert np.array_equal(identity, images)
    with pytest.raises(ValueError, match="padding"):
        data.crop_flip(images, [1, 2], padding=-1)


def _batches(ds):
    return [(x, y) for x, y in ds.as_numpy_iterator()]


def test_training_dataset_visits_every_example_once_per_epoch_in_new_orders():
    n = 50
    x = np.zeros((n, 4, 4, 1), np.uint8) + np.arange(n, dtype=np.uint8)[:, None, None, None]
    y = np.arange(n)
    ds, steps = data.training_dataset(x, y, batch_size=16, epochs=3, seed=0, augment=False)
    batches = _batches(ds)
    assert steps == 4 and len(batches) == 3 * steps
    assert [len(b[1]) for b in batches[:4]] == [16, 16, 16, 2]
    orders = [np.concatenate([b[1] for b in batches[e * 4:(e + 1) * 4]]) for e in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(n))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    for xb, yb in batches:  # images stay with their labels; bytes become [0, 1] floats
        assert xb.dtype == np.float32
        np.testing.assert_allclose(xb[:, 0, 0, 0], yb / 255.0, rtol=1e-6)


def test_training_dataset_resumed_at_an_epoch_gives_the_same_batches():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(40, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    full, steps = data.training_dataset(x, y, batch_size=16, epochs=4, seed=9)
    resumed, _ = data.training_dataset(x, y, batch_size=16, epochs=4, seed=9, initial_epoch=2)
    a, b = _batches(full), _batches(resumed)
    assert len(b) == 2 * steps
    for (xa, ya), (xb, yb) in zip(a[2 * steps:], b):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    other, _ = data.training_dataset(x, y, batch_size=16, epochs=4, seed=10)
    assert not np.array_equal(_batches(other)[0][0], a[0][0])


def test_training_dataset_feeds_fit_for_every_epoch():
    import tf_keras as keras

    rng = np.random.default_rng(3)
    x = rng.uniform(size=(64, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = keras.Sequential([keras.layers.Flatten(input_shape=(8, 8, 3)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ds, steps = data.training_dataset(x, y, batch_size=16, epochs=3, seed=0)
    history = model.fit(ds, epochs=3, steps_per_epoch=steps, verbose=0)
    assert len(history.history["loss"]) == 3
    assert int(model.optimizer.iterations.numpy()) == 3 * steps


@pytest.mark.parametrize("kwargs, match", [
    (dict(seed=None), "seed must be an int"),
    (dict(seed=-1), "seed must be an int"),
    (dict(epochs=0), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(initial_epoch=3), "initial_epoch=3 must be below epochs=3"),
])
def test_training_dataset_bad_arguments(kwargs, match):
    x, y = np.zeros((4, 4, 4, 1), np.float32), np.zeros(4)
    with pytest.raises(ValueError, match=match):
        data.training_dataset(x, y, **{"epochs": 3, "seed": 0, **kwargs})


def test_training_dataset_bad_arrays():
    with pytest.raises(ValueError, match="expected images"):
        data.training_dataset(np.zeros((4, 4)), np.zeros(4), epochs=1, seed=0)
    with pytest.raises(ValueError, match="x has 4 examples but y has 3"):
        data.training_dataset(np.zeros((4, 4, 4, 1)), np.zeros(3), epochs=1, seed=0)
