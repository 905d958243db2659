"""The networks of "Attacking Binarized Neural Networks" (Galloway et al., 2018).

- `cleverhans_cnn`: the CleverHans tutorial CNN and its binarized variants
  A (full precision), B (binary), C (binary with a learned scalar) and
  S (C with stochastically binarized weights in the third convolution).
- `and_mlp`: the 3-layer MLP of the AND toy problem (Appendix B).
- `substitute_mlp`: the 2-hidden-layer, 200-unit MLP that the Papernot et al. (2017)
  black-box attack trains as a substitute.

Every model outputs logits. `build_model(name, **kwargs)` builds any of them by name.

# Layer-by-layer reading of the paper

The paper (section 3, Figure 1) gives the blocks in words only; tfbnn reads them as:

| layer | A | B | C | S |
|---|---|---|---|---|
| 1 | conv k1 8x8/2 same, ReLU | same, full precision, ReLU, BN | as B | as B |
| 2 | conv 2k1 6x6/2 valid, ReLU | sign(input), sign(W) conv, ReLU, BN | B + learned scalar after ReLU | as C |
| 3 | conv 2k1 5x5/1 valid, ReLU | sign(input), sign(W) conv, ReLU | B + learned scalar after ReLU | as C, W stochastic |
| out | dense 10 | dense 10, full precision | as B | as B |

"Batch normalization was applied before quantizing activations", so a BN layer sits in
front of every binarized input. The learned scalar (initialised at 1e-2) follows the
ReLU of each binary hidden layer; only the last one changes the function (a BN
follows the first), and it rescales the input of the full-precision output layer,
which is how it "compensates for an increase in the L1 norm of the activations due
to binarization". Binary kernels are initialised from a truncated normal with
sigma = 0.2, as the paper states, and clipped to [-1, 1] during training
(Larq's ``weight_clip``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import larq as lq
import tensorflow as tf
import tf_keras as keras

from tfbnn.quantizers import PassThroughSign, StochasticSign

__all__ = [
    "ALL_VARIANTS",
    "BUILDERS",
    "ESTIMATORS",
    "LearnedScale",
    "VARIANTS",
    "WEIGHTS_ONLY",
    "and_mlp",
    "cleverhans_cnn",
    "substitute_mlp",
]

VARIANTS = ("A", "B", "C", "S")
"""The first paper's variants."""

WEIGHTS_ONLY = "W"
"""B with full-precision activations: only the hidden layers' weights are binary (the
"BNN-WQ" networks of Gupta & Ajanthan, 2022, on the CleverHans CNN)."""

ALL_VARIANTS = VARIANTS + (WEIGHTS_ONLY,)
ESTIMATORS = ("passthrough", "ste_sign")
"""Straight-through estimators for the binary layers.

``"passthrough"`` (default) passes the upstream gradient everywhere, clipped to
[-1, 1], as the paper's released code did; ``"ste_sign"`` is Larq's estimator, which
zeroes the gradient where |x| > 1.
"""


@keras.utils.register_keras_serializable(package="tfbnn")
class LearnedScale(keras.layers.Layer):
    """Multiply the input by one learned scalar (the paper's "C" models).

    # Arguments
        initial_value: starting value of the scalar (the paper: "e.g. 1e-2").
    """

    def __init__(self, initial_value: float = 1e-2, **kwargs):
        super().__init__(**kwargs)
        self.initial_value = float(initial_value)

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_value),
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs * tf.cast(self.scale, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "initial_value": self.initial_value}


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")


def _check_image_shape(input_shape, minimum: int) -> tuple[int, int, int]:
    shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
    if shape is None or len(shape) != 3 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise ValueError(
            f"input_shape must be (height, width, channels) of positive ints, got "
            f"{input_shape!r}; for MNIST use (28, 28, 1)."
        )
    if min(shape[:2]) < minimum:
        raise ValueError(
            f"input_shape {shape} is too small for the CleverHans CNN: height and width "
            f"must be at least {minimum} so that the 6x6/2 and 5x5 valid convolutions "
            f"fit; MNIST is (28, 28, 1), CIFAR-10 (32, 32, 3)."
        )
    return shape


def _sign_quantizer(estimator: str):
    if estimator == "passthrough":
        return PassThroughSign()
    return lq.quantizers.SteSign()


