"""Shared pieces of tfbnn's attacks: argument checks, labels, loss gradients, projections.

Checks on argument *values* (eps, norms, ranges) run at the public entry point before
any TensorFlow work. Checks on data (x inside the clip range, finite, labels in range)
run when the tensors are concrete (eager calls) and are skipped while tracing, where
the values are not known yet.
"""

from __future__ import annotations

import collections
import numbers
import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf

NORMS = (np.inf, 2)
"""Norms the gradient attacks support: L-infinity and L2 (the joint L2 ball of the
whole input)."""


def check_norm(norm) -> float:
    """Return ``norm`` as ``np.inf`` or ``2``, or raise naming the accepted values."""
    if norm in ("inf", "linf", "Linf"):
        norm = np.inf
    if norm not in NORMS:
        raise ValueError(f"norm must be np.inf or 2, got {norm!r}.")
    return np.inf if norm == np.inf else 2


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value, minimum: int, *, allow_none: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= ``minimum`` (or None if allowed)."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        suffix = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {minimum}{suffix}, got {value!r}.")


def check_eps(name: str, value, *, allow_tensor: bool = True) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number >= 0 (or a tensor)."""
    if allow_tensor and isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
        if tf.executing_eagerly() or isinstance(value, np.ndarray):
            array = np.asarray(value)
            if not np.all(np.isfinite(array)) or np.any(array < 0):
                raise ValueError(f"{name} must be finite and >= 0, got values {array.ravel()[:5]}.")
        return
    if not _is_number(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")


def check_clip(clip_min, clip_max) -> None:
    """Both bounds or neither, numbers, ``clip_min <= clip_max``."""
    if (clip_min is None) != (clip_max is None):
        raise ValueError(
            f"Give both clip_min and clip_max or neither, got clip_min={clip_min!r}, "
            f"clip_max={clip_max!r}."
        )
    if clip_min is None:
        return
    for name, value in (("clip_min", clip_min), ("clip_max", clip_max)):
        if not _is_number(value) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if clip_min > clip_max:
        raise ValueError(
            f"clip_min must be <= clip_max, got clip_min={clip_min!r} > clip_max={clip_max!r}."
        )


def check_inputs(x, clip_min=None, clip_max=None, *, tolerance: float = 1e-6) -> None:
    """When ``x`` is concrete: finite, and inside ``[clip_min, clip_max]``."""
    if not (tf.executing_eagerly() or isinstance(x, np.ndarray)):
        return
    array = np.asarray(x)
    if not np.all(np.isfinite(array)):
        raise ValueError("x holds NaN or inf values; attacks need finite inputs.")
    if clip_min is not None and array.size:
        low, high = float(array.min()), float(array.max())
        if low < clip_min - tolerance or high > clip_max + tolerance:
            raise ValueError(
                f"x lies in [{low:g}, {high:g}], outside clip_min={clip_min!r}, "
                f"clip_max={clip_max!r}; scale the inputs or pass the right range."
            )


def check_labels(y, batch_size: int | None, num_classes: int | None) -> None:
    """When ``y`` is concrete: integer class indices of the batch's length and in range."""
    if y is None or not (tf.executing_eagerly() or isinstance(y, np.ndarray)):
        return
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(
            f"y must be a vector of class indices of shape (batch,), got shape {labels.shape}."
        )
    if labels.size and labels.dtype.kind not in "iu":
        raise ValueError(
            f"y must hold integer class indices, got dtype {labels.dtype}; pass labels, not "
            "one-hot vectors or probabilities."
        )
    if batch_size is not None and labels.shape[0] != batch_size:
        raise ValueError(f"y has {labels.shape[0]} labels for a batch of {batch_size} inputs.")
    if labels.size and num_classes is not None:
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f"y holds labels in [{labels.min()}, {labels.max()}], outside [0, {num_classes - 1}]."
            )


