"""Auto-PGD, APGD (Croce & Hein, 2020): PGD without a step size to tune, CE or DLR loss.

APGD is PGD with momentum whose step size starts at ``2 * eps`` and is halved, per
example, at checkpoints where progress has stalled; when it is halved the iterate goes
back to the best point found so far. Each example keeps its best point; the attack
returns, per example, an adversarial point when one was met (misclassified, or
classified as the target when targeted), else the point of highest loss, the worst
case over all iterations and restarts (not the last iterate, as in PGD).

The Difference of Logits Ratio loss (DLR, `dlr_loss`, `targeted_dlr_loss`) is invariant
to shifting and to positive rescaling of the logits, so it cannot saturate the way
cross-entropy does on overconfident models (a model whose logits are multiplied by
1000 has zero cross-entropy gradients almost everywhere, but the same DLR).

The iterations of each restart run in a ``tf.while_loop``; called eagerly, the whole
attack (all restarts) runs as one ``tf.function`` cached per model, loss and
configuration (`tfbnn.attacks.core.compiled`), so a second call with new inputs,
eps or seed reuses the traced graph. It can also be called inside a user's
``tf.function``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core

LOSSES = ("ce", "dlr")
"""Losses by name: softmax cross-entropy and the Difference of Logits Ratio."""

_DLR_EPS = 1e-12


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------


def _check_classes(logits: tf.Tensor, minimum: int, name: str) -> None:
    classes = logits.shape[-1]
    if classes is not None and classes < minimum:
        raise ValueError(f"{name} needs at least {minimum} classes, the logits have {classes}.")


def dlr_loss(labels, logits) -> tf.Tensor:
    """Per-example Difference of Logits Ratio loss, to be maximised by an untargeted attack.

    ``DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)`` where
    ``z_pi1 >= z_pi2 >= ...`` are the sorted logits. It is positive exactly when ``x`` is
    misclassified, and unchanged by ``z -> a * z + b`` for any ``a > 0``.

    # Arguments
        labels: integer class indices, shape ``(batch,)``.
        logits: shape ``(batch, classes)``, at least 3 classes.

    # Returns
        The loss, shape ``(batch,)``.

    # References
        - Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of
          diverse parameter-free attacks. ICML 2020, section 4, eq. 6.
    """
    logits = tf.convert_to_tensor(logits)
    _check_classes(logits, 3, "The DLR loss")
    top = tf.math.top_k(logits, k=3).values
    margin = core.true_logit(logits, labels) - core.max_other_logit(logits, labels)
    return -margin / (top[:, 0] - top[:, 2] + _DLR_EPS)


def targeted_dlr_loss(targets, logits) -> tf.Tensor:
    """Per-example targeted DLR loss, to be *minimised* by a targeted attack.

    ``(max_{i != t} z_i - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)``: negative
    exactly when the model predicts the target ``t``. Croce & Hein write the numerator
    ``z_y - z_t`` with the true class ``y``; tfbnn's attacks follow CleverHans and
    receive only the targets, so the true class is replaced by the strongest other
    class, which equals ``z_y`` while the model still predicts ``y`` and makes the loss
    change sign exactly at success. Invariant to ``z -> a * z + b`` for ``a > 0``.

    `auto_projected_gradient_descent(..., loss="dlr", targeted=True)` uses it (the
    attack maximises its negative).

    # Arguments
        targets: integer class indices, shape ``(batch,)``.
        logits: shape ``(batch, classes)``, at least 4 classes.

    # Returns
        The loss, shape ``(batch,)``.

    # References
        - Croce, Hein. ICML 2020, section 4, the targeted DLR loss (eq. 7).
    """
    logits = tf.convert_to_tensor(logits)
    _check_classes(logits, 4, "The targeted DLR loss")
    top = tf.math.top_k(logits, k=4).values
    margin = core.max_other_logit(logits, targets) - core.true_logit(logits, targets)
    return margin / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + _DLR_EPS)


def _resolve_loss(loss, targeted: bool) -> Callable:
    if callable(loss):
        return loss
    if loss == "ce":
        return core.default_loss
    if loss == "dlr":
        return targeted_dlr_loss if targeted else dlr_loss
    raise ValueError(f"loss must be one of {LOSSES} or a callable loss_fn(labels, logits), got {loss!r}.")


# --------------------------------------------------------------------------------------
# Checkpoints (Croce & Hein, section 3.2)
# --------------------------------------------------------------------------------------


def checkpoints(nb_iter: int) -> list[int]:
    """The iterations ``w_j = ceil(p_j * nb_iter)`` at which APGD may halve its step.

    ``p_0 = 0``, ``p_1 = 0.22`` and ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``;
    only checkpoints inside ``[1, nb_iter - 1]`` can act, duplicates (small ``nb_iter``)
    are merged. For ``nb_iter = 100``: 22, 41, 57, 70, 80, 87, 93, 99.
    """
    # p is kept in hundredths, as integers, so that ceil() sees no rounding error.
    p_prev, p, found = 0, 22, []
    while p <= 100:
        found.append(p)
        p_prev, p = p, p + max(p - p_prev - 3, 6)
    points = sorted({math.ceil(q * nb_iter / 100) for q in found})
    return [w for w in points if 1 <= w <= nb_iter - 1]


# --------------------------------------------------------------------------------------
# One run (Algorithm 1)
# --------------------------------------------------------------------------------------


class APGDConfig(NamedTuple):
    """What one traced APGD depends on besides its tensors."""

    nb_iter: int
    ball: core.Ball
    clip_min: float | None
    clip_max: float | None
    targeted: bool
    rand_init: bool
    nb_restarts: int
    success_fraction: float
    alpha: float


class _Problem:
    """What one APGD run needs: the model, loss, constraint set and schedule."""

    def __init__(self, model_fn, loss_fn, x, y, eps, c: APGDConfig):
        self.model_fn, self.loss_fn = model_fn, loss_fn
        self.x, self.y, self.eps, self.ball = x, y, eps, c.ball
        self.clip_min, self.clip_max = c.clip_min, c.clip_max
        self.targeted, self.nb_iter = c.targeted, c.nb_iter
        self.success_fraction, self.alpha = c.success_fraction, c.alpha
        self.rand_init = c.rand_init
        self.rank = x.shape.rank
        points = checkpoints(c.nb_iter)
        mask = np.zeros(max(c.nb_iter, 1), dtype=bool)
        length = np.zeros(max(c.nb_iter, 1), dtype=np.float32)
        previous = 0
        for w in points:
            mask[w], length[w], previous = True, w - previous, w
        self.is_checkpoint = tf.constant(mask)
        self.interval = tf.constant(length)

    def project(self, z: tf.Tensor) -> tf.Tensor:
        """P_S: onto the eps-ball around x, then into the clip range."""
        z = self.x + self.ball.project(z - self.x, self.eps)
        return core.clip_to_range(z, self.clip_min, self.clip_max)

    def evaluate(self, z: tf.Tensor):
        """Gradient of the objective, the objective (ascended) and success, per example."""
        if getattr(self.model_fn, "eot_draws", None) is not None:
            grad, objective = core.loss_gradient(self.model_fn, self.loss_fn, z, self.y,
                                                 self.targeted)
            logits = self.model_fn(z)
        else:
            with tf.GradientTape() as tape:
                tape.watch(z)
                logits = self.model_fn(z)
                objective = self.loss_fn(self.y, logits)
                if self.targeted:
                    objective = -objective
            grad = tape.gradient(objective, z)
        success = core.is_adversarial(logits, self.y, self.targeted)
        objective = tf.reshape(tf.cast(objective, z.dtype), [-1])
        return grad, objective, success

    def step(self, grad: tf.Tensor, eta: tf.Tensor) -> tf.Tensor:
        return self.ball.step(grad, core.per_example(eta, self.rank))

    def where(self, condition, a, b):
        return tf.where(core.per_example(condition, self.rank), a, b)

    def init(self, seed: tf.Tensor) -> dict:
        """Lines 1-3 of Algorithm 1: x^(0), x^(1), f_max and x_max."""
        x, eps = self.x, self.eps
        if self.rand_init:
            x0 = self.project(x + self.ball.start(x, eps, seed))
        else:
            x0 = self.project(x)
        g0, f0, s0 = self.evaluate(x0)
        # eta^(0) = 2 eps, one step size per example.
        eta = 2.0 * tf.ones(tf.shape(x)[:1], x.dtype) * tf.reshape(eps, [-1])
        x1 = self.project(x0 + self.step(g0, eta))
        g1, f1, s1 = self.evaluate(x1)
        better = f1 > f0  # ties keep x^(0) (line 3)
        f_max = tf.where(better, f1, f0)
        return {
            "x_prev": x0, "x_cur": x1, "g_cur": g1, "f_cur": f1,
            "x_max": self.where(better, x1, x0), "g_max": self.where(better, g1, g0),
            "f_max": f_max,
            "found": tf.logical_or(s0, s1), "x_found": self.where(s0, x0, x1),
            "eta": eta, "eta_ckpt": eta, "f_max_ckpt": f_max,
            "count": tf.cast(better, x.dtype),
        }

    def iterate(self, k: tf.Tensor, s: dict) -> dict:
        """Lines 5-14 of Algorithm 1 for iteration k (producing x^(k+1))."""
        alpha = tf.constant(self.alpha, self.x.dtype)
        z = self.project(s["x_cur"] + self.step(s["g_cur"], s["eta"]))
        x_new = self.project(s["x_cur"] + alpha * (z - s["x_cur"])
                             + (1.0 - alpha) * (s["x_cur"] - s["x_prev"]))
        g_new, f_new, success = self.evaluate(x_new)
        newly = tf.logical_and(success, tf.logical_not(s["found"]))
        x_found = self.where(newly, x_new, s["x_found"])
        found = tf.logical_or(s["found"], success)
        improved = f_new > s["f_max"]
        x_max = self.where(improved, x_new, s["x_max"])
        g_max = self.where(improved, g_new, s["g_max"])
        f_max = tf.where(improved, f_new, s["f_max"])
        increase = tf.cast(f_new > s["f_cur"], self.x.dtype)

        def at_checkpoint():
            # Condition 1: fewer than rho * (w_j - w_{j-1}) of the steps since the last
            # checkpoint increased f (rho: Croce & Hein's name for success_fraction).
            # Condition 2: neither the step size nor f_max changed since then.
            cond1 = s["count"] < self.success_fraction * tf.gather(self.interval, k)
            cond2 = tf.logical_and(tf.equal(s["eta"], s["eta_ckpt"]),
                                   tf.equal(f_max, s["f_max_ckpt"]))
            halve = tf.logical_or(cond1, cond2)
            eta = tf.where(halve, 0.5 * s["eta"], s["eta"])
            # Halving restarts from x_max (line 13). x^(k) stays the previous iterate, so
            # the next momentum term is x_max - x^(k), as in Algorithm 1 and the
            # reference code (which keeps x_adv_old).
            x_next = self.where(halve, x_max, x_new)
            return (eta, s["eta"], f_max, x_next, s["x_cur"],
                    self.where(halve, g_max, g_new), tf.where(halve, f_max, f_new),
                    increase)

        def otherwise():
            return (s["eta"], s["eta_ckpt"], s["f_max_ckpt"], x_new, s["x_cur"], g_new, f_new,
                    s["count"] + increase)

        eta, eta_ckpt, f_max_ckpt, x_next, x_prev, g_next, f_next, count = tf.cond(
            tf.gather(self.is_checkpoint, k), at_checkpoint, otherwise)
        return {
            "x_prev": x_prev, "x_cur": x_next, "g_cur": g_next, "f_cur": f_next,
            "x_max": x_max, "g_max": g_max, "f_max": f_max,
            "found": found, "x_found": x_found,
            "eta": eta, "eta_ckpt": eta_ckpt, "f_max_ckpt": f_max_ckpt, "count": count,
        }

    def run(self, seed: tf.Tensor) -> core.Candidate:
        """One APGD run: per example, the point to return, success and best objective."""
        state = self.init(seed)
        _, state = tf.while_loop(
            lambda k, _: k < self.nb_iter,
            lambda k, s: (k + 1, self.iterate(k, s)),
            (tf.constant(1), state),
        )
        x_adv = self.where(state["found"], state["x_found"], state["x_max"])
        return core.Candidate(tf.stop_gradient(x_adv), state["found"], state["f_max"])


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def auto_projected_gradient_descent(
    model_fn: Callable,
    x,
    eps,
    nb_iter: int = 100,
    norm=np.inf,
    loss: str | Callable = "ce",
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
    rand_init: bool = True,
    nb_restarts: int = 1,
    success_fraction: float = 0.75,
    alpha: float = 0.75,
    seed: int | None = None,
) -> tf.Tensor:
    """APGD: momentum PGD whose per-example step size adapts at checkpoints (Algorithm 1).

    Starting at ``x^(0)`` (uniform in the eps-ball, or ``x``), APGD takes a steepest-ascent
    step of size ``eta = 2 * eps`` (``sign`` of the gradient for L-inf, the normalised
    gradient for L2), then iterates ``z = P(x_k + eta * step(grad))``,
    ``x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))``, where ``P``
    projects onto the eps-ball (L-inf box, or the joint L2 ball of the whole input) and
    then into ``[clip_min, clip_max]``. At each checkpoint `checkpoints` (22%, 41%, 57%,
    ... of ``nb_iter``) an example's step is halved and its iterate reset to its best
    point when (1) fewer than ``success_fraction`` of its steps since the last checkpoint increased
    the loss, or (2) neither its step size nor its best loss changed since then.

    Each example's result is an adversarial point if any iterate of any restart was
    adversarial (misclassified; classified as ``y`` when targeted), else its point of
    highest loss over all iterates and restarts. A second restart therefore never makes
    an example's result worse.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits (Keras model, SavedModel
            signature, function, `EOT` wrapper).
        x: batch of inputs.
        eps: radius of the eps-ball, a number or one value per example (>= 0).
        nb_iter: iterations per restart (>= 1); each costs one forward and backward pass,
            plus one for the starting point.
        norm: ``np.inf`` or ``2``.
        loss: ``"ce"`` (softmax cross-entropy), ``"dlr"`` (`dlr_loss`, or
            `targeted_dlr_loss` when targeted) or a callable ``loss_fn(labels, logits)``
            returning a per-example loss (ascended; descended when targeted).
        clip_min, clip_max: valid input range (both or neither).
        y: labels; ``None`` uses the model's own predictions. When targeted, the targets.
        targeted: move towards ``y`` instead of away from it.
        rand_init: start uniformly in the eps-ball (``True``) or at ``x`` (``False``).
        nb_restarts: independent runs (>= 1); each example keeps its worst case.
        success_fraction: condition 1's threshold, the fraction of steps that must have
            increased the loss since the last checkpoint (the paper's rho: 0.75).
        alpha: momentum weight of the new step (paper: 0.75; 1 is no momentum).
        seed: seed of the random starts (stateless RNG: same seed, same result); restart
            ``r`` uses ``seed + r``, as in `projected_gradient_descent`. ``None`` draws
            one.

    # Returns
        The adversarial batch, same shape as ``x``, ``float32``.

    # Raises
        TypeError: when ``model_fn`` is not callable.
        ValueError: for a bad ``eps``, norm, loss, clip range, ``nb_iter < 1``,
            ``nb_restarts < 1``, ``success_fraction`` or ``alpha`` outside [0, 1], a targeted attack
            without ``y``, or ``x``/``y`` that do not fit.

    # References
        - Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of
          diverse parameter-free attacks. ICML 2020: Algorithm 1 (APGD), section 3.2
          (checkpoints and conditions 1-2), section 4 (DLR loss, eq. 6-7).
    """
    ball = core.ball(norm)
    checks.check_eps("eps", eps)
    checks.check_int("nb_iter", nb_iter, 1)
    checks.check_int("nb_restarts", nb_restarts, 1)
    checks.check_fraction("success_fraction", success_fraction)
    checks.check_fraction("alpha", alpha)
    if not isinstance(rand_init, bool):
        raise ValueError(f"rand_init must be True or False, got {rand_init!r}.")
    if nb_restarts > 1 and not rand_init:
        raise ValueError("nb_restarts > 1 needs a random start; set rand_init=True.")
    checks.check_clip(clip_min, clip_max)
    loss_fn = _resolve_loss(loss, targeted)
    seed = core.draw_seed(seed)
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, count_classes=True)
    y = tf.cast(tf.convert_to_tensor(y), tf.int64)
    # Scalar or (batch, 1, ..., 1) already here: the compiled function may see eps with
    # an unknown rank (tf.function's reduce_retracing relaxes shapes).
    eps_t = core.broadcast_eps(eps, x)
    seed_t = tf.constant(seed, tf.int64)
    config = APGDConfig(int(nb_iter), ball, clip_min, clip_max, bool(targeted),
                        bool(rand_init), int(nb_restarts), float(success_fraction),
                        float(alpha))
    if tf.executing_eagerly():
        run = core.compiled(_apgd, model_fn, config, loss_fn)
        return run(x, y, eps_t, seed_t, core.loss_params(loss_fn))
    return _apgd(model_fn, config, loss_fn)(x, y, eps_t, seed_t)


def _apgd(model_fn, c: APGDConfig, loss_fn):
    """APGD with restarts as a function of tensors (x, y, eps, seed); restart ``r`` starts
    from the stateless seed ``seed + r``."""

    def attack(x, y, eps, seed):
        problem = _Problem(model_fn, loss_fn, x, y, eps, c)
        best = problem.run(seed)
        for restart in range(1, c.nb_restarts):
            best = core.keep_worst(best, problem.run(seed + restart))
        return best.x

    return attack
