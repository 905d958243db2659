"""Temperature scaling of the logits for gradient attacks (Gupta & Ajanthan, AAAI 2022).

Gradient attacks on binarized (and some full-precision) networks stall because the
input gradient of the softmax cross-entropy vanishes: the error signal ``psi`` is zero
when the softmax saturates, or the input-output Jacobian ``J`` is badly scaled. The
paper multiplies the logits by a scalar ``beta > 0`` before the softmax. That never
changes a prediction (``argmax(beta * a) == argmax(a)``) but rescales both factors of
the input gradient ``d l(beta) / dx = psi(beta) beta J`` (eq. 6). Two ways to pick
``beta``:

- Network Jacobian Scaling (NJS, Algorithm 1): ``beta_1`` = 1 / mean singular value of
  ``J`` over a few samples, times a per-example ``beta_2 <= 1`` from Proposition 1
  whenever the scaled softmax still saturates (``1 - p'_k <= rho``).
- Hessian Norm Scaling (HNS, Algorithm 2, eq. 8): per example, the ``beta`` on a grid
  that maximises the Frobenius norm of the input Hessian of ``l(beta)``.

Everything here is batched, runs eagerly or inside ``tf.function``, and takes any
``model_fn`` mapping a batch of inputs to logits (a Keras model, a SavedModel's
signature, a plain function). Jacobians cost ``d`` backward passes (``d`` = number of
classes), and every matrix formed is ``d x d``: no ``n x n`` matrix over the input
dimension ``n`` is ever built.

# Notation
    ``a``: logits (``batch x d``); ``p(beta) = softmax(beta a)``; ``y``: one-hot labels;
    ``J = da/dx`` (``d x n`` per example); ``G = J J^T`` (``d x d``);
    ``A(beta) = diag(p) - p p^T``, the Jacobian of the softmax.

# References
    - Gupta, Ajanthan. Improved Gradient based Adversarial Attacks for Quantized
      Networks. AAAI 2022 (arXiv:2003.13511).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn import checks

__all__ = [
    "SPACINGS",
    "beta_upper_bound",
    "error_signal",
    "hessian_frobenius_norm",
    "hns_beta",
    "hns_beta_grid",
    "input_logit_jacobian",
    "jacobian_singular_values",
    "njs_beta1",
    "njs_beta2",
    "njs_cross_entropy",
    "njs_loss",
    "scaled_cross_entropy",
    "signal_propagation_stats",
    "temperature_scaled_loss",
]

SPACINGS = ("linear", "log")
"""Spacings of the HNS grid: ``"linear"`` is the paper's (Appendix C.1, equally spaced
from the lower to the upper bound); ``"log"`` spaces the points geometrically, which
resolves the small-``beta`` end where the maximiser usually sits."""

HNS_RHO_LOW = 1e-72
"""The paper's rho for the upper end of the HNS grid (Appendix C.1)."""

_GAMMA_FLOOR = 1e-6
"""Smallest logit gap used in Proposition 1's bound, so tied logits give a finite beta."""


# --------------------------------------------------------------------------- checks


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_num_classes(d) -> int:
    if not _is_int(d) or d < 2:
        raise ValueError(
            f"d (the number of classes) must be an int >= 2, got {d!r}; Proposition 1 "
            "needs at least two logits."
        )
    return int(d)


def _check_spacing(spacing) -> str:
    if spacing not in SPACINGS:
        raise ValueError(
            f"spacing must be one of {SPACINGS}, got {spacing!r}; 'linear' is the paper's "
            "grid, 'log' a geometric one."
        )
    return spacing


def check_hns_args(grid, spacing, rho_low, rho_high) -> None:
    """The HNS grid's arguments: ``grid >= 2``, a known spacing, ``0 < rho_low < rho_high < 1``."""
    checks.check_int("grid", grid, 2, hint=" The HNS grid needs both of its end points.")
    _check_spacing(spacing)
    checks.check_rho("rho_low", rho_low)
    if rho_high is not None:
        checks.check_rho("rho_high", rho_high)
        if not rho_low < rho_high:
            raise ValueError(
                f"rho_low must be < rho_high, got rho_low={rho_low!r}, rho_high={rho_high!r}; "
                "the small rho gives the large-beta end of the grid."
            )