def warn_if_probabilities(model_fn: Callable, x, *, name: str = "model_fn") -> None:
    """Warn when ``model_fn`` looks like it returns probabilities instead of logits.

    Checked on a few inputs in eager mode only (it costs one small forward pass):
    outputs that are all in [0, 1] and sum to 1 per row are softmax outputs, whose
    cross-entropy gradients attacks would compute wrongly (log of a probability is
    not a logit of the same model, and saturated probabilities give zero gradients).
    """
    if not tf.executing_eagerly():
        return
    outputs = np.asarray(model_fn(tf.convert_to_tensor(x[:8])))
    if outputs.ndim != 2 or outputs.shape[-1] < 2:
        return
    if outputs.min() >= 0.0 and outputs.max() <= 1.0 and np.allclose(outputs.sum(-1), 1.0, atol=1e-4):
        warnings.warn(
            f"{name} seems to return probabilities (outputs in [0, 1] summing to 1), but "
            "attacks need logits. Pass a function returning logits (e.g. the model before "
            "its softmax), or wrap it: lambda x: tf.math.log(model(x) + 1e-12).",
            UserWarning,
            stacklevel=3,
        )


def prepare_batch(model_fn: Callable, x, y, targeted: bool, clip_min, clip_max,
                  loss_fn: Callable | None = None):
    """The common start of a gradient attack: check the inputs and labels, warn about
    probabilities, and return ``(x, y, loss_fn)`` with ``x`` a float32 tensor, ``y`` the
    model's own predictions when None, and ``loss_fn`` cross-entropy when None."""
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target labels y.")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    check_inputs(x, clip_min, clip_max)
    check_labels(y, x.shape[0], None)
    warn_if_probabilities(model_fn, x)
    if y is None:
        y = predicted_labels(model_fn, x)
    return x, y, loss_fn or default_loss


def is_adversarial(logits: tf.Tensor, y: tf.Tensor, targeted: bool) -> tf.Tensor:
    """Per-example success: prediction differs from ``y`` (or equals the target)."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int64)
    hit = tf.equal(predicted, tf.cast(y, tf.int64))
    return hit if targeted else tf.logical_not(hit)


def default_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example softmax cross-entropy on integer labels."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def predicted_labels(model_fn: Callable, x: tf.Tensor) -> tf.Tensor:
    """The model's own predictions, the default labels (no label leaking)."""
    return tf.argmax(model_fn(x), axis=-1)


def loss_gradient(
    model_fn: Callable,
    loss_fn: Callable,
    x: tf.Tensor,
    y: tf.Tensor,
    targeted: bool,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradient of the attack objective with respect to ``x``, and the per-example loss.

    The objective is ``loss_fn(y, model_fn(x))``, negated for targeted attacks so that
    ascending it moves towards the target. For an `EOT` model the objective is the
    loss averaged over the model's random draws, so the gradient is the average of the
    draws' gradients (expectation over transformation).
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        draws = getattr(model_fn, "eot_draws", None)
        if draws is None:
            loss = loss_fn(y, model_fn(x))
        else:
            loss = tf.add_n([loss_fn(y, model_fn.draw(x)) for _ in range(draws)]) / draws
        if targeted:
            loss = -loss
    return tape.gradient(loss, x), loss


def broadcast_eps(eps, x: tf.Tensor) -> tf.Tensor:
    """``eps`` as a tensor broadcastable against ``x``: scalar, or one value per example."""
    eps = tf.cast(eps, x.dtype)
    if eps.shape.rank == 1:
        eps = tf.reshape(eps, [-1] + [1] * (x.shape.rank - 1))
    return eps


def _flat_norm(v: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, v.shape.rank))
    return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(v), axes, keepdims=True), 1e-24))


def steepest_step(grad: tf.Tensor, size, norm) -> tf.Tensor:
    """The step of length ``size`` that maximises ``<step, grad>`` in the given norm."""
    if norm == np.inf:
        return size * tf.sign(grad)
    return size * grad / _flat_norm(grad)


def project(delta: tf.Tensor, eps, norm) -> tf.Tensor:
    """Project a perturbation onto the eps-ball (L-inf box, or joint L2 ball of each input)."""
    if norm == np.inf:
        return tf.clip_by_value(delta, -eps, eps)
    return delta * tf.minimum(1.0, eps / _flat_norm(delta))


def clip_to_range(x: tf.Tensor, clip_min, clip_max) -> tf.Tensor:
    if clip_min is None:
        return x
    return tf.clip_by_value(x, clip_min, clip_max)


