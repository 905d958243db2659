"""Projected gradient descent, PGD (Madry et al., 2018), L-inf and L2, with restarts.

tfbnn has its own PGD rather than CleverHans 4's, for three reasons, each tested:
the iterations run in a ``tf.while_loop`` (CleverHans unrolls a Python loop, so a
traced PGD-40 is 40 copies of the graph, and its module-level ``tf.function`` retraces
for every new model), ``eps`` may be one value per example (Kurakin-style adversarial
training), and random restarts keep each example's worst case. Without a random
start it computes exactly what CleverHans's ``projected_gradient_descent`` computes
(tests/test_attacks.py checks the parity).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn.attacks import utils

RAND_INITS = (True, False, "uniform", "paper")
"""Random starts: ``"uniform"`` (or ``True``) draws uniformly inside the eps-ball
(L-inf box or L2 ball); ``"paper"`` is the start of Gupta & Ajanthan's released code,
Uniform(-1, 1) noise projected onto the eps-ball, which for eps < 1 lands mostly on
the box's faces and corners; ``False`` starts at x (BIM)."""


def _start(x, eps, norm, rand_init, seed):
    if rand_init is False:
        return tf.zeros_like(x)
    if rand_init == "paper":
        return utils.project(utils.uniform_noise(x, -1.0, 1.0, seed), eps, norm)
    return utils.random_start(x, eps, norm, seed)


def _check_rand_init(rand_init) -> None:
    if not any(rand_init is option or (isinstance(option, str) and rand_init == option)
               for option in RAND_INITS):
        raise ValueError(f"rand_init must be one of {RAND_INITS}, got {rand_init!r}.")


def projected_gradient_descent(
    model_fn: Callable,
    x,
    eps,
    eps_iter,
    nb_iter: int,
    norm=np.inf,
    loss_fn: Callable | None = None,
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
    rand_init=True,
    seed: int | None = None,
    nb_restarts: int = 1,
) -> tf.Tensor:
    """PGD: ``nb_iter`` steepest-ascent steps of size ``eps_iter``, projected on the eps-ball.

    Each restart runs the iterations in a ``tf.while_loop`` (inside a ``tf.function``
    the graph stays one step long whatever ``nb_iter`` is) and returns its last
    iterate, as in Madry et al. and CleverHans. With ``nb_restarts > 1`` every example
    keeps its worst case over the restarts: the first restart that fools the model
    (reaches the target, when targeted), else the one with the highest loss. L2 PGD
    projects onto the joint L2 ball of each whole input.

    # Arguments
        model_fn, x, eps, norm, loss_fn, clip_min, clip_max, y, targeted: as in
            `fast_gradient_method`; ``eps`` may hold one value per example.
        eps_iter: step size per iteration (may exceed eps; steps are projected).
        nb_iter: number of iterations (>= 0).
        rand_init: one of `RAND_INITS`.
        seed: seed of the random starts; an int makes them deterministic (stateless
            random ops), restart r using ``seed + r``.
        nb_restarts: number of runs from independent random starts (>= 1).

    # Returns
        The adversarial batch, same shape and dtype as ``x``.

    # References
        - Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models
          Resistant to Adversarial Attacks. ICLR 2018.
    """
    norm = utils.check_norm(norm)
    utils.check_eps("eps", eps)
    utils.check_eps("eps_iter", eps_iter)
    utils.check_int("nb_iter", nb_iter, 0)
    utils.check_int("nb_restarts", nb_restarts, 1)
    _check_rand_init(rand_init)
    if nb_restarts > 1 and rand_init is False:
        raise ValueError("nb_restarts > 1 needs a random start; set rand_init=True or 'paper'.")
    utils.check_clip(clip_min, clip_max)
    x, y, loss_fn = utils.prepare_batch(model_fn, x, y, targeted, clip_min, clip_max, loss_fn)
    eps_t = utils.broadcast_eps(eps, x)
    step = utils.broadcast_eps(eps_iter, x)
    static = (int(nb_iter), norm, clip_min, clip_max, bool(targeted), rand_init,
              seed is not None, int(nb_restarts))
    seed_t = tf.constant(0 if seed is None else seed, tf.int32)
    if tf.executing_eagerly():
        run = utils.compiled(_pgd, model_fn, loss_fn, static)
        return run(x, tf.convert_to_tensor(y), eps_t, step, seed_t, utils.loss_params(loss_fn))
    return _pgd(model_fn, loss_fn, *static)(x, y, eps_t, step, seed_t)


def _pgd(model_fn, loss_fn, nb_iter, norm, clip_min, clip_max, targeted, rand_init, seeded,
         nb_restarts):
    """PGD with restarts as a function of tensors (x, y, eps, step, seed)."""

    def attack(x, y, eps_t, step, seed):
        def run(restart):
            restart_seed = seed + restart if seeded else None
            delta = _start(x, eps_t, norm, rand_init, restart_seed)
            x_adv = utils.clip_to_range(x + delta, clip_min, clip_max)

            def body(i, x_adv):
                grad, _ = utils.loss_gradient(model_fn, loss_fn, x_adv, y, targeted)
                x_next = x_adv + utils.steepest_step(grad, step, norm)
                x_next = x + utils.project(x_next - x, eps_t, norm)
                return i + 1, utils.clip_to_range(x_next, clip_min, clip_max)

            _, x_adv = tf.while_loop(lambda i, _: i < nb_iter, body, (tf.constant(0), x_adv))
            return tf.stop_gradient(x_adv)

        best = run(0)
        if nb_restarts == 1:
            return best
        best_success, best_loss = _score(model_fn, loss_fn, best, y, targeted)
        for restart in range(1, nb_restarts):
            candidate = run(restart)
            success, loss = _score(model_fn, loss_fn, candidate, y, targeted)
            better = tf.logical_and(
                tf.logical_not(best_success), tf.logical_or(success, loss > best_loss)
            )
            best = tf.where(tf.reshape(better, [-1] + [1] * (x.shape.rank - 1)), candidate, best)
            best_success = tf.logical_or(best_success, success)
            best_loss = tf.where(better, loss, best_loss)
        return best

    return attack


def _score(model_fn, loss_fn, x_adv, y, targeted):
    """Per-example success and attack objective (higher is better for the attacker)."""
    logits = model_fn(x_adv)
    loss = loss_fn(y, logits)
    return utils.is_adversarial(logits, y, targeted), -loss if targeted else loss


def basic_iterative_method(
    model_fn: Callable,
    x,
    eps,
    eps_iter,
    nb_iter: int,
    norm=np.inf,
    loss_fn: Callable | None = None,
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
) -> tf.Tensor:
    """BIM (Kurakin et al., 2017): PGD started at ``x``, without a random start."""
    return projected_gradient_descent(
        model_fn, x, eps, eps_iter, nb_iter, norm, loss_fn, clip_min, clip_max, y, targeted,
        rand_init=False,
    )
