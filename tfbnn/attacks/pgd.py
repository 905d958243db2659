"""Projected gradient descent, PGD (Madry et al., 2018), L-inf and L2."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn.attacks import utils


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
    rand_init: bool = True,
    seed: int | None = None,
) -> tf.Tensor:
    """PGD: ``nb_iter`` steepest-ascent steps of size ``eps_iter``, projected on the eps-ball.

    The iterations run in a ``tf.while_loop``, so inside a ``tf.function`` (adversarial
    training, say) the graph stays one step long whatever ``nb_iter`` is. L2 PGD
    projects onto the joint L2 ball of each whole input. The result is the last
    iterate, as in Madry et al. and CleverHans.

    # Arguments
        model_fn, x, eps, norm, loss_fn, clip_min, clip_max, y, targeted: as in
            `fast_gradient_method`; ``eps`` may hold one value per example.
        eps_iter: step size per iteration.
        nb_iter: number of iterations (>= 0).
        rand_init: start from a uniform random point in the eps-ball.
        seed: op-level seed of the random start.

    # Returns
        The adversarial batch, same shape and dtype as ``x``.

    # References
        - Madry, Makelov, Schmidt, Tsipras, Vladu. Towards Deep Learning Models
          Resistant to Adversarial Attacks. ICLR 2018.
    """
    norm = utils.check_norm(norm)
    utils.check_eps("eps", eps)
    utils.check_eps("eps_iter", eps_iter)
    if isinstance(nb_iter, bool) or not isinstance(nb_iter, (int, np.integer)) or nb_iter < 0:
        raise ValueError(f"nb_iter must be an int >= 0, got {nb_iter!r}.")
    utils.check_clip(clip_min, clip_max)
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target labels y.")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    utils.check_inputs(x, clip_min, clip_max)
    utils.check_labels(y, x.shape[0], None)
    loss_fn = loss_fn or utils.default_loss
    if y is None:
        y = utils.predicted_labels(model_fn, x)
    eps_t = utils.broadcast_eps(eps, x)
    step = utils.broadcast_eps(eps_iter, x)

    delta = utils.random_start(x, eps_t, norm, seed) if rand_init else tf.zeros_like(x)
    x_adv = utils.clip_to_range(x + delta, clip_min, clip_max)

    def body(i, x_adv):
        grad, _ = utils.loss_gradient(model_fn, loss_fn, x_adv, y, targeted)
        x_next = x_adv + utils.steepest_step(grad, step, norm)
        x_next = x + utils.project(x_next - x, eps_t, norm)
        return i + 1, utils.clip_to_range(x_next, clip_min, clip_max)

    _, x_adv = tf.while_loop(
        lambda i, _: i < nb_iter, body, (tf.constant(0), x_adv)
    )
    return tf.stop_gradient(x_adv)
