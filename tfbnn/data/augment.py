"""Seeded training pipelines in ``tf.data``: shuffling and CIFAR's crop-and-flip augmentation.

Owns `crop_flip` (pad, random crop, random horizontal flip: the augmentation of the
CIFAR recipes, torchvision's ``RandomCrop(32, padding=4)`` + ``RandomHorizontalFlip``)
and `training_dataset`, which feeds ``model.fit`` every epoch of a run from one seed.

Why not ``Dataset.shuffle`` and ``tf.image.random_*``: their stateful random ops depend
on op seeds and the order in which a process built its graphs, so two runs, or a run
resumed at epoch 5, see other orders and other crops. Here every random choice is a
stateless function of ``(seed, epoch)`` (the order) or ``(seed, epoch, batch)`` (the
crops and flips), so a fit resumed with ``initial_epoch=5`` sees exactly what the
uninterrupted fit saw from epoch 5 on, on any machine. The crop is done for the whole
batch at once with two gathers (no per-image Python or ``map``), which keeps the input
pipeline far below the cost of a training step on CPU.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

from tfbnn import checks

__all__ = ["crop_flip", "training_dataset"]


def crop_flip(images: Any, seed: Any, padding: int = 4, flip: bool = True):
    """Randomly crop and flip a batch of images, stateless in ``seed``.

    Each image is zero-padded by ``padding`` pixels on every side, a window of the
    original size is cut at an offset drawn uniformly from ``0 .. 2 * padding`` in each
    axis, and (with ``flip``) it is mirrored left-right with probability 1/2.

    # Arguments
        images: float tensor ``(batch, height, width, channels)``.
        seed: shape-``[2]`` integer tensor; the same seed gives the same crops and flips.
        padding: pixels of zero padding (4 for CIFAR), ``>= 0``.
        flip: whether to flip horizontally at random.

    # Returns
        A tensor of the shape and dtype of ``images``.
    """
    import tensorflow as tf

    checks.check_int("padding", padding, 0)
    images = tf.convert_to_tensor(images)
    seed = tf.cast(seed, tf.int64)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    if padding:
        padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
        offsets = tf.random.stateless_uniform(
            [batch, 2], seed=seed, minval=0, maxval=2 * padding + 1, dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(height)[tf.newaxis]  # (batch, height)
        cols = offsets[:, 1:] + tf.range(width)[tf.newaxis]  # (batch, width)
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    if flip:
        flip_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        mirrored = tf.random.stateless_uniform([batch], seed=flip_seed) < 0.5
        images = tf.where(mirrored[:, tf.newaxis, tf.newaxis, tf.newaxis],
                          tf.reverse(images, axis=[2]), images)
    return images


def training_dataset(
    x: Any,
    y: Any,
    *,
    batch_size: int = 128,
    epochs: int,
    seed: int,
    augment: bool = True,
    padding: int = 4,
    initial_epoch: int = 0,
) -> Tuple["Any", int]:
    """Every training batch of ``epochs`` epochs, reshuffled each epoch, for ``model.fit``.

    Epoch ``e`` visits the examples in the order ``stateless_shuffle(seed, e)``, in
    batches of ``batch_size`` (the last one smaller when ``batch_size`` does not divide
    the data); with ``augment`` each batch goes through `crop_flip` seeded by
    ``(seed, e, batch index)``. Pixel bytes (uint8) become float32 in ``[0, 1]``.

    # Example
        ```python
        ds, steps = training_dataset(x_train, y_train, epochs=10, seed=0)
        model.fit(ds, epochs=10, steps_per_epoch=steps)
        # resumed after epoch 4: the same batches as the uninterrupted fit from there on
        ds, steps = training_dataset(x_train, y_train, epochs=10, seed=0, initial_epoch=4)
        model.fit(ds, epochs=10, steps_per_epoch=steps, initial_epoch=4)
        ```

    # Arguments
        x: images ``(n, height, width, channels)``, uint8 bytes or floats in ``[0, 1]``.
        y: ``n`` integer labels.
        batch_size: examples per batch.
        epochs: the epoch ``fit`` stops at (as ``fit``'s ``epochs``).
        seed: the run's seed (an int ``>= 0``).
        augment: apply `crop_flip`.
        padding: `crop_flip`'s padding.
        initial_epoch: the first epoch to yield (as ``fit``'s ``initial_epoch``).

    # Returns
        ``(dataset, steps_per_epoch)``: a ``tf.data.Dataset`` of ``(images, labels)``
        batches holding ``(epochs - initial_epoch) * steps_per_epoch`` batches.

    # Raises
        ValueError: ``x`` is not a batch of images, ``y`` has another length, or a
            count or the seed is invalid.
    """
    import tensorflow as tf

    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4:
        raise ValueError(f"x has shape {x.shape}; expected images (n, height, width, channels).")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}; pass one label per image.")
    if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"x has dtype {x.dtype}; pass uint8 bytes or floats in [0, 1].")
    checks.check_int("batch_size", batch_size, 1)
    checks.check_int("epochs", epochs, 1)
    checks.check_int("initial_epoch", initial_epoch, 0)
    checks.check_int("padding", padding, 0)
    seed = checks.check_int("seed", seed, 0, hint=" training_dataset needs an int seed, so "
                            "that a resumed fit sees the batches of the uninterrupted one.")
    if initial_epoch >= epochs:
        raise ValueError(f"initial_epoch={initial_epoch} must be below epochs={epochs}.")
    n = len(x)
    steps = math.ceil(n / batch_size)
    images = tf.constant(x)
    labels = tf.constant(y.astype(np.int64))
    order_key = tf.constant([seed, 0], tf.int64)
    crop_key = tf.constant([seed, 1], tf.int64)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64),
            seed=tf.random.experimental.stateless_fold_in(order_key, epoch))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate().map(
            lambda b, idx: (epoch * steps + b, idx))

    def load(step, idx):
        batch = tf.gather(images, idx)
        batch = (tf.cast(batch, tf.float32) / 255.0 if x.dtype == np.uint8
                 else tf.cast(batch, tf.float32))
        if augment:
            batch = crop_flip(batch, tf.random.experimental.stateless_fold_in(crop_key, step),
                              padding=padding)
        return batch, tf.gather(labels, idx)

    ds = tf.data.Dataset.range(initial_epoch, epochs).flat_map(epoch_batches)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), steps