# --------------------------------------------------------------------------- helpers


def _as_float_tensor(x) -> tf.Tensor:
    x = tf.convert_to_tensor(x)
    return x if x.dtype.is_floating else tf.cast(x, tf.float32)


def _cast(value, dtype) -> tf.Tensor:
    """``value`` as a tensor of ``dtype``; Python numbers are converted directly, not
    through float32 (``tf.cast(0.7, tf.float64)`` rounds 0.7 to float32 first)."""
    if checks.is_number(value) or isinstance(value, (np.ndarray, list, tuple)):
        return tf.constant(value, dtype)
    return tf.cast(value, dtype)


def _per_example(beta, like: tf.Tensor) -> tf.Tensor:
    """``beta`` as a tensor broadcastable against ``like`` (``batch x d``)."""
    beta = _cast(beta, like.dtype)
    if beta.shape.rank == 1:
        beta = beta[:, None]
    return beta


def _num_classes(logits: tf.Tensor) -> int:
    d = logits.shape[-1]
    if d is None:
        raise ValueError(
            "The number of classes (last dimension of the logits) must be known statically; "
            "give the model_fn an output shape, e.g. with tf.ensure_shape."
        )
    return _check_num_classes(d)


def jacobian_and_logits(model_fn: Callable, x) -> tuple[tf.Tensor, tf.Tensor]:
    """``(J, logits)`` at ``x``: one forward pass and ``d`` backward passes.

    ``J`` is the input-logit Jacobian flattened to ``(batch, d, n)`` (``n`` input
    features), as `input_logit_jacobian` returns it; the logits come from the same
    forward pass, so a stochastic model's Jacobian and logits belong to one draw.
    """
    x = _as_float_tensor(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        logits = model_fn(x)
    logits = tf.convert_to_tensor(logits)
    d = logits.shape[-1]
    batch = tf.shape(x)[0]
    if d is None:  # unknown number of classes: let TensorFlow vectorise the rows
        jac = tape.batch_jacobian(logits, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    else:
        rows = []
        for j in range(d):
            seed = tf.one_hot(tf.fill([batch], j), d, dtype=logits.dtype)
            rows.append(
                tape.gradient(
                    logits, x, output_gradients=seed,
                    unconnected_gradients=tf.UnconnectedGradients.ZERO,
                )
            )
        jac = tf.stack(rows, axis=1)
    del tape
    flat = tf.reshape(jac, tf.stack([batch, tf.shape(logits)[-1], -1]))
    if d is not None and x.shape[1:].is_fully_defined():
        flat = tf.ensure_shape(flat, [x.shape[0], d, x.shape[1:].num_elements()])
    return flat, logits


def _gram64(jac: tf.Tensor) -> tf.Tensor:
    """``G = J J^T`` in float64, shape ``(batch, d, d)``."""
    jac = tf.cast(jac, tf.float64)
    return tf.linalg.matmul(jac, jac, transpose_b=True)


def _sqrt_psd(gram: tf.Tensor) -> tf.Tensor:
    """Symmetric square root ``S`` of a batch of PSD matrices (``S S = G``)."""
    eigenvalues, vectors = tf.linalg.eigh(gram)
    root = tf.sqrt(tf.maximum(eigenvalues, 0.0))
    return tf.linalg.matmul(vectors * root[:, None, :], vectors, transpose_b=True)


def _softmax_jacobian(p: tf.Tensor) -> tf.Tensor:
    """``diag(p) - p p^T`` with ``1 - p_max`` summed from the small terms (no cancellation)."""
    d = p.shape[-1]
    top = tf.one_hot(tf.argmax(p, axis=-1), d, dtype=p.dtype)
    rest = tf.reduce_sum(p * (1.0 - top), axis=-1, keepdims=True)
    one_minus_p = tf.where(top > 0, rest, 1.0 - p)
    outer = -p[..., :, None] * p[..., None, :]
    return tf.linalg.set_diag(outer, p * one_minus_p)


def _gauss_newton_norms(logits64: tf.Tensor, sqrt_gram: tf.Tensor, betas: tf.Tensor) -> tf.Tensor:
    """``||beta^2 J^T A(beta) J||_F`` for every column of ``betas`` (``batch x g``).

    ``||J^T A J||_F^2 = tr(A G A G) = ||S A S||_F^2`` with ``S = G^(1/2)``: a sum of
    squares of ``d x d`` entries, so it never cancels to a negative or noisy value when
    the softmax saturates. One grid column at a time keeps memory at ``batch x d x d``.
    """

    def column(beta):  # beta: (batch,)
        p = tf.nn.softmax(beta[:, None] * logits64, axis=-1)
        core = tf.linalg.matmul(tf.linalg.matmul(sqrt_gram, _softmax_jacobian(p)), sqrt_gram)
        return tf.square(beta) * tf.sqrt(tf.reduce_sum(tf.square(core), axis=[-2, -1]))

    norms = tf.map_fn(column, tf.transpose(betas), fn_output_signature=tf.float64)
    return tf.transpose(norms)


def _bound_constant(rho: float, d: int) -> float:
    """``-log(rho / ((d - 1)(1 - rho)))`` in double precision (rho may be 1e-72)."""
    return -(math.log(rho) - math.log(d - 1) - math.log1p(-rho))


def _top2_gap(logits: tf.Tensor) -> tf.Tensor:
    top = tf.math.top_k(logits, k=2).values
    return top[..., 0] - top[..., 1]


def _grid64(logits: tf.Tensor, grid: int, spacing: str, rho_low: float, rho_high) -> tf.Tensor:
    """The HNS candidates, ``(batch, grid)`` float64, from ``beta_lo`` to ``beta_hi``."""
    d = _num_classes(logits)
    rho_high = 1.0 - 1.0 / d - 1e-2 if rho_high is None else rho_high
    checks.check_rho("rho_low", rho_low, d)
    checks.check_rho("rho_high", rho_high, d)
    gamma = tf.maximum(_top2_gap(tf.cast(logits, tf.float64)), _GAMMA_FLOOR)
    low = _bound_constant(rho_high, d) / gamma  # large rho -> small beta
    high = _bound_constant(rho_low, d) / gamma  # tiny rho -> large beta
    steps = tf.constant(np.linspace(0.0, 1.0, grid), tf.float64)[None, :]
    if spacing == "linear":
        return low[:, None] + (high - low)[:, None] * steps
    log_low, log_high = tf.math.log(low)[:, None], tf.math.log(high)[:, None]
    return tf.exp(log_low + (log_high - log_low) * steps)


# --------------------------------------------------------------------------- Jacobians


def input_logit_jacobian(model_fn: Callable, x) -> tf.Tensor:
    """The input-output Jacobian ``J = d logits / d x`` of every example in a batch.

    One forward pass and ``d`` backward passes (one per class, through one persistent
    tape), each returning a whole batch of rows; when ``d`` is unknown statically,
    ``tape.batch_jacobian`` vectorises them instead. Examples must not interact in the
    forward pass (true of models called in inference mode).

    # Arguments
        model_fn: callable mapping a batch of inputs to logits of shape ``(batch, d)``.
        x: batch of inputs, any shape ``(batch, ...)``.

    # Returns
        ``J`` of shape ``(batch, d, n)``, ``n`` the number of input values per example
        (the input flattened), in ``x``'s float dtype.

    # Raises
        TypeError: when ``model_fn`` is not callable.

    # References
        - Gupta & Ajanthan, AAAI 2022, eq. 4 (``J``, of shape ``d x N``).
    """
    checks.check_callable(model_fn)
    return jacobian_and_logits(model_fn, x)[0]


def jacobian_singular_values(jac) -> tf.Tensor:
    """Singular values of a batch of Jacobians, from the eigenvalues of ``J J^T``.

    Works on the ``d x d`` Gram matrix in float64 (never an ``n x n`` matrix), so the
    cost is ``O(d^2 n)`` per example. Singular values much smaller than the largest
    one (below about ``1e-8`` of it) are not resolved.

    # Arguments
        jac: Jacobians of shape ``(batch, d, n)``, e.g. from `input_logit_jacobian`.

    # Returns
        Singular values, shape ``(batch, min(d, n))`` (``d`` when ``n`` is unknown),
        in descending order, in ``jac``'s dtype.

    # Raises
        ValueError: when ``jac`` is not of rank 3.

    # References
        - Gupta & Ajanthan, AAAI 2022, Algorithm 1 line 1 (``mu_j(J_i)``).
    """
    jac = _as_float_tensor(jac)
    if jac.shape.rank != 3:
        raise ValueError(
            f"jac must have shape (batch, d, n), got shape {jac.shape}; flatten the input "
            "dimensions (input_logit_jacobian does)."
        )
    eigenvalues = tf.linalg.eigvalsh(_gram64(jac))  # ascending
    values = tf.reverse(tf.sqrt(tf.maximum(eigenvalues, 0.0)), axis=[-1])
    d, n = jac.shape[1], jac.shape[2]
    if d is not None and n is not None and n < d:
        values = values[:, :n]
    return tf.cast(values, jac.dtype)


# --------------------------------------------------------------------------- error signal, bound


def error_signal(logits, labels, beta=1.0) -> tf.Tensor:
    """The error signal ``psi(beta) = p(beta) - y`` of the temperature-scaled loss.

    The paper defines ``psi(beta) = dl/dp * dp/da_bar = -(y - p(beta))^T`` (eq. 7),
    the gradient with respect to the *scaled* logits ``a_bar = beta a``; the input
    gradient is ``psi(beta) beta J`` (eq. 6), so the gradient with respect to the
    unscaled logits is ``beta psi(beta)``.

    # Arguments
        logits: unscaled logits, shape ``(batch, d)``.
        labels: integer class indices, shape ``(batch,)``.
        beta: temperature scale, a number or one value per example.

    # Returns
        ``psi``, shape ``(batch, d)``.

    # References
        - Gupta & Ajanthan, AAAI 2022, eq. 5-7.
    """
    checks.check_beta(beta)
    logits = _as_float_tensor(logits)
    p = tf.nn.softmax(_per_example(beta, logits) * logits, axis=-1)
    return p - tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1], dtype=logits.dtype)


