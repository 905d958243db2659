"""Names of tfbnn 0.1's ``tfbnn.attacks.utils``, kept so that existing code still runs.

New code imports the argument checks from `tfbnn.checks` and the attack core
(threat models, the opening, losses, compiling) from `tfbnn.attacks.core`.
"""

from tfbnn.attacks.core import (  # noqa: F401
    ParametrizedLoss,
    broadcast_eps,
    clip_to_range,
    compiled,
    default_loss,
    is_adversarial,
    loss_gradient,
    loss_params,
    predicted_labels,
    uniform_noise,
)
from tfbnn.checks import (  # noqa: F401
    NORMS,
    check_clip,
    check_eps,
    check_inputs,
    check_int,
    check_labels,
    check_norm,
    warn_if_probabilities,
)
