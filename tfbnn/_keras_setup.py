"""Make TensorFlow route ``tf.keras`` to Keras 2 (``tf_keras``) before anything else.

Larq's layers subclass ``tf.keras`` classes and only work with Keras 2.  From
TensorFlow 2.16 on, ``tf.keras`` is Keras 3 unless the environment variable
``TF_USE_LEGACY_KERAS`` is set *before* ``tf.keras`` is first touched.  This module
sets it when the user has not, and fails with an actionable message when it is too
late (Keras 3 already bound to ``tf.keras`` in this process) or explicitly disabled.
"""

import os
import sys

_TRUE = ("1", "true", "True")
_FIX = (
    "Fix: start a fresh Python process and either `import tfbnn` before touching "
    "`tf.keras`, or run with the environment variable TF_USE_LEGACY_KERAS=1 "
    "(and `pip install tf-keras` matching your TensorFlow minor version)."
)


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
    try:
        import tf_keras
        import tf_keras.api._v2.keras  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "tfbnn needs the `tf_keras` package (Keras 2) of the same minor version as "
            "TensorFlow: `pip install tf-keras==<your TensorFlow version>`."
        ) from err
    import tensorflow as tf

    if tf_already_loaded:
        # TensorFlow read TF_USE_LEGACY_KERAS at its own import; what matters is whether
        # `tf.keras` has been resolved yet, and to what.
        loader = tf.__dict__.get("keras")
        version = getattr(loader, "_tfll_keras_version", None)
        if version is not None and version != "tf_keras":
            raise ImportError(
                "tfbnn needs Keras 2 (tf_keras), but `tf.keras` was already bound to "
                f"{version!r} in this process before tfbnn was imported. {_FIX}"
            )
        # `from tensorflow.keras import ...` resolves through `tensorflow.__path__`,
        # which TensorFlow fixed at its own import; put Keras 2's API first, as
        # TensorFlow itself does when the variable is set in time.
        module = sys.modules.get("tensorflow.keras")
        if module is not None and not module.__name__.startswith("tf_keras"):
            if not getattr(module, "__file__", "").count("tf_keras"):
                raise ImportError(
                    "tfbnn needs Keras 2 (tf_keras), but `tensorflow.keras` was already "
                    f"imported as Keras 3 in this process. {_FIX}"
                )
        keras2_dir = os.path.dirname(os.path.dirname(tf_keras.api._v2.keras.__file__))
        if tf.__path__[0] != keras2_dir:
            tf.__path__.insert(0, keras2_dir)
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(
            f"tfbnn needs Keras 2 (tf_keras), but tf.keras resolves to {tf.keras.__name__!r}. {_FIX}"
        )
