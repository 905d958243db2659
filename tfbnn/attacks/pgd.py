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
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core

RAND_INITS = (True, False, "uniform", "paper")
"""Random starts: ``"uniform"`` (or ``True``) draws uniformly inside the eps-ball
(L-inf box or L2 ball); ``"paper"`` is the start of Gupta & Ajanthan's released code,
Uniform(-1, 1) noise projected onto the eps-ball, which for eps < 1 lands mostly on
the box's faces and corners; ``False`` starts at x (BIM)."""


class PGDConfig(NamedTuple):
    """What one traced PGD depends on besides its tensors."""

    nb_iter: int
    ball: core.Ball
    clip_min: float | None
    clip_max: float | None
    targeted: bool
    rand_init: object
    seeded: bool
    nb_restarts: int


def _start(x, eps, ball, rand_init, seed):
    if rand_init is False:
        return tf.zeros_like(x)
    if rand_init == "paper":
        return ball.project(core.uniform_noise(x, -1.0, 1.0, seed), eps)
    return ball.start(x, eps, seed)


def check_rand_init(rand_init) -> None:
    """``ValueError`` unless ``rand_init`` is one of `RAND_INITS`."""
    if not any(rand_init is option or (isinstance(option, str) and rand_init == option)
               for option in RAND_INITS):
        raise ValueError(f"rand_init must be one of {RAND_INITS}, got {rand_init!r}.")


def projected_gradient_descent(model_fn: Callable, x, eps, eps_iter, nb_iter: int, norm=np.inf,
                               loss_fn: Callable | None = None, clip_min: float | None = None,
                               clip_max: float | None = None, y=None, targeted: bool = False,
                               rand_init=True, seed: int | None = None,
                               nb_restarts: int = 1) -> tf.Tensor:
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
    ball = core.ball(norm)
    checks.check_eps("eps", eps)
    checks.check_eps("eps_iter", eps_iter)
    checks.check_int("nb_iter", nb_iter, 0)
    checks.check_int("nb_restarts", nb_restarts, 1)
    check_rand_init(rand_init)
    if nb_restarts > 1 and rand_init is False:
        raise ValueError("nb_restarts > 1 needs a random start; set rand_init=True or 'paper'.")
    checks.check_clip(clip_min, clip_max)
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max)
    loss_fn = loss_fn or core.default_loss
    eps_t = core.broadcast_eps(eps, x)
    step = core.broadcast_eps(eps_iter, x)
    config = PGDConfig(int(nb_iter), ball, clip_min, clip_max, bool(targeted), rand_init,
                       seed is not None, int(nb_restarts))
    seed_t = tf.constant(0 if seed is None else seed, tf.int32)
    if tf.executing_eagerly():
        run = core.compiled(_pgd, model_fn, config, loss_fn)
        return run(x, tf.convert_to_tensor(y), eps_t, step, seed_t, core.loss_params(loss_fn))
    return _pgd(model_fn, config, loss_fn)(x, y, eps_t, step, seed_t)


def _pgd(model_fn, c: PGDConfig, loss_fn):
    """PGD with restarts as a function of tensors (x, y, eps, step, seed)."""

    def attack(x, y, eps_t, step, seed):
        def run(restart):
            restart_seed = seed + restart if c.seeded else None
            delta = _start(x, eps_t, c.ball, c.rand_init, restart_seed)
            x_adv = core.clip_to_range(x + delta, c.clip_min, c.clip_max)

            def body(i, x_adv):
                grad, _ = core.loss_gradient(model_fn, loss_fn, x_adv, y, c.targeted)
                x_next = x_adv + c.ball.step(grad, step)
                x_next = x + c.ball.project(x_next - x, eps_t)
                return i + 1, core.clip_to_range(x_next, c.clip_min, c.clip_max)

            _, x_adv = tf.while_loop(lambda i, _: i < c.nb_iter, body, (tf.constant(0), x_adv))
            return tf.stop_gradient(x_adv)

        best = run(0)
        if c.nb_restarts == 1:
            return best
        best = core.score(model_fn, loss_fn, best, y, c.targeted)
        for restart in range(1, c.nb_restarts):
            best = core.keep_worst(best, core.score(model_fn, loss_fn, run(restart), y,
                                                    c.targeted))
        return best.x

    return attack


def basic_iterative_method(model_fn: Callable, x, eps, eps_iter, nb_iter: int, norm=np.inf,
                           loss_fn: Callable | None = None, clip_min: float | None = None,
                           clip_max: float | None = None, y=None,
                           targeted: bool = False) -> tf.Tensor:
    """BIM (Kurakin et al., 2017): `projected_gradient_descent` started at ``x``, without
    a random start; the same arguments."""
    return projected_gradient_descent(
        model_fn, x, eps, eps_iter, nb_iter, norm, loss_fn, clip_min, clip_max, y, targeted,
        rand_init=False,
    )
