"""The fast gradient (sign) method, FGSM (Goodfellow et al., 2015)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.attacks import core


class FGSMConfig(NamedTuple):
    """What one traced fast gradient step depends on besides its tensors."""

    ball: core.Ball
    clip_min: float | None
    clip_max: float | None
    targeted: bool


def fast_gradient_method(model_fn: Callable, x, eps, norm=np.inf,
                         loss_fn: Callable | None = None, clip_min: float | None = None,
                         clip_max: float | None = None, y=None,
                         targeted: bool = False) -> tf.Tensor:
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
    ball = core.ball(norm)
    checks.check_eps("eps", eps)
    checks.check_clip(clip_min, clip_max)
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max)
    loss_fn = loss_fn or core.default_loss
    eps_t = core.broadcast_eps(eps, x)
    config = FGSMConfig(ball, clip_min, clip_max, bool(targeted))
    if tf.executing_eagerly():
        run = core.compiled(_fgsm, model_fn, config, loss_fn)
        return run(x, tf.convert_to_tensor(y), eps_t, core.loss_params(loss_fn))
    return _fgsm(model_fn, config, loss_fn)(x, y, eps_t)


def _fgsm(model_fn, c: FGSMConfig, loss_fn):
    """One fast gradient step as a function of tensors (x, y, eps)."""

    def attack(x, y, eps_t):
        grad, _ = core.loss_gradient(model_fn, loss_fn, x, y, c.targeted)
        x_adv = x + c.ball.step(grad, eps_t)
        return core.clip_to_range(x_adv, c.clip_min, c.clip_max)

    return attack
