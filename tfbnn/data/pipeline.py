"""What every loader shares at its two ends, and `to_dataset` (``tf.data``).

Owns the argument types and checks common to the loaders (``split``, ``batch_size``,
an explicit ``path=`` or its environment variable) and the hand-back: float32
``[0, 1]`` copies of the requested split(s), optionally as ``tf.data.Dataset``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

import numpy as np

from tfbnn.data.arrays import LABEL_DTYPE

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = [
    "Pair",
    "PathLike",
    "SplitResult",
    "bundle",
    "check_request",
    "explicit_location",
    "to_dataset",
]

PathLike = Union[str, "os.PathLike[str]"]
Pair = Tuple[np.ndarray, np.ndarray]
SplitResult = Union[
    Pair, Tuple[Pair, Pair], "tf.data.Dataset", Tuple["tf.data.Dataset", "tf.data.Dataset"]
]

_SPLITS = ("train", "test")


def _is_batch_size(batch_size: Any) -> bool:
    """Whether ``batch_size`` is a positive integer (``bool`` excluded)."""
    return (
        not isinstance(batch_size, bool)
        and isinstance(batch_size, (int, np.integer))
        and batch_size >= 1
    )


def check_request(split: Optional[str], as_dataset: bool, batch_size: Optional[int]) -> None:
    """Check a loader's ``split``, ``as_dataset`` and ``batch_size`` before any reading.

    # Raises
        ValueError: ``split`` is not ``None``, ``"train"`` or ``"test"``; or ``batch_size``
            is not ``None`` or a positive integer, or is given without ``as_dataset``.
    """
    if split is not None and split not in _SPLITS:
        raise ValueError(
            f"split={split!r} is not a valid split. Fix: pass split='train', split='test', "
            "or split=None for both."
        )
    if batch_size is None:
        return
    if not _is_batch_size(batch_size):
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer or None.")
    if not as_dataset:
        raise ValueError(
            f"batch_size={batch_size!r} only applies to tf.data output. Fix: pass "
            "as_dataset=True, or leave batch_size=None to get numpy arrays."
        )


def explicit_location(path: Optional[PathLike], env: str) -> Tuple[Optional[Path], str]:
    """The location the user named: ``path=``, else the environment variable ``env``.

    # Returns
        ``(location, origin)``: the path with ``~`` expanded (``None`` when neither is
        set) and how the user named it (``""`` when neither is), for error messages.
    """
    if path is not None:
        return Path(os.path.expanduser(os.fspath(path))), f"path={os.fspath(path)!r}"
    if os.environ.get(env):
        path = os.environ[env]
        return Path(os.path.expanduser(path)), f"the environment variable {env}={path!r}"
    return None, ""


def _to_float01(images: np.ndarray) -> np.ndarray:
    """uint8 bytes -> byte / 255 as float32; float arrays (already in [0, 1]) -> float32 copy."""
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out /= np.float32(255.0)
        return out
    return np.array(images, dtype=np.float32, copy=True)


def bundle(
    train: Pair, test: Pair, split: Optional[str], as_dataset: bool, batch_size: Optional[int]
) -> SplitResult:
    """Convert the requested split(s) to float32 [0, 1] copies, then optionally to tf.data."""

    def one(pair: Pair) -> Any:
        x, y = _to_float01(pair[0]), np.array(pair[1], dtype=LABEL_DTYPE, copy=True)
        return to_dataset(x, y, batch_size=batch_size) if as_dataset else (x, y)

    if split == "train":
        return one(train)
    if split == "test":
        return one(test)
    return one(train), one(test)


def to_dataset(
    x: Any,
    y: Any,
    batch_size: Optional[int] = None,
    shuffle: bool = False,
    seed: Optional[int] = None,
) -> "tf.data.Dataset":
    """Make a ``tf.data.Dataset`` of ``(image, label)`` pairs from arrays.

    # Arguments
        x: images, any array-like with the examples along the first axis.
        y: labels, as many as ``x`` has examples.
        batch_size: batch size, or ``None`` for single examples.
        shuffle: shuffle the examples (over the whole data set, anew each epoch)
            before batching.
        seed: shuffle seed, for reproducible orders.

    # Returns
        A ``tf.data.Dataset`` yielding ``(x[i], y[i])``, or batches of them.

    # Raises
        ValueError: ``x`` and ``y`` differ in length, or ``batch_size`` is not a
            positive integer.
    """
    import tensorflow as tf

    n_x, n_y = len(x), len(y)
    if n_x != n_y:
        raise ValueError(f"x has {n_x} examples but y has {n_y}; pass as many labels as images.")
    if batch_size is not None and not _is_batch_size(batch_size):
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer or None.")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(buffer_size=max(n_x, 1), seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        ds = ds.batch(int(batch_size))
    return ds


SUBSET_SEED = 0
"""Seed of the examples `first_examples` draws from a split ordered by class."""


def first_examples(x, y, n: int):
    """``(x, y, drawn)``: the first ``n`` examples, unless the split is ordered by class
    (the CIFAR-10 JPEG stand-in's is: its first 1,000 test images are all airplanes), where
    the first ``n`` would be one or two classes: then ``n`` examples drawn with
    `SUBSET_SEED`, kept in their order, and ``drawn`` is True."""
    y = np.asarray(y)
    if n < len(y) and len(np.unique(y)) > 1 and np.all(np.diff(y) >= 0):
        keep = np.sort(np.random.default_rng(SUBSET_SEED).permutation(len(y))[:n])
        return x[keep], y[keep], True
    return x[:n], y[:n], False