def _uniform(shape, low, high, dtype, seed):
    if seed is None:
        return tf.random.uniform(shape, low, high, dtype=dtype)
    return tf.random.stateless_uniform(shape, seed=[seed, 0], minval=low, maxval=high, dtype=dtype)


def _normal(shape, dtype, seed):
    if seed is None:
        return tf.random.normal(shape, dtype=dtype)
    return tf.random.stateless_normal(shape, seed=[seed, 1], dtype=dtype)


def uniform_noise(x: tf.Tensor, low: float, high: float, seed=None) -> tf.Tensor:
    """Uniform noise shaped like ``x``; deterministic for an int ``seed`` (stateless)."""
    return _uniform(tf.shape(x), low, high, x.dtype, seed)


def random_start(x: tf.Tensor, eps, norm, seed=None) -> tf.Tensor:
    """A uniform random point in the eps-ball around 0 (L-inf box or L2 ball).

    With an int ``seed`` the draw is stateless: the same seed gives the same start.
    """
    shape = tf.shape(x)
    if norm == np.inf:
        return _uniform(shape, -1.0, 1.0, x.dtype, seed) * eps
    direction = _normal(shape, x.dtype, seed)
    direction = direction / _flat_norm(direction)
    dims = tf.cast(tf.reduce_prod(shape[1:]), x.dtype)
    radius = _uniform(shape[:1], 0.0, 1.0, x.dtype, seed) ** (1.0 / dims)
    radius = tf.reshape(radius, [-1] + [1] * (x.shape.rank - 1))
    return direction * radius * eps


class ParametrizedLoss:
    """A loss with tensor parameters, e.g. a per-example temperature.

    ``ParametrizedLoss(fn, *params)(labels, logits) == fn(labels, logits, *params)``.
    Attacks that compile themselves (see `compiled`) pass ``params`` into the compiled
    function as inputs, so a new temperature reuses the traced graph instead of
    tracing a new one. ``key`` identifies ``fn`` across instances (default: ``fn``).
    """

    def __init__(self, fn: Callable, *params, key=None):
        self.fn = fn
        self.params = tuple(tf.convert_to_tensor(p) for p in params)
        self.key = fn if key is None else key

    def __call__(self, labels, logits):
        return self.fn(labels, logits, *self.params)

    def with_params(self, params) -> "ParametrizedLoss":
        return ParametrizedLoss(self.fn, *params, key=self.key)


_COMPILED: "collections.OrderedDict" = collections.OrderedDict()
_COMPILED_MAX = 32


def compiled(core: Callable, model_fn: Callable, loss_fn: Callable, static: tuple) -> Callable:
    """A cached ``tf.function`` of ``core`` for one model, loss and static configuration.

    Attacks called eagerly run their loop through this: a compiled PGD is about twice
    as fast as an eager one on CPU, and the cache means a model is traced once per
    configuration, not once per call (CleverHans 4's module-level ``tf.function``
    retraces whenever it meets a new model). ``core(model_fn, loss_fn, *static)``
    must return a function of tensors; a `ParametrizedLoss`'s parameters are passed
    as the last argument. The cache holds the most recent `_COMPILED_MAX` entries.
    """
    loss_key = loss_fn.key if isinstance(loss_fn, ParametrizedLoss) else loss_fn
    key = (core, model_fn, loss_key, static)
    try:
        function = _COMPILED.pop(key)
    except (KeyError, TypeError):  # TypeError: an unhashable model_fn or static value
        function = None
    if function is None:
        def run(*tensors):
            *inputs, params = tensors
            loss = loss_fn.with_params(params) if isinstance(loss_fn, ParametrizedLoss) else loss_fn
            return core(model_fn, loss, *static)(*inputs)

        function = tf.function(run, reduce_retracing=True)
    try:
        _COMPILED[key] = function
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    except TypeError:
        pass
    return function


def loss_params(loss_fn: Callable) -> tuple:
    """The tensors `compiled` passes for ``loss_fn`` (empty for a plain loss)."""
    return loss_fn.params if isinstance(loss_fn, ParametrizedLoss) else ()
