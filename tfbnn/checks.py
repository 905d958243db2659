"""Every argument check and every pre-flight look at a model, in one place.

Checks on argument *values* (eps, norms, ranges, counts) run at the public entry point
before any TensorFlow work and raise ``ValueError`` (``TypeError`` for a wrong kind of
object) naming the argument, the value and what is accepted. Checks on data (inputs
inside the clip range, finite, labels in range) run when the tensors are concrete
(eager calls) and are skipped while tracing, where the values are not known yet.

The model checks look at outputs, not at code: whether a model returns probabilities
instead of logits (`looks_like_probabilities`), and whether two forward passes on the
same input differ (`is_stochastic`). Attacks, evaluation and export all use these, so a
model is judged the same way everywhere (AutoAttack's ``checks.py`` plays this role
there).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf

__all__ = [
    "NORMS", "check_beta", "check_box", "check_callable", "check_choice", "check_choices",
    "check_clip", "check_eps", "check_fraction", "check_inputs", "check_int", "check_int_list",
    "check_labels", "check_norm", "check_number", "check_rho", "check_seed", "is_number",
    "is_stochastic", "looks_like_probabilities", "warn_if_probabilities",
]

NORMS = (np.inf, 2)
"""Norms the gradient attacks support: L-infinity and L2 (the joint L2 ball of the
whole input)."""


# --------------------------------------------------------------------------- values


def is_number(value) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_callable(model_fn, name: str = "model_fn") -> None:
    """``TypeError`` unless ``model_fn`` is callable."""
    if not callable(model_fn):
        raise TypeError(f"{name} must be callable (inputs -> logits), got {model_fn!r}.")


def check_norm(norm) -> float:
    """Return ``norm`` as ``np.inf`` or ``2``, or raise naming the accepted values."""
    if norm in ("inf", "linf", "Linf"):
        norm = np.inf
    if norm not in NORMS:
        raise ValueError(f"norm must be np.inf or 2, got {norm!r}.")
    return np.inf if norm == np.inf else 2


def check_int(name: str, value, minimum: int, *, allow_none: bool = False, hint: str = ""):
    """``value`` as an int, or ``ValueError`` unless it is an int >= ``minimum`` (or None
    if allowed); ``hint`` is appended to the message."""
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        suffix = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {minimum}{suffix}, got {value!r}.{hint}")
    return int(value)


def check_int_list(name: str, values, minimum: int, *, example: str = "") -> list:
    """``values`` as a list of ints, or ``ValueError`` unless it is a non-empty list of
    ints >= ``minimum``; ``example`` (e.g. ``"--seeds 1234"``) is suggested when empty."""
    items = None if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") else (
        list(values))
    if not items:
        hint = f", e.g. {example}" if example else ""
        raise ValueError(f"{name}={values!r}: give a list of at least one int >= "
                         f"{minimum}{hint}.")
    return [check_int(name, value, minimum) for value in items]


def check_choices(name: str, values, allowed, *, hint: str = "",
                  allow_empty: bool = False) -> list:
    """``values`` as a list, or ``ValueError`` naming ``name``, the items not in
    ``allowed`` and the choices (also when ``values`` is empty, unless ``allow_empty``);
    ``hint`` is appended to the message."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name}={values!r}: give a list of items from {list(allowed)}."
                         f"{hint}")
    values = list(values)
    unknown = [v for v in values if v not in allowed]
    if unknown or not (values or allow_empty):
        problem = f"{unknown} unknown" if unknown else "none given"
        raise ValueError(f"{name}={values!r}: {problem}; choose from {list(allowed)}.{hint}")
    return values


def check_choice(name: str, value, allowed, *, hint: str = "", allow_none: bool = False):
    """``value``, or ``ValueError`` naming ``name``, the value and the choices unless it
    is one of ``allowed`` (or None when ``allow_none``)."""
    if (allow_none and value is None) or value in allowed:
        return value
    also = " or None" if allow_none else ""
    raise ValueError(f"{name}={value!r}: choose one of {list(allowed)}{also}.{hint}")


def check_seed(seed) -> None:
    """A seed is None or an int >= 0."""
    check_int("seed", seed, 0, allow_none=True)


