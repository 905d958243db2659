"""Expectation over transformation (EOT) for stochastic models such as the S model.

`EOT(model_fn, eot_draws)` wraps a stochastic model. Every tfbnn gradient attack
(through ``tfbnn.attacks.core.loss_gradient``) then ascends the loss *averaged over
``eot_draws`` forward passes*, i.e. follows the average of the draws' gradients, which is
what Athalye et al. prescribe against randomized defences. Called directly, the
wrapper returns the mean of the draws' logits, which attacks use for default labels
and success checks; attacks that differentiate the logits themselves (CW-L2's margin,
JSMA's saliency map) therefore differentiate the draw-averaged logits, the EOT
estimate for a loss that is linear in the logits.

`accuracy_over_draws` scores a stochastic model's predictions over repeated draws.

# References
    - Athalye, Engstrom, Ilyas, Kwok. Synthesizing Robust Adversarial Examples. ICML 2018.
    - Athalye, Carlini, Wagner. Obfuscated Gradients Give a False Sense of Security.
      ICML 2018, section 4.2.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfbnn import checks
from tfbnn.batching import map_batches


class EOT:
    """Wrap ``model_fn`` so that attacks average gradients over ``eot_draws`` passes.

    # Arguments
        model_fn: a stochastic callable mapping inputs to logits.
        eot_draws: forward passes averaged per gradient (>= 1).

    # Example
        ```python
        x_adv = projected_gradient_descent(EOT(s_model, 10), x, 0.3, 0.01, 40)
        ```
    """

    def __init__(self, model_fn: Callable, eot_draws: int = 10):
        checks.check_callable(model_fn)
        checks.check_int("eot_draws", eot_draws, 1)
        self.model_fn = model_fn
        self.eot_draws = int(eot_draws)

    def draw(self, x):
        """One forward pass (one random draw) of the wrapped model."""
        return self.model_fn(x)

    def __call__(self, x):
        return tf.add_n([self.model_fn(x) for _ in range(self.eot_draws)]) / self.eot_draws


def accuracy_over_draws(
    model_fn: Callable, x, y, eot_draws: int = 10, batch_size: int = 256
) -> tuple[float, float, np.ndarray]:
    """Accuracy of a stochastic model over ``eot_draws`` independent passes.

    # Returns
        ``(mean, std, per_example)``: mean and standard deviation of the accuracy over
        draws, and each example's fraction of draws classified correctly.
    """
    checks.check_int("eot_draws", eot_draws, 1)
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels.")
    correct = np.stack([
        map_batches(lambda chunk: model_fn(tf.constant(chunk)), x, batch_size=batch_size)
        .argmax(-1) == y for _ in range(eot_draws)])
    per_draw = correct.mean(axis=1)
    return float(per_draw.mean()), float(per_draw.std()), correct.mean(axis=0)
