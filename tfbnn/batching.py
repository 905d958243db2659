"""Run a function over an array in batches: the one loop tfbnn's attacks, evaluation,
export and tutorials use instead of writing ``range(0, len(x), batch)`` each time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["batch_slices", "map_batches"]


def batch_slices(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)``, ``batch_size`` long (the last may be shorter)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    for start in range(0, n, batch_size):
        yield slice(start, start + batch_size)


def map_batches(fn: Callable, *arrays, batch_size: int = 256) -> np.ndarray:
    """``fn(*chunks)`` for every batch of ``arrays`` (sliced alike), concatenated.

    ``arrays`` must have the same length; ``None`` entries are passed through as
    ``None`` (e.g. absent labels). ``fn`` may return a tensor or an array; the result is
    one numpy array along the first axis.
    """
    lengths = {len(a) for a in arrays if a is not None}
    if len(lengths) != 1:
        raise ValueError(f"map_batches needs arrays of one length, got lengths {sorted(lengths)}.")
    (n,) = lengths
    if n == 0:
        return np.asarray(fn(*(None if a is None else a[:0] for a in arrays)))
    return np.concatenate([
        np.asarray(fn(*(None if a is None else a[part] for a in arrays)))
        for part in batch_slices(n, batch_size)])
