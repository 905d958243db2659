"""Attacks, one per file, with CleverHans 4's argument vocabulary.

Every attack takes ``model_fn`` (anything mapping inputs to logits: a Keras model, a
SavedModel's signature, a plain function, an `EOT` wrapper) and a batch ``x``, and
returns the adversarial batch.
"""

from tfbnn.attacks.apgd import auto_projected_gradient_descent, dlr_loss, targeted_dlr_loss
from tfbnn.attacks.cw import carlini_wagner_l2
from tfbnn.attacks.eot import EOT, accuracy_over_draws
from tfbnn.attacks.fab import fab_attack, fab_targeted_top_k
from tfbnn.attacks.fgsm import fast_gradient_method
from tfbnn.attacks.jsma import jacobian_saliency_map_method
from tfbnn.attacks.mim import momentum_iterative_method
from tfbnn.attacks.peers import brendel_bethge, clever_scores, deepfool
from tfbnn.attacks.pgd import basic_iterative_method, projected_gradient_descent
from tfbnn.attacks.plusplus import fgsm_plus_plus, fgsmpp, pgd_plus_plus, pgdpp
from tfbnn.attacks.square import square_attack
from tfbnn.attacks.substitute import (
    SubstituteAttackResult,
    substitute_blackbox_attack,
    train_substitute,
)

__all__ = [
    "EOT",
    "SubstituteAttackResult",
    "accuracy_over_draws",
    "auto_projected_gradient_descent",
    "basic_iterative_method",
    "brendel_bethge",
    "carlini_wagner_l2",
    "clever_scores",
    "deepfool",
    "dlr_loss",
    "fab_attack",
    "fab_targeted_top_k",
    "fast_gradient_method",
    "fgsm_plus_plus",
    "fgsmpp",
    "jacobian_saliency_map_method",
    "momentum_iterative_method",
    "pgd_plus_plus",
    "pgdpp",
    "projected_gradient_descent",
    "square_attack",
    "substitute_blackbox_attack",
    "targeted_dlr_loss",
    "train_substitute",
]
