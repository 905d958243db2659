"""The fast gradient (sign) method, FGSM (Goodfellow et al., 2015)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn.attacks import utils


def fast_gradient_method(
    model_fn: Callable,
    x,
    eps,
    norm=np.inf,
    loss_fn: Callable | None = None,
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
) -> tf.Tensor:
    """One steepest-ascent step of size ``eps`` on the loss: FGSM for ``norm=np.inf``.

    ``x_adv = clip(x + eps * sign(grad_x loss(y, model_fn(x))))`` for L-inf, and
    ``eps * grad / ||grad||_2`` for L2. CleverHans 4's argument names and order.

    # Arguments
        model_fn: callable mapping a batch of inputs to logits.
        x: batch of inputs.
        eps: perturbation size, a number or one value per example (shape ``(batch,)``),
            as Kurakin et al.'s adversarial training samples it.
        norm: ``np.inf`` or ``2``.
        loss_fn: ``loss_fn(labels, logits)`` returning a per-example loss; softmax
            cross-entropy by default. Temperature-scaled losses plug in here.
        clip_min, clip_max: valid input range (both or neither).
        y: labels; ``None`` uses the model's own predictions (no label leaking). For a
            targeted attack, the targets.
        targeted: descend the loss of ``y`` instead of ascending it.

    # Returns
        The adversarial batch, same shape and dtype as ``x``.

    # References
        - Goodfellow, Shlens, Szegedy. Explaining and Harnessing Adversarial Examples.
          ICLR 2015, eq. 3 (the paper's eq. 1).
    """
    norm = utils.check_norm(norm)
    utils.check_eps("eps", eps)
    utils.check_clip(clip_min, clip_max)
    x, y, loss_fn = utils.prepare_batch(model_fn, x, y, targeted, clip_min, clip_max, loss_fn)
    eps_t = utils.broadcast_eps(eps, x)
    static = (norm, clip_min, clip_max, bool(targeted))
    if tf.executing_eagerly():
        run = utils.compiled(_fgsm, model_fn, loss_fn, static)
        return run(x, tf.convert_to_tensor(y), eps_t, utils.loss_params(loss_fn))
    return _fgsm(model_fn, loss_fn, *static)(x, y, eps_t)


def _fgsm(model_fn, loss_fn, norm, clip_min, clip_max, targeted):
    """One fast gradient step as a function of tensors (x, y, eps)."""

    def attack(x, y, eps_t):
        grad, _ = utils.loss_gradient(model_fn, loss_fn, x, y, targeted)
        x_adv = x + utils.steepest_step(grad, eps_t, norm)
        return utils.clip_to_range(x_adv, clip_min, clip_max)

    return attack
