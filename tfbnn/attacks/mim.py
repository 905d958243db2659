"""The momentum iterative method, MIM (Dong et al., 2018), from CleverHans 4."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.momentum_iterative_method import (
    momentum_iterative_method as _cleverhans_mim,
)

from tfbnn import checks
from tfbnn.attacks import core


def momentum_iterative_method(
    model_fn: Callable,
    x,
    eps=0.3,
    eps_iter=0.06,
    nb_iter: int = 10,
    norm=np.inf,
    clip_min: float | None = None,
    clip_max: float | None = None,
    y=None,
    targeted: bool = False,
    decay_factor: float = 1.0,
) -> tf.Tensor:
    """MI-FGSM: iterative FGSM with an accumulated, L1-normalised gradient.

    CleverHans 4's implementation, which is sound; tfbnn adds its argument checks
    (CleverHans validates with ``assert``, which fails under ``tf.function``) and keeps
    CleverHans's fixed cross-entropy loss (its MIM takes no ``loss_fn``).

    # References
        - Dong et al. Boosting Adversarial Attacks with Momentum. CVPR 2018.
    """
    norm = checks.check_norm(norm)
    checks.check_eps("eps", eps, allow_tensor=False)
    checks.check_eps("eps_iter", eps_iter, allow_tensor=False)
    checks.check_int("nb_iter", nb_iter, 0)
    checks.check_number("decay_factor", decay_factor, minimum=0)
    checks.check_clip(clip_min, clip_max)
    # CleverHans computes the default labels itself (the same one forward pass).
    x, y = core.prepare(model_fn, x, y, targeted, clip_min, clip_max, predict=False)
    return _cleverhans_mim(
        model_fn, x, eps=eps, eps_iter=eps_iter, nb_iter=nb_iter, norm=norm,
        clip_min=clip_min, clip_max=clip_max, y=y, targeted=targeted,
        decay_factor=decay_factor, sanity_checks=False,
    )