def beta_upper_bound(gamma, rho: float, d: int) -> tf.Tensor:
    """Proposition 1's bound: ``1 - softmax(beta a)_1 > rho`` for every ``beta`` below it.

    ``beta < -log(rho / ((d - 1)(1 - rho))) / gamma`` with ``gamma = a_1 - a_d`` the gap
    between the largest and the smallest logit. The constant is computed in double
    precision, so ``rho`` as small as the paper's ``1e-72`` works. ``gamma = 0`` gives
    ``inf`` (equal logits never saturate).

    # Arguments
        gamma: logit gap(s) ``>= 0``, any shape (a number, array or tensor).
        rho: lower bound on ``1 - p_1``, ``0 < rho < (d - 1) / d``.
        d: number of classes, ``>= 2``.

    # Returns
        The bound, same shape as ``gamma``, as a float tensor (``gamma``'s float dtype,
        float32 for integer input).

    # Raises
        ValueError: for ``d < 2`` or ``rho`` outside ``(0, (d - 1) / d)``.
        TypeError: for a non-numeric ``rho``.

    # References
        - Gupta & Ajanthan, AAAI 2022, Proposition 1 (main text) = Proposition 2
          (Appendix B.1), eq. 9-11.
    """
    d = _check_num_classes(d)
    rho = checks.check_rho("rho", rho, d)
    gamma = _as_float_tensor(gamma)
    return _cast(_bound_constant(rho, d), gamma.dtype) / gamma


