"""The model under evaluation: loading, logits vs probabilities, stochastic or not.

`load_model` takes what users have (a tfbnn SavedModel export, any SavedModel with a
single-output ``serving_default`` signature, or a ``.keras``/``.h5`` file) and returns a
callable. `prepare` probes it once on a few inputs and returns a `Target`: the function
attacks should use (logits; the log of the outputs when they look like probabilities),
whether two forward passes differ (stochastic, e.g. the S model), and the number of
classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfbnn import checks, export, models
from tfbnn.attacks import EOT

__all__ = ["Target", "load_model", "prepare"]

OUTPUTS = ("auto", "logits", "probabilities")


@dataclass
class Target:
    """A model as evaluation sees it.

    # Arguments
        logits_fn: maps a batch to logits (one random draw for stochastic models).
        attack_fn: what attacks differentiate: ``logits_fn``, or an `EOT` wrapper
            averaging ``draws`` passes when the model is stochastic.
        stochastic: two forward passes on the same inputs differ.
        draws: forward passes per prediction (1 for deterministic models).
        outputs: ``"logits"``, or ``"probabilities"`` when the model returns a softmax
            and tfbnn takes its log.
        num_classes: length of the output vector.
        notes: lines for the report.
    """

    logits_fn: Callable
    attack_fn: Callable
    stochastic: bool
    draws: int
    outputs: str
    num_classes: int
    notes: list = field(default_factory=list)

    def scores(self, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Per example, the fraction of ``draws`` forward passes classified correctly."""
        correct = np.zeros(len(x))
        for _ in range(self.draws):
            logits = export.predict_in_batches(self.logits_fn, x, batch_size)
            correct += logits.argmax(-1) == y
        return correct / self.draws

    def loss(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-example cross-entropy of the (draw-averaged) logits."""
        logits = tf.convert_to_tensor(self.attack_fn(tf.constant(x)))
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits).numpy()


def load_model(path) -> tuple[Callable, dict]:
    """Load a model from disk as ``(model_fn, metadata)``.

    # Arguments
        path: a SavedModel directory, or a ``.keras``/``.h5`` file.

    # Raises
        FileNotFoundError: nothing at ``path``, or a directory without saved_model.pb.
        ValueError: a file that Keras cannot load (corrupted or not a model).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MODEL {str(path)!r} does not exist; give a SavedModel "
                                "directory (e.g. tfbnn demo's tfbnn_runs/demo/saved_model) or "
                                "a .keras/.h5 file.")
    if path.is_dir():
        model_fn, metadata = export.load_saved_model(path)
        if "input_shape" not in metadata:  # not a tfbnn export: read the signature
            signature = model_fn.saved_model.signatures["serving_default"]
            (spec,) = signature.structured_input_signature[1].values()
            if spec.shape.rank and spec.shape[1:].is_fully_defined():
                metadata = {**metadata, "input_shape": spec.shape[1:].as_list()}
        return model_fn, metadata
    try:
        model = keras.models.load_model(path, custom_objects=models.custom_objects(),
                                        compile=False)
    except Exception as err:  # Keras raises many types for unreadable files
        raise ValueError(f"MODEL {str(path)!r} could not be loaded as a Keras model "
                         f"({type(err).__name__}: {err}); is the file complete?") from err
    meta = {"input_shape": list(model.input_shape[1:]), "name": model.name}
    return (lambda x: model(x, training=False)), meta


def _as_logits_fn(model) -> Callable:
    if isinstance(model, keras.Model):
        return lambda x: model(x, training=False)
    if not callable(model):
        raise TypeError(f"model must be a Keras model or a callable returning logits, got "
                        f"{model!r}.")
    return model


def prepare(model, x_probe: np.ndarray, *, stochastic: bool | None = None,
            eot_draws: int = 10, outputs: str = "auto") -> Target:
    """Probe ``model`` on ``x_probe`` (a few inputs) and return the `Target` to evaluate.

    # Arguments
        model: a Keras model or any callable mapping a batch to logits (or probabilities).
        x_probe: a few inputs of the evaluation data.
        stochastic: force the stochastic (True) or deterministic (False) treatment;
            ``None`` detects it from two forward passes.
        eot_draws: forward passes averaged per gradient and per prediction for
            stochastic models.
        outputs: ``"auto"`` (detect), ``"logits"`` or ``"probabilities"``.

    # Raises
        ValueError: bad ``outputs`` or ``eot_draws``; a model whose output is not a
            batch of vectors, or that fails on the data's shape.
    """
    if outputs not in OUTPUTS:
        raise ValueError(f"outputs must be one of {OUTPUTS}, got {outputs!r}.")
    checks.check_int("eot_draws", eot_draws, 1)
    raw_fn = _as_logits_fn(model)
    probe = tf.constant(x_probe)
    try:
        first = np.asarray(raw_fn(probe))
    except Exception as err:
        raise ValueError(f"The model fails on inputs of shape {tuple(x_probe.shape[1:])} "
                         f"({type(err).__name__}: {err}); does the data match the model's "
                         "input shape?") from err
    if first.ndim != 2 or first.shape[0] != len(x_probe) or first.shape[1] < 2:
        raise ValueError(f"The model must return one vector of class scores per input, got "
                         f"shape {first.shape} for {len(x_probe)} inputs.")
    notes = []
    if outputs == "probabilities" or (outputs == "auto" and checks.looks_like_probabilities(first)):
        outputs = "probabilities"
        notes.append("The model returns probabilities (rows in [0, 1] summing to 1): attacks "
                     "use their log as logits. Saturated probabilities (exactly 0 or 1 in "
                     "float32) still hide gradients; export logits if you can.")
        logits_fn = lambda x: tf.math.log(tf.maximum(raw_fn(x), 1e-30))  # noqa: E731
    else:
        outputs = "logits"
        logits_fn = raw_fn
    if stochastic is None:
        stochastic = checks.is_stochastic(raw_fn, probe, trials=3, first=first)
    draws = eot_draws if stochastic else 1
    if stochastic:
        notes.append(f"The model is stochastic (two forward passes differ): gradients are "
                     f"averaged over {draws} passes (EOT) and accuracies are the mean over "
                     f"{draws} draws per example.")
    attack_fn = EOT(logits_fn, draws) if stochastic else logits_fn
    return Target(logits_fn, attack_fn, bool(stochastic), draws, outputs, int(first.shape[1]),
                  notes)
