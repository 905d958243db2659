"""The restricted unpickler: the only way `tfbnn.data` unpickles anything.

Unpickling a file can run arbitrary code. `restricted_load` only resolves the
globals a pickled numpy array needs (and latin-1 ``_codecs.encode`` for protocol-2
bytes); any other global raises instead of being imported.
"""

from __future__ import annotations

import pickle
from typing import Any

__all__ = ["restricted_load"]


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


def restricted_load(fileobj: Any, *, encoding: str, source: str) -> Any:
    """Unpickle ``fileobj``, allowing only numpy array reconstruction.

    # Arguments
        fileobj: a binary file object holding one pickle.
        encoding: how to decode Python 2 ``str`` objects (``"latin1"``, ``"bytes"``).
        source: what the file is, for error messages.

    # Returns
        The unpickled object.

    # Raises
        ValueError: the pickle needs a forbidden global, or is truncated, corrupted or
            not a pickle; the message names ``source``.
    """
    try:
        return _RestrictedUnpickler(fileobj, encoding=encoding).load()
    except pickle.UnpicklingError as err:
        raise ValueError(f"Cannot unpickle {source}: {err}.") from err
    except (EOFError, OSError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise ValueError(
            f"Cannot unpickle {source}: {type(err).__name__}: {err}. The file is truncated, "
            "corrupted or not in the expected format."
        ) from err
