"""Attacks, one per file, with CleverHans 4's argument vocabulary.

Every attack takes ``model_fn`` (anything mapping inputs to logits: a Keras model, a
SavedModel's signature, a plain function, an `EOT` wrapper) and a batch ``x``, and
returns the adversarial batch.
"""

from tfbnn.attacks.eot import EOT, accuracy_over_draws
from tfbnn.attacks.fgsm import fast_gradient_method
from tfbnn.attacks.mim import momentum_iterative_method
from tfbnn.attacks.pgd import basic_iterative_method, projected_gradient_descent

__all__ = [
    "EOT",
    "accuracy_over_draws",
    "basic_iterative_method",
    "fast_gradient_method",
    "momentum_iterative_method",
    "projected_gradient_descent",
]
