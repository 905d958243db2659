"""What the arrays read from a data file must be, and how decoded data are cached.

Owns the checks on image and label arrays (shapes, dtypes, value ranges) with their
error messages, the pickle-free ``.npz`` reader, and the two helpers of the loaders'
in-process caches: a file fingerprint for the cache key and read-only cached arrays.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ["LABEL_DTYPE", "as_images", "as_labels", "file_fingerprint", "read_npz", "readonly"]

LABEL_DTYPE = np.int64


def file_fingerprint(paths: Sequence[Path]) -> Tuple[Tuple[str, int, int], ...]:
    """Cache key part that changes when any of ``paths`` is rewritten."""
    out = []
    for p in paths:
        st = p.stat()
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


def readonly(*arrays: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Mark ``arrays`` read-only (cached arrays are shared) and return them."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def as_images(
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


def as_labels(
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
    y = y.astype(LABEL_DTYPE)
    if y.size and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        expected = "non-negative" if num_classes is None else f"0..{num_classes - 1}"
        raise ValueError(
            f"{source}: {name} has labels in [{y.min()}, {y.max()}], expected {expected}."
        )
    return y


def read_npz(
    path: Path, keys: Sequence[str], optional: Sequence[str] = ()
) -> Dict[str, np.ndarray]:
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
                    raise ValueError(
                        f"path={str(path)!r}: cannot read array {key!r}: {err}"
                    ) from err
                raise ValueError(
                    f"path={str(path)!r}: array {key!r} is stored as Python objects "
                    "(dtype=object), which tfbnn refuses to load because unpickling can run "
                    "arbitrary code (np.load is called with allow_pickle=False). Fix: re-save it "
                    "with numeric arrays, e.g. "
                    f"np.savez(path, {key}=np.asarray(value, dtype=np.uint8), ...)."
                ) from err
    return out