def check_number(name: str, value, *, minimum: float | None = None,
                 positive: bool = False) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number (``> 0`` when
    ``positive``, ``>= minimum`` when given)."""
    relation = " > 0" if positive else ("" if minimum is None else f" >= {minimum:g}")
    if (not is_number(value) or not np.isfinite(value) or (positive and not value > 0)
            or (minimum is not None and value < minimum)):
        raise ValueError(f"{name} must be a finite number{relation}, got {value!r}.")
    return float(value)


def check_box(clip_min, clip_max, attack: str) -> None:
    """A proper box ``clip_min < clip_max``, for attacks that need one (CW, JSMA)."""
    check_clip(clip_min, clip_max)
    if clip_min is None or not clip_min < clip_max:
        raise ValueError(
            f"{attack} needs a box clip_min < clip_max (the valid input range, e.g. 0. and "
            f"1. for images in [0, 1]), got clip_min={clip_min!r}, clip_max={clip_max!r}."
        )


def check_fraction(name: str, value, *, open_low: bool = False) -> float:
    """A number in ``[0, 1]`` (``(0, 1]`` with ``open_low``)."""
    low_ok = (lambda v: v > 0.0) if open_low else (lambda v: v >= 0.0)
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating))
            or not (low_ok(value) and value <= 1.0)):
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


def check_eps(name: str, value, *, allow_tensor: bool = True) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number >= 0 (or a tensor)."""
    if allow_tensor and isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
        if tf.executing_eagerly() or isinstance(value, np.ndarray):
            array = np.asarray(value)
            if not np.all(np.isfinite(array)) or np.any(array < 0):
                raise ValueError(f"{name} must be finite and >= 0, got values {array.ravel()[:5]}.")
        return
    if not is_number(value) or not np.isfinite(value) or value < 0:
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
        if not is_number(value) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if clip_min > clip_max:
        raise ValueError(
            f"clip_min must be <= clip_max, got clip_min={clip_min!r} > clip_max={clip_max!r}."
        )


def check_rho(name: str, rho, d: int | None = None) -> float:
    """A temperature threshold: ``0 < rho < (d - 1) / d`` (``< 1`` while ``d`` is unknown)."""
    if not is_number(rho) or not math.isfinite(rho):
        raise TypeError(f"{name} must be a finite number, got {rho!r}.")
    upper = 1.0 if d is None else (d - 1) / d
    if not 0.0 < rho < upper:
        bound = "1" if d is None else f"(d - 1) / d = {upper:g} for d = {d}"
        raise ValueError(
            f"{name} must lie in (0, {bound}), got {rho!r}; Proposition 1 gives a positive "
            "beta only there (the paper uses rho = 0.01)."
        )
    return float(rho)


def check_beta(beta) -> None:
    """A temperature: a positive finite number, or a tensor/array of one per example
    (checked when concrete)."""
    if is_number(beta):
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}.")
        return
    if isinstance(beta, (tf.Tensor, tf.Variable, np.ndarray, list, tuple)):
        if isinstance(beta, (np.ndarray, list, tuple)) or tf.executing_eagerly():
            array = np.asarray(beta, dtype=np.float64)
            if array.ndim > 1:
                raise ValueError(
                    f"beta must be a scalar or one value per example (shape (batch,)), got "
                    f"shape {array.shape}."
                )
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise ValueError(f"beta must be finite and > 0, got values {array.ravel()[:5]}.")
        return
    raise TypeError(f"beta must be a number or a tensor of shape (batch,), got {beta!r}.")


# --------------------------------------------------------------------------- data


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
                f"y holds labels in [{labels.min()}, {labels.max()}], outside "
                f"[0, {num_classes - 1}]."
            )


# --------------------------------------------------------------------------- models


def looks_like_probabilities(outputs) -> bool:
    """Rows in ``[0, 1]`` that sum to 1: softmax outputs, not logits."""
    outputs = np.asarray(outputs)
    return bool(outputs.min() >= 0.0 and outputs.max() <= 1.0
                and np.allclose(outputs.sum(-1), 1.0, atol=1e-4))


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
    if looks_like_probabilities(outputs):
        warnings.warn(
            f"{name} seems to return probabilities (outputs in [0, 1] summing to 1), but "
            "attacks need logits. Pass a function returning logits (e.g. the model before "
            "its softmax), or wrap it: lambda x: tf.math.log(model(x) + 1e-12).",
            UserWarning,
            stacklevel=4,
        )


def is_stochastic(model_fn: Callable, x, trials: int = 2, *, first=None) -> bool:
    """True when two forward passes on the same input give different outputs.

    ``trials`` passes in all; the first is compared with each of the others. ``first``:
    the output of a pass already made on ``x`` (then ``trials - 1`` passes are run).
    """
    first = model_fn(x) if first is None else first
    return any(
        not bool(tf.reduce_all(tf.equal(first, model_fn(x)))) for _ in range(trials - 1)
    )
