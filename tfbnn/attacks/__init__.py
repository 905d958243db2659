"""Attacks, one per file, with CleverHans 4's argument vocabulary.

Every attack takes ``model_fn`` (anything mapping inputs to logits: a Keras model, a
SavedModel's signature, a plain function) and a batch ``x``, and returns the
adversarial batch.
"""

from tfbnn.attacks.fgsm import fast_gradient_method
from tfbnn.attacks.pgd import projected_gradient_descent

__all__ = ["fast_gradient_method", "projected_gradient_descent"]