# --------------------------------------------------------------------------- NJS


def njs_beta1(model_fn: Callable, x_samples, M: int = 100) -> tf.Tensor:
    """NJS's first factor: the inverse of the mean Jacobian singular value.

    ``beta_1 = M d / sum_i sum_j mu_j(J_i)`` over the first ``M`` examples of
    ``x_samples`` (the paper uses 100 random test samples; shuffle them yourself for a
    random subset), so that the mean singular value of ``beta_1 J`` is 1. Returns 1
    when every singular value is zero (no scale can help then).

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x_samples: inputs to estimate the mean singular value on.
        M: number of examples used, ``>= 1`` (fewer when ``x_samples`` is shorter).

    # Returns
        ``beta_1``, a scalar tensor.

    # Raises
        ValueError: when ``M`` is not a positive int.
        TypeError: when ``model_fn`` is not callable.

    # References
        - Gupta & Ajanthan, AAAI 2022, section "Network Jacobian Scaling", Algorithm 1
          line 1, Appendix C.1 ("100 random test samples").
    """
    checks.check_callable(model_fn)
    M = checks.check_int("M", M, 1)
    x_samples = _as_float_tensor(x_samples)
    values = jacobian_singular_values(input_logit_jacobian(model_fn, x_samples[:M]))
    mean = tf.reduce_mean(values)
    safe = tf.maximum(mean, tf.constant(1e-30, mean.dtype))
    return tf.where(mean > 0, 1.0 / safe, tf.ones_like(mean))


