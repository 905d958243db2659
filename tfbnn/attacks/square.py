"""The Square attack (Andriushchenko et al., 2020), L-inf: random search, no gradients.

Square is a score-based black-box attack: it only reads the model's logits, never its
gradients, so gradient masking (saturated softmax, zero or missing gradients of
quantised layers, ``tf.stop_gradient``) cannot stop it. Gupta & Ajanthan (2022, Tables
5 and 8) use it next to APGD to check that PGD++'s success on binarized networks is
not an artefact of their gradients.

Starting from vertical stripes of ``+-eps``, every iteration proposes, for each example
still to fool, one random square window of side ``s`` in which every channel's
perturbation is set to ``+eps`` or ``-eps`` (a random sign per channel: a step of
``+-2 eps`` projected back onto the eps-ball). The proposal is kept only if it raises
the attack objective (margin or cross-entropy) or fools the model. The window's area
``s**2`` is a fraction ``p`` of the image, halved on a fixed schedule
(`fraction_schedule`).

# Reading of the reference implementation

- Schedule: ``p`` is ``p_init`` halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and
  8000 of 10,000 iterations, the iteration index rescaled to ``nb_iter`` (the
  reference code's ``int(i / n_iters * 10000)``; AutoAttack's ``resc_schedule=True``).
  AutoAttack's *standard* run does not rescale (``resc_schedule=False``, 5,000 queries).
- ``p_init`` defaults to 0.8, AutoAttack's standard version (and the authors' MNIST
  challenge entry). The reference implementation's default, used in the paper's
  ImageNet L-inf experiments, is 0.05.
- Side ``s = round(sqrt(p * height * width))``, at least 1 and at most
  ``min(height, width)``; the window's corner is uniform over all ``(h - s + 1) *
  (w - s + 1)`` positions (the reference draws from ``[0, h - s)``, so it never uses
  the last row or column offset, and caps ``s`` at ``h - 1``).
- Window and signs are drawn per example (AutoAttack shares one window across the
  batch). A proposal that would change nothing (the window already holds those signs)
  is not spent: its signs are flipped on a uniformly chosen non-empty set of channels,
  which is what the reference's redrawing until something changes amounts to.
- Each example stops at its first success; its query count is the number of model
  evaluations spent on it: one for the stripes, one per proposal, summed over
  restarts. The clean evaluation at ``x`` (needed for the default labels) is not
  counted, as in the reference, and examples already misclassified at ``x`` (already
  at their target) are returned unchanged with 0 queries.
- The whole batch is drawn at once (stateless RNG keyed by seed, restart and
  iteration), so an example's random choices do not depend on when the others stop;
  the model is only evaluated on the examples still running.

# References
    - Andriushchenko, Croce, Flammarion, Hein. Square Attack: a query-efficient
      black-box adversarial attack via random search. ECCV 2020, Algorithm 1 and 2,
      section 3.
    - Croce, Hein. Reliable evaluation of adversarial robustness with an ensemble of
      diverse parameter-free attacks. ICML 2020 (AutoAttack's Square settings).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core

__all__ = ["LOSSES", "SCHEDULE_POINTS", "fraction_schedule", "margin_loss", "square_attack",
           "window_sides"]

LOSSES = ("margin", "ce")
"""Objectives by name: the logit margin (the paper's choice for untargeted attacks)
and softmax cross-entropy."""

SCHEDULE_POINTS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
"""Iterations (of 10,000) after which the window's area fraction ``p`` is halved."""

_UNCHANGED = 1e-7  # the reference's test for a proposal that changes nothing


# --------------------------------------------------------------------------------------
# Schedule
# --------------------------------------------------------------------------------------


def fraction_schedule(p_init: float, nb_iter: int) -> np.ndarray:
    """The window's area fraction ``p`` at each of the ``nb_iter - 1`` proposals.

    Proposal ``i`` (0-based; the stripes initialisation is query 0) uses
    ``p_init / 2**j`` where ``j`` counts the points of `SCHEDULE_POINTS` strictly below
    ``floor(i * 10000 / nb_iter)``. For ``nb_iter = 10000``: ``p_init`` up to
    iteration 10, ``p_init / 2`` for 11-50, ..., ``p_init / 512`` from 8001 on.
    """
    steps = np.arange(max(nb_iter - 1, 0), dtype=np.int64) * 10000 // max(nb_iter, 1)
    halvings = np.searchsorted(np.asarray(SCHEDULE_POINTS), steps, side="left")
    return p_init / 2.0 ** halvings


def window_sides(p_init: float, nb_iter: int, height: int, width: int) -> np.ndarray:
    """Side ``s`` of the square window at each proposal, ``round(sqrt(p * h * w))``
    clipped to ``[1, min(height, width)]``."""
    sides = np.round(np.sqrt(fraction_schedule(p_init, nb_iter) * height * width))
    return np.clip(sides, 1, min(height, width)).astype(np.int32)


# --------------------------------------------------------------------------------------
# Objectives (ascended; negated for targeted attacks)
# --------------------------------------------------------------------------------------


def margin_loss(labels, logits) -> tf.Tensor:
    """Per-example ``max_{i != y} z_i - z_y``: positive exactly when ``x`` is misclassified.

    An untargeted attack ascends it; a targeted attack ascends its negative,
    ``z_t - max_{i != t} z_i``.
    """
    return core.margin(labels, logits)


def _resolve_loss(loss) -> Callable:
    if callable(loss):
        return loss
    if loss == "margin":
        return margin_loss
    if loss == "ce":
        return core.default_loss
    raise ValueError(f"loss must be one of {LOSSES} or a callable loss_fn(labels, logits), "
                     f"got {loss!r}.")


# --------------------------------------------------------------------------------------
# The attack as a function of tensors
# --------------------------------------------------------------------------------------


class SquareConfig(NamedTuple):
    """What one traced Square attack depends on besides its tensors."""

    image_shape: tuple
    nb_iter: int
    p_init: float
    clip_min: float | None
    clip_max: float | None
    targeted: bool
    nb_restarts: int


def _square(model_fn, c: SquareConfig, loss_fn):
    """Square with restarts as a function of tensors (x, y, eps, seed)."""
    height, width, channels = c.image_shape
    nb_iter, p_init, clip_min, clip_max = c.nb_iter, c.p_init, c.clip_min, c.clip_max
    targeted, nb_restarts = c.targeted, c.nb_restarts
    sides = tf.constant(window_sides(p_init, nb_iter, height, width))

    def objective(points, labels):
        logits = model_fn(points)
        value = tf.reshape(tf.cast(loss_fn(labels, logits), points.dtype), [-1])
        return (-value if targeted else value), core.is_adversarial(logits, labels, targeted)

    def flips(batch, seed):
        """A uniformly random non-empty set of channels per example, as +-1 factors."""
        if channels <= 62:
            mask = tf.random.stateless_uniform([batch], seed, minval=1, maxval=2**channels,
                                               dtype=tf.int64)
            bits = tf.bitwise.right_shift(mask[:, None], tf.range(channels, dtype=tf.int64)) % 2
        else:  # all-zero draws (probability 2**-63 or less) flip every channel
            bits = tf.random.stateless_uniform([batch, channels], seed, minval=0, maxval=2,
                                               dtype=tf.int64)
            bits = tf.where(tf.reduce_any(bits > 0, axis=1, keepdims=True), bits, 1)
        return tf.reshape(1.0 - 2.0 * tf.cast(bits, tf.float32), [batch, 1, 1, channels])

    def attack(x, y, eps, seed):
        batch = tf.shape(x)[0]
        eps = tf.broadcast_to(tf.reshape(tf.cast(eps, x.dtype), [-1]), [batch])
        eps = tf.reshape(eps, [-1, 1, 1, 1])
        low, high = x - eps, x + eps

        def clip(points):
            return core.clip_to_range(tf.clip_by_value(points, low, high), clip_min, clip_max)

        def run(restart, skip):
            """One restart for the examples not in ``skip``."""
            base = tf.stack([tf.cast(seed, tf.int64), tf.cast(restart, tf.int64)])
            stripes = tf.random.stateless_uniform([batch, 1, width, channels], base, minval=0,
                                                  maxval=2, dtype=tf.int32)
            start = clip(x + eps * (2.0 * tf.cast(stripes, x.dtype) - 1.0))
            start = tf.where(skip[:, None, None, None], x, start)
            value, success = objective(start, y)
            running = tf.logical_not(skip)
            found = tf.logical_and(success, running)
            queries = tf.cast(running, tf.int32)
            rows = tf.range(height)
            cols = tf.range(width)

            def body(i, best, value, found, done, queries):
                seeds = tf.random.experimental.stateless_split(
                    tf.random.experimental.stateless_fold_in(base, tf.cast(i, tf.int64)), 4)
                side = sides[i]
                top = tf.random.stateless_uniform([batch], seeds[0], 0, height - side + 1,
                                                  dtype=tf.int32)
                left = tf.random.stateless_uniform([batch], seeds[1], 0, width - side + 1,
                                                   dtype=tf.int32)
                signs = tf.random.stateless_uniform([batch, 1, 1, channels], seeds[2], 0, 2,
                                                    dtype=tf.int32)
                flip = flips(batch, seeds[3])

                index = tf.where(tf.logical_not(done))[:, 0]
                take = lambda t: tf.gather(t, index)  # noqa: E731
                best_a, eps_a, y_a = take(best), take(eps), take(y)
                low_a, high_a = take(low), take(high)
                top_a, left_a = take(top)[:, None], take(left)[:, None]
                in_rows = tf.logical_and(rows[None] >= top_a, rows[None] < top_a + side)
                in_cols = tf.logical_and(cols[None] >= left_a, cols[None] < left_a + side)
                window = tf.cast(tf.logical_and(in_rows[:, :, None], in_cols[:, None, :]),
                                 x.dtype)[..., None]
                signs_a = 2.0 * tf.cast(take(signs), x.dtype) - 1.0

                def propose(sign):
                    moved = tf.clip_by_value(best_a + 2.0 * eps_a * sign * window, low_a, high_a)
                    return core.clip_to_range(moved, clip_min, clip_max)

                proposal = propose(signs_a)
                unchanged = tf.reduce_all(tf.abs(proposal - best_a) < _UNCHANGED, axis=[1, 2, 3])
                proposal = tf.where(unchanged[:, None, None, None],
                                    propose(signs_a * take(flip)), proposal)

                new_value, success = objective(proposal, y_a)
                accept = tf.logical_or(new_value > take(value), success)
                at = index[:, None]
                best = tf.tensor_scatter_nd_update(
                    best, at, tf.where(accept[:, None, None, None], proposal, best_a))
                value = tf.tensor_scatter_nd_update(
                    value, at, tf.where(accept, new_value, take(value)))
                found = tf.tensor_scatter_nd_update(found, at, success)
                queries = tf.tensor_scatter_nd_add(queries, at, tf.ones_like(index, tf.int32))
                return i + 1, best, value, found, tf.logical_or(done, found), queries

            _, best, value, found, _, queries = tf.while_loop(
                lambda i, *state: tf.logical_and(i < nb_iter - 1,
                                                 tf.reduce_any(tf.logical_not(state[3]))),
                body,
                (tf.constant(0), start, value, found, tf.logical_or(skip, found), queries),
            )
            return best, value, found, queries

        clean_value, clean_success = objective(x, y)
        best, best_value, best_found, queries = run(0, clean_success)
        best_found = tf.logical_or(best_found, clean_success)
        best = tf.where(clean_success[:, None, None, None], x, best)
        best_value = tf.where(clean_success, clean_value, best_value)
        worst = core.Candidate(best, best_found, best_value)
        for restart in range(1, nb_restarts):
            candidate, value, found, spent = run(restart, worst.success)
            worst = core.keep_worst(worst, core.Candidate(candidate, found, value))
            queries = queries + spent
        return tf.stop_gradient(worst.x), worst.success, worst.objective, queries

    return attack


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def square_attack(
    model_fn: Callable,
    x,
    eps,
    nb_iter: int = 5000,
    p_init: float = 0.8,
    loss: str | Callable = "margin",
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
    seed: int | None = 0,
    nb_restarts: int = 1,
    return_details: bool = False,
):
    """Square attack, L-inf: random search over square windows, logits only, no gradients.

    Starts every example at ``x`` plus vertical stripes of ``+-eps`` (one random sign
    per column and channel), then for ``nb_iter - 1`` iterations proposes, per example
    still to fool, a random ``s x s`` window whose perturbation is set to ``+-eps``
    (one random sign per channel), and keeps it if the objective rises or the model is
    fooled. ``s**2`` is a fraction ``p`` of the image's pixels, ``p`` following
    `fraction_schedule`. Each example stops once fooled (classified as its target,
    when targeted). The iterations run in a ``tf.while_loop`` of a cached
    ``tf.function``, vectorised over the batch. See the module docstring for how the
    reference implementation was read.

    # Arguments
        model_fn: callable mapping a batch of images ``(batch, height, width,
            channels)`` to logits; only its outputs are used (it may have no gradient).
        x: batch of images, ``(batch, height, width, channels)``.
        eps: L-inf radius, a number or one value per example (>= 0).
        nb_iter: query budget per example and restart (>= 1): the stripes plus
            ``nb_iter - 1`` proposals. Default 5,000 (AutoAttack's standard version;
            the paper uses 10,000).
        p_init: initial fraction of the pixels a window covers, in ``(0, 1]``. Default
            0.8 (AutoAttack's standard version); the reference implementation's default,
            used in the paper's ImageNet L-inf experiments, is 0.05.
        loss: ``"margin"`` (`margin_loss`, the paper's), ``"ce"`` (softmax
            cross-entropy) or a callable ``loss_fn(labels, logits)`` returning a
            per-example loss, ascended (descended when targeted).
        clip_min, clip_max: valid input range (both or neither).
        y: labels; ``None`` uses the model's own predictions. When targeted, the targets.
        targeted: move towards ``y`` instead of away from it.
        seed: int seed of the stateless random draws (same seed, same result); restart
            ``r`` uses ``(seed, r)``. ``None`` draws one.
        nb_restarts: independent runs (>= 1) for the examples not yet fooled; each
            example keeps its worst case.
        return_details: also return a dict of per-example tensors: ``"success"``
            (bool: fooled, or at the target), ``"queries"`` (int32: model evaluations
            spent on the example, over all restarts, the clean one excluded) and
            ``"objective"`` (the best objective reached, the loss for untargeted attacks
            and its negative for targeted ones).

    # Returns
        The adversarial batch, same shape as ``x``, ``float32``: per example the first
        point found that fools the model (reaches the target), else the point of highest
        objective. With ``return_details``, ``(x_adv, details)``.

    # Raises
        TypeError: when ``model_fn`` is not callable.
        ValueError: for a bad ``eps``, ``nb_iter``, ``p_init``, loss, clip range,
            ``nb_restarts`` or seed, a targeted attack without ``y``, ``x`` that is not a
            batch of images, or ``x``/``y`` that do not fit.

    # References
        - Andriushchenko, Croce, Flammarion, Hein. Square Attack: a query-efficient
          black-box adversarial attack via random search. ECCV 2020, Algorithms 1-2.
        - Gupta, Ajanthan. Improved Gradient based Adversarial Attacks for Quantized
          Networks. AAAI 2022, Tables 5 and 8 (Square as a gradient-free baseline).
    """
    checks.check_callable(model_fn)
    checks.check_eps("eps", eps)
    checks.check_int("nb_iter", nb_iter, 1)
    checks.check_int("nb_restarts", nb_restarts, 1)
    checks.check_fraction("p_init", p_init, open_low=True)
    loss_fn = _resolve_loss(loss)
    checks.check_clip(clip_min, clip_max)
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target labels y.")
    seed = core.draw_seed(seed)
    if not isinstance(return_details, bool):
        raise ValueError(f"return_details must be True or False, got {return_details!r}.")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    if x.shape.rank != 4 or any(d is None for d in x.shape[1:]):
        raise ValueError(
            f"x must be a batch of images of shape (batch, height, width, channels), got "
            f"shape {tuple(x.shape)}; add a channel axis to grey-scale images."
        )
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, count_classes=True)
    y = tf.cast(tf.convert_to_tensor(y), tf.int64)
    eps_t = tf.cast(eps, tf.float32)
    seed_t = tf.constant(seed, tf.int64)
    config = SquareConfig(tuple(int(d) for d in x.shape[1:]), int(nb_iter), float(p_init),
                          clip_min, clip_max, bool(targeted), int(nb_restarts))
    if tf.executing_eagerly():
        run = core.compiled(_square, model_fn, config, loss_fn)
        x_adv, success, value, queries = run(x, y, eps_t, seed_t, core.loss_params(loss_fn))
    else:
        x_adv, success, value, queries = _square(model_fn, config, loss_fn)(x, y, eps_t, seed_t)
    if return_details:
        return x_adv, {"success": success, "queries": queries, "objective": value}
    return x_adv

