"""Make TensorFlow route ``tf.keras`` to Keras 2 (``tf_keras``) before anything else.

Larq's layers subclass ``tf.keras`` classes and only work with Keras 2.  From
TensorFlow 2.16 on, ``tf.keras`` is Keras 3 unless the environment variable
``TF_USE_LEGACY_KERAS`` is set *before* ``tf.keras`` is first touched.  This module
sets it when the user has not, and fails with an actionable message when it is too
late (Keras 3 already bound to ``tf.keras`` in this process) or explicitly disabled.
"""

import contextlib
import os
import re
import sys
import tempfile

_TRUE = ("1", "true", "True")
_FIX = (
    "Fix: start a fresh Python process and either `import tfbnn` before touching "
    "`tf.keras`, or run with the environment variable TF_USE_LEGACY_KERAS=1 "
    "(and `pip install tf-keras` matching your TensorFlow minor version)."
)


def _route_submodule_imports(tf) -> None:
    """Put Keras 2's API packages first on the search path of TensorFlow's API modules.

    ``from tensorflow.keras import ...`` and ``tensorflow.compat.v2.keras`` resolve
    through the ``__path__`` of those modules, which TensorFlow fixed at its own import
    from TF_USE_LEGACY_KERAS; this does what TensorFlow does when the variable is set
    in time.
    """
    import importlib

    import tf_keras.api._v1.keras
    import tf_keras.api._v2.keras

    for module_name, api in (
        ("tensorflow", tf_keras.api._v2.keras),
        ("tensorflow.compat.v2", tf_keras.api._v2.keras),
        ("tensorflow.compat.v1", tf_keras.api._v1.keras),
    ):
        module = tf if module_name == "tensorflow" else importlib.import_module(module_name)
        directory = os.path.dirname(os.path.dirname(api.__file__))
        if list(module.__path__)[:1] != [directory]:
            module.__path__.insert(0, directory)


STARTUP_LOGS_ENV = "TFBNN_TF_STARTUP_LOGS"
"""Set to 1 to see TensorFlow's start-up lines that `import tfbnn` otherwise drops."""

_STARTUP_NOISE = re.compile(
    r"Unable to register cu(DNN|FFT|BLAS) factory|All log messages before absl::InitializeLog"
    r"|failed call to cuInit|could not find cuda drivers|Could not find cuda drivers"
    r"|TF-TRT Warning|oneDNN custom operations are on|This TensorFlow binary is optimized"
    r"|rebuild TensorFlow with the appropriate compiler flags")


def kept_startup_lines(text: str) -> list:
    """The lines of ``text`` that are not TensorFlow's known start-up noise."""
    return [line for line in text.splitlines()
            if line.strip() and not _STARTUP_NOISE.search(line)]


@contextlib.contextmanager
def _quiet_startup():
    """Drop TensorFlow's CUDA-probe lines printed at import and device start-up.

    On a machine without a GPU, TensorFlow's C++ code writes a screen of CUDA
    registration and ``cuInit`` errors to the process's stderr (file descriptor 2,
    below Python), which buries tfbnn's own output. While TensorFlow is imported and
    its devices listed, fd 2 goes to a temporary file; afterwards every line that is not
    one of those known messages (`_STARTUP_NOISE`) is written back to stderr.
    """
    if os.environ.get(STARTUP_LOGS_ENV, "") in _TRUE or "tensorflow" in sys.modules:
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # no real stderr (embedded, captured)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            kept = kept_startup_lines(captured.read().decode("utf-8", "replace"))
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def ensure_legacy_keras() -> None:
    """Route ``tf.keras`` to ``tf_keras`` or raise ``ImportError`` saying how to fix it."""
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if value is not None and value not in _TRUE:
        raise ImportError(
            f"tfbnn needs Keras 2 (tf_keras) because Larq does, but TF_USE_LEGACY_KERAS={value!r} "
            f"asks TensorFlow for Keras 3. {_FIX}"
        )
    tf_already_loaded = "tensorflow" in sys.modules
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    with _quiet_startup():
        try:
            import tf_keras  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "tfbnn needs the `tf_keras` package (Keras 2) of the same minor version as "
                "TensorFlow: `pip install tf-keras==<your TensorFlow version>`. "
                f"(`import tf_keras` failed with {type(err).__name__}: {err})"
            ) from err
        import tensorflow as tf

        if not tf_already_loaded:
            tf.config.list_physical_devices()  # device start-up (cuInit) inside the window

    if tf_already_loaded:
        # TensorFlow read TF_USE_LEGACY_KERAS at its own import: Keras 3 must not be
        # imported under TensorFlow's names yet, and later imports must find Keras 2.
        module = sys.modules.get("tensorflow.keras")
        if module is not None and not module.__name__.startswith("tf_keras"):
            if not getattr(module, "__file__", "").count("tf_keras"):
                raise ImportError(
                    "tfbnn needs Keras 2 (tf_keras), but `tensorflow.keras` was already "
                    f"imported as Keras 3 in this process. {_FIX}"
                )
        _route_submodule_imports(tf)
    layer_module = tf.keras.layers.Layer.__module__
    if not layer_module.startswith("tf_keras"):
        raise ImportError(
            f"tfbnn needs Keras 2 (tf_keras), but tf.keras resolves to {layer_module!r}. {_FIX}"
        )
