"""The contract every attack in tfbnn keeps, checked the same way for each of them."""

import numpy as np
import tensorflow as tf


def perturbation_size(x_adv, x, norm) -> np.ndarray:
    """Per example, the L-inf or L2 size of ``x_adv - x``."""
    delta = (np.asarray(x_adv) - np.asarray(x)).reshape(len(x), -1)
    return np.abs(delta).max(1) if norm == np.inf else np.linalg.norm(delta, axis=1)


def check_attack_contract(attack, model_fn, x, y, eps, norm, targeted, untargeted_rate,
                          targeted_rate, *, tolerance=1e-6, zero_atol=0.0):
    """``attack(model_fn, x, eps, norm, labels, targeted)`` returns float32 points inside the
    eps-ball and [0, 1], fools (or reaches the target for) the given share of ``x``, and
    moves nothing at eps = 0 (same batch shape, so a compiled graph is reused)."""
    labels = (y + 1) % 10 if targeted else y
    x_adv = np.asarray(attack(model_fn, x, eps, norm, labels, targeted))
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.all(np.isfinite(x_adv))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.all(perturbation_size(x_adv, x, norm) <= eps + tolerance)
    predicted = np.argmax(model_fn(tf.constant(x_adv)), -1)
    if targeted:
        assert np.mean(predicted == labels) >= targeted_rate
    else:
        assert np.mean(predicted != y) >= untargeted_rate
    x_zero = np.asarray(attack(model_fn, x, 0.0, norm, labels, targeted))
    np.testing.assert_allclose(x_zero, x, rtol=0, atol=zero_atol)
