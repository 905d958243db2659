"""Export for deployment: SavedModel with a logits signature, and atomic model files.

`export_saved_model` writes a SavedModel whose ``serving_default`` signature maps a
float32 batch ``image`` to ``{"logits": ...}``. It loads with plain
``tf.saved_model.load`` in a process that has neither tfbnn nor Larq: binarization
and the S model's Bernoulli sampling are ordinary TensorFlow ops in the graph, so an
exported S model stays stochastic. A ``tfbnn.json`` file in the SavedModel's
``assets.extra`` records the input shape, value range and whether the model is
stochastic, for tools that evaluate it later.

`export_tflite` (from `tfbnn.deploy`) writes a TFLite flatbuffer through Larq Compute
Engine in which every binary convolution is a 1-bit ``LceBconv2d``, checked against the
Keras model on test images (``pip install -e ".[deploy]"``).

Every writer here writes into a temporary sibling and renames it into place, so a
failed or killed export leaves either the previous file or nothing, never half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn.batching import map_batches
from tfbnn.checks import is_stochastic
from tfbnn.deploy import export_tflite, freeze_stochastic
from tfbnn.io import atomic_path, atomic_replace, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text", "export_saved_model", "export_tflite",
           "freeze_stochastic", "load_saved_model", "save_model"]

METADATA_FILE = "tfbnn.json"


def _check_destination(path, overwrite: bool) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TypeError(f"path must be a non-empty str or os.PathLike, got {path!r}.")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot write {str(path)!r}: its parent directory {str(path.parent)!r} does not "
            "exist. Create it first or choose another path."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} already exists; pass overwrite=True to replace it, or choose "
            "another path."
        )
    return path


def save_model(model: keras.Model, path, *, overwrite: bool = False, **save_kwargs) -> Path:
    """``model.save`` to a ``.keras`` or ``.h5`` file, atomically.

    # Raises
        ValueError: for another suffix; FileNotFoundError for a missing parent
            directory; FileExistsError when ``path`` exists and ``overwrite`` is False.
    """
    path = _check_destination(path, overwrite)
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(
            f"path must end in .keras or .h5, got {str(path)!r}; use export_saved_model "
            "for a SavedModel directory."
        )
    with atomic_path(path) as tmp:
        model.save(tmp, overwrite=True, **save_kwargs)
    return path


class _Serving(tf.Module):
    def __init__(self, model: keras.Model, input_shape):
        super().__init__()
        self.model = model
        spec = tf.TensorSpec([None, *input_shape], tf.float32, name="image")
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, image):
        return {"logits": self.model(image, training=False)}


def _is_stochastic(model: keras.Model, input_shape) -> bool:
    probe = tf.random.stateless_uniform((4, *input_shape), seed=(0, 1))
    return is_stochastic(lambda t: model(t, training=False), probe, trials=3)


def export_saved_model(
    model: keras.Model,
    path,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    overwrite: bool = False,
    metadata: dict | None = None,
) -> Path:
    """Export ``model`` as a SavedModel with a ``serving_default`` logits signature.

    # Arguments
        model: a Keras model mapping float32 inputs to logits.
        path: the SavedModel directory to create.
        value_range: the input range the model expects, recorded for evaluators.
        overwrite: replace an existing export.
        metadata: extra JSON-serializable fields for ``assets.extra/tfbnn.json``.

    # Returns
        The path written.

    # Example
        ```python
        path = tfbnn.export.export_saved_model(model, "exported/b64")
        serve = tf.saved_model.load("exported/b64").signatures["serving_default"]
        logits = serve(image=x)["logits"]
        ```
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
    path = _check_destination(path, overwrite)
    input_shape = tuple(model.input_shape[1:])
    if any(d is None for d in input_shape):
        raise ValueError(f"model needs a fully defined input shape, got {model.input_shape}.")
    low, high = (float(v) for v in value_range)
    if not low < high:
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}.")

    from tfbnn import __version__

    info = {
        "format": "tfbnn-savedmodel-1",
        "tfbnn_version": __version__,
        "name": model.name,
        "input_shape": list(input_shape),
        "value_range": [low, high],
        "num_classes": int(model.output_shape[-1]),
        "outputs": "logits",
        "stochastic": _is_stochastic(model, input_shape),
        **(metadata or {}),
    }
    serving = _Serving(model, input_shape)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tf.saved_model.save(serving, str(tmp), signatures={"serving_default": serving.serve})
        (tmp / "assets.extra").mkdir(exist_ok=True)
        (tmp / "assets.extra" / METADATA_FILE).write_text(json.dumps(info, indent=2))
        atomic_replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_saved_model(path) -> tuple[Callable[[tf.Tensor], tf.Tensor], dict]:
    """Load an exported model as ``(model_fn, metadata)``; ``model_fn(x)`` returns logits.

    Works on any SavedModel with a single-output ``serving_default`` signature;
    ``metadata`` is empty when the export did not come from tfbnn.

    # Raises
        FileNotFoundError: when ``path`` holds no SavedModel.
        ValueError: when its files are truncated or corrupt (the message names the
            file), or it has no usable ``serving_default`` signature.
    """
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"No SavedModel at {str(path)!r} (no saved_model.pb); pass the directory that "
            "export_saved_model or tf.saved_model.save wrote."
        )
    loaded = _load_or_explain(path)
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ValueError(
            f"The SavedModel at {str(path)!r} has no 'serving_default' signature; "
            f"it has {sorted(loaded.signatures)}."
        )
    input_names = list(signature.structured_input_signature[1])
    outputs = list(signature.structured_outputs)
    if len(input_names) != 1 or len(outputs) != 1:
        raise ValueError(
            f"serving_default must take one input and return one output, got inputs "
            f"{input_names} and outputs {outputs}."
        )
    input_name, output_name = input_names[0], outputs[0]

    def model_fn(x):
        return signature(**{input_name: tf.cast(x, tf.float32)})[output_name]

    model_fn.saved_model = loaded  # keep the resources alive as long as the callable
    meta_file = path / "assets.extra" / METADATA_FILE
    metadata = {}
    if meta_file.is_file():
        try:
            metadata = json.loads(meta_file.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"The SavedModel's metadata file {str(meta_file)!r} is corrupt "
                             f"({err}); export the model again, or delete that file to load "
                             "the model without tfbnn's metadata.") from err
    return model_fn, metadata


def _load_or_explain(path: Path):
    """``tf.saved_model.load``, with the file at fault named when the SavedModel is damaged."""
    try:
        return tf.saved_model.load(str(path))
    except Exception as err:  # noqa: BLE001 - TensorFlow raises OSError, IndexError, OpError...
        text = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if "saved_model.pb" in str(err):
            what = f"{str(path / 'saved_model.pb')!r} cannot be parsed (truncated or corrupt)"
        elif not (path / "variables").is_dir() or not any((path / "variables").iterdir()):
            what = f"its variables are missing ({str(path / 'variables')!r} is absent or empty)"
        else:
            what = (f"its variable files under {str(path / 'variables')!r} are truncated or "
                    "corrupt")
        raise ValueError(f"The SavedModel at {str(path)!r} could not be loaded: {what} "
                         f"({text}). Export the model again, or copy the whole directory "
                         "again if it was transferred.") from err


def predict_in_batches(model_fn: Callable, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits of ``model_fn`` on ``x``, batch by batch, as one numpy array."""
    return map_batches(lambda chunk: model_fn(tf.constant(chunk)), x, batch_size=batch_size)