def njs_beta2(logits, labels, rho: float = 0.01, beta1=1.0) -> tf.Tensor:
    """NJS's second factor, per example (Algorithm 1 lines 4-7).

    With ``p' = softmax(beta_1 a)``: ``beta_2 = 1`` unless ``1 - p'_k <= rho`` (``k`` the
    label), in which case ``beta_2`` is Proposition 1's bound for the logits it
    multiplies, ``beta_1 a``: ``-log(rho / ((d - 1)(1 - rho))) / gamma`` with
    ``gamma = beta_1 (max(a) - min(a))``. The loss then uses ``beta_2 beta_1 a`` (line 8),
    whose softmax is no longer saturated: ``1 - p_k > rho``. ``beta_2 <= 1`` whenever
    ``k`` is the predicted class.

    # Arguments
        logits: unscaled logits ``a``, shape ``(batch, d)``.
        labels: integer class indices ``k``, shape ``(batch,)``.
        rho: gradient threshold, ``0 < rho < (d - 1) / d`` (the paper: 0.01).
        beta1: the first factor (`njs_beta1`), a number or scalar tensor.

    # Returns
        ``beta_2``, shape ``(batch,)``.

    # Raises
        ValueError: for ``rho`` outside ``(0, (d - 1) / d)``.

    # References
        - Gupta & Ajanthan, AAAI 2022, Algorithm 1, Proposition 1/2.
    """
    checks.check_rho("rho", rho)
    logits = _as_float_tensor(logits)
    d = _num_classes(logits)
    rho = checks.check_rho("rho", rho, d)
    scaled = _cast(beta1, logits.dtype) * logits
    p = tf.nn.softmax(scaled, axis=-1)
    p_k = tf.gather(p, tf.cast(labels, tf.int32), axis=1, batch_dims=1)
    saturated = 1.0 - p_k <= rho
    gamma = tf.reduce_max(scaled, axis=-1) - tf.reduce_min(scaled, axis=-1)
    safe_gamma = tf.where(saturated, tf.maximum(gamma, _GAMMA_FLOOR), tf.ones_like(gamma))
    bound = _cast(_bound_constant(rho, d), logits.dtype) / safe_gamma
    return tf.where(saturated, bound, tf.ones_like(bound))


