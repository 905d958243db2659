"""FAB, the Fast Adaptive Boundary attack (Croce & Hein, 2020), L-inf and L2, and FAB-T.

FAB looks for the *minimally distorted* adversarial example: at each iteration it
linearises the classifier at the current point ``x_k`` and moves to the closest point of
the linearised decision boundary inside the box ``[clip_min, clip_max]``, biased towards
the original input; once a point is adversarial it steps back towards the original
input and searches again from there. It needs no step size, and it is one of the four
attacks of AutoAttack (its targeted form, FAB-T). tfbnn has its own because there is no
maintained TensorFlow 2 implementation: AutoAttack's ``fab_tf.py`` runs its PyTorch code
(it imports torch) on gradients fetched from a TensorFlow model through an adapter, and
neither ART nor foolbox provides FAB for TF 2 models. This one is written from the
paper, in TensorFlow ops only.

One iteration (section 3 of the paper, Algorithm 1):

1. Linearise. For every class ``j != c`` take ``f_j - f_c`` at ``x_k`` and its input
   gradient ``g_j``, and pick the class whose linearised boundary
   ``{z : f_j - f_c + <g_j, z - x_k> = 0}`` is closest in the norm:
   ``|f_j - f_c| / ||g_j||_q`` smallest, ``q`` the dual of ``p`` (1 for L-inf, 2 for L2).
   The targeted form uses the target's boundary only.
2. Project. ``delta_k``: the smallest (L-inf or L2) step from ``x_k`` onto that
   hyperplane within the box; ``delta_orig``: the same from the original ``x``
   (`hyperplane_box_projection`; when the hyperplane misses the box, the box point
   closest to it, the corner that moves the linearised difference the most).
3. Biased step. ``alpha = min(||delta_k|| / (||delta_k|| + ||delta_orig||), alpha_max)``,
   ``x_{k+1} = clip((1 - alpha)(x_k + eta delta_k) + alpha (x + eta delta_orig))``,
   ``eta >= 1`` overshooting the boundary slightly.
4. Backward step. If ``x_{k+1}`` is adversarial it is kept when it is the closest
   adversarial point found so far, and the search goes on from
   ``x + beta (x_{k+1} - x)``.

# Reading of the paper and the reference implementation

- Projection onto hyperplane ∩ box: exact for both norms. The optimal step moves each
  coordinate by ``min(lambda c_i, room_i)`` in the direction that changes ``<w, z>``
  towards ``b`` (``c_i = 1`` for L-inf, ``|w_i|`` for L2; ``room_i`` is the distance to
  the box's face), so the change reached is piecewise linear and increasing in
  ``lambda``; one sort of the breakpoints ``room_i / c_i`` and two cumulative sums give
  the segment holding the solution, and ``lambda`` is solved on it in closed form (no
  bisection). The reference code searches the same sorted breakpoints by bisection.
- Evaluation at a fixed eps (AutoAttack's ``perturb``): per example, the closest
  adversarial point found is returned if its perturbation is within ``eps``, else the
  clean ``x``; examples already adversarial at ``x`` are returned unchanged. The result
  is therefore always inside the eps-ball and the box.
- Restarts: restart 0 starts at ``x`` (unless ``rand_init``); restart ``r >= 1`` starts
  at ``x + 0.5 * min(eps, best) * u / ||u||`` clipped to the box, ``u`` uniform in
  ``[-1, 1]^d`` (L-inf) or Gaussian (L2) and ``best`` the example's smallest adversarial
  norm so far, as in the reference. As in AutoAttack, only the examples not yet fooled
  within ``eps`` run again; each example keeps its smallest adversarial perturbation.
- Targeted semantics. `fab_attack` with ``targeted=True`` follows tfbnn's (CleverHans')
  convention: ``y`` holds the targets and success means *classified as the target*. It
  linearises ``f_t - f_c`` with ``c`` the strongest other class at the current iterate
  (the clean prediction at the start). AutoAttack's FAB-T is a different thing, an
  *untargeted* attack made of targeted runs: `fab_targeted_top_k` runs the targeted
  linearisation against each of the ``nb_target_classes`` most likely other classes of
  the clean logits (``c`` fixed to the true label), success meaning misclassified, and
  keeps per example the first target that succeeds within ``eps``. It is a separate
  function because ``y`` means true labels there and targets in `fab_attack`.
- Gradients: the untargeted linearisation needs the gradient of every logit; it is one
  forward and backward pass over ``classes`` copies of the batch. The targeted ones need
  one gradient. A model without gradients (``None``) leaves the iterate where it is. An
  `EOT` wrapper is differentiated through its draw-averaged logits.

The whole attack (all targets and restarts, each a ``tf.while_loop`` of iterations) runs
as one ``tf.function`` cached per model and configuration (`core.compiled`), and can be
called inside a user's ``tf.function``.

# References
    - Croce, Hein. Minimally distorted adversarial examples with a fast adaptive
      boundary attack. ICML 2020: section 3 (Algorithm 1, the projection onto a
      hyperplane and a box, the biased gradient step, the backward step, restarts).
    - Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of
      diverse parameter-free attacks. ICML 2020, section 5 (FAB-T, the targeted version
      against the top 9 classes, as used in AutoAttack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core

__all__ = ["FABConfig", "fab_attack", "fab_targeted_top_k", "hyperplane_box_projection"]

_TINY = 1e-12  # the reference's guard on the dual norm of the gradient
_MIN_STEP = 1e-8  # the reference's floor on ||delta|| in alpha
_NO_BREAK = 1e30  # breakpoint of a coordinate the hyperplane does not depend on


# --------------------------------------------------------------------------------------
# Projection onto a hyperplane intersected with a box
# --------------------------------------------------------------------------------------


def hyperplane_box_projection(points, w, b, norm=np.inf, clip_min: float | None = 0.0,
                              clip_max: float | None = 1.0) -> tf.Tensor:
    """The smallest step from each point onto ``{z : <w, z> = b}`` inside the box.

    Solves, per row, ``min ||d||_p`` subject to ``<w, t + d> = b`` and ``clip_min <= t + d
    <= clip_max`` exactly, for ``p`` = inf or 2. If the hyperplane does not meet the box,
    the step to the box point closest to the hyperplane is returned (every coordinate
    moved to the face that brings ``<w, z>`` nearest to ``b``). Without a box
    (``clip_min=None``) it is the plain projection onto the hyperplane.

    # Arguments
        points: ``(m, d)`` points ``t`` (inside the box).
        w: ``(m, d)`` normals of the hyperplanes.
        b: ``(m,)`` offsets.
        norm: ``np.inf`` or ``2``.
        clip_min, clip_max: the box (both or neither).

    # Returns
        The steps ``d``, shape ``(m, d)``.
    """
    norm = checks.check_norm(norm)
    checks.check_clip(clip_min, clip_max)
    t = tf.convert_to_tensor(points, tf.float32)
    w = tf.convert_to_tensor(w, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    residual = tf.reduce_sum(w * t, axis=1) - b
    target = tf.abs(residual)  # how much <w, .> has to change
    towards = tf.where(residual > 0, -1.0, 1.0)[:, None]
    direction = towards * tf.sign(w)  # +1 / -1 per coordinate, 0 where w is 0
    size = tf.abs(w)
    rate = tf.ones_like(w) if norm == np.inf else size  # move_i = min(lambda * rate_i, room_i)
    if clip_min is None:
        lam = tf.math.divide_no_nan(target, tf.reduce_sum(size * rate, axis=1))
        return direction * lam[:, None] * rate
    room = tf.where(direction > 0, clip_max - t, t - clip_min)
    room = tf.where(size > 0, tf.maximum(room, 0.0), 0.0)
    breaks = tf.where(size > 0, room / tf.where(rate > 0, rate, 1.0), _NO_BREAK)
    order = tf.argsort(breaks, axis=1, stable=True)
    sorted_breaks = tf.gather(breaks, order, batch_dims=1)
    saturated = tf.math.cumsum(tf.gather(size * room, order, batch_dims=1), axis=1,
                               exclusive=True)
    slope = tf.math.cumsum(tf.gather(size * rate, order, batch_dims=1), axis=1, reverse=True)
    # reached[k]: the change made at lambda = k-th breakpoint; nondecreasing in k.
    reached = saturated + sorted_breaks * slope
    segment = tf.reduce_sum(tf.cast(reached < target[:, None], tf.int32), axis=1)
    dims = tf.shape(w)[1]
    feasible = segment < dims
    segment = tf.minimum(segment, dims - 1)[:, None]
    lam = tf.math.divide_no_nan(
        target - tf.gather(saturated, segment, batch_dims=1)[:, 0],
        tf.gather(slope, segment, batch_dims=1)[:, 0])
    lam = tf.where(feasible, tf.maximum(lam, 0.0), 0.0)[:, None]
    move = tf.where(feasible[:, None], tf.minimum(lam * rate, room), room)
    return direction * move


# --------------------------------------------------------------------------------------
# The attack as a function of tensors
# --------------------------------------------------------------------------------------


class FABConfig(NamedTuple):
    """What one traced FAB depends on besides its tensors."""

    nb_iter: int
    ball: core.Ball
    clip_min: float | None
    clip_max: float | None
    mode: str  # "untargeted", "targeted" (y = targets) or "top_k" (AutoAttack's FAB-T)
    nb_target_classes: int
    nb_restarts: int
    rand_init: bool
    alpha_max: float
    eta: float
    beta: float


def _norms(flat: tf.Tensor, norm) -> tf.Tensor:
    if norm == np.inf:
        return tf.reduce_max(tf.abs(flat), axis=1)
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=1))


def _dual_norms(flat: tf.Tensor, norm) -> tf.Tensor:
    """``||.||_q`` over the last axis, ``q`` the dual of ``norm``."""
    if norm == np.inf:
        return tf.reduce_sum(tf.abs(flat), axis=-1)
    return tf.sqrt(tf.reduce_sum(tf.square(flat), axis=-1))


def _gradient(tape, objective, wrt):
    grad = tape.gradient(objective, wrt)
    return tf.zeros_like(wrt) if grad is None else grad


def _pick(logits, labels):
    return tf.gather(logits, labels, axis=1, batch_dims=1)


def _strongest_other(logits, labels):
    mask = tf.one_hot(labels, tf.shape(logits)[1], on_value=True, off_value=False)
    return tf.argmax(tf.where(mask, tf.constant(-np.inf, logits.dtype), logits), axis=1,
                     output_type=tf.int32)


def _fab(model_fn, c: FABConfig):
    """FAB over all targets and restarts as a function of tensors (x, y, eps, seed);
    returns the points, success within eps and the smallest adversarial norm found."""
    norm = c.ball.norm

    def clip(flat):
        return core.clip_to_range(flat, c.clip_min, c.clip_max)

    def linearise(points, source, target, classes):
        """Per example ``(w, f)``: the gradient and value of the logit difference whose
        linearised boundary FAB moves to, at ``points`` (image-shaped)."""
        n = tf.shape(points)[0]
        if c.mode == "untargeted":
            copies = tf.tile(points, tf.concat([[classes], tf.ones_like(tf.shape(points)[1:])], 0))
            other = tf.repeat(tf.range(classes), n)
            own = tf.tile(source, [classes])
            with tf.GradientTape() as tape:
                tape.watch(copies)
                logits = model_fn(copies)
                difference = _pick(logits, other) - _pick(logits, own)
                total = tf.reduce_sum(difference)
            grad = tf.reshape(_gradient(tape, total, copies), [classes, n, -1])
            difference = tf.reshape(difference, [classes, n])
            distance = tf.abs(difference) / (_dual_norms(grad, norm) + _TINY)
            own_class = tf.equal(tf.reshape(other, [classes, n]), source[None, :])
            distance = tf.where(own_class, tf.constant(np.inf, distance.dtype), distance)
            closest = tf.argmin(distance, axis=0, output_type=tf.int32)
            w = tf.gather(tf.transpose(grad, [1, 0, 2]), closest, batch_dims=1)
            f = tf.gather(tf.transpose(difference), closest, batch_dims=1)
            return w, f
        with tf.GradientTape() as tape:
            tape.watch(points)
            logits = model_fn(points)
            rival = source if c.mode == "top_k" else tf.stop_gradient(
                _strongest_other(logits, target))
            difference = _pick(logits, target) - _pick(logits, rival)
            total = tf.reduce_sum(difference)
        return tf.reshape(_gradient(tape, total, points), [n, -1]), difference

    def fooled(logits, source, target):
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        if c.mode == "targeted":
            return tf.equal(predicted, target)
        return tf.not_equal(predicted, source)

    def run(x0, start, source, target, classes):
        """One FAB run from ``start``: the closest adversarial point and its norm (inf
        where none was found)."""
        shape = tf.shape(x0)
        n = shape[0]
        origin = tf.reshape(x0, [n, -1])
        alpha_max = tf.constant(c.alpha_max, x0.dtype)

        def body(i, current, best, best_norm):
            w, f = linearise(tf.reshape(current, shape), source, target, classes)
            b = tf.reduce_sum(w * current, axis=1) - f
            steps = hyperplane_box_projection(
                tf.concat([current, origin], 0), tf.concat([w, w], 0), tf.concat([b, b], 0),
                norm, c.clip_min, c.clip_max)
            step, step_orig = steps[:n], steps[n:]
            size = tf.maximum(_norms(step, norm), _MIN_STEP)
            size_orig = tf.maximum(_norms(step_orig, norm), _MIN_STEP)
            alpha = tf.clip_by_value(size / (size + size_orig), 0.0, alpha_max)[:, None]
            moved = clip((1.0 - alpha) * (current + c.eta * step)
                         + alpha * (origin + c.eta * step_orig))
            adversarial = fooled(model_fn(tf.reshape(moved, shape)), source, target)
            distance = _norms(moved - origin, norm)
            closer = tf.logical_and(adversarial, distance < best_norm)
            best = tf.where(closer[:, None], moved, best)
            best_norm = tf.where(closer, distance, best_norm)
            moved = tf.where(adversarial[:, None], origin + c.beta * (moved - origin), moved)
            return i + 1, moved, best, best_norm

        _, _, best, best_norm = tf.while_loop(
            lambda i, *_: i < c.nb_iter, body,
            (tf.constant(0), tf.reshape(start, [n, -1]), origin,
             tf.fill([n], tf.constant(np.inf, x0.dtype))))
        return tf.reshape(best, shape), best_norm

    def random_start(x, radius, key):
        if norm == np.inf:
            u = tf.random.stateless_uniform(tf.shape(x), key, -1.0, 1.0, dtype=x.dtype)
        else:
            u = tf.random.stateless_normal(tf.shape(x), key, dtype=x.dtype)
        flat = tf.reshape(u, [tf.shape(x)[0], -1])
        scale = 0.5 * radius / tf.maximum(_norms(flat, norm), _TINY)
        start = tf.reshape(tf.reshape(x, tf.shape(flat)) + flat * scale[:, None], tf.shape(x))
        return core.clip_to_range(start, c.clip_min, c.clip_max)

    def attack(x, y, eps, seed):
        batch = tf.shape(x)[0]
        eps = tf.broadcast_to(tf.reshape(tf.cast(eps, x.dtype), [-1]), [batch])
        labels = tf.cast(y, tf.int32)
        logits = model_fn(x)
        classes = tf.shape(logits)[1]
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        if c.mode == "targeted":  # labels are the targets; the source is the prediction
            source, success = predicted, tf.equal(predicted, labels)
        else:
            source, success = labels, tf.not_equal(predicted, labels)
        targets = labels[:, None]  # one column, unused by the untargeted linearisation
        if c.mode == "top_k":
            static = logits.shape[-1]
            if static is not None and c.nb_target_classes > static - 1:
                raise ValueError(
                    f"nb_target_classes must be at most classes - 1 = {static - 1} for a model "
                    f"with {static} classes, got {c.nb_target_classes}.")
            others = tf.where(tf.one_hot(labels, classes, on_value=True, off_value=False),
                              tf.constant(-np.inf, logits.dtype), logits)
            targets = tf.math.top_k(others, k=c.nb_target_classes).indices
        runs = c.nb_restarts * (c.nb_target_classes if c.mode == "top_k" else 1)
        best_norm = tf.where(success, 0.0, tf.constant(np.inf, x.dtype))
        seed = tf.cast(seed, tf.int64)

        def body(r, best, best_norm, success):
            restart = r % c.nb_restarts
            column = r // c.nb_restarts
            index = tf.where(tf.logical_and(tf.logical_not(success), eps > 0))[:, 0]
            take = lambda t: tf.gather(t, index)  # noqa: E731
            x_run = take(x)
            key = tf.stack([seed, tf.cast(r, tf.int64)])
            radius = tf.minimum(take(eps), take(best_norm))
            start = random_start(x_run, radius, key)
            if not c.rand_init:
                start = tf.cond(restart > 0, lambda: start, lambda: x_run)
            point, point_norm = run(x_run, start, take(source),
                                    tf.gather(take(targets), column, axis=1), classes)
            closer = point_norm < take(best_norm)
            at = index[:, None]
            best = tf.tensor_scatter_nd_update(
                best, at, tf.where(core.per_example(closer, x.shape.rank), point, take(best)))
            best_norm = tf.tensor_scatter_nd_update(
                best_norm, at, tf.where(closer, point_norm, take(best_norm)))
            return r + 1, best, best_norm, tf.logical_or(success, best_norm <= eps)

        _, best, best_norm, success = tf.while_loop(
            lambda r, best, best_norm, success: tf.logical_and(
                r < runs, tf.reduce_any(tf.logical_and(tf.logical_not(success), eps > 0))),
            body, (tf.constant(0), x, best_norm, success))
        x_adv = tf.where(core.per_example(success, x.shape.rank), best, x)
        x_adv = tf.stop_gradient(core.clip_to_range(x_adv, c.clip_min, c.clip_max))
        return x_adv, success, best_norm

    return attack


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


def _check_fab(nb_iter, nb_restarts, alpha_max, eta, beta, rand_init, return_details):
    checks.check_int("nb_iter", nb_iter, 1)
    checks.check_int("nb_restarts", nb_restarts, 1)
    checks.check_fraction("alpha_max", alpha_max)
    if not checks.is_number(eta) or not np.isfinite(eta) or eta < 1.0:
        raise ValueError(
            f"eta must be a finite number >= 1 (the overshoot past the linearised boundary; "
            f"the paper uses 1.05), got {eta!r}.")
    if not checks.is_number(beta) or not 0.0 < beta < 1.0:
        raise ValueError(
            f"beta must be a number in (0, 1) (the backward step towards x after a success; "
            f"the paper uses 0.9), got {beta!r}.")
    for name, value in (("rand_init", rand_init), ("return_details", return_details)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}.")


def _launch(model_fn, x, y, eps, targeted, clip_min, clip_max, seed, config: FABConfig,
            return_details):
    seed = core.draw_seed(seed)
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, count_classes=True)
    y = tf.cast(tf.convert_to_tensor(y), tf.int64)
    eps_t = tf.cast(eps, tf.float32)
    seed_t = tf.constant(seed, tf.int64)
    if tf.executing_eagerly():
        x_adv, success, norms = core.compiled(_fab, model_fn, config)(x, y, eps_t, seed_t, ())
    else:
        x_adv, success, norms = _fab(model_fn, config)(x, y, eps_t, seed_t)
    if return_details:
        return x_adv, {"success": success, "norm": norms}
    return x_adv


def fab_attack(
    model_fn: Callable,
    x,
    eps,
    nb_iter: int = 100,
    norm=np.inf,
    clip_min: float | None = 0.0,
    clip_max: float | None = 1.0,
    y=None,
    targeted: bool = False,
    rand_init: bool = False,
    nb_restarts: int = 1,
    alpha_max: float = 0.1,
    eta: float = 1.05,
    beta: float = 0.9,
    seed: int | None = None,
    return_details: bool = False,
):
    """FAB: the closest adversarial point along linearised boundaries, kept if within eps.

    Each iteration moves to the projection of the current point onto the closest
    linearised decision boundary (the target's, when targeted) inside the box, biased
    towards the projection of ``x`` by ``alpha <= alpha_max``, overshooting by ``eta``;
    after each success it steps back to ``x + beta (x_k - x)``. See the module docstring
    for the algorithm and how the paper was read. Per example the result is the smallest
    adversarial perturbation found (over iterations and restarts) if its ``norm`` is at
    most ``eps``, else ``x`` itself, so it always lies inside the eps-ball and the box;
    ``eps`` also sets the radius of the random starts (``eps / 2``).

    # Arguments
        model_fn: callable mapping a batch of inputs to logits (Keras model, SavedModel
            signature, function); it must accept batches of any size (the untargeted
            linearisation evaluates ``classes`` copies of the batch at once).
        x: batch of inputs.
        eps: the threat model's radius, a number or one value per example (>= 0).
        nb_iter: iterations per restart (>= 1); each costs a forward and backward pass
            (over ``classes`` copies of the batch when untargeted) and a forward pass.
        norm: ``np.inf`` or ``2`` (the joint L2 norm of each whole input).
        clip_min, clip_max: the box FAB projects into (both or neither; default
            ``[0, 1]``). Without a box the projections are onto the hyperplanes only.
        y: labels; ``None`` uses the model's own predictions. When targeted, the
            targets (success: classified as ``y``).
        targeted: move to the boundary between the target and its strongest rival.
        rand_init: start restart 0 at a random point too (AutoAttack: ``False``);
            restarts 1, 2, ... always start at random, at half of ``eps``.
        nb_restarts: runs per example (>= 1); only examples not yet fooled within
            ``eps`` run again.
        alpha_max: largest weight of the step from ``x`` (in [0, 1]; paper 0.1).
        eta: overshoot of the steps (>= 1; paper 1.05).
        beta: weight of the adversarial point in the backward step (in (0, 1); paper 0.9).
        seed: seed of the random starts (stateless RNG: same seed, same result); run
            ``r`` draws from the key ``(seed, r)``. ``None`` draws one.
        return_details: also return a dict of per-example tensors: ``"success"`` (bool:
            adversarial within ``eps``) and ``"norm"`` (float32: the smallest adversarial
            perturbation found, 0 where ``x`` is already adversarial, inf where none was
            found; it may exceed ``eps``).

    # Returns
        The adversarial batch, same shape as ``x``, ``float32``; with
        ``return_details``, ``(x_adv, details)``.

    # Raises
        TypeError: when ``model_fn`` is not callable.
        ValueError: for a bad ``eps``, norm, clip range, ``nb_iter < 1``,
            ``nb_restarts < 1``, ``alpha_max`` outside [0, 1], ``eta < 1``, ``beta``
            outside (0, 1), a bad seed, a targeted attack without ``y``, or ``x``/``y``
            that do not fit.

    # References
        - Croce, Hein. Minimally distorted adversarial examples with a fast adaptive
          boundary attack. ICML 2020, section 3 and Algorithm 1.
    """
    ball = core.ball(norm)
    checks.check_eps("eps", eps)
    _check_fab(nb_iter, nb_restarts, alpha_max, eta, beta, rand_init, return_details)
    checks.check_clip(clip_min, clip_max)
    checks.check_callable(model_fn)
    config = FABConfig(int(nb_iter), ball, clip_min, clip_max,
                       "targeted" if targeted else "untargeted", 1, int(nb_restarts),
                       bool(rand_init), float(alpha_max), float(eta), float(beta))
    return _launch(model_fn, x, y, eps, bool(targeted), clip_min, clip_max, seed, config,
                   return_details)


def fab_targeted_top_k(
    model_fn: Callable,
    x,
    eps,
    nb_iter: int = 100,
    norm=np.inf,
    clip_min: float | None = 0.0,
    clip_max: float | None = 1.0,
    y=None,
    nb_target_classes: int = 9,
    rand_init: bool = False,
    nb_restarts: int = 1,
    alpha_max: float = 0.1,
    eta: float = 1.05,
    beta: float = 0.9,
    seed: int | None = None,
    return_details: bool = False,
):
    """FAB-T as AutoAttack runs it: an untargeted attack made of targeted FAB runs.

    For ``j = 1 .. nb_target_classes`` the ``j``-th most likely class other than ``y``
    in the clean logits is the target of a FAB run (``nb_restarts`` runs) that linearises
    ``f_target - f_y`` only, on the examples not yet misclassified within ``eps``; each
    example keeps the first target that succeeds, with its smallest perturbation. Success
    means misclassified (``prediction != y``), not necessarily as the target, as in
    AutoAttack. Against a model with many classes this costs one gradient per iteration
    instead of one per class. Arguments and result as in `fab_attack`; ``y`` holds the
    true labels (``None``: the model's predictions).

    # Arguments
        nb_target_classes: number of targets tried (>= 1, at most ``classes - 1``;
            AutoAttack: 9).
        model_fn, x, eps, nb_iter, norm, clip_min, clip_max, y, rand_init, nb_restarts,
        alpha_max, eta, beta, seed, return_details: as in `fab_attack` (run ``r`` of
            target ``j`` draws from the key ``(seed, j * nb_restarts + r)``).

    # Returns
        The adversarial batch, same shape as ``x``, ``float32``; with
        ``return_details``, ``(x_adv, details)`` as in `fab_attack`.

    # Raises
        ValueError: as `fab_attack`, and for ``nb_target_classes`` below 1 or above
            ``classes - 1``.

    # References
        - Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of
          diverse parameter-free attacks. ICML 2020, section 5 (FAB-T).
    """
    ball = core.ball(norm)
    checks.check_eps("eps", eps)
    _check_fab(nb_iter, nb_restarts, alpha_max, eta, beta, rand_init, return_details)
    checks.check_int("nb_target_classes", nb_target_classes, 1)
    checks.check_clip(clip_min, clip_max)
    checks.check_callable(model_fn)
    config = FABConfig(int(nb_iter), ball, clip_min, clip_max, "top_k", int(nb_target_classes),
                       int(nb_restarts), bool(rand_init), float(alpha_max), float(eta),
                       float(beta))
    return _launch(model_fn, x, y, eps, False, clip_min, clip_max, seed, config, return_details)
