"""tfbnn: binarized neural networks in Keras 2 / Larq, and robustness numbers about them.

Importing tfbnn routes ``tf.keras`` to Keras 2 (``tf_keras``), which Larq needs; see
``tfbnn._keras_setup`` for what happens when that is no longer possible.
"""

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probes on CPU machines) hides tfbnn's own
# output; keep warnings and errors. Set TF_CPP_MIN_LOG_LEVEL yourself to change this.
# The CUDA-probe lines TensorFlow prints at import below that level are dropped too
# (`tfbnn._keras_setup`); TFBNN_TF_STARTUP_LOGS=1 shows them.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfbnn._keras_setup import ensure_legacy_keras as _ensure_legacy_keras  # noqa: E402

_ensure_legacy_keras()

__version__ = "0.1.0"

from tfbnn import data, export, models, quantizers, training  # noqa: E402,F401
from tfbnn import attacks, evaluation, temperature  # noqa: E402,F401

__all__ = ["attacks", "data", "evaluation", "export", "models", "quantizers", "temperature",
           "training", "__version__"]