def njs_loss(beta1, rho: float = 0.01) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The PGD++ (NJS) loss: cross-entropy of ``beta_2 beta_1 a``, ``beta_2`` per call.

    Every call recomputes ``beta_2`` per example from the logits it is given
    (`njs_beta2`), as Algorithm 1 does at every iteration; ``beta_2`` is held constant
    in the gradient (``tf.stop_gradient``), as the pseudo-code treats it.

    # Arguments
        beta1: NJS's first factor (`njs_beta1`), a positive number or scalar tensor.
        rho: gradient threshold, ``0 < rho < (d - 1) / d``.

    # Returns
        ``loss_fn(labels, logits)`` returning the per-example loss, for the ``loss_fn``
        argument of the attacks.

    # Raises
        ValueError: for a non-positive ``beta1`` or ``rho`` outside ``(0, 1)``.

    # References
        - Gupta & Ajanthan, AAAI 2022, Algorithm 1 lines 4-8.
    """
    checks.check_beta(beta1)
    checks.check_rho("rho", rho)

    def loss_fn(labels, logits):
        return njs_cross_entropy(labels, logits, beta1, rho)

    return loss_fn


def njs_cross_entropy(labels, logits, beta1, rho: float = 0.01) -> tf.Tensor:
    """Per-example NJS loss, ``-y^T log softmax(beta_2 beta_1 a)`` (see `njs_loss`)."""
    beta2 = tf.stop_gradient(njs_beta2(logits, labels, rho, beta1))
    beta = _cast(beta1, logits.dtype) * beta2
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=beta[:, None] * logits
    )


def temperature_scaled_loss(beta) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Softmax cross-entropy of the scaled logits, ``-y^T log softmax(beta a)``.

    # Arguments
        beta: temperature scale ``> 0``: a number, or a tensor of one value per example
            (shape ``(batch,)``, aligned with the batch the attack is run on).

    # Returns
        ``loss_fn(labels, logits)`` returning the per-example loss, for the ``loss_fn``
        argument of `fast_gradient_method` / `projected_gradient_descent`.

    # Raises
        ValueError: for a non-positive or non-finite ``beta``, or one of rank > 1.
        TypeError: for a ``beta`` that is neither a number nor an array/tensor.

    # References
        - Gupta & Ajanthan, AAAI 2022, eq. 5 and Algorithm 2 line 4.
    """
    checks.check_beta(beta)

    def loss_fn(labels, logits):
        return scaled_cross_entropy(labels, logits, beta)

    return loss_fn


