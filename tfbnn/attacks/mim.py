"""The momentum iterative method, MIM (Dong et al., 2018), from CleverHans 4."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from cleverhans.tf2.attacks.momentum_iterative_method import (
    momentum_iterative_method as _cleverhans_mim,
)

from tfbnn.attacks import utils


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
    norm = utils.check_norm(norm)
    utils.check_eps("eps", eps, allow_tensor=False)
    utils.check_eps("eps_iter", eps_iter, allow_tensor=False)
    utils.check_int("nb_iter", nb_iter, 0)
    if not isinstance(decay_factor, (int, float)) or decay_factor < 0:
        raise ValueError(f"decay_factor must be a number >= 0, got {decay_factor!r}.")
    utils.check_clip(clip_min, clip_max)
    if targeted and y is None:
        raise ValueError("A targeted attack needs the target labels y.")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    utils.check_inputs(x, clip_min, clip_max)
    utils.check_labels(y, x.shape[0], None)
    utils.warn_if_probabilities(model_fn, x)
    return _cleverhans_mim(
        model_fn, x, eps=eps, eps_iter=eps_iter, nb_iter=nb_iter, norm=norm,
        clip_min=clip_min, clip_max=clip_max, y=y, targeted=targeted,
        decay_factor=decay_factor, sanity_checks=False,
    )
