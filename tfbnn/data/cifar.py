"""CIFAR-10 and CIFAR-100: `load_cifar10`, `load_cifar100`, from wherever the user has them.

Owns the official python-version formats (the archive, read without extracting it,
and its extracted batch files), CIFAR ``.npz`` files, the search for the data
(``path=`` or the environment variable, the Keras cache, the CIFAR-10 stand-in, the
Keras download), the error that lists every place looked, and the title a report
must give the data that were read (`cifar10_title`).

The stand-in: this project's offline machines have no CIFAR-10, only a JPEG-re-encoded
copy of 20,000 training images and the full test split (``cifar10_jpeg_train20k.npz``,
sha256-pinned in `STAND_IN_SHA256`). When no official copy is found, `load_cifar10`
reads it (with a warning), and `cifar10_title` names it ``STAND_IN_TITLE``, so that no
result measured on it is reported as a CIFAR-10 number.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfbnn.data.arrays import as_images, as_labels, file_fingerprint, read_npz, readonly
from tfbnn.data.pipeline import (
    Pair, PathLike, SplitResult, bundle, check_request, explicit_location
)
from tfbnn.data.safe_pickle import restricted_load

__all__ = [
    "STAND_IN_SHA256", "STAND_IN_TITLE", "cifar10_title", "keras_download", "load_cifar10",
    "load_cifar100", "stand_in_locations",
]

STAND_IN_TITLE = "CIFAR-10 (JPEG stand-in, 20k train)"
"""How every result measured on the stand-in is labelled."""
STAND_IN_FILE = "cifar10_jpeg_train20k.npz"
STAND_IN_SHA256 = "e1ba8789ef0278f2ac5d7bd579d7b740c827b99b40c9afa2058540752e93cb4b"
STAND_IN_ENV = "TFBNN_CIFAR10_STAND_IN"

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


def _parse_cifar_batch(
    blob: bytes, *, source: str, label_keys: Sequence[str]
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Parse one official python-version batch into uint8 (n, 32, 32, 3) and label arrays."""
    batch = restricted_load(io.BytesIO(blob), encoding="bytes", source=source)
    if not isinstance(batch, dict):
        raise ValueError(f"{source} holds a {type(batch).__name__}, expected a dict batch.")
    batch = {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch:
        raise ValueError(f"{source} has no 'data' entry (keys: {sorted(map(str, batch))}).")
    data = np.asarray(batch["data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(
            f"{source}: 'data' has shape {data.shape} and dtype {data.dtype}, "
            "expected uint8 (n, 3072)."
        )
    n = data.shape[0]
    # Rows are channels-first: 1024 red, then 1024 green, then 1024 blue, each row-major.
    images = np.ascontiguousarray(data.reshape(n, 3, 32, 32).transpose(0, 2, 3, 1))
    labels = {}
    for key in label_keys:
        if key not in batch:
            raise ValueError(f"{source} has no {key!r} entry (keys: {sorted(map(str, batch))}).")
        labels[key] = as_labels(batch[key], name=repr(key), source=source, n=n,
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
                            f"{spec['title']}: archive {str(archive)!r} holds {base!r} "
                            "more than once."
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
    arrays = read_npz(path, ("x_train", "y_train", "x_test", "y_test"), optional)
    out: List[Any] = []
    for part in ("train", "test"):
        x = as_images(arrays[f"x_{part}"], name=f"x_{part}", source=source, shape=(32, 32, 3))
        # Raw labels; their range is checked against the requested label set later.
        y = as_labels(arrays[f"y_{part}"], name=f"y_{part}", source=source, n=x.shape[0],
                      num_classes=None)
        labels = {key: y for key in spec["label_keys"]}
        if f"y_{part}_coarse" in arrays:
            labels["coarse_labels"] = as_labels(
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
    readonly(x_train, x_test, *labels_train.values(), *labels_test.values())
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
        return _load_cifar_cached(kind, "dir", str(batch_dir.resolve()), file_fingerprint(files))
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
    return _load_cifar_cached(kind, form, str(path.resolve()), file_fingerprint([path]))


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


def keras_download(kind: str, label_key: str) -> Tuple[Pair, Pair]:
    """The normal online route, ``tf_keras.datasets.<kind>.load_data()`` (imported lazily)."""
    import tf_keras

    if kind == "cifar10":
        return tf_keras.datasets.cifar10.load_data()
    return tf_keras.datasets.cifar100.load_data(label_mode=label_key.replace("_labels", ""))


def stand_in_locations() -> List[Path]:
    """Where the CIFAR-10 stand-in is looked for, in order: ``$TFBNN_CIFAR10_STAND_IN``,
    then ``shared/data/`` beside the repository that holds this package, then beside the
    current directory's parent."""
    out: List[Path] = []
    if os.environ.get(STAND_IN_ENV):
        out.append(Path(os.path.expanduser(os.environ[STAND_IN_ENV])))
    for base in (Path(__file__).resolve().parents[3], Path.cwd().resolve().parent):
        candidate = base / "shared" / "data" / STAND_IN_FILE
        if candidate not in out:
            out.append(candidate)
    return out


@functools.lru_cache(maxsize=8)
def _sha256(path: str, fingerprint: Any) -> str:
    del fingerprint  # cache key only
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_stand_in(path: Path) -> bool:
    """Whether ``path`` is the pinned stand-in file (by sha256, cached per file version)."""
    if not path.is_file():
        return False
    return _sha256(str(path.resolve()), file_fingerprint([path])) == STAND_IN_SHA256


def _find_stand_in(looked: Optional[List[str]] = None) -> Optional[Path]:
    for candidate in stand_in_locations():
        if not candidate.is_file():
            state = "missing"
        elif _is_stand_in(candidate):
            return candidate
        else:
            state = f"not the stand-in: sha256 differs from {STAND_IN_SHA256[:12]}..."
        if looked is not None:
            looked.append(f"CIFAR-10 stand-in: {candidate} ({state})")
    return None


def _cifar_location(kind: str, path: Optional[PathLike], stand_in: bool) -> Optional[Path]:
    """The local file or directory `load_cifar10`/`load_cifar100` would read, or None."""
    spec = _CIFAR[kind]
    p, _ = explicit_location(path, spec["env"])
    if p is not None:
        return p if p.exists() else None
    for d in _keras_dataset_dirs():
        for candidate in (d / spec["dirname"],) + tuple(d / a for a in spec["archives"]):
            if candidate.exists() and (not candidate.is_dir() or _cifar_batch_dir(kind, candidate)):
                return candidate
    return _find_stand_in() if (kind == "cifar10" and stand_in) else None


def cifar10_title(path: Optional[PathLike] = None, *, stand_in: bool = True) -> str:
    """How a report must name the CIFAR-10 data `load_cifar10` reads with these arguments.

    ``"CIFAR-10 (JPEG stand-in, 20k train)"`` (`STAND_IN_TITLE`) when that is the pinned
    stand-in file (found by the search or named by ``path=``), else ``"CIFAR-10"``
    (including when nothing is found locally and the data would be downloaded).
    """
    location = _cifar_location("cifar10", path, stand_in)
    if location is not None and _is_stand_in(location):
        return STAND_IN_TITLE
    return "CIFAR-10"


def _cifar_arrays(
    kind: str, path: Optional[PathLike], download: bool, label_key: str, stand_in: bool = False
) -> Tuple[Pair, Pair]:
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
    p, origin = explicit_location(path, spec["env"])
    if p is not None:
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
            state = "incomplete" if candidate.exists() else "missing"
            looked.append(f"keras cache: {candidate} ({state})")

    # c. the CIFAR-10 stand-in (this project's offline machines), labelled as such.
    if kind == "cifar10" and stand_in:
        found = _find_stand_in(looked)
        if found is not None:
            warnings.warn(
                f"CIFAR-10 was not found; reading the JPEG-re-encoded stand-in {str(found)!r} "
                f"(20,000 training images, full test split). Label results on it "
                f"{STAND_IN_TITLE!r} (tfbnn.data.cifar10_title() does), never 'CIFAR-10'.",
                UserWarning, stacklevel=4)
            return pick(_cifar_source(kind, found, str(found)), str(found))

    # d. the normal Keras download, when online.
    call = f"tf_keras.datasets.{kind}.load_data()"
    failure: Optional[BaseException] = None
    if download:
        try:
            (x_tr, y_tr), (x_te, y_te) = keras_download(kind, label_key)
        except Exception as err:  # noqa: BLE001 - keras raises bare Exception on fetch failure
            looked.append(f"download via {call}: failed ({type(err).__name__}: {err})")
            failure = err
        else:
            source = f"{title} from {call}"
            pairs = []
            for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
                x = as_images(x, name=f"x_{part}", source=source, shape=(32, 32, 3))
                y = as_labels(y, name=f"y_{part}", source=source, n=x.shape[0],
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
    stand_in: bool = False,
) -> SplitResult:
    check_request(split, as_dataset, batch_size)
    train, test = _cifar_arrays(kind, path, download, label_key, stand_in)
    return bundle(train, test, split, as_dataset, batch_size)


def load_cifar10(
    split: Optional[str] = None,
    *,
    path: Optional[PathLike] = None,
    as_dataset: bool = False,
    batch_size: Optional[int] = None,
    download: bool = True,
    stand_in: bool = True,
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
    3. When ``stand_in=True``, the JPEG-re-encoded stand-in of this project's offline
       machines (`stand_in_locations`; checked by sha256), with a ``UserWarning``.
       Results on it are labelled ``"CIFAR-10 (JPEG stand-in, 20k train)"``: ask
       `cifar10_title` for the name of the data read.
    4. When ``download=True``, the normal Keras download
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
        stand_in: whether to fall back on the stand-in before downloading.

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
    return _load_cifar("cifar10", split, path, as_dataset, batch_size, download, "labels",
                       stand_in)


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
    return _load_cifar(
        "cifar100", split, path, as_dataset, batch_size, download, f"{label_mode}_labels"
    )