def scaled_cross_entropy(labels, logits, beta) -> tf.Tensor:
    """Per-example ``-y^T log softmax(beta a)``; ``beta`` a number or one per example."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=_per_example(beta, logits) * logits
    )


# --------------------------------------------------------------------------- HNS


def hessian_frobenius_norm(logits, jac, beta) -> tf.Tensor:
    """``||beta^2 J^T (diag p - p p^T) J||_F``, the HNS objective of eq. 8 without the
    ``psi dJ/dx`` term, through ``d x d`` matrices only.

    ``||J^T A J||_F^2 = tr(A G A G)`` with ``G = J J^T``, evaluated as ``||S A S||_F^2``
    with ``S = G^(1/2)`` in float64.

    When the dropped term is zero (and this is the exact input-Hessian norm): when the
    logits are piecewise linear in ``x`` under autodiff, so that ``dJ/dx = 0`` almost
    everywhere: ReLU / leaky-ReLU / hard-tanh activations, max- and average-pooling,
    convolutions, dense layers, batch norm in inference mode, and binarized networks
    whose sign is differentiated with a straight-through estimator (``ste_sign``,
    pass-through), whose surrogate derivative is piecewise constant. When it is an
    approximation (a Gauss-Newton one): smooth activations such as sigmoid, tanh,
    softplus, GELU/swish, where ``beta sum_i psi_i d^2 a_i / dx^2`` is not zero.

    # Arguments
        logits: unscaled logits, shape ``(batch, d)``.
        jac: their input Jacobians, shape ``(batch, d, n)``.
        beta: temperature scale, a number or one value per example.

    # Returns
        The norm per example, shape ``(batch,)``, in ``logits``' dtype.

    # References
        - Gupta & Ajanthan, AAAI 2022, eq. 8 and eq. 13 (Appendix B.2); Appendix C.1
          (``dJ/dx = 0`` almost everywhere for piecewise-linear networks).
    """
    checks.check_beta(beta)
    logits = _as_float_tensor(logits)
    beta64 = _cast(beta, tf.float64)
    betas = tf.broadcast_to(tf.reshape(beta64, [-1, 1]), tf.stack([tf.shape(logits)[0], 1]))
    norms = _gauss_newton_norms(tf.cast(logits, tf.float64), _sqrt_psd(_gram64(jac)), betas)
    return tf.cast(norms[:, 0], logits.dtype)


def hns_beta_grid(
    logits,
    grid: int = 100,
    spacing: str = "linear",
    rho_low: float = HNS_RHO_LOW,
    rho_high: float | None = None,
) -> tf.Tensor:
    """The per-example HNS search grid, between two Proposition-1 bounds.

    With ``gamma = a_1 - a_2`` (largest minus second-largest logit), the ends are
    ``beta_lo = c(rho_high) / gamma`` and ``beta_hi = c(rho_low) / gamma``,
    ``c(rho) = -log(rho / ((d - 1)(1 - rho)))``. Using the top-2 gap, ``1 - p_1 <= rho``
    at each end, so the grid runs from a soft softmax (``1 - p_1`` up to ``rho_high``)
    to a fully saturated one (``1 - p_1 <= 1e-72``). ``gamma`` is floored at 1e-6 so
    tied logits give a finite grid.

    # Arguments
        logits: unscaled logits, shape ``(batch, d)``.
        grid: number of grid points, ``>= 2``, both ends included.
        spacing: ``"linear"`` (the paper's equal spacing) or ``"log"`` (geometric).
        rho_low: rho of the large-beta end (the paper: 1e-72).
        rho_high: rho of the small-beta end; ``None`` gives the paper's
            ``1 - 1/d - 1e-2``. Both need ``0 < rho_low < rho_high < (d - 1) / d``.

    # Returns
        Candidate betas, shape ``(batch, grid)``, ascending along the grid, in
        ``logits``' float dtype.

    # Raises
        ValueError: for ``grid < 2``, an unknown spacing, or rhos out of range.

    # References
        - Gupta & Ajanthan, AAAI 2022, Appendix C.1 (grid from the Proposition-1 bounds
          at rho = 1e-72 and rho = 1 - 1/d - 1e-2, gamma = a_1 - a_2).
    """
    check_hns_args(grid, spacing, rho_low, rho_high)
    logits = _as_float_tensor(logits)
    return tf.cast(_grid64(logits, grid, spacing, rho_low, rho_high), logits.dtype)


def hns_from_jacobian(
    logits: tf.Tensor,
    jac: tf.Tensor,
    keep_one: tf.Tensor,
    grid: int,
    spacing: str,
    rho_low: float,
    rho_high,
) -> tf.Tensor:
    """The grid search of `hns_beta` from logits and Jacobians already computed
    (`jacobian_and_logits`); examples where ``keep_one`` is True get ``beta = 1``."""
    betas = _grid64(logits, grid, spacing, rho_low, rho_high)
    norms = _gauss_newton_norms(tf.cast(logits, tf.float64), _sqrt_psd(_gram64(jac)), betas)
    best = tf.gather(betas, tf.argmax(norms, axis=-1), axis=1, batch_dims=1)
    best = tf.where(keep_one, tf.ones_like(best), best)
    return tf.cast(best, logits.dtype)


def hns_beta(
    model_fn: Callable,
    x,
    labels=None,
    grid: int = 100,
    spacing: str = "linear",
    rho_low: float = HNS_RHO_LOW,
    rho_high: float | None = None,
    *,
    targeted: bool = False,
) -> tf.Tensor:
    """Hessian Norm Scaling: per example, the grid ``beta`` maximising the input-Hessian norm.

    One forward pass and ``d`` backward passes give the logits and ``J`` at ``x``; then
    for every point of `hns_beta_grid` (vectorised over the batch, one grid column at a
    time) the norm of eq. 8 is evaluated from ``d x d`` matrices only, as
    `hessian_frobenius_norm` describes, and the maximiser is kept. Misclassified
    examples (``argmax a != labels``) keep ``beta = 1``: they need no attack.

    The ``beta psi(beta) dJ/dx`` term of eq. 8 is dropped: exact for piecewise-linear
    networks (ReLU, max-pool, sign with a straight-through estimator: ``dJ/dx = 0``
    almost everywhere, Appendix C.1), a Gauss-Newton approximation for smooth
    activations (sigmoid, tanh, softplus). Without it the objective does not depend on
    the labels.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x: batch of inputs (the clean inputs ``x^0``; Algorithm 2 searches once, there).
        labels: integer labels, shape ``(batch,)``; ``None`` uses the model's predictions
            (then no example counts as misclassified).
        grid: number of grid points, ``>= 2`` (the paper: 100).
        spacing: ``"linear"`` (the paper's) or ``"log"``.
        rho_low, rho_high: rhos of the grid's ends, see `hns_beta_grid`.
        targeted: ``labels`` are targets: examples already classified as their target
            keep ``beta = 1`` (instead of misclassified ones).

    # Returns
        ``beta``, shape ``(batch,)``.

    # Raises
        ValueError: for ``grid < 2``, an unknown spacing, or rhos out of range.
        TypeError: when ``model_fn`` is not callable.

    # References
        - Gupta & Ajanthan, AAAI 2022, section "Hessian Norm Scaling", eq. 8, eq. 13,
          Algorithm 2 line 2, Appendix C.1.
    """
    checks.check_callable(model_fn)
    check_hns_args(grid, spacing, rho_low, rho_high)
    jac, logits = jacobian_and_logits(model_fn, x)
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if labels is None:
        keep_one = tf.zeros_like(predicted, dtype=tf.bool)
    else:
        hit = tf.equal(predicted, tf.cast(labels, tf.int32))
        keep_one = hit if targeted else tf.logical_not(hit)
    return hns_from_jacobian(logits, jac, keep_one, grid, spacing, rho_low, rho_high)


# --------------------------------------------------------------------------- diagnostics


def signal_propagation_stats(model_fn: Callable, x, labels=None, beta=1.0) -> dict:
    """The signal-propagation quantities of the paper's Table 13 for a given ``beta``.

    - ``jsv_mean``, ``jsv_std``: mean and standard deviation of the singular values of
      ``beta J``, pooled over all examples;
    - ``psi_norm``: mean over examples of ``||psi(beta)||_2`` (eq. 7);
    - ``grad_norm``: mean of ``||dl(beta)/dx||_2``, the input gradient ``beta psi J``
      (eq. 6);
    - ``sign_grad_norm``: mean of ``||sign(dl(beta)/dx)||_2``, the square root of the
      number of non-zero gradient entries.

    The paper computes them on 500 correctly classified test images; pick ``x``
    accordingly.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x: batch of inputs.
        labels: integer labels; ``None`` uses the model's predictions.
        beta: a number or one value per example (e.g. from `hns_beta`, or
            ``njs_beta1 * njs_beta2``).

    # Returns
        A dict of Python floats (of scalar tensors inside ``tf.function``).

    # Raises
        ValueError: for a non-positive beta.
        TypeError: when ``model_fn`` is not callable.

    # References
        - Gupta & Ajanthan, AAAI 2022, Appendix C.5, Table 13.
    """
    checks.check_callable(model_fn)
    checks.check_beta(beta)
    jac, logits = jacobian_and_logits(model_fn, x)
    if labels is None:
        labels = tf.argmax(logits, axis=-1)
    beta_t = tf.reshape(_cast(beta, logits.dtype), [-1])  # (1,) or (batch,)
    psi = error_signal(logits, labels, tf.broadcast_to(beta_t, tf.shape(logits)[:1]))
    scaled_values = jacobian_singular_values(jac) * beta_t[:, None]
    grad = beta_t[:, None] * tf.einsum("bj,bjn->bn", psi, jac)
    stats = {
        "jsv_mean": tf.reduce_mean(scaled_values),
        "jsv_std": tf.math.reduce_std(scaled_values),
        "psi_norm": tf.reduce_mean(tf.norm(psi, axis=-1)),
        "grad_norm": tf.reduce_mean(tf.norm(grad, axis=-1)),
        "sign_grad_norm": tf.reduce_mean(
            tf.sqrt(tf.reduce_sum(tf.cast(tf.not_equal(grad, 0), logits.dtype), axis=-1))
        ),
    }
    if tf.executing_eagerly():
        return {key: float(value) for key, value in stats.items()}
    return stats