def cleverhans_cnn(
    variant: str = "A",
    k1: int = 64,
    *,
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    estimator: str = "passthrough",
    scale_init: float = 1e-2,
    stochastic_seed: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build the CleverHans tutorial CNN in one of the paper's variants.

    # Arguments
        variant: ``"A"`` full precision; ``"B"`` binary weights and activations in the
            hidden layers; ``"C"`` B plus a learned scalar after each binary ReLU;
            ``"S"`` C with the third convolution's weights binarized stochastically at
            train and test time; ``"W"`` (not in the first paper) B with full-precision
            activations, only the hidden weights binary, as Gupta & Ajanthan's BNN-WQ.
        k1: number of kernels in the first layer ("KLayer1"); later layers have 2*k1.
        input_shape: (height, width, channels) of the images, values in [0, 1].
        num_classes: number of logits.
        estimator: straight-through estimator of the binary layers, one of
            `ESTIMATORS` (ignored for A).
        scale_init: initial value of the learned scalar (C and S).
        stochastic_seed: op-level seed of the S model's Bernoulli sampler.
        name: model name; defaults to ``"cnn_{variant}{k1}"``.

    # Returns
        An uncompiled ``keras.Model`` mapping images to logits.

    # Raises
        ValueError: for an unknown variant or estimator, ``k1 <= 0`` or an input shape
            the network cannot take.

    # References
        - Galloway, Taylor, Moussa. Attacking Binarized Neural Networks. ICLR 2018,
          section 3 and Table 6.
    """
    if variant not in ALL_VARIANTS:
        raise ValueError(
            f"variant must be one of {ALL_VARIANTS} (A full precision, B binary, C binary with "
            f"learned scalar, S stochastic, W binary weights only), got {variant!r}."
        )
    _check_positive_int("k1", k1)
    _check_positive_int("num_classes", num_classes)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    shape = _check_image_shape(input_shape, minimum=24)

    binary = variant != "A"
    scaled = variant in ("C", "S")
    k2 = 2 * k1
    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Conv2D(k1, 8, strides=2, padding="same", name="conv1")(inputs)
    x = keras.layers.ReLU(name="relu1")(x)
    if not binary:
        x = keras.layers.Conv2D(k2, 6, strides=2, padding="valid", name="conv2")(x)
        x = keras.layers.ReLU(name="relu2")(x)
        x = keras.layers.Conv2D(k2, 5, strides=1, padding="valid", name="conv3")(x)
        x = keras.layers.ReLU(name="relu3")(x)
    else:
        for i, (kernel, stride) in enumerate(((6, 2), (5, 1)), start=2):
            stochastic = variant == "S" and i == 3
            x = keras.layers.BatchNormalization(name=f"bn{i - 1}")(x)
            x = lq.layers.QuantConv2D(
                k2,
                kernel,
                strides=stride,
                padding="valid",
                input_quantizer=None if variant == WEIGHTS_ONLY else _sign_quantizer(estimator),
                kernel_quantizer=(
                    StochasticSign(seed=stochastic_seed)
                    if stochastic
                    else _sign_quantizer(estimator)
                ),
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.2),
                kernel_constraint="weight_clip",
                name=f"conv{i}",
            )(x)
            x = keras.layers.ReLU(name=f"relu{i}")(x)
            if scaled:
                x = LearnedScale(scale_init, name=f"scale{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name or f"cnn_{variant}{k1}")


def and_mlp(
    hidden_units: int = 2,
    *,
    quantized: bool = False,
    estimator: str = "passthrough",
    name: str | None = None,
) -> keras.Model:
    """The 3-layer MLP of the AND toy problem (Appendix B, Figures 3 and 4).

    Two inputs, two hidden layers of ``hidden_units`` sigmoid units, one output logit
    (apply a sigmoid for the probability of "x1 AND x2"). With ``quantized=True`` the
    middle layer is the paper's "quantized" layer: "its weights and activations are
    thresholded to +1 and -1", i.e. ``sign(sign(W) h + b)`` in place of
    ``sigmoid(W h + b)``, with a straight-through estimator for both signs. (Binarizing
    the middle layer's *inputs* instead would threshold the first layer's sigmoid
    outputs, which are always positive: the network would be constant.)

    # Arguments
        hidden_units: units in each hidden layer (the paper: 2, and 4 in Figure 4).
        quantized: binarize the middle layer's weights and activations.
        estimator: straight-through estimator of the binarized layer, one of `ESTIMATORS`.
        name: model name.
    """
    _check_positive_int("hidden_units", hidden_units)
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    inputs = keras.Input(shape=(2,), name="x")
    x = keras.layers.Dense(hidden_units, activation="sigmoid", name="hidden1")(inputs)
    if quantized:
        x = lq.layers.QuantDense(
            hidden_units,
            kernel_quantizer=_sign_quantizer(estimator),
            kernel_constraint="weight_clip",
            name="hidden2",
        )(x)
        x = keras.layers.Activation(_sign_quantizer(estimator), name="hidden2_sign")(x)
    else:
        x = keras.layers.Dense(hidden_units, activation="sigmoid", name="hidden2")(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    suffix = "q" if quantized else "fp"
    return keras.Model(inputs, logit, name=name or f"and_mlp_{hidden_units}{suffix}")


def substitute_mlp(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    hidden_units: int = 200,
    *,
    name: str = "substitute_mlp",
) -> keras.Model:
    """The substitute of the Papernot et al. (2017) black-box attack: 2 x 200 ReLU units.

    # Arguments
        input_shape: shape of one input.
        num_classes: number of logits.
        hidden_units: units in each of the two hidden layers.
    """
    _check_positive_int("hidden_units", hidden_units)
    _check_positive_int("num_classes", num_classes)
    if not all(isinstance(d, int) and d > 0 for d in input_shape):
        raise ValueError(f"input_shape must hold positive ints, got {input_shape!r}.")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden1")(x)
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden2")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


BUILDERS: dict[str, Callable[..., keras.Model]] = {
    **{v: (lambda v: lambda **kw: cleverhans_cnn(v, **kw))(v) for v in ALL_VARIANTS},
    "and_mlp": and_mlp,
    "substitute_mlp": substitute_mlp,
}
"""The first paper's builders by name, for `tfbnn.models.build_model`."""
