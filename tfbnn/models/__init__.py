"""tfbnn's networks, every one returning logits, and a registry of them by name.

- `tfbnn.models.cleverhans`: the first paper's CleverHans CNN as A/B/C/S (and W), the AND
  toy MLP, the substitute MLP (Galloway et al., 2018).
- `tfbnn.models.cifar`: the second paper's ResNet-18 and VGG-16 as REF / BNN-WQ /
  BNN-WAQ, and BinaryNet's CIFAR networks (Gupta & Ajanthan, 2022).
- `tfbnn.models.verifiable`: binary networks that `tfbnn.verify` verifies exactly: an
  input quantizer onto the 8-bit grid, `binary_mlp` (5 x 100) and EEV's `conv_small`.

`build_model(name, **kwargs)` builds any of them by name; `custom_objects()` is what
``keras.models.load_model`` needs for their files.
"""

from collections.abc import Callable

import tf_keras as keras

from tfbnn.checks import is_stochastic
from tfbnn.models import cifar
from tfbnn.models.cifar import (
    METHODS,
    PRECISIONS,
    binarynet_resnet,
    binarynet_vgg,
    resnet18,
    vgg16,
)
from tfbnn.models.cleverhans import (
    ALL_VARIANTS,
    ESTIMATORS,
    VARIANTS,
    WEIGHTS_ONLY,
    LearnedScale,
    and_mlp,
    cleverhans_cnn,
    substitute_mlp,
)
from tfbnn.models import cleverhans, verifiable
from tfbnn.models.verifiable import InputQuantizer, binary_mlp, conv_small
from tfbnn.quantizers import PassThroughSign, StochasticSign, TanhSign

__all__ = [
    "ALL_VARIANTS", "ESTIMATORS", "InputQuantizer", "LearnedScale", "METHODS", "PRECISIONS",
    "VARIANTS", "WEIGHTS_ONLY", "and_mlp", "binary_mlp", "binarynet_resnet", "binarynet_vgg",
    "build_model", "cleverhans_cnn", "conv_small", "custom_objects", "is_stochastic",
    "resnet18", "substitute_mlp", "vgg16",
]

_BUILDERS: dict[str, Callable[..., keras.Model]] = {
    **cleverhans.BUILDERS, **cifar.BUILDERS, **verifiable.BUILDERS}


def build_model(name: str, **kwargs) -> keras.Model:
    """Build a model by name: ``"A"``, ``"B"``, ``"C"``, ``"S"``, ``"W"``, ``"and_mlp"``,
    ``"substitute_mlp"``, ``"resnet18"``, ``"vgg16"``, ``"binarynet_resnet"``,
    ``"binarynet_vgg"``, ``"binary_mlp"``, ``"conv_small"``; keyword arguments go to the
    builder."""
    if name not in _BUILDERS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(_BUILDERS)}.")
    return _BUILDERS[name](**kwargs)


def custom_objects() -> dict:
    """Custom objects needed to load a tfbnn model from ``.keras``/h5 files.

    Importing tfbnn registers them globally already; pass this to
    ``keras.models.load_model(..., custom_objects=...)`` to be explicit.
    """
    return {
        "InputQuantizer": InputQuantizer,
        "tfbnn>InputQuantizer": InputQuantizer,
        "LearnedScale": LearnedScale,
        "tfbnn>LearnedScale": LearnedScale,
        "PassThroughSign": PassThroughSign,
        "StochasticSign": StochasticSign,
        "TanhSign": TanhSign,
        "hard_tanh": cifar.hard_tanh,
        "tfbnn>hard_tanh": cifar.hard_tanh,
    }
